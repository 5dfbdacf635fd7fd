// SPDX-License-Identifier: BSD-3-Clause
// venom_quant: one ap_fixed conversion of an exact integer (rounding right shift, then the overflow mode)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// Rounds VAL * 2**-RSHIFT to an integer with one of the seven ap_fixed rounding modes, then applies the
// overflow mode for a WIDTH-bit (signed or unsigned) code. Combinational with REG = 0; with REG = 1 a register
// splits the rounding (shift, increment) from the overflow handling: code follows the inputs one clock later.
// The format fields (width, rnd, ovf) are the instruction fields of venom_contract.vh, so the ports are declared
// after its include.
module venom_quant #(
    // width of the exact input value (two's complement)
    parameter ACC_W = 64,
    // width of the output word (codes are sign-extended to it; formats may be narrower, see width)
    parameter DW = 32,
    // width of the right-shift amount
    parameter SH_W = 7,
    // 1: one pipeline register between rounding and overflow (clk used)
    parameter REG = 0,
    // the least and the most rshift the caller ever gives (a narrower shifter when it knows a range)
    parameter SH_MIN = 0,
    parameter SH_MAX = (1 << SH_W) - 1
) (
    clk, en, val, rshift, width, is_signed, rnd, ovf, code
);

`include "venom_contract.vh"

input  wire                        clk;
// REG = 1: the register loads only when en is high
input  wire                        en;
input  wire signed [ACC_W-1:0]     val;
input  wire        [SH_W-1:0]      rshift;
// format width in bits (1..DW)
input  wire        [F_WIDTH_W-1:0] width;
input  wire                        is_signed;
// rounding mode (AP_TRN ... AP_RND_CONV)
input  wire        [F_RND_W-1:0]   rnd;
// overflow mode (AP_WRAP ... AP_SAT_SYM)
input  wire        [F_OVF_W-1:0]   ovf;
output reg  signed [DW-1:0]        code;

localparam XW = ACC_W + 3;

`ifndef SYNTHESIS  // elaboration checks (Yosys 0.23 rejects $error)
initial begin
    if (DW > ACC_W) $error("%m: DW (%0d) must not exceed ACC_W (%0d)", DW, ACC_W);
end
`endif

// shifts at or beyond ACC_W+1 give the same floor/half/sticky as ACC_W+1. The shift is LO + sv: the constant LO
// is wiring, only sv (SV_W bits) drives a shifter and the mask of the dropped bits.
localparam LO = (SH_MIN > ACC_W + 1) ? ACC_W + 1 : SH_MIN;
localparam HI = (SH_MAX > ACC_W + 1) ? ACC_W + 1 : SH_MAX;
localparam SV_W = (HI > LO) ? $clog2(HI - LO + 1) : 1;
wire [SH_W-1:0] s = (rshift > HI[SH_W-1:0]) ? HI[SH_W-1:0] : rshift;
// verilator lint_off WIDTH
wire [SV_W-1:0] sv = s - LO[SH_W-1:0];
// verilator lint_on WIDTH
wire signed [XW-1:0] vx = {{3{val[ACC_W-1]}}, val};
wire signed [XW-1:0] fl = (vx >>> LO) >>> sv;
wire [XW-1:0] one = {{(XW-1){1'b0}}, 1'b1};
wire half;
wire [XW-1:0] low_mask;  // the dropped bits below the half bit
generate
    if (LO == 0) begin : g_from0
        assign low_mask = (s > 1) ? ((one << (s - 1)) - one) : {XW{1'b0}};
        assign half = (s != 0) ? vx[s - 1] : 1'b0;
    end else begin : g_from_lo
        // bits below LO - 1 always; then sv more
        assign low_mask = (((one << sv) - one) << (LO - 1)) | ((one << (LO - 1)) - one);
        // verilator lint_off UNUSEDSIGNAL
        wire [XW-1:0] from_half = (vx >> (LO - 1)) >> sv;  // (only bit 0 is used: a mux)
        // verilator lint_on UNUSEDSIGNAL
        assign half = from_half[0];
    end
endgenerate
wire sticky = |(vx & low_mask);
wire neg = val[ACC_W-1];
reg inc;

always @* begin
    case (rnd)
        AP_TRN: inc = 1'b0;
        AP_TRN_ZERO: inc = neg & (half | sticky);
        AP_RND: inc = half;
        AP_RND_ZERO: inc = half & (sticky | neg);
        AP_RND_INF: inc = half & (sticky | ~neg);
        AP_RND_MIN_INF: inc = half & sticky;
        default: inc = half & (sticky | fl[0]);  // AP_RND_CONV
    endcase
end

// ---- stage boundary (REG = 1): the rounded value's parts and the format of the same conversion
wire signed [XW-1:0] fl_s;
wire inc_s;
wire [F_WIDTH_W-1:0] width_s;
wire is_signed_s;
wire [F_OVF_W-1:0] ovf_s;
generate
    if (REG) begin : g_reg
        reg signed [XW-1:0] fl_r;
        reg inc_r, is_signed_r;
        reg [F_WIDTH_W-1:0] width_r;
        reg [F_OVF_W-1:0] ovf_r;
        always @(posedge clk) if (en) begin
            fl_r <= fl;
            inc_r <= inc;
            width_r <= width;
            is_signed_r <= is_signed;
            ovf_r <= ovf;
        end
        assign {fl_s, inc_s, width_s, is_signed_s, ovf_s} = {fl_r, inc_r, width_r, is_signed_r, ovf_r};
    end else begin : g_comb
        assign {fl_s, inc_s, width_s, is_signed_s, ovf_s} = {fl, inc, width, is_signed, ovf};
        // verilator lint_off UNUSEDSIGNAL
        wire unused_clk = clk | en;
        // verilator lint_on UNUSEDSIGNAL
    end
endgenerate

wire signed [XW-1:0] v = fl_s + {{(XW-1){1'b0}}, inc_s};
wire signed [XW-1:0] mx = is_signed_s ? ((one << (width_s - 1)) - one) : ((one << width_s) - one);
wire signed [XW-1:0] mn_raw = is_signed_s ? -(one << (width_s - 1)) : {XW{1'b0}};
wire signed [XW-1:0] mn = (ovf_s == AP_SAT_SYM && is_signed_s && width_s > 1) ? -mx : mn_raw;
wire over = v > mx;
wire under = v < mn;
wire [F_WIDTH_W-1:0] pad = DW[F_WIDTH_W-1:0] - width_s;
wire [DW-1:0] low = v[DW-1:0] << pad;
wire signed [DW-1:0] low_s = low;
wire signed [DW-1:0] wrapped_s = low_s >>> pad;
wire [DW-1:0] wrapped_u = low >> pad;
wire [DW-1:0] wrapped = is_signed_s ? wrapped_s : wrapped_u;

always @* begin
    if (!over && !under) begin
        code = v[DW-1:0];
    end else begin
        case (ovf_s)
            AP_WRAP: code = wrapped;
            AP_SAT_ZERO: code = {DW{1'b0}};
            default: code = over ? mx[DW-1:0] : mn[DW-1:0];  // AP_SAT, AP_SAT_SYM
        endcase
    end
end

endmodule

`resetall
