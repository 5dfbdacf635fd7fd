// SPDX-License-Identifier: BSD-3-Clause
// venom_top_tb: simulation-only wrapper of venom_top with the clock generated in HDL
`resetall
`timescale 1ns / 1ps
`default_nettype none

// The clock toggles in the simulator, so cocotb (test_venom_top.py) only wakes on the stream events it waits for,
// not every cycle. The regs/wires carry venom_top's port names (connected by .*); the test drives and reads them here.
// (The delay needs --timing under Verilator.)
module venom_top_tb #(
    // directory of the model's memory files (with a trailing slash), passed on to venom_top
    parameter MEM_DIR = "",
    // 1: generate ap_clk here; 0: the test drives it (cocotbext-axi under Verilator needs a cocotb Clock)
    parameter HDL_CLOCK = 1
);
    `include "venom_contract.vh"

    // the only signals cocotb sees under Verilator (built without --public-flat-rw: see rtl/cocotb_runner.py)
    reg                 ap_clk            /*verilator public_flat_rw*/ = 1'b0;
    reg                 ap_rst_n          /*verilator public_flat_rw*/ = 1'b1;
    reg [IQ_WORD_W-1:0] iq_in_TDATA       /*verilator public_flat_rw*/ = {IQ_WORD_W{1'b0}};
    reg                 iq_in_TVALID      /*verilator public_flat_rw*/ = 1'b0;
    wire                iq_in_TREADY      /*verilator public_flat_rd*/;
    reg                 iq_in_TLAST       /*verilator public_flat_rw*/ = 1'b0;
    wire [RECORD_W-1:0] energy_out_TDATA  /*verilator public_flat_rd*/;
    wire                energy_out_TVALID /*verilator public_flat_rd*/;
    reg                 energy_out_TREADY /*verilator public_flat_rw*/ = 1'b0;

    // 2 ns period (test_venom_top.CLK_NS)
    generate
        if (HDL_CLOCK) begin : g_clock
            always #1 ap_clk = ~ap_clk;
        end
    endgenerate

    venom_top #(
        .MEM_DIR(MEM_DIR)
    ) dut (.*);
endmodule

`resetall
