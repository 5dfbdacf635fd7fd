// SPDX-License-Identifier: BSD-3-Clause
// venom_core: AXI4-Stream shell around venom_engine (one window in, one (mu, log_var) record out)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// Per input sample (I in TDATA[IQ_FIELD_W-1:0], Q in the field above, input-format codes) the STEP program runs;
// after the sample flagged TLAST the FINISH program runs and one record is offered on energy_out:
// TDATA[RECORD_FIELD_W-1:0] = mu code, the field above = log_var code (sign-extended). Then INIT clears the
// recurrent state for the next window (also after reset). Ports follow the Vitis-HLS naming; their widths are the
// stream words of venom_contract.vh (MKIDGen3's), so they are declared after its include.
module venom_core #(
    // see venom_engine for the engine parameters
    parameter LANES = 4,
    parameter DW = 32,
    parameter ACC_W = 64,
    parameter MUL_A_W = DW,
    parameter MUL_B_W = DW,
    parameter LUT_R_W = 16,
    parameter SH_W = 7,
    parameter DMEM_DEPTH = 1024,
    parameter CNT_W = 8,
    parameter IROM_DEPTH = 64,
    // program counter width, derived
    parameter PC_W = (IROM_DEPTH > 1) ? $clog2(IROM_DEPTH) : 1,
    parameter WROM_DEPTH = 1024,
    parameter WW = 24,
    parameter LUT_DEPTH = 1024,
    parameter TW = 32,
    parameter IN_ADDR = 0,
    parameter OUT_ADDR = 2,
    parameter OUT_ADDR_LV = 3,
    parameter PIPE_LAT = 10,
    // program entry points
    parameter ENTRY_INIT = 0,
    parameter ENTRY_STEP = 1,
    parameter ENTRY_FINISH = 2,
    parameter IROM_FILE = "",
    parameter WROM_FILE = "",
    parameter LUT_FILE = ""
) (
    ap_clk, ap_rst_n, iq_in_TDATA, iq_in_TVALID, iq_in_TREADY, iq_in_TLAST, energy_out_TDATA, energy_out_TVALID,
    energy_out_TREADY
);

`include "venom_contract.vh"

input  wire                 ap_clk;
input  wire                 ap_rst_n;
input  wire [IQ_WORD_W-1:0] iq_in_TDATA;
input  wire                 iq_in_TVALID;
output wire                 iq_in_TREADY;
input  wire                 iq_in_TLAST;
output wire [RECORD_W-1:0]  energy_out_TDATA;
output wire                 energy_out_TVALID;
input  wire                 energy_out_TREADY;

`ifndef SYNTHESIS  // elaboration checks (Yosys 0.23 rejects $error)
initial begin
    if (IQ_WORD_W != 2 * IQ_FIELD_W || RECORD_W != 2 * RECORD_FIELD_W) $error("%m: a stream word is not two fields");
    if (IQ_FIELD_W > DW) $error("%m: IQ_FIELD_W (%0d) must not exceed DW (%0d)", IQ_FIELD_W, DW);
    if (RECORD_FIELD_W > DW) $error("%m: RECORD_FIELD_W (%0d) must not exceed DW (%0d)", RECORD_FIELD_W, DW);
end
`endif

localparam [2:0] C_INIT = 3'd0, C_IDLE = 3'd1, C_STEP = 3'd2, C_FINISH = 3'd3, C_OUT = 3'd4;

reg [2:0] cstate_reg, cstate_next;
reg go_reg, go_next;
reg last_reg, last_next;
wire busy;
wire rst = !ap_rst_n;
wire in_hs = iq_in_TVALID && (cstate_reg == C_IDLE);
wire out_hs = energy_out_TREADY && (cstate_reg == C_OUT);
wire done = !go_reg && !busy;
reg [PC_W-1:0] entry;

always @* begin
    case (cstate_reg)
        C_STEP: entry = ENTRY_STEP[PC_W-1:0];
        C_FINISH: entry = ENTRY_FINISH[PC_W-1:0];
        default: entry = ENTRY_INIT[PC_W-1:0];
    endcase
end

always @* begin
    cstate_next = cstate_reg;
    go_next = 1'b0;
    last_next = last_reg;
    case (cstate_reg)
        C_INIT: if (done) cstate_next = C_IDLE;
        C_IDLE: begin
            if (in_hs) begin
                last_next = iq_in_TLAST;
                cstate_next = C_STEP;
                go_next = 1'b1;
            end
        end
        C_STEP: begin
            if (done) begin
                if (last_reg) begin
                    cstate_next = C_FINISH;
                    go_next = 1'b1;
                end else begin
                    cstate_next = C_IDLE;
                end
            end
        end
        C_FINISH: if (done) cstate_next = C_OUT;
        default: begin  // C_OUT
            if (out_hs) begin
                cstate_next = C_INIT;
                go_next = 1'b1;
            end
        end
    endcase
end

always @(posedge ap_clk) begin
    cstate_reg <= cstate_next;
    go_reg <= go_next;
    last_reg <= last_next;
    if (rst) begin
        cstate_reg <= C_INIT;
        go_reg <= 1'b1;
        last_reg <= 1'b0;
    end
end

wire [DW-1:0] out_d0, out_d1;

venom_engine #(
    .LANES(LANES),
    .DW(DW),
    .ACC_W(ACC_W),
    .MUL_A_W(MUL_A_W),
    .MUL_B_W(MUL_B_W),
    .SH_W(SH_W),
    .DMEM_DEPTH(DMEM_DEPTH),
    .CNT_W(CNT_W),
    .IROM_DEPTH(IROM_DEPTH),
    .WROM_DEPTH(WROM_DEPTH),
    .WW(WW),
    .LUT_DEPTH(LUT_DEPTH),
    .TW(TW),
    .LUT_R_W(LUT_R_W),
    .IN_ADDR(IN_ADDR),
    .OUT_ADDR(OUT_ADDR),
    .OUT_ADDR_LV(OUT_ADDR_LV),
    .PIPE_LAT(PIPE_LAT),
    .IROM_FILE(IROM_FILE),
    .WROM_FILE(WROM_FILE),
    .LUT_FILE(LUT_FILE)
) engine_inst (
    .clk(ap_clk),
    .rst(rst),
    .start(go_reg),
    .entry(entry),
    .busy(busy),
    .in_we(in_hs),
    .in_d0({{(DW-IQ_FIELD_W){iq_in_TDATA[IQ_FIELD_W-1]}}, iq_in_TDATA[IQ_FIELD_W-1:0]}),
    .in_d1({{(DW-IQ_FIELD_W){iq_in_TDATA[IQ_WORD_W-1]}}, iq_in_TDATA[IQ_WORD_W-1:IQ_FIELD_W]}),
    .out_d0(out_d0),
    .out_d1(out_d1)
);

assign iq_in_TREADY = (cstate_reg == C_IDLE);
assign energy_out_TVALID = (cstate_reg == C_OUT);
assign energy_out_TDATA = {out_d1[RECORD_FIELD_W-1:0], out_d0[RECORD_FIELD_W-1:0]};

// verilator lint_off UNUSEDSIGNAL
wire unused_out = |{out_d0, out_d1};
// verilator lint_on UNUSEDSIGNAL

endmodule

`resetall
