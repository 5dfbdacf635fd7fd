// SPDX-License-Identifier: BSD-3-Clause
// venom_engine: micro-coded, pipelined fixed-point engine (LANES multiply lanes, banked scratchpad, weight stream,
// LUT units)
`resetall
`timescale 1ns / 1ps
`default_nettype none

// Runs one program of the instruction ROM (python/venom_fpga/rtl/isa.py documents the instruction set and is its
// bit-exact instruction-level model) from `entry` until an instruction with LAST set; `busy` is high meanwhile,
// including the pipeline drain.
//
// Timing: per instruction 1 fetch cycle, WAIT stall cycles (set by the compiler: read-after-write hazards), then
// one term per cycle (MAC: sum of the segments' K per group of LANES elements; LUT: 1 per group). A term flows
// through the pipeline (cycle after issue):
//   1 scratchpad read (registered row/bank -> bank mux -> register), weight ROM read
//   2 operand select | LUT stage 1 (index, ROM address)
//   3 product        | LUT ROM words, slope product
//   4 product reg    | LUT interpolation sum
//   5 shift          | LUT combination
//   6 accumulate (first term of a group loads)
//   7 write-back value: |acc|, shift amount, normalisation
//   8 quant rounding (venom_quant REG stage)
//   9 quant overflow, write-data select
//  10 scratchpad write (lane l writes bank l)
// so a term issued at t' reads what a group whose last term issued at t wrote iff t' >= t + PIPE_LAT.
//
// Scratchpad: DMEM_DEPTH words in LANES banks, word g in bank g mod LANES at row g / LANES (LANES a power of two).
// Lane l writes only bank l (the compiler places element j of every written vector in bank j mod LANES); every lane
// reads any bank through a bank multiplexer (2 read ports per lane and bank: A and B operands).
//
// The instruction word layout, the field codes (OP_*, WB_*, ...) and the field widths come from venom_contract.vh,
// generated from python/venom_fpga/rtl/contract.py (with which the exporter packs the words); the layout's widths
// and offsets are expressions of the parameters below.
module venom_engine #(
    // number of multiply lanes (elements processed per cycle), a power of two >= 2
    parameter LANES = 4,
    // scratchpad word width (every signal code, sign-extended)
    parameter DW = 32,
    // exact accumulator width
    parameter ACC_W = 64,
    // signed multiplier operand widths (static bounds of the operands, derived by the exporter; B is the narrower)
    parameter MUL_A_W = DW,
    parameter MUL_B_W = DW,
    // LUT interpolation fraction width (largest table shift)
    parameter LUT_R_W = 16,
    // shift fields width
    parameter SH_W = 7,
    // scratchpad words (a multiple of LANES)
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
    // scratchpad addresses of the two input words (IN_ADDR, IN_ADDR + 1) and of the two output words
    parameter IN_ADDR = 0,
    parameter OUT_ADDR = 2,
    parameter OUT_ADDR_LV = 3,
    // issue-to-readable latency the compiler scheduled for (isa.WRITE_LATENCY); must equal this pipeline's
    parameter PIPE_LAT = 10,
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
    // the two output words (registered copies of the scratchpad words OUT_ADDR, OUT_ADDR_LV)
    output reg  [DW-1:0]     out_d0,
    output reg  [DW-1:0]     out_d1
);

// ------------------------------------------------------------------ instruction word layout, field codes
`define VENOM_CONTRACT_LAYOUT
`include "venom_contract.vh"
`undef VENOM_CONTRACT_LAYOUT

// nseg of an instruction with both segments
localparam [F_NSEG_W-1:0] NSEG_BOTH = 2;

// this pipeline's issue-to-readable latency (see the stage list above)
localparam LAT_IMPL = 10;
// bank index width and rows per bank
localparam LB = $clog2(LANES);
localparam ROWS = DMEM_DEPTH / LANES;
localparam ROW_W = (ADDR_W > LB) ? ADDR_W - LB : 1;
localparam JW = CNT_W + $clog2(LANES + 1) + 1;
// walkers: 0 A of segment 0, 1 B of segment 0, 2 A of segment 1, 3 B of segment 1, 4 destination
localparam NWALK = 5;

`ifndef SYNTHESIS  // elaboration checks (Yosys 0.23 rejects $error)
initial begin
    if (LANES < 2 || (LANES & (LANES - 1)) != 0) $error("%m: LANES must be a power of two >= 2");
    if (DMEM_DEPTH % LANES != 0) $error("%m: DMEM_DEPTH must be a multiple of LANES");
    if (PIPE_LAT != LAT_IMPL) $error("%m: program scheduled for PIPE_LAT %0d, pipeline has %0d", PIPE_LAT, LAT_IMPL);
    if (PIPE_LAT > (1 << (F_WAIT_W + 1))) $error("%m: the drain counter (F_WAIT_W + 1 bits) cannot hold PIPE_LAT");
    // wfield: a B walker's fields sit at its A walker's offsets + (SEG_B_BASE - SEG_A_BASE)
    if (SEG_B_S1 - SEG_A_S1 != SEG_B_BASE - SEG_A_BASE || SEG_B_S2 - SEG_A_S2 != SEG_B_BASE - SEG_A_BASE ||
        SEG_B_S2L - SEG_A_S2L != SEG_B_BASE - SEG_A_BASE || SEG_B_SK - SEG_A_SK != SEG_B_BASE - SEG_A_BASE)
        $error("%m: the contract's B walker fields are not laid out as its A walker fields");
    if (MUL_A_W + MUL_B_W > ACC_W) $error("%m: ACC_W (%0d) must hold a MUL_A_W x MUL_B_W product", ACC_W);
    if (MUL_A_W > DW || MUL_B_W > DW) $error("%m: multiplier operands wider than DW (%0d)", DW);
    if (WW > DW) $error("%m: WW (%0d) must not exceed DW (%0d)", WW, DW);
    if (IN_ADDR % LANES != 0 || OUT_ADDR % LANES != 0 || OUT_ADDR_LV % LANES != 0)
        $error("%m: IN_ADDR, OUT_ADDR, OUT_ADDR_LV must be in bank 0");
    if (IROM_FILE == "" || WROM_FILE == "" || LUT_FILE == "") $error("%m: memory files are required");
end
`endif

// ------------------------------------------------------------------ memories
reg [IW-1:0] irom [0:IROM_DEPTH-1];
reg [LANES*WW-1:0] wrom [0:WROM_DEPTH-1];

initial begin
    $readmemh(IROM_FILE, irom);
    $readmemh(WROM_FILE, wrom);
end

// ------------------------------------------------------------------ sequencer (issue stage)
localparam [2:0] S_IDLE = 3'd0, S_FETCH = 3'd1, S_WAIT = 3'd2, S_RUN = 3'd3, S_DRAIN = 3'd4;

reg [2:0] state_reg, state_next;
reg [PC_W-1:0] pc_reg, pc_next;
reg [F_WAIT_W:0] cnt_reg, cnt_next;  // stall and drain cycles
reg [CNT_W-1:0] i1_reg, i1_next, i2_reg, i2_next, k_reg, k_next;
reg [JW-1:0] j2b_reg, j2b_next;
reg seg_reg, seg_next;
reg [WA_W-1:0] wptr_reg, wptr_next;
reg [IW-1:0] ir_reg;
// walker registers: row base (base + i1 s1), group base (+ i2 LANES s2), term address (+ k sk)
reg [NWALK*ADDR_W-1:0] rb_reg, rb_next, gb_reg, gb_next, ta_reg, ta_next;
// lane offsets l * s2 of the four operand walkers, set at fetch
reg [4*LANES*ADDR_W-1:0] off_reg;

wire [IW-1:0] ir_rom = irom[pc_reg];
wire [IW-1:0] ir = ir_reg;
wire op_lut = (ir[F_OP +: F_OP_W] == OP_LUT);
wire last = ir[F_LAST];
wire [F_NSEG_W-1:0] nseg = ir[F_NSEG +: F_NSEG_W];
wire [CNT_W-1:0] n1 = ir[F_N1 +: F_N1_W];
wire [CNT_W-1:0] n2 = ir[F_N2 +: F_N2_W];
wire [CNT_W-1:0] n2g = ir[F_N2G +: F_N2G_W];
wire [SEG_W-1:0] sg = seg_reg ? ir[F_SEG1 +: SEG_W] : ir[F_SEG0 +: SEG_W];
wire [CNT_W-1:0] seg_k = sg[SEG_K +: SEG_K_W];
wire seg_b_ws = sg[SEG_B_WS];
wire seg_vf = sg[SEG_VF];

// walker fields of an instruction word (w: 0 a0, 1 b0, 2 a1, 3 b1, 4 d)
// verilator lint_off UNUSEDSIGNAL
function [ADDR_W-1:0] wfield;
    input [IW-1:0] word;
    input integer w;
    input integer fo;  // field offset inside a segment (SEG_A_* for A walkers)
    input integer fd;  // field offset of the destination walker
    begin
        case (w)
            0: wfield = word[F_SEG0 + fo +: ADDR_W];
            1: wfield = word[F_SEG0 + fo + (SEG_B_BASE - SEG_A_BASE) +: ADDR_W];
            2: wfield = word[F_SEG1 + fo +: ADDR_W];
            3: wfield = word[F_SEG1 + fo + (SEG_B_BASE - SEG_A_BASE) +: ADDR_W];
            default: wfield = word[fd +: ADDR_W];
        endcase
    end
endfunction
// verilator lint_on UNUSEDSIGNAL

wire last_k = (k_reg == seg_k - 1'b1) || (nseg == {F_NSEG_W{1'b0}});
wire last_seg = (seg_reg == 1'b1) || (nseg != NSEG_BOTH);
wire last_i2 = (i2_reg == n2g - 1'b1);
wire last_i1 = (i1_reg == n1 - 1'b1);
wire issue = (state_reg == S_RUN);
// walkers of the current A and B operands (index arithmetic in 32 bits)
wire [31:0] wa_cur = seg_reg ? 32'd2 : 32'd0;
wire [31:0] wb_cur = wa_cur + 32'd1;

assign busy = (state_reg != S_IDLE);

integer w;
always @* begin
    state_next = state_reg;
    pc_next = pc_reg;
    cnt_next = cnt_reg;
    i1_next = i1_reg;
    i2_next = i2_reg;
    j2b_next = j2b_reg;
    k_next = k_reg;
    seg_next = seg_reg;
    wptr_next = wptr_reg;
    rb_next = rb_reg;
    gb_next = gb_reg;
    ta_next = ta_reg;
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
            wptr_next = ir_rom[F_WBASE +: F_WBASE_W];
            for (w = 0; w < NWALK; w = w + 1) begin
                rb_next[w*ADDR_W +: ADDR_W] = wfield(ir_rom, w, SEG_A_BASE, F_D_BASE);
                gb_next[w*ADDR_W +: ADDR_W] = wfield(ir_rom, w, SEG_A_BASE, F_D_BASE);
                ta_next[w*ADDR_W +: ADDR_W] = wfield(ir_rom, w, SEG_A_BASE, F_D_BASE);
            end
            cnt_next = {1'b0, ir_rom[F_WAIT +: F_WAIT_W]} - 1'b1;
            state_next = (ir_rom[F_WAIT +: F_WAIT_W] == {F_WAIT_W{1'b0}}) ? S_RUN : S_WAIT;
        end
        S_WAIT: begin
            cnt_next = cnt_reg - 1'b1;
            if (cnt_reg == {(F_WAIT_W+1){1'b0}}) state_next = S_RUN;
        end
        S_RUN: begin
            if (seg_b_ws) wptr_next = wptr_reg + 1'b1;
            if (!last_k) begin
                k_next = k_reg + 1'b1;
                ta_next[wa_cur*ADDR_W +: ADDR_W] = ta_reg[wa_cur*ADDR_W +: ADDR_W] + sg[SEG_A_SK +: SEG_A_SK_W];
                ta_next[wb_cur*ADDR_W +: ADDR_W] = ta_reg[wb_cur*ADDR_W +: ADDR_W] + sg[SEG_B_SK +: SEG_B_SK_W];
            end else begin
                k_next = {CNT_W{1'b0}};
                ta_next[wa_cur*ADDR_W +: ADDR_W] = gb_reg[wa_cur*ADDR_W +: ADDR_W];
                ta_next[wb_cur*ADDR_W +: ADDR_W] = gb_reg[wb_cur*ADDR_W +: ADDR_W];
                if (!last_seg) begin
                    seg_next = 1'b1;
                end else begin  // next group
                    seg_next = 1'b0;
                    if (last_i2) begin
                        i2_next = {CNT_W{1'b0}};
                        j2b_next = {JW{1'b0}};
                        i1_next = i1_reg + 1'b1;
                        for (w = 0; w < NWALK; w = w + 1) begin
                            rb_next[w*ADDR_W +: ADDR_W] = rb_reg[w*ADDR_W +: ADDR_W] + wfield(ir, w, SEG_A_S1, F_D_S1);
                            gb_next[w*ADDR_W +: ADDR_W] = rb_next[w*ADDR_W +: ADDR_W];
                            ta_next[w*ADDR_W +: ADDR_W] = rb_next[w*ADDR_W +: ADDR_W];
                        end
                    end else begin
                        i2_next = i2_reg + 1'b1;
                        j2b_next = j2b_reg + LANES[JW-1:0];
                        for (w = 0; w < NWALK; w = w + 1) begin
                            gb_next[w*ADDR_W +: ADDR_W] = gb_reg[w*ADDR_W +: ADDR_W] + wfield(ir, w, SEG_A_S2L, F_D_S2L);
                            ta_next[w*ADDR_W +: ADDR_W] = gb_next[w*ADDR_W +: ADDR_W];
                        end
                    end
                    if (last_i2 && last_i1) begin
                        if (last) begin
                            cnt_next = PIPE_LAT[F_WAIT_W:0] - 1'b1;
                            state_next = S_DRAIN;
                        end else begin
                            pc_next = pc_reg + 1'b1;
                            state_next = S_FETCH;
                        end
                    end
                end
            end
        end
        default: begin  // S_DRAIN: until the last write-back
            cnt_next = cnt_reg - 1'b1;
            if (cnt_reg == {(F_WAIT_W+1){1'b0}}) state_next = S_IDLE;
        end
    endcase
end

integer o, ln;
always @(posedge clk) begin
    state_reg <= state_next;
    pc_reg <= pc_next;
    cnt_reg <= cnt_next;
    i1_reg <= i1_next;
    i2_reg <= i2_next;
    j2b_reg <= j2b_next;
    k_reg <= k_next;
    seg_reg <= seg_next;
    wptr_reg <= wptr_next;
    rb_reg <= rb_next;
    gb_reg <= gb_next;
    ta_reg <= ta_next;
    if (state_reg == S_FETCH) begin
        ir_reg <= ir_rom;
        for (o = 0; o < 4; o = o + 1) begin
            for (ln = 0; ln < LANES; ln = ln + 1) begin
                off_reg[(o*LANES+ln)*ADDR_W +: ADDR_W] <= wfield(ir_rom, o, SEG_A_S2, F_D_S2) * ln[ADDR_W-1:0];
            end
        end
    end
    if (rst) begin
        state_reg <= S_IDLE;
        pc_reg <= {PC_W{1'b0}};
    end
end

// ------------------------------------------------------------------ pipeline control (shared by the lanes)
// stage 1 (the cycle after issue)
reg p1_valid, p1_first, p1_last, p1_zero, p1_vf, p1_aone, p1_bw, p1_lut;
reg [PC_W-1:0] p1_pc;
reg [SH_W-1:0] p1_shift;
reg [ROW_W-1:0] p1_drow;
reg [WA_W-1:0] p1_wptr;
wire [LANES-1:0] p1_act;
always @(posedge clk) begin
    p1_valid <= issue;
    p1_pc <= pc_reg;
    p1_first <= (k_reg == {CNT_W{1'b0}}) && !seg_reg;
    p1_last <= last_k && last_seg;
    p1_zero <= (!op_lut && nseg == {F_NSEG_W{1'b0}}) || seg_vf;
    p1_vf <= seg_vf && !op_lut;
    p1_aone <= sg[SEG_A_ONE];
    p1_bw <= seg_b_ws;
    p1_lut <= op_lut;
    p1_shift <= sg[SEG_SHIFT +: SEG_SHIFT_W];
    p1_drow <= gb_reg[4*ADDR_W + LB +: ROW_W];
    p1_wptr <= wptr_reg;
    if (rst) p1_valid <= 1'b0;
end

// stage 2 operand selection
reg p2_zero, p2_aone, p2_bw;
// stages 2..6 of the term flags (bit s-2 = stage s)
reg [4:0] pv, pfirst, plast, pvf, plut;
// stages 2..9 of the pc, 2..10 of the active lanes and the destination row (slot s-2 = stage s)
reg [8*PC_W-1:0] pcs;
reg [9*LANES-1:0] acts;
reg [9*ROW_W-1:0] drows;
reg [SH_W-1:0] p2_shift, p3_shift, p4_shift, p5_shift;
// stages 7..10: a group's write-back (it leaves the accumulator with its last term)
reg p7_valid, p8_valid, p9_valid, p10_valid;
always @(posedge clk) begin
    pv <= {pv[3:0], p1_valid};
    pfirst <= {pfirst[3:0], p1_first};
    plast <= {plast[3:0], p1_last};
    {p2_zero, p2_aone, p2_bw} <= {p1_zero, p1_aone, p1_bw};
    pvf <= {pvf[3:0], p1_vf};
    plut <= {plut[3:0], p1_lut};
    pcs <= {pcs[0 +: 7*PC_W], p1_pc};
    acts <= {acts[0 +: 8*LANES], p1_act};
    drows <= {drows[0 +: 8*ROW_W], p1_drow};
    {p2_shift, p3_shift, p4_shift, p5_shift} <= {p1_shift, p2_shift, p3_shift, p4_shift};
    {p7_valid, p8_valid, p9_valid, p10_valid} <= {pv[4] && plast[4], p7_valid, p8_valid, p9_valid};
    if (rst) begin
        pv <= 5'd0;
        {p7_valid, p8_valid, p9_valid, p10_valid} <= 4'd0;
    end
end

// instruction fields where a stage needs them (ROM read ports indexed by the stage's pc; each uses a few fields)
// verilator lint_off UNUSEDSIGNAL
wire [IW-1:0] ir2 = irom[pcs[0 +: PC_W]];
wire [IW-1:0] ir7 = irom[pcs[5*PC_W +: PC_W]];
wire [IW-1:0] ir8 = irom[pcs[6*PC_W +: PC_W]];
wire [IW-1:0] ir9 = irom[pcs[7*PC_W +: PC_W]];
// verilator lint_on UNUSEDSIGNAL
wire lut7 = (ir7[F_OP +: F_OP_W] == OP_LUT);
wire [F_WB_W-1:0] wb7 = ir7[F_WB +: F_WB_W];
wire [F_WB_W-1:0] wb9 = ir9[F_WB +: F_WB_W];
wire lut9 = (ir9[F_OP +: F_OP_W] == OP_LUT);

// ------------------------------------------------------------------ scratchpad banks
wire [LANES*LANES*DW-1:0] qa_all, qb_all;   // [bank][lane] read data of ports A and B
wire [LANES*ROW_W-1:0] p1_rowa, p1_rowb;
wire [LANES-1:0] wr_en;
wire [LANES*DW-1:0] wr_data;
wire [ROW_W-1:0] wr_row = drows[8*ROW_W +: ROW_W];
localparam [ROW_W-1:0] IN_ROW = IN_ADDR[ADDR_W-1:LB];

genvar b, l;
generate
    for (b = 0; b < LANES; b = b + 1) begin : g_bank
        // the input words (written only while idle) share bank 0 / 1 with lanes 0 / 1
        wire in_wr = in_we && !busy && (b < 2);
        wire we = in_wr || wr_en[b];
        wire [ROW_W-1:0] wrow = in_wr ? IN_ROW : wr_row;
        wire [DW-1:0] wdata = in_wr ? ((b == 0) ? in_d0 : in_d1) : wr_data[b*DW +: DW];
        // one copy per read port (lane x {A, B}), each with one write and one read port: what LUTRAM / block RAM
        // offer, spelled out so that synthesis need not split a 2 x LANES-port memory itself
        for (l = 0; l < LANES; l = l + 1) begin : g_port
            reg [DW-1:0] copy_a [0:ROWS-1];
            reg [DW-1:0] copy_b [0:ROWS-1];
            always @(posedge clk) begin
                if (we) begin
                    copy_a[wrow] <= wdata;
                    copy_b[wrow] <= wdata;
                end
            end
            assign qa_all[(b*LANES+l)*DW +: DW] = copy_a[p1_rowa[l*ROW_W +: ROW_W]];
            assign qb_all[(b*LANES+l)*DW +: DW] = copy_b[p1_rowb[l*ROW_W +: ROW_W]];
        end
    end
endgenerate

// ------------------------------------------------------------------ lanes
reg [WW*LANES-1:0] w_q;  // weight stream word (registered ROM read), stage 2
always @(posedge clk) w_q <= wrom[p1_wptr];

generate
    for (l = 0; l < LANES; l = l + 1) begin : g_lane
        // ---- issue: this lane's operand addresses (term address + lane offset), element active
        wire [JW-1:0] j2 = j2b_reg + l;
        wire act = (j2 < {{(JW-CNT_W){1'b0}}, n2});
        wire [ADDR_W-1:0] addr_a = ta_reg[wa_cur*ADDR_W +: ADDR_W] + off_reg[(wa_cur*LANES+l)*ADDR_W +: ADDR_W];
        wire [ADDR_W-1:0] addr_b = ta_reg[wb_cur*ADDR_W +: ADDR_W] +
                                   off_reg[(wb_cur*LANES+l)*ADDR_W +: ADDR_W];
        reg [ROW_W-1:0] rowa, rowb;
        reg [LB-1:0] banka, bankb;
        reg act1;
        always @(posedge clk) begin
            rowa <= addr_a[ADDR_W-1 -: ROW_W];
            rowb <= addr_b[ADDR_W-1 -: ROW_W];
            banka <= addr_a[LB-1:0];
            bankb <= addr_b[LB-1:0];
            act1 <= act;
        end
        assign p1_rowa[l*ROW_W +: ROW_W] = rowa;
        assign p1_rowb[l*ROW_W +: ROW_W] = rowb;
        assign p1_act[l] = act1;

        // ---- 1: bank multiplexer -> registered operands
        reg signed [DW-1:0] mem_a;
        // verilator lint_off UNUSEDSIGNAL
        reg signed [DW-1:0] mem_b;  // (bits above MUL_B_W are zero or sign copies by construction)
        // verilator lint_on UNUSEDSIGNAL
        always @(posedge clk) begin
            mem_a <= qa_all[(banka*LANES+l)*DW +: DW];
            mem_b <= qb_all[(bankb*LANES+l)*DW +: DW];
        end

        // ---- 2: operand select (operands fit MUL_A_W / MUL_B_W signed bits: isa._operand_widths)
        wire [WW-1:0] wv = w_q[l*WW +: WW];
        // verilator lint_off UNUSEDSIGNAL
        wire signed [DW-1:0] wv_x = {{(DW-WW){wv[WW-1]}}, wv};
        // verilator lint_on UNUSEDSIGNAL
        reg signed [MUL_A_W-1:0] opa;
        reg signed [MUL_B_W-1:0] opb;
        reg [SH_W-1:0] vf3;
        // (MAC stages load only for a MAC term, write-back stages only for a group's value: idle logic stays still)
        always @(posedge clk) if (pv[0] && !plut[0]) begin
            opa <= p2_zero ? {MUL_A_W{1'b0}} : (p2_aone ? {{(MUL_A_W-1){1'b0}}, 1'b1} : mem_a[MUL_A_W-1:0]);
            // both operands zero for a no-product term: a read of a never-written word stays out of the sum
            opb <= p2_zero ? {MUL_B_W{1'b0}} : (p2_bw ? wv_x[MUL_B_W-1:0] : mem_b[MUL_B_W-1:0]);
            vf3 <= mem_b[SH_W-1:0];
        end

        // ---- 3, 4: product (two registers: DSP M and P)
        reg signed [MUL_A_W+MUL_B_W-1:0] prod4, prod5;
        reg [SH_W-1:0] vf4, vf5, vf6;
        always @(posedge clk) begin
            if (pv[1] && !plut[1]) begin
                prod4 <= opa * opb;  // (not in a concatenation: that would size the product to one operand)
                vf4 <= vf3;
            end
            if (pv[2] && !plut[2]) {prod5, vf5} <= {prod4, vf4};
        end

        // ---- 5: shift
        reg signed [ACC_W-1:0] term6;
        wire signed [ACC_W-1:0] prod_x = {{(ACC_W-MUL_A_W-MUL_B_W){prod5[MUL_A_W+MUL_B_W-1]}}, prod5};
        always @(posedge clk) if (pv[3] && !plut[3]) {term6, vf6} <= {prod_x <<< p5_shift, vf5};

        // ---- 2..5: LUT unit (x = the A operand), result in stage 6
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
            .en(pv[0] && plut[0]),
            .x(mem_a),
            .kind(ir2[F_L_KIND +: F_L_KIND_W]),
            .tbase(ir2[F_L_TBASE +: F_L_TBASE_W]),
            .lo(ir2[F_L_LO +: F_L_LO_W]),
            .hi(ir2[F_L_HI +: F_L_HI_W]),
            .s(ir2[F_L_S +: F_L_S_W]),
            .f_in(ir2[F_L_FIN +: F_L_FIN_W]),
            .nmax(ir2[F_L_NMAX +: F_L_NMAX_W]),
            .sh_relu(ir2[F_L_SHRELU +: F_L_SHRELU_W]),
            .sh_v(ir2[F_L_SHV +: F_L_SHV_W]),
            .rshift(ir2[F_RSHIFT +: F_RSHIFT_W]),
            .val(lut_val),
            .rshift_out(lut_rshift)
        );

        // ---- 6: accumulate; a group's value leaves with its last term (the VF term adds 0, carries the shift)
        reg signed [ACC_W-1:0] acc;
        wire signed [ACC_W-1:0] sum = (pfirst[4] ? {ACC_W{1'b0}} : acc) + term6;
        reg signed [ACC_W-1:0] val7;
        reg [SH_W-1:0] vsh7, lsh7;
        always @(posedge clk) begin
            if (pv[4] && !plut[4]) acc <= sum;
            if (pv[4] && plast[4]) begin
                val7 <= plut[4] ? lut_val : sum;
                vsh7 <= pvf[4] ? vf6 : {SH_W{1'b0}};
                lsh7 <= lut_rshift;
            end
        end

        // ---- 7: write-back value and shift; normalisation
        wire signed [ACC_W-1:0] abs7 = val7[ACC_W-1] ? -val7 : val7;
        wire [DW-1:0] n_mant, n_expo;
        venom_normalize #(
            .ACC_W(ACC_W),
            .DW(DW)
        ) norm_inst (
            .clk(clk),
            .val(val7),
            .mant_frac(ir7[F_N_MF +: F_N_MF_W]),
            .even(ir7[F_N_EVEN]),
            .halve(ir7[F_N_HALVE]),
            .off(ir7[F_N_OFF +: F_N_OFF_W]),
            .lo(ir7[F_N_LO +: F_N_LO_W]),
            .hi(ir7[F_N_HI +: F_N_HI_W]),
            .add(ir7[F_N_ADD +: F_N_ADD_W]),
            .mant(n_mant),
            .expo(n_expo)
        );
        reg signed [ACC_W-1:0] q_in8;
        reg [SH_W-1:0] q_sh8;
        reg [DW-1:0] mant8, expo8, mant9, expo9;
        reg flag8, flag9;
        always @(posedge clk) begin
            if (p7_valid) begin
                q_in8 <= (!lut7 && wb7 == WB_ABS) ? abs7 : val7;
                q_sh8 <= lut7 ? lsh7 : ir7[F_RSHIFT +: F_RSHIFT_W] + vsh7;
                mant8 <= n_mant;
                expo8 <= n_expo;
                flag8 <= !val7[ACC_W-1] && (val7 != {ACC_W{1'b0}});
            end
            if (p8_valid) {mant9, expo9, flag9} <= {mant8, expo8, flag8};
        end

        // ---- 8, 9: rounding | overflow (venom_quant, one register inside)
        wire [DW-1:0] q_code9;
        venom_quant #(
            .ACC_W(ACC_W),
            .DW(DW),
            .SH_W(SH_W),
            .REG(1)
        ) quant_inst (
            .clk(clk),
            .en(p8_valid),
            .val(q_in8),
            .rshift(q_sh8),
            .width(ir8[F_WIDTH +: F_WIDTH_W]),
            .is_signed(ir8[F_SIGNED]),
            .rnd(ir8[F_RND +: F_RND_W]),
            .ovf(ir8[F_OVF +: F_OVF_W]),
            .code(q_code9)
        );
        reg [DW-1:0] wd10;
        always @(posedge clk) if (p9_valid) begin
            if (lut9) begin
                wd10 <= q_code9;
            end else begin
                case (wb9)
                    WB_QUANT, WB_ABS: wd10 <= q_code9;
                    WB_FLAG: wd10 <= {{(DW-1){1'b0}}, flag9};
                    WB_NORM_M: wd10 <= mant9;
                    default: wd10 <= expo9;  // WB_NORM_N
                endcase
            end
        end

        // ---- 10: write bank l
        assign wr_en[l] = p10_valid && acts[8*LANES + l];
        assign wr_data[l*DW +: DW] = wd10;
    end
endgenerate

// ------------------------------------------------------------------ output words (snooped from lane 0's writes)
localparam [ROW_W-1:0] OUT_ROW = OUT_ADDR[ADDR_W-1:LB];
localparam [ROW_W-1:0] OUT_ROW_LV = OUT_ADDR_LV[ADDR_W-1:LB];
always @(posedge clk) begin
    if (wr_en[0] && wr_row == OUT_ROW) out_d0 <= wr_data[0 +: DW];
    if (wr_en[0] && wr_row == OUT_ROW_LV) out_d1 <= wr_data[0 +: DW];
end

endmodule

`resetall
