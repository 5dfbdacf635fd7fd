// SPDX-License-Identifier: BSD-3-Clause
// venom_lut_unit: one table evaluation of lut.py (index, interpolation, kind-specific combination)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// A 4-stage pipeline (one evaluation per cycle): x and the fields enter in cycle c, val/rshift_out leave
// registered for cycle c + 4: the exact value and its right shift into the output format (to be rounded by
// venom_quant):
//   uniform     a = x;        V = T[i] 2**s + (T[i+1] - T[i]) r;  val = V
//   relu_minus  a = |x|;      val = (relu(x) << SH_RELU) - (V << SH_V)
//   relu_plus   a = |x|;      val = (relu(x) << SH_RELU) + (V << SH_V)
//   exp2neg     x = max(x,0); n = min(x >> F_IN, NMAX); a = x & (2**F_IN - 1); val = V, rshift += n
// with a clamped to [lo, hi], d = a - lo, i = d >> s, r = d & (2**s - 1).
// Stages: c index + ROM address | c+1 ROM words, slope product | c+2 interpolation sum | c+3 combination.
// kind and the table fields are the instruction fields of venom_contract.vh (LUT_* codes), so the ports are declared
// after its include.
module venom_lut_unit #(
    // input word width
    parameter DW = 32,
    // exact value width
    parameter ACC_W = 64,
    // shift field width
    parameter SH_W = 7,
    // table word width (two's complement)
    parameter TW = 32,
    // ROM depth (all tables)
    parameter DEPTH = 1024,
    // ROM address width, derived
    parameter TA_W = (DEPTH > 1) ? $clog2(DEPTH) : 1,
    // interpolation fraction width (>= the largest table shift s): one (TW+1) x R_W multiplier
    parameter R_W = 16,
    // 1: the slope x fraction product as R_W shifted copies of the slope, selected by the fraction's bits and summed
    // in fabric (LUT adders; for a narrow R_W), 0: a multiplier (DSP48E2)
    parameter FABRIC = 0,
    // $readmemh file of the concatenated tables
    parameter INIT_FILE = ""
) (
    clk, en, x, kind, tbase, lo, hi, s, f_in, nmax, sh_relu, sh_v, rshift, val, rshift_out
);

`include "venom_contract.vh"

input  wire                           clk;
// an evaluation enters (each stage's registers load only for an evaluation)
input  wire                           en;
input  wire signed [DW-1:0]           x;
input  wire        [F_L_KIND_W-1:0]   kind;
input  wire        [TA_W-1:0]         tbase;
input  wire signed [DW-1:0]           lo;
input  wire signed [DW-1:0]           hi;
input  wire        [F_L_S_W-1:0]      s;
input  wire        [F_L_FIN_W-1:0]    f_in;
input  wire        [F_L_NMAX_W-1:0]   nmax;
input  wire        [F_L_SHRELU_W-1:0] sh_relu;
input  wire        [F_L_SHV_W-1:0]    sh_v;
input  wire        [SH_W-1:0]         rshift;
output reg  signed [ACC_W-1:0]        val;
output reg         [SH_W-1:0]         rshift_out;

`ifndef SYNTHESIS  // elaboration checks (Yosys 0.23 rejects $error)
initial begin
    if (TW > ACC_W) $error("%m: TW (%0d) must not exceed ACC_W (%0d)", TW, ACC_W);
    if (TW + 1 + R_W + 1 > ACC_W) $error("%m: interpolation product wider than ACC_W");
end
`endif

// ---- stage 1: table index and ROM address
wire signed [DW-1:0] one = {{(DW-1){1'b0}}, 1'b1};
wire signed [DW-1:0] xp = x[DW-1] ? {DW{1'b0}} : x;
// |x|, saturated for the most negative word (any |x| > hi clamps to hi: exact)
wire x_min = x[DW-1] && (x[DW-2:0] == {(DW-1){1'b0}});
wire signed [DW-1:0] xabs = x_min ? {1'b0, {(DW-1){1'b1}}} : (x[DW-1] ? -x : x);
wire [DW-1:0] in_mask = (one << f_in) - one;
wire [DW-1:0] n_raw = xp >> f_in;
wire [DW-1:0] nmax_x = {{(DW-F_L_NMAX_W){1'b0}}, nmax};
// verilator lint_off UNUSEDSIGNAL
wire [DW-1:0] n = (n_raw > nmax_x) ? nmax_x : n_raw;
// verilator lint_on UNUSEDSIGNAL
reg signed [DW-1:0] a;

always @* begin
    case (kind)
        LUT_UNIFORM: a = x;
        LUT_EXP2NEG: a = xp & in_mask;
        default: a = xabs;  // LUT_RELU_MINUS, LUT_RELU_PLUS
    endcase
end

wire signed [DW-1:0] a_lo = (a < lo) ? lo : a;
wire signed [DW-1:0] a_c = (a_lo > hi) ? hi : a_lo;
wire [DW-1:0] d = a_c - lo;
// verilator lint_off UNUSEDSIGNAL
wire [DW-1:0] idx = d >> s;
wire [DW-1:0] r = d & ((one << s) - one);
// verilator lint_on UNUSEDSIGNAL
wire [TA_W-1:0] addr0 = tbase + idx[TA_W-1:0];
wire [TA_W-1:0] addr1 = addr0 + {{(TA_W-1){1'b0}}, 1'b1};

reg [F_L_KIND_W-1:0] kind2, kind3, kind4;
reg [F_L_S_W-1:0] s2;
reg [R_W-1:0] r2;
reg signed [DW-1:0] xp2, xp3, xp4;
reg [SH_W-1:0] rsh2, rsh3, rsh4;
reg [F_L_SHRELU_W-1:0] shr2, shr3, shr4;
reg [F_L_SHV_W-1:0] shv2, shv3, shv4;
reg en2, en3, en4;  // an evaluation is in stage 2, 3, 4
always @(posedge clk) begin
    {en2, en3, en4} <= {en, en2, en3};
end
always @(posedge clk) if (en) begin
    kind2 <= kind;
    s2 <= s;
    r2 <= r[R_W-1:0];
    xp2 <= xp;
    rsh2 <= (kind == LUT_EXP2NEG) ? rshift + n[SH_W-1:0] : rshift;
    shr2 <= sh_relu;
    shv2 <= sh_v;
end

// ---- stage 2: T[i], T[i+1] (registered ROM); slope * fraction on narrow operands
wire [TW-1:0] t0_q;
wire [TW-1:0] t1_q;

venom_rom #(
    .WIDTH(TW),
    .DEPTH(DEPTH),
    .INIT_FILE(INIT_FILE)
) rom_inst (
    .clk(clk),
    .en(en),
    .addr_a(addr0),
    .addr_b(addr1),
    .q_a(t0_q),
    .q_b(t1_q)
);

wire signed [ACC_W-1:0] t0 = {{(ACC_W-TW){t0_q[TW-1]}}, t0_q};
wire signed [TW:0] dlt = {t1_q[TW-1], t1_q} - {t0_q[TW-1], t0_q};
reg signed [TW+R_W+1:0] slope;
generate if (FABRIC != 0) begin : g_slope_fabric
    // r is unsigned: dlt r = sum_i r[i] (dlt << i), no negative top term (each term masked by its bit: the AND
    // folds into the adder's LUTs, where a conditional add becomes an adder and a multiplexer)
    wire signed [TW+R_W+1:0] dlt_x = {{(R_W+1){dlt[TW]}}, dlt};
    integer i;
    always @* begin
        slope = {(TW+R_W+2){1'b0}};
        for (i = 0; i < R_W; i = i + 1)
            slope = slope + ((dlt_x <<< i) & {(TW+R_W+2){r2[i]}});
    end
end else begin : g_slope_dsp
    wire signed [R_W:0] r_n = {1'b0, r2};
    always @* slope = dlt * r_n;
end endgenerate
reg signed [TW+R_W+1:0] slope3;
reg signed [ACC_W-1:0] t0s3;
always @(posedge clk) if (en2) begin
    slope3 <= slope;
    t0s3 <= t0 <<< s2;
    {kind3, xp3, rsh3, shr3, shv3} <= {kind2, xp2, rsh2, shr2, shv2};
end

// ---- stage 3: interpolated table value V
reg signed [ACC_W-1:0] v4;
always @(posedge clk) if (en3) begin
    v4 <= t0s3 + {{(ACC_W-TW-R_W-2){slope3[TW+R_W+1]}}, slope3};
    {kind4, xp4, rsh4, shr4, shv4} <= {kind3, xp3, rsh3, shr3, shv3};
end

// ---- stage 4: kind-specific combination
wire signed [ACC_W-1:0] relu = {{(ACC_W-DW){1'b0}}, xp4} <<< shr4;
wire signed [ACC_W-1:0] vs = v4 <<< shv4;
always @(posedge clk) if (en4) begin
    rshift_out <= rsh4;
    case (kind4)
        LUT_UNIFORM, LUT_EXP2NEG: val <= v4;
        LUT_RELU_MINUS: val <= relu - vs;
        default: val <= relu + vs;  // LUT_RELU_PLUS
    endcase
end

endmodule

`resetall
