// SPDX-License-Identifier: BSD-3-Clause
// venom_normalize: leading-one normalisation of a positive integer (lut.normalize / normalize_even)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// v = m 2**p (p rounded down to even when even=1): mant = floor(m 2**mant_frac);
// expo = clip((p >> halve) + off, lo, hi) + add. Combinational with REG = 0; with REG = 1 a register splits the
// leading-one search from the shifts and the exponent arithmetic: mant and expo follow the inputs one clock later.
// The settings are the instruction fields N_* of venom_contract.vh, so the ports are declared after its include.
module venom_normalize #(
    // width of the input value (only values >= 1 are meaningful)
    parameter ACC_W = 64,
    // width of the output words
    parameter DW = 32,
    // 1: one pipeline register after the leading-one search (clk used)
    parameter REG = 0
) (
    clk, val, mant_frac, even, halve, off, lo, hi, add, mant, expo
);

`include "venom_contract.vh"

input  wire                        clk;
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

// msb: index of the leading one of val without its sign bit (0 for 0). Every "some bit at or above i" is its own
// OR reduction and the one-hot leading bit is OR-ed into the index: trees of a few LUT levels, no chain.
wire [ACC_W-1:0] mag = {1'b0, val[ACC_W-2:0]};
integer i;
reg [ACC_W:0] above;  // above[i]: a one at index >= i
reg [PW-1:0] msb_c;

always @* begin
    above[ACC_W] = 1'b0;
    for (i = 0; i < ACC_W; i = i + 1) above[i] = |(mag >> i);
    msb_c = {PW{1'b0}};
    for (i = 1; i < ACC_W; i = i + 1) msb_c = msb_c | ({PW{mag[i] & ~above[i + 1]}} & i[PW-1:0]);
end

// ---- stage boundary (REG = 1): the search's result, the value and the settings of the same normalisation
wire [PW-1:0] msb;
wire signed [ACC_W-1:0] val_s;
wire [F_N_MF_W-1:0] mf_s;
wire even_s, halve_s;
wire signed [F_N_OFF_W-1:0] off_s;
wire [F_N_LO_W-1:0] lo_s;
wire [F_N_HI_W-1:0] hi_s;
wire signed [F_N_ADD_W-1:0] add_s;
generate
    if (REG) begin : g_reg
        reg [PW-1:0] msb_r;
        reg signed [ACC_W-1:0] val_r;
        reg [F_N_MF_W-1:0] mf_r;
        reg even_r, halve_r;
        reg signed [F_N_OFF_W-1:0] off_r;
        reg [F_N_LO_W-1:0] lo_r;
        reg [F_N_HI_W-1:0] hi_r;
        reg signed [F_N_ADD_W-1:0] add_r;
        always @(posedge clk) begin
            {msb_r, val_r, mf_r, even_r, halve_r} <= {msb_c, val, mant_frac, even, halve};
            {off_r, lo_r, hi_r, add_r} <= {off, lo, hi, add};
        end
        assign {msb, val_s, mf_s, even_s, halve_s} = {msb_r, val_r, mf_r, even_r, halve_r};
        assign {off_s, lo_s, hi_s, add_s} = {off_r, lo_r, hi_r, add_r};
    end else begin : g_comb
        assign {msb, val_s, mf_s, even_s, halve_s} = {msb_c, val, mant_frac, even, halve};
        assign {off_s, lo_s, hi_s, add_s} = {off, lo, hi, add};
        // verilator lint_off UNUSEDSIGNAL
        wire unused_clk = clk;
        // verilator lint_on UNUSEDSIGNAL
    end
endgenerate

wire [PW-1:0] p = even_s ? {msb[PW-1:1], 1'b0} : msb;
wire [PW-1:0] mf = {{(PW-F_N_MF_W){1'b0}}, mf_s};
wire [ACC_W-1:0] shr = val_s >> (p - mf);
wire [ACC_W-1:0] shl = val_s << (mf - p);
wire [ACC_W-1:0] m = (p >= mf) ? shr : shl;
assign mant = m[DW-1:0];
// verilator lint_off UNUSEDSIGNAL
wire unused_m = |m[ACC_W-1:DW];
// verilator lint_on UNUSEDSIGNAL

wire signed [EW-1:0] off_x = {{(EW-F_N_OFF_W){off_s[F_N_OFF_W-1]}}, off_s};
wire signed [EW-1:0] add_x = {{(EW-F_N_ADD_W){add_s[F_N_ADD_W-1]}}, add_s};
wire signed [EW-1:0] lo_x = $signed({{(EW-PW){1'b0}}, lo_s});
wire signed [EW-1:0] hi_x = $signed({{(EW-PW){1'b0}}, hi_s});
wire signed [EW-1:0] e = $signed({{(EW-PW){1'b0}}, (halve_s ? {1'b0, p[PW-1:1]} : p)}) + off_x;
wire signed [EW-1:0] e_lo = (e < lo_x) ? lo_x : e;
wire signed [EW-1:0] e_c = (e_lo > hi_x) ? hi_x : e_lo;
wire signed [EW-1:0] e_a = e_c + add_x;
assign expo = {{(DW-EW){e_a[EW-1]}}, e_a};

endmodule

`resetall
