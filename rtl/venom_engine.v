// SPDX-License-Identifier: MIT
// venom_engine: micro-coded fixed-point engine (LANES multiply lanes, scratchpad, weight stream, LUT units)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// Runs one program of the instruction ROM (python/venom_fpga/rtl_isa.py documents the instruction set and is its
// bit-exact instruction-level model) from `entry` until an instruction with LAST set; `busy` is high meanwhile.
//
// Instruction timing: 1 fetch cycle, then per group of LANES elements the sum of the segments' K MAC cycles and
// 1 write-back cycle (LUT instructions: 1 ROM read + 1 write-back cycle per group).
//
// The instruction word layout (LSB first) is defined here and mirrored by python/venom_fpga/rtl_export.py
// (`field_layout`); both derive every field width from the parameters below.
module venom_engine #(
    // number of multiply lanes (elements processed per cycle)
    parameter LANES = 4,
    // scratchpad word width (every signal code, sign-extended)
    parameter DW = 32,
    // exact accumulator width
    parameter ACC_W = 64,
    // signed multiplier operand widths (static bounds of the operands, derived by rtl_export; B is the narrower)
    parameter MUL_A_W = DW,
    parameter MUL_B_W = DW,
    // LUT interpolation fraction width (largest table shift)
    parameter LUT_R_W = 16,
    // shift fields width
    parameter SH_W = 7,
    // scratchpad words
    parameter DMEM_DEPTH = 1024,
    // scratchpad address width, derived
    parameter ADDR_W = (DMEM_DEPTH > 1) ? $clog2(DMEM_DEPTH) : 1,
    // loop counter width (N1, N2, ceil(N2/LANES), K)
    parameter CNT_W = 8,
    // instruction words
    parameter IROM_DEPTH = 64,
    // program counter width, derived
    parameter PC_W = (IROM_DEPTH > 1) ? $clog2(IROM_DEPTH) : 1,
    // weight stream: words per bank, bank word width
    parameter WROM_DEPTH = 1024,
    parameter WW = 24,
    // weight pointer width, derived
    parameter WA_W = (WROM_DEPTH > 1) ? $clog2(WROM_DEPTH) : 1,
    // LUT ROM words (all tables), table word width
    parameter LUT_DEPTH = 1024,
    parameter TW = 32,
    // LUT ROM address width, derived
    parameter TA_W = (LUT_DEPTH > 1) ? $clog2(LUT_DEPTH) : 1,
    // scratchpad addresses of the two input words and the two output words
    parameter IN_ADDR = 0,
    parameter OUT_ADDR = 2,
    // memory initialisation files ($readmemh)
    parameter IROM_FILE = "",
    parameter WROM_FILE = "",
    parameter LUT_FILE = ""
) (
    input  wire              clk,
    input  wire              rst,
    // start a program at entry (accepted when not busy)
    input  wire              start,
    input  wire [PC_W-1:0]   entry,
    output wire              busy,
    // write the two input words (when not busy)
    input  wire              in_we,
    input  wire [DW-1:0]     in_d0,
    input  wire [DW-1:0]     in_d1,
    // the two output words
    output wire [DW-1:0]     out_d0,
    output wire [DW-1:0]     out_d1
);

// ------------------------------------------------------------------ instruction word layout
localparam SEG_K = 0;
localparam SEG_A_ONE = SEG_K + CNT_W;
localparam SEG_A_BASE = SEG_A_ONE + 1;
localparam SEG_A_S1 = SEG_A_BASE + ADDR_W;
localparam SEG_A_S2 = SEG_A_S1 + ADDR_W;
localparam SEG_A_S2L = SEG_A_S2 + ADDR_W;
localparam SEG_A_SK = SEG_A_S2L + ADDR_W;
localparam SEG_B_W = SEG_A_SK + ADDR_W;
localparam SEG_B_BASE = SEG_B_W + 1;
localparam SEG_B_S1 = SEG_B_BASE + ADDR_W;
localparam SEG_B_S2 = SEG_B_S1 + ADDR_W;
localparam SEG_B_S2L = SEG_B_S2 + ADDR_W;
localparam SEG_B_SK = SEG_B_S2L + ADDR_W;
localparam SEG_SHIFT = SEG_B_SK + ADDR_W;
localparam SEG_W = SEG_SHIFT + SH_W;

localparam F_OP = 0;
localparam F_WB = F_OP + 1;
localparam F_LAST = F_WB + 3;
localparam F_NSEG = F_LAST + 1;
localparam F_N1 = F_NSEG + 2;
localparam F_N2 = F_N1 + CNT_W;
localparam F_N2G = F_N2 + CNT_W;
localparam F_D_BASE = F_N2G + CNT_W;
localparam F_D_S1 = F_D_BASE + ADDR_W;
localparam F_D_S2 = F_D_S1 + ADDR_W;
localparam F_D_S2L = F_D_S2 + ADDR_W;
localparam F_SEG0 = F_D_S2L + ADDR_W;
localparam F_SEG1 = F_SEG0 + SEG_W;
localparam F_WIDTH = F_SEG1 + SEG_W;
localparam F_SIGNED = F_WIDTH + 7;
localparam F_RND = F_SIGNED + 1;
localparam F_OVF = F_RND + 3;
localparam F_RSHIFT = F_OVF + 2;
localparam F_VF_EN = F_RSHIFT + SH_W;
localparam F_VF_BASE = F_VF_EN + 1;
localparam F_VF_S1 = F_VF_BASE + ADDR_W;
localparam F_VF_S2 = F_VF_S1 + ADDR_W;
localparam F_VF_S2L = F_VF_S2 + ADDR_W;
localparam F_WBASE = F_VF_S2L + ADDR_W;
localparam F_L_KIND = F_WBASE + WA_W;
localparam F_L_TBASE = F_L_KIND + 2;
localparam F_L_LO = F_L_TBASE + TA_W;
localparam F_L_HI = F_L_LO + DW;
localparam F_L_S = F_L_HI + DW;
localparam F_L_FIN = F_L_S + 6;
localparam F_L_NMAX = F_L_FIN + 7;
localparam F_L_SHRELU = F_L_NMAX + 7;
localparam F_L_SHV = F_L_SHRELU + 7;
localparam F_N_MF = F_L_SHV + 7;
localparam F_N_EVEN = F_N_MF + 7;
localparam F_N_HALVE = F_N_EVEN + 1;
localparam F_N_OFF = F_N_HALVE + 1;
localparam F_N_LO = F_N_OFF + 8;
localparam F_N_HI = F_N_LO + 8;
localparam F_N_ADD = F_N_HI + 8;
// instruction width, derived
localparam IW = F_N_ADD + 8;

localparam WB_QUANT = 3'd0;
localparam WB_ABS = 3'd1;
localparam WB_FLAG = 3'd2;
localparam WB_NORM_M = 3'd3;

localparam JW = CNT_W + $clog2(LANES + 1) + 1;

`ifndef SYNTHESIS  // elaboration checks (Yosys 0.23 rejects $error)
initial begin
    if (LANES < 1) $error("%m: LANES must be >= 1");
    if (MUL_A_W + MUL_B_W > ACC_W) $error("%m: ACC_W (%0d) must hold a MUL_A_W x MUL_B_W product", ACC_W);
    if (MUL_A_W > DW || MUL_B_W > DW) $error("%m: multiplier operands wider than DW (%0d)", DW);
    if (WW > DW) $error("%m: WW (%0d) must not exceed DW (%0d)", WW, DW);
    if (IROM_FILE == "" || WROM_FILE == "" || LUT_FILE == "") $error("%m: memory files are required");
end
`endif

// ------------------------------------------------------------------ memories
reg [IW-1:0] irom [0:IROM_DEPTH-1];
reg [LANES*WW-1:0] wrom [0:WROM_DEPTH-1];
reg [DW-1:0] dmem [0:DMEM_DEPTH-1];

initial begin
    $readmemh(IROM_FILE, irom);
    $readmemh(WROM_FILE, wrom);
end

// ------------------------------------------------------------------ control state
localparam [2:0] S_IDLE = 3'd0, S_FETCH = 3'd1, S_MAC = 3'd2, S_WB = 3'd3, S_LUT_RD = 3'd4, S_LUT_WB = 3'd5;

reg [2:0] state_reg, state_next;
reg [PC_W-1:0] pc_reg, pc_next;
reg [CNT_W-1:0] i1_reg, i1_next, i2_reg, i2_next, k_reg, k_next;
reg [JW-1:0] j2b_reg, j2b_next;
reg seg_reg, seg_next;
reg [WA_W-1:0] wptr_reg, wptr_next;
// address walkers: row base (base + i1 s1) and group base (+ i2 LANES s2) of a0, b0, a1, b1, d, vf
reg [6*ADDR_W-1:0] rb_reg, rb_next, gb_reg, gb_next;
reg [ADDR_W-1:0] pka_reg, pka_next, pkb_reg, pkb_next;

wire [IW-1:0] ir = irom[pc_reg];
wire op_lut = ir[F_OP];
wire [2:0] wb_mode = ir[F_WB +: 3];
wire last = ir[F_LAST];
wire [1:0] nseg = ir[F_NSEG +: 2];
wire [CNT_W-1:0] n1 = ir[F_N1 +: CNT_W];
wire [CNT_W-1:0] n2 = ir[F_N2 +: CNT_W];
wire [CNT_W-1:0] n2g = ir[F_N2G +: CNT_W];
wire [SEG_W-1:0] sg0 = ir[F_SEG0 +: SEG_W];
wire [SEG_W-1:0] sg1 = ir[F_SEG1 +: SEG_W];
wire [SEG_W-1:0] sg = seg_reg ? sg1 : sg0;
wire [CNT_W-1:0] seg_k = sg[SEG_K +: CNT_W];
wire a_one = sg[SEG_A_ONE];
wire b_w = sg[SEG_B_W];
wire [SH_W-1:0] seg_shift = sg[SEG_SHIFT +: SH_W];

// walker fields: base, s1, s2, s2l for walker w (0 a0, 1 b0, 2 a1, 3 b1, 4 d, 5 vf)
wire [6*ADDR_W-1:0] w_base = {ir[F_VF_BASE +: ADDR_W], ir[F_D_BASE +: ADDR_W],
                              sg1[SEG_B_BASE +: ADDR_W], sg1[SEG_A_BASE +: ADDR_W],
                              sg0[SEG_B_BASE +: ADDR_W], sg0[SEG_A_BASE +: ADDR_W]};
wire [6*ADDR_W-1:0] w_s1 = {ir[F_VF_S1 +: ADDR_W], ir[F_D_S1 +: ADDR_W],
                            sg1[SEG_B_S1 +: ADDR_W], sg1[SEG_A_S1 +: ADDR_W],
                            sg0[SEG_B_S1 +: ADDR_W], sg0[SEG_A_S1 +: ADDR_W]};
wire [6*ADDR_W-1:0] w_s2l = {ir[F_VF_S2L +: ADDR_W], ir[F_D_S2L +: ADDR_W],
                             sg1[SEG_B_S2L +: ADDR_W], sg1[SEG_A_S2L +: ADDR_W],
                             sg0[SEG_B_S2L +: ADDR_W], sg0[SEG_A_S2L +: ADDR_W]};

// current operands' group base, lane stride, k offset
wire [ADDR_W-1:0] gb_a = seg_reg ? gb_reg[2*ADDR_W +: ADDR_W] : gb_reg[0 +: ADDR_W];
wire [ADDR_W-1:0] gb_b = seg_reg ? gb_reg[3*ADDR_W +: ADDR_W] : gb_reg[ADDR_W +: ADDR_W];
wire [ADDR_W-1:0] gb_d = gb_reg[4*ADDR_W +: ADDR_W];
wire [ADDR_W-1:0] gb_vf = gb_reg[5*ADDR_W +: ADDR_W];
wire [ADDR_W-1:0] s2_a = sg[SEG_A_S2 +: ADDR_W];
wire [ADDR_W-1:0] s2_b = sg[SEG_B_S2 +: ADDR_W];
wire [ADDR_W-1:0] s2_d = ir[F_D_S2 +: ADDR_W];
wire [ADDR_W-1:0] s2_vf = ir[F_VF_S2 +: ADDR_W];
wire [ADDR_W-1:0] sk_a = sg[SEG_A_SK +: ADDR_W];
wire [ADDR_W-1:0] sk_b = sg[SEG_B_SK +: ADDR_W];

wire [SH_W-1:0] rshift = ir[F_RSHIFT +: SH_W];
wire vf_en = ir[F_VF_EN];

wire last_k = (k_reg == seg_k - 1'b1);
wire last_seg = (seg_reg == 1'b1) || (nseg != 2'd2);
wire last_i2 = (i2_reg == n2g - 1'b1);
wire last_i1 = (i1_reg == n1 - 1'b1);
wire in_wb = (state_reg == S_WB) || (state_reg == S_LUT_WB);

assign busy = (state_reg != S_IDLE);

// ------------------------------------------------------------------ lanes
wire [LANES*WW-1:0] wword = wrom[wptr_reg];
reg signed [ACC_W-1:0] acc_reg [0:LANES-1];
wire [LANES-1:0] lane_we;
wire [LANES*ADDR_W-1:0] lane_wa;
wire [LANES*DW-1:0] lane_wd;

genvar l;
generate
    for (l = 0; l < LANES; l = l + 1) begin : g_lane
        wire [ADDR_W-1:0] off_a, off_b, off_d, off_vf;
        if (l == 0) begin : g_first
            assign off_a = {ADDR_W{1'b0}};
            assign off_b = {ADDR_W{1'b0}};
            assign off_d = {ADDR_W{1'b0}};
            assign off_vf = {ADDR_W{1'b0}};
        end else begin : g_next
            assign off_a = g_lane[l-1].off_a + s2_a;
            assign off_b = g_lane[l-1].off_b + s2_b;
            assign off_d = g_lane[l-1].off_d + s2_d;
            assign off_vf = g_lane[l-1].off_vf + s2_vf;
        end
        wire [JW-1:0] j2 = j2b_reg + l;
        wire active = (j2 < {{(JW-CNT_W){1'b0}}, n2});
        wire [ADDR_W-1:0] addr_a = gb_a + off_a + pka_reg;
        wire [ADDR_W-1:0] addr_b = gb_b + off_b + pkb_reg;
        wire [ADDR_W-1:0] addr_d = gb_d + off_d;
        wire [ADDR_W-1:0] addr_vf = gb_vf + off_vf;
        // two scratchpad read ports per lane: A, and B (which reads the variable shift in write-back cycles)
        wire [ADDR_W-1:0] addr_b_port = in_wb ? addr_vf : addr_b;
        wire [DW-1:0] mem_a = active ? dmem[addr_a] : {DW{1'b0}};
        wire [DW-1:0] mem_b = active ? dmem[addr_b_port] : {DW{1'b0}};
        // verilator lint_off UNUSEDSIGNAL
        wire [DW-1:0] mem_vf = mem_b;
        // verilator lint_on UNUSEDSIGNAL
        wire [WW-1:0] wv = wword[l*WW +: WW];
        // verilator lint_off UNUSEDSIGNAL
        wire signed [DW-1:0] opa = a_one ? {{(DW-1){1'b0}}, 1'b1} : mem_a;
        wire signed [DW-1:0] opb = b_w ? {{(DW-WW){wv[WW-1]}}, wv} : mem_b;
        // verilator lint_on UNUSEDSIGNAL
        // operands fit MUL_A_W / MUL_B_W signed bits by construction (rtl_isa._operand_widths)
        wire signed [MUL_A_W-1:0] opa_n = opa[MUL_A_W-1:0];
        wire signed [MUL_B_W-1:0] opb_n = opb[MUL_B_W-1:0];
        wire signed [MUL_A_W+MUL_B_W-1:0] prod = opa_n * opb_n;
        wire signed [ACC_W-1:0] prod_x = {{(ACC_W-MUL_A_W-MUL_B_W){prod[MUL_A_W+MUL_B_W-1]}}, prod};
        wire signed [ACC_W-1:0] acc_sum = acc_reg[l] + (prod_x <<< seg_shift);

        always @(posedge clk) begin
            if (state_reg == S_MAC) begin
                acc_reg[l] <= acc_sum;
            end else if (state_reg != S_LUT_RD) begin
                acc_reg[l] <= {ACC_W{1'b0}};
            end
        end

        // LUT unit (x = the A operand of segment 0)
        wire signed [ACC_W-1:0] lut_val;
        wire [SH_W-1:0] lut_rshift;
        venom_lut_unit #(
            .DW(DW),
            .ACC_W(ACC_W),
            .SH_W(SH_W),
            .TW(TW),
            .R_W(LUT_R_W),
            .DEPTH(LUT_DEPTH),
            .INIT_FILE(LUT_FILE)
        ) lut_inst (
            .clk(clk),
            .rd_en(state_reg == S_LUT_RD),
            .x(mem_a),
            .kind(ir[F_L_KIND +: 2]),
            .tbase(ir[F_L_TBASE +: TA_W]),
            .lo(ir[F_L_LO +: DW]),
            .hi(ir[F_L_HI +: DW]),
            .s(ir[F_L_S +: 6]),
            .f_in(ir[F_L_FIN +: 7]),
            .nmax(ir[F_L_NMAX +: 7]),
            .sh_relu(ir[F_L_SHRELU +: 7]),
            .sh_v(ir[F_L_SHV +: 7]),
            .rshift(rshift),
            .val(lut_val),
            .rshift_out(lut_rshift)
        );

        // write-back: one rounding (or |.|, flag, normalisation) of the accumulator / LUT value
        wire signed [ACC_W-1:0] acc_abs = acc_reg[l][ACC_W-1] ? -acc_reg[l] : acc_reg[l];
        wire signed [ACC_W-1:0] q_in = op_lut ? lut_val : ((wb_mode == WB_ABS) ? acc_abs : acc_reg[l]);
        wire [SH_W-1:0] q_sh = op_lut ? lut_rshift : (rshift + (vf_en ? mem_vf[SH_W-1:0] : {SH_W{1'b0}}));
        wire [DW-1:0] q_code;
        venom_quant #(
            .ACC_W(ACC_W),
            .DW(DW),
            .SH_W(SH_W)
        ) quant_inst (
            .val(q_in),
            .rshift(q_sh),
            .width(ir[F_WIDTH +: 7]),
            .is_signed(ir[F_SIGNED]),
            .rnd(ir[F_RND +: 3]),
            .ovf(ir[F_OVF +: 2]),
            .code(q_code)
        );
        wire [DW-1:0] n_mant, n_expo;
        venom_normalize #(
            .ACC_W(ACC_W),
            .DW(DW)
        ) norm_inst (
            .val(acc_reg[l]),
            .mant_frac(ir[F_N_MF +: 7]),
            .even(ir[F_N_EVEN]),
            .halve(ir[F_N_HALVE]),
            .off(ir[F_N_OFF +: 8]),
            .lo(ir[F_N_LO +: 8]),
            .hi(ir[F_N_HI +: 8]),
            .add(ir[F_N_ADD +: 8]),
            .mant(n_mant),
            .expo(n_expo)
        );
        reg [DW-1:0] wd;
        always @* begin
            if (op_lut) begin
                wd = q_code;
            end else begin
                case (wb_mode)
                    WB_QUANT, WB_ABS: wd = q_code;
                    WB_FLAG: wd = {{(DW-1){1'b0}}, (!acc_reg[l][ACC_W-1] && acc_reg[l] != 0)};
                    WB_NORM_M: wd = n_mant;
                    default: wd = n_expo;
                endcase
            end
        end
        assign lane_we[l] = in_wb && active;
        assign lane_wa[l*ADDR_W +: ADDR_W] = addr_d;
        assign lane_wd[l*DW +: DW] = wd;
    end
endgenerate

// ------------------------------------------------------------------ scratchpad writes
integer wl;
always @(posedge clk) begin
    if (in_we && !busy) begin
        dmem[IN_ADDR] <= in_d0;
        dmem[IN_ADDR + 1] <= in_d1;
    end
    for (wl = 0; wl < LANES; wl = wl + 1) begin
        if (lane_we[wl]) dmem[lane_wa[wl*ADDR_W +: ADDR_W]] <= lane_wd[wl*DW +: DW];
    end
end

assign out_d0 = dmem[OUT_ADDR];
assign out_d1 = dmem[OUT_ADDR + 1];

// ------------------------------------------------------------------ sequencer
integer w;
always @* begin
    state_next = state_reg;
    pc_next = pc_reg;
    i1_next = i1_reg;
    i2_next = i2_reg;
    j2b_next = j2b_reg;
    k_next = k_reg;
    seg_next = seg_reg;
    wptr_next = wptr_reg;
    rb_next = rb_reg;
    gb_next = gb_reg;
    pka_next = pka_reg;
    pkb_next = pkb_reg;
    case (state_reg)
        S_IDLE: begin
            if (start) begin
                pc_next = entry;
                state_next = S_FETCH;
            end
        end
        S_FETCH: begin
            i1_next = {CNT_W{1'b0}};
            i2_next = {CNT_W{1'b0}};
            j2b_next = {JW{1'b0}};
            k_next = {CNT_W{1'b0}};
            seg_next = 1'b0;
            pka_next = {ADDR_W{1'b0}};
            pkb_next = {ADDR_W{1'b0}};
            wptr_next = ir[F_WBASE +: WA_W];
            rb_next = w_base;
            gb_next = w_base;
            state_next = op_lut ? S_LUT_RD : ((nseg == 2'd0) ? S_WB : S_MAC);
        end
        S_MAC: begin
            if (b_w) wptr_next = wptr_reg + 1'b1;
            if (last_k) begin
                k_next = {CNT_W{1'b0}};
                pka_next = {ADDR_W{1'b0}};
                pkb_next = {ADDR_W{1'b0}};
                if (last_seg) begin
                    state_next = S_WB;
                end else begin
                    seg_next = 1'b1;
                end
            end else begin
                k_next = k_reg + 1'b1;
                pka_next = pka_reg + sk_a;
                pkb_next = pkb_reg + sk_b;
            end
        end
        S_LUT_RD: begin
            state_next = S_LUT_WB;
        end
        default: begin  // S_WB, S_LUT_WB: advance to the next group
            seg_next = 1'b0;
            k_next = {CNT_W{1'b0}};
            pka_next = {ADDR_W{1'b0}};
            pkb_next = {ADDR_W{1'b0}};
            if (last_i2) begin
                i2_next = {CNT_W{1'b0}};
                j2b_next = {JW{1'b0}};
                i1_next = i1_reg + 1'b1;
                for (w = 0; w < 6; w = w + 1) begin
                    rb_next[w*ADDR_W +: ADDR_W] = rb_reg[w*ADDR_W +: ADDR_W] + w_s1[w*ADDR_W +: ADDR_W];
                    gb_next[w*ADDR_W +: ADDR_W] = rb_reg[w*ADDR_W +: ADDR_W] + w_s1[w*ADDR_W +: ADDR_W];
                end
            end else begin
                i2_next = i2_reg + 1'b1;
                j2b_next = j2b_reg + LANES[JW-1:0];
                for (w = 0; w < 6; w = w + 1) begin
                    gb_next[w*ADDR_W +: ADDR_W] = gb_reg[w*ADDR_W +: ADDR_W] + w_s2l[w*ADDR_W +: ADDR_W];
                end
            end
            if (last_i2 && last_i1) begin
                if (last) begin
                    state_next = S_IDLE;
                end else begin
                    pc_next = pc_reg + 1'b1;
                    state_next = S_FETCH;
                end
            end else begin
                state_next = op_lut ? S_LUT_RD : ((nseg == 2'd0) ? S_WB : S_MAC);
            end
        end
    endcase
end

always @(posedge clk) begin
    state_reg <= state_next;
    pc_reg <= pc_next;
    i1_reg <= i1_next;
    i2_reg <= i2_next;
    j2b_reg <= j2b_next;
    k_reg <= k_next;
    seg_reg <= seg_next;
    wptr_reg <= wptr_next;
    rb_reg <= rb_next;
    gb_reg <= gb_next;
    pka_reg <= pka_next;
    pkb_reg <= pkb_next;
    if (rst) begin
        state_reg <= S_IDLE;
        pc_reg <= {PC_W{1'b0}};
    end
end

endmodule

`resetall
