// SPDX-License-Identifier: MIT
// venom_normalize: leading-one normalisation of a positive integer (lut.normalize / normalize_even)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// v = m 2**p (p rounded down to even when even=1): mant = floor(m 2**mant_frac);
// expo = clip((p >> halve) + off, lo, hi) + add. Purely combinational.
module venom_normalize #(
    // width of the input value (only values >= 1 are meaningful)
    parameter ACC_W = 64,
    // width of the output words
    parameter DW = 32
) (
    input  wire signed [ACC_W-1:0] val,
    input  wire        [6:0]       mant_frac,
    input  wire                    even,
    input  wire                    halve,
    input  wire signed [7:0]       off,
    input  wire        [7:0]       lo,
    input  wire        [7:0]       hi,
    input  wire signed [7:0]       add,
    output wire        [DW-1:0]    mant,
    output wire signed [DW-1:0]    expo
);

// msb: index of the leading one of val without its sign bit (0 for 0), by binary search (log2 ACC_W steps)
localparam STEP0 = 1 << ($clog2(ACC_W) - 1);
wire [ACC_W-1:0] mag = {1'b0, val[ACC_W-2:0]};
integer step;
reg [7:0] msb;

always @* begin
    msb = 8'd0;
    for (step = STEP0; step >= 1; step = step / 2) begin
        if ((mag >> (msb + step[7:0])) != {ACC_W{1'b0}}) msb = msb + step[7:0];
    end
end

wire [7:0] p = even ? {msb[7:1], 1'b0} : msb;
wire [ACC_W-1:0] shr = val >> (p - {1'b0, mant_frac});
wire [ACC_W-1:0] shl = val << ({1'b0, mant_frac} - p);
wire [ACC_W-1:0] m = (p >= {1'b0, mant_frac}) ? shr : shl;
assign mant = m[DW-1:0];
// verilator lint_off UNUSEDSIGNAL
wire unused_m = |m[ACC_W-1:DW];
// verilator lint_on UNUSEDSIGNAL

wire signed [9:0] off_x = {{2{off[7]}}, off};
wire signed [9:0] add_x = {{2{add[7]}}, add};
wire signed [9:0] e = $signed({2'b00, (halve ? {1'b0, p[7:1]} : p)}) + off_x;
wire signed [9:0] e_lo = (e < $signed({2'b00, lo})) ? $signed({2'b00, lo}) : e;
wire signed [9:0] e_c = (e_lo > $signed({2'b00, hi})) ? $signed({2'b00, hi}) : e_lo;
wire signed [9:0] e_a = e_c + add_x;
assign expo = {{(DW-10){e_a[9]}}, e_a};

endmodule

`resetall
