// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: the selective-scan step and the whole pre-norm residual Mamba block, one sample.
//
// selective_scan_step, per channel d and state n (every product exact, one rounding per signal):
//   dA   = dt[d] A2[d][n]              A2 = exp(A_log) log2(e) >= 0 (folded weight): the decay in log2 units
//   Abar = 2**-dA                      exp2 table with shift (lut_exp2neg)
//   dtx  = dt[d] xa[d]
//   h    = Abar h + dtx B[n]           ONE rounding of the exact sum
//   y[d] = sum_n C[n] h[d][n] + D[d] xa[d]   (with the new h)
//
// mixer_step (DESIGN.md §1): n = LayerNorm(u); [xi, z] = W_in n; xc = conv(xi); xa = SiLU(xc);
// [xr, B, C] = W_x xa; dt = softplus(W_dt xr + b_dt); scan; gate = y SiLU(z); out = u + W_out gate.
#ifndef VENOM_SSM_H_
#define VENOM_SSM_H_

#include "venom/common.h"
#include "venom/conv1d.h"
#include "venom/dense.h"
#include "venom/layernorm.h"
#include "venom/lut.h"

VENOM_LABELS_BEGIN

namespace venom {

struct ssm_config {
    static const unsigned d_inner = 1;
    static const unsigned d_state = 1;
    static const unsigned reuse_factor = 1;
    // signals (precision config) and folded weights
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> xa_t;
    typedef ap_ufixed<24, -2, AP_RND, AP_SAT> dt_t;
    typedef ap_fixed<18, 2, AP_RND, AP_SAT> B_t;
    typedef ap_fixed<18, 2, AP_RND, AP_SAT> C_t;
    typedef ap_ufixed<24, 1, AP_TRN, AP_SAT> dA_t;
    typedef ap_ufixed<18, 1, AP_RND, AP_SAT> Abar_t;
    typedef ap_fixed<24, 0, AP_RND, AP_SAT> dtx_t;
    typedef ap_fixed<24, 1, AP_RND, AP_SAT> h_t;
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> y_t;
    typedef ap_fixed<18, 5, AP_RND_CONV, AP_SAT> A_t;
    typedef ap_fixed<18, 2, AP_RND_CONV, AP_SAT> D_t;
    // exact accumulators (exporter): dt A2, dt xa, Abar h + dtx B, C h + D xa
    typedef ap_fixed<48, 24> dA_accum_t;
    typedef ap_fixed<48, 24> dtx_accum_t;
    typedef ap_fixed<48, 24> h_accum_t;
    typedef ap_fixed<48, 24> y_accum_t;
    typedef lut_config exp2_config;
};

template <typename CONFIG_T>
void selective_scan_reset(typename CONFIG_T::h_t h[CONFIG_T::d_inner][CONFIG_T::d_state]) {
    VENOM_PRAGMA(HLS INLINE)
scan_reset_chan:
    for (unsigned d = 0; d < CONFIG_T::d_inner; d++) {
        VENOM_PRAGMA(HLS UNROLL)
    scan_reset_state:
        for (unsigned n = 0; n < CONFIG_T::d_state; n++) {
            VENOM_PRAGMA(HLS UNROLL)
            h[d][n] = 0;
        }
    }
}

template <typename CONFIG_T>
void selective_scan_step(const typename CONFIG_T::xa_t xa[CONFIG_T::d_inner],
                         const typename CONFIG_T::dt_t dt[CONFIG_T::d_inner],
                         const typename CONFIG_T::B_t B[CONFIG_T::d_state],
                         const typename CONFIG_T::C_t C[CONFIG_T::d_state],
                         typename CONFIG_T::h_t h[CONFIG_T::d_inner][CONFIG_T::d_state],
                         typename CONFIG_T::y_t y[CONFIG_T::d_inner],
                         const typename CONFIG_T::A_t A2[CONFIG_T::d_inner][CONFIG_T::d_state],
                         const typename CONFIG_T::D_t D[CONFIG_T::d_inner],
                         const typename CONFIG_T::exp2_config::table_t exp2_table[CONFIG_T::exp2_config::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=A2 complete dim=0)
scan_chan:
    for (unsigned d = 0; d < CONFIG_T::d_inner; d++) {
        VENOM_PRAGMA(HLS UNROLL)
        const typename CONFIG_T::dtx_accum_t dtx_acc = dt[d] * xa[d];
        const typename CONFIG_T::dtx_t dtx = dtx_acc;
        typename CONFIG_T::y_accum_t y_acc = D[d] * xa[d];
    scan_state:
        for (unsigned n = 0; n < CONFIG_T::d_state; n++) {
            VENOM_PRAGMA(HLS UNROLL)
            const typename CONFIG_T::dA_accum_t dA_acc = dt[d] * A2[d][n];
            const typename CONFIG_T::dA_t dA = dA_acc;
            const typename CONFIG_T::Abar_t abar =
                lut_exp2neg<typename CONFIG_T::dA_t, typename CONFIG_T::Abar_t, typename CONFIG_T::exp2_config>(
                    dA, exp2_table);
            typename CONFIG_T::h_accum_t h_acc = abar * h[d][n];
            h_acc += dtx * B[n];
            h[d][n] = h_acc;
            y_acc += C[n] * h[d][n];
        }
        y[d] = y_acc;
    }
}

struct mixer_config {
    static const unsigned d_model = 1;
    static const unsigned d_inner = 1;
    static const unsigned d_state = 1;
    static const unsigned dt_rank = 1;
    static const unsigned reuse_factor = 1;
    // signals of the block (precision config: layers.{i}.<name>)
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> ln_out_t;
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> xi_t;
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> z_t;
    typedef ap_fixed<18, 5, AP_RND, AP_SAT> xc_t;
    typedef ap_fixed<18, 2, AP_RND, AP_SAT> xr_t;
    typedef ap_fixed<18, 5, AP_RND, AP_SAT> dt_raw_t;
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> zs_t;
    typedef ap_fixed<18, 3, AP_RND, AP_SAT> gate_t;
    typedef ap_fixed<48, 24> gate_accum_t;  // y SiLU(z), exact
    // the parts: LayerNorm, in_proj (no bias), conv, x_proj (no bias), dt_proj, scan, out_proj (accumulator
    // also holds the residual u), and the tables of SiLU(xc), softplus(dt_raw), SiLU(z)
    typedef layernorm_config norm_config;
    typedef dense_config in_proj_config;
    typedef conv1d_config conv_config;
    typedef dense_config x_proj_config;
    typedef dense_config dt_proj_config;
    typedef ssm_config scan_config;
    typedef dense_config out_proj_config;
    typedef lut_config silu_xc_config;
    typedef lut_config softplus_config;
    typedef lut_config silu_z_config;
};

// What one block carries from sample to sample: the conv history (xi codes) and the SSM state h.
template <typename CONFIG_T>
struct mixer_state {
    typename CONFIG_T::xi_t conv[CONFIG_T::conv_config::hist_len][CONFIG_T::d_inner];
    typename CONFIG_T::scan_config::h_t h[CONFIG_T::d_inner][CONFIG_T::d_state];
};

template <typename CONFIG_T>
void mixer_reset(mixer_state<CONFIG_T>& st) {
    VENOM_PRAGMA(HLS INLINE)
    conv1d_reset<typename CONFIG_T::xi_t, typename CONFIG_T::conv_config>(st.conv);
    selective_scan_reset<typename CONFIG_T::scan_config>(st.h);
}

// The block's input: LayerNorm of u, then in_proj: xi = first d_inner rows, z = the rest (one exact product, two
// roundings). A folded layer forms xi and z with layernorm_fold instead (layernorm.h).
template <class data_T, typename CONFIG_T>
void mixer_in(const data_T u[CONFIG_T::d_model], typename CONFIG_T::xi_t xi[CONFIG_T::d_inner],
              typename CONFIG_T::z_t z[CONFIG_T::d_inner],
              const typename CONFIG_T::norm_config::gamma_t norm_weight[CONFIG_T::d_model],
              const typename CONFIG_T::norm_config::beta_t norm_bias[CONFIG_T::d_model],
              const typename CONFIG_T::in_proj_config::weight_t
                  in_proj_weight[CONFIG_T::in_proj_config::n_out][CONFIG_T::in_proj_config::n_in],
              const typename CONFIG_T::norm_config::rsqrt_config::table_t rsqrt_table[]) {
    VENOM_PRAGMA(HLS INLINE)
    typename CONFIG_T::ln_out_t nrm[CONFIG_T::d_model];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=nrm complete)
    layernorm<data_T, typename CONFIG_T::ln_out_t, typename CONFIG_T::norm_config>(u, nrm, norm_weight, norm_bias,
                                                                                 rsqrt_table);
    typename CONFIG_T::in_proj_config::accum_t xz[CONFIG_T::in_proj_config::n_out];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=xz complete)
    matvec<typename CONFIG_T::ln_out_t, typename CONFIG_T::in_proj_config>(nrm, xz, in_proj_weight);
mixer_split_xz:
    for (unsigned d = 0; d < CONFIG_T::d_inner; d++) {
        VENOM_PRAGMA(HLS UNROLL)
        xi[d] = xz[d];
        z[d] = xz[CONFIG_T::d_inner + d];
    }
}

// The rest of the block from xi and z (mixer_in or layernorm_fold); u is the residual.
template <class data_T, class res_T, typename CONFIG_T>
void mixer_step(const data_T u[CONFIG_T::d_model], const typename CONFIG_T::xi_t xi[CONFIG_T::d_inner],
                const typename CONFIG_T::z_t z[CONFIG_T::d_inner], res_T out[CONFIG_T::d_model],
                mixer_state<CONFIG_T>& st,
                const typename CONFIG_T::conv_config::weight_t
                    conv_weight[CONFIG_T::conv_config::n_chan][CONFIG_T::conv_config::d_conv],
                const typename CONFIG_T::conv_config::bias_t conv_bias[CONFIG_T::conv_config::n_chan],
                const typename CONFIG_T::x_proj_config::weight_t
                    x_proj_weight[CONFIG_T::x_proj_config::n_out][CONFIG_T::x_proj_config::n_in],
                const typename CONFIG_T::dt_proj_config::weight_t
                    dt_proj_weight[CONFIG_T::dt_proj_config::n_out][CONFIG_T::dt_proj_config::n_in],
                const typename CONFIG_T::dt_proj_config::bias_t dt_proj_bias[CONFIG_T::dt_proj_config::n_out],
                const typename CONFIG_T::scan_config::A_t A2[CONFIG_T::d_inner][CONFIG_T::d_state],
                const typename CONFIG_T::scan_config::D_t D[CONFIG_T::d_inner],
                const typename CONFIG_T::out_proj_config::weight_t
                    out_proj_weight[CONFIG_T::out_proj_config::n_out][CONFIG_T::out_proj_config::n_in],
                const typename CONFIG_T::silu_xc_config::table_t silu_xc_table[],
                const typename CONFIG_T::softplus_config::table_t softplus_table[],
                const typename CONFIG_T::scan_config::exp2_config::table_t exp2_table[],
                const typename CONFIG_T::silu_z_config::table_t silu_z_table[]) {
    VENOM_PRAGMA(HLS INLINE)
    typedef typename CONFIG_T::scan_config scan;
    // causal depthwise conv, SiLU
    typename CONFIG_T::xc_t xc[CONFIG_T::d_inner];
    typename scan::xa_t xa[CONFIG_T::d_inner];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=xc complete)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=xa complete)
    conv1d_step<typename CONFIG_T::xi_t, typename CONFIG_T::xc_t, typename CONFIG_T::conv_config>(
        xi, st.conv, xc, conv_weight, conv_bias);
mixer_silu_xc:
    for (unsigned d = 0; d < CONFIG_T::d_inner; d++) {
        VENOM_PRAGMA(HLS UNROLL)
        xa[d] = lut_relu_minus<typename CONFIG_T::xc_t, typename scan::xa_t, typename CONFIG_T::silu_xc_config>(
            xc[d], silu_xc_table);
    }
    // selective parameters: [xr, B, C] = W_x xa; dt = softplus(W_dt xr + b_dt)
    typename CONFIG_T::x_proj_config::accum_t rbc[CONFIG_T::x_proj_config::n_out];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=rbc complete)
    matvec<typename scan::xa_t, typename CONFIG_T::x_proj_config>(xa, rbc, x_proj_weight);
    typename CONFIG_T::xr_t xr[CONFIG_T::dt_rank];
    typename scan::B_t B[CONFIG_T::d_state];
    typename scan::C_t C[CONFIG_T::d_state];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=xr complete)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=B complete)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=C complete)
mixer_split_xr:
    for (unsigned r = 0; r < CONFIG_T::dt_rank; r++) {
        VENOM_PRAGMA(HLS UNROLL)
        xr[r] = rbc[r];
    }
mixer_split_bc:
    for (unsigned n = 0; n < CONFIG_T::d_state; n++) {
        VENOM_PRAGMA(HLS UNROLL)
        B[n] = rbc[CONFIG_T::dt_rank + n];
        C[n] = rbc[CONFIG_T::dt_rank + CONFIG_T::d_state + n];
    }
    typename CONFIG_T::dt_raw_t dt_raw[CONFIG_T::d_inner];
    typename scan::dt_t dt[CONFIG_T::d_inner];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=dt_raw complete)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=dt complete)
    dense<typename CONFIG_T::xr_t, typename CONFIG_T::dt_raw_t, typename CONFIG_T::dt_proj_config>(
        xr, dt_raw, dt_proj_weight, dt_proj_bias);
mixer_softplus:
    for (unsigned d = 0; d < CONFIG_T::d_inner; d++) {
        VENOM_PRAGMA(HLS UNROLL)
        dt[d] = lut_relu_plus<typename CONFIG_T::dt_raw_t, typename scan::dt_t, typename CONFIG_T::softplus_config>(
            dt_raw[d], softplus_table);
    }
    // state update and output
    typename scan::y_t y[CONFIG_T::d_inner];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=y complete)
    selective_scan_step<scan>(xa, dt, B, C, st.h, y, A2, D, exp2_table);
    // gate, out_proj and the residual: out = u + W_out (y SiLU(z)), one rounding
    typename CONFIG_T::gate_t gate[CONFIG_T::d_inner];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=gate complete)
mixer_gate:
    for (unsigned d = 0; d < CONFIG_T::d_inner; d++) {
        VENOM_PRAGMA(HLS UNROLL)
        const typename CONFIG_T::zs_t zs =
            lut_relu_minus<typename CONFIG_T::z_t, typename CONFIG_T::zs_t, typename CONFIG_T::silu_z_config>(
                z[d], silu_z_table);
        const typename CONFIG_T::gate_accum_t g = y[d] * zs;
        gate[d] = g;
    }
    typename CONFIG_T::out_proj_config::accum_t o[CONFIG_T::d_model];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=o complete)
    matvec<typename CONFIG_T::gate_t, typename CONFIG_T::out_proj_config>(gate, o, out_proj_weight);
mixer_residual:
    for (unsigned j = 0; j < CONFIG_T::d_model; j++) {
        VENOM_PRAGMA(HLS UNROLL)
        o[j] += u[j];
        out[j] = o[j];
    }
}

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_SSM_H_
