// SPDX-License-Identifier: BSD-3-Clause
// venom_rom: synchronous dual-read ROM initialised from a $readmemh file (block RAM, whatever its size)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// Two registered read ports (addresses sampled when en is high).
module venom_rom #(
    // word width in bits
    parameter WIDTH = 32,
    // number of words
    parameter DEPTH = 1024,
    // address width, derived
    parameter ADDR_W = (DEPTH > 1) ? $clog2(DEPTH) : 1,
    // $readmemh file with DEPTH words
    parameter INIT_FILE = ""
) (
    input  wire              clk,
    input  wire              en,
    input  wire [ADDR_W-1:0] addr_a,
    input  wire [ADDR_W-1:0] addr_b,
    output reg  [WIDTH-1:0]  q_a,
    output reg  [WIDTH-1:0]  q_b
);

// block RAM even when small: a logic ROM of a few hundred words costs hundreds of LUTs per table unit
(* rom_style = "block" *) reg [WIDTH-1:0] mem [0:DEPTH-1];

`ifndef SYNTHESIS  // elaboration checks (Yosys 0.23 rejects $error)
initial begin
    if (INIT_FILE == "") $error("%m: INIT_FILE is required");
end
`endif

initial begin
    $readmemh(INIT_FILE, mem);
end

always @(posedge clk) begin
    if (en) begin
        q_a <= mem[addr_a];
        q_b <= mem[addr_b];
    end
end

endmodule

`resetall
