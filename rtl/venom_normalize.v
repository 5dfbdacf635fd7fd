// SPDX-License-Identifier: BSD-3-Clause
// venom_normalize: leading-one normalisation of a positive integer (lut.normalize / normalize_even)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// v = m 2**p (p rounded down to even when even=1): mant = floor(m 2**mant_frac);
// expo = clip((p >> halve) + off, lo, hi) + add. Purely combinational. The settings are the instruction fields
// N_* of venom_contract.vh, so the ports are declared after its include.
module venom_normalize #(
    // width of the input value (only values >= 1 are meaningful)
    parameter ACC_W = 64,
    // width of the output words
    parameter DW = 32
) (
    val, mant_frac, even, halve, off, lo, hi, add, mant, expo
);

`include "venom_contract.vh"

input  wire signed [ACC_W-1:0]     val;
input  wire        [F_N_MF_W-1:0]  mant_frac;
input  wire                        even;
input  wire                        halve;
input  wire signed [F_N_OFF_W-1:0] off;
input  wire        [F_N_LO_W-1:0]  lo;
input  wire        [F_N_HI_W-1:0]  hi;
input  wire signed [F_N_ADD_W-1:0] add;
output wire        [DW-1:0]        mant;
output wire signed [DW-1:0]        expo;

// exponent arithmetic: p (< ACC_W) in the clip bounds' width, e with room for the signed offset and the carry
localparam PW = F_N_LO_W;
localparam EW = PW + 2;

`ifndef SYNTHESIS  // elaboration checks (Yosys 0.23 rejects $error)
initial begin
    if ((1 << PW) <= ACC_W || F_N_MF_W > PW || F_N_HI_W != PW || F_N_OFF_W > PW || F_N_ADD_W > PW)
        $error("%m: the contract's N_* field widths do not fit the exponent width %0d", PW);
end
`endif

// msb: index of the leading one of val without its sign bit (0 for 0), by binary search (log2 ACC_W steps)
localparam STEP0 = 1 << ($clog2(ACC_W) - 1);
wire [ACC_W-1:0] mag = {1'b0, val[ACC_W-2:0]};
integer step;
reg [PW-1:0] msb;

always @* begin
    msb = {PW{1'b0}};
    for (step = STEP0; step >= 1; step = step / 2) begin
        if ((mag >> (msb + step[PW-1:0])) != {ACC_W{1'b0}}) msb = msb + step[PW-1:0];
    end
end

wire [PW-1:0] p = even ? {msb[PW-1:1], 1'b0} : msb;
wire [PW-1:0] mf = {{(PW-F_N_MF_W){1'b0}}, mant_frac};
wire [ACC_W-1:0] shr = val >> (p - mf);
wire [ACC_W-1:0] shl = val << (mf - p);
wire [ACC_W-1:0] m = (p >= mf) ? shr : shl;
assign mant = m[DW-1:0];
// verilator lint_off UNUSEDSIGNAL
wire unused_m = |m[ACC_W-1:DW];
// verilator lint_on UNUSEDSIGNAL

wire signed [EW-1:0] off_x = {{(EW-F_N_OFF_W){off[F_N_OFF_W-1]}}, off};
wire signed [EW-1:0] add_x = {{(EW-F_N_ADD_W){add[F_N_ADD_W-1]}}, add};
wire signed [EW-1:0] lo_x = $signed({{(EW-PW){1'b0}}, lo});
wire signed [EW-1:0] hi_x = $signed({{(EW-PW){1'b0}}, hi});
wire signed [EW-1:0] e = $signed({{(EW-PW){1'b0}}, (halve ? {1'b0, p[PW-1:1]} : p)}) + off_x;
wire signed [EW-1:0] e_lo = (e < lo_x) ? lo_x : e;
wire signed [EW-1:0] e_c = (e_lo > hi_x) ? hi_x : e_lo;
wire signed [EW-1:0] e_a = e_c + add_x;
assign expo = {{(DW-EW){e_a[EW-1]}}, e_a};

endmodule

`resetall
