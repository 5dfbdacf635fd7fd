// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: streaming attention pooling over time, O(1) state per channel (DESIGN.md §2).
//
// Scores are in log2 units (the exporter folds log2(e) into W_a, b_a), so the online softmax runs in powers of two.
// Per sample, per channel j (state m = running max score, l = normaliser, acc = accumulator):
//   s   = W_a' f + b_a'                       (dense, one rounding into score_t)
//   e   = 2**-|s - m|                         (exp2 table with shift; |s - m| as diff_t = ap_ufixed<W_s, I_s>)
//   (a, b) = (e, 1) if s > m else (1, e)
//   l   = l a + b;  acc = acc a + b f;  m = max(m, s)      (each exact, one rounding)
// At the end of the window:
//   l = m_l 2**p, m_l in [1, 2) (leading-one detection):  r = 1/m_l (reciprocal table)
//   pooled = acc r 2**-(p - F_l)              (a barrel right shift by n = p - F_l in [0, p_max], one rounding)
// Initial state: m = the score format's minimum, l = acc = 0 (the first sample gives l = 1, acc = f).
#ifndef VENOM_ATTENTION_POOL_H_
#define VENOM_ATTENTION_POOL_H_

#include "venom/common.h"
#include "venom/dense.h"
#include "venom/lut.h"

VENOM_LABELS_BEGIN

namespace venom {

struct attention_pool_config {
    static const unsigned n_chan = 1;  // d_model
    static const unsigned reuse_factor = 1;
    static const long long score_min_code = 0;  // initial m: the score format's minimum code
    static const int l_frac = 0;                 // fraction bits of sm_l_t
    static const int p_max = 0;                  // largest pooled shift n = p - F_l (l < 2**(p_max + F_l + 1))
    static const int mant_frac = 1;              // reciprocal table mantissa fraction bits
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> score_t;
    typedef ap_ufixed<18, 6, AP_TRN, AP_SAT> diff_t;   // |s - m|: the score's width, integer bits and LSB
    typedef ap_ufixed<18, 1, AP_RND, AP_SAT> sm_e_t;   // (0, 1], holds 1.0
    typedef ap_ufixed<26, 10, AP_RND, AP_SAT> sm_l_t;
    typedef ap_fixed<30, 15, AP_RND, AP_SAT> sm_acc_t;
    typedef ap_ufixed<18, 1, AP_RND, AP_SAT> sm_recip_t;
    typedef ap_fixed<48, 24> l_accum_t;      // l a + b, exact
    typedef ap_fixed<48, 24> acc_accum_t;    // acc a + b f, exact
    typedef ap_fixed<48, 24> pooled_accum_t;  // acc r << (p_max - n), exact, with p_max extra fraction bits
    typedef dense_config score_config;
    typedef lut_config exp2_config;
    typedef lut_config recip_config;
};

template <typename CONFIG_T>
struct attention_pool_state {
    typename CONFIG_T::score_t m[CONFIG_T::n_chan];
    typename CONFIG_T::sm_l_t l[CONFIG_T::n_chan];
    typename CONFIG_T::sm_acc_t acc[CONFIG_T::n_chan];
};

template <typename CONFIG_T>
void attention_pool_reset(attention_pool_state<CONFIG_T>& st) {
    VENOM_PRAGMA(HLS INLINE)
pool_reset:
    for (unsigned j = 0; j < CONFIG_T::n_chan; j++) {
        VENOM_PRAGMA(HLS UNROLL)
        st.m[j] = from_code<typename CONFIG_T::score_t>(ap_int<64>(CONFIG_T::score_min_code));
        st.l[j] = 0;
        st.acc[j] = 0;
    }
}

template <class data_T, typename CONFIG_T>
void attention_pool_step(const data_T f[CONFIG_T::n_chan], attention_pool_state<CONFIG_T>& st,
                         const typename CONFIG_T::score_config::weight_t
                             score_weight[CONFIG_T::score_config::n_out][CONFIG_T::score_config::n_in],
                         const typename CONFIG_T::score_config::bias_t score_bias[CONFIG_T::score_config::n_out],
                         const typename CONFIG_T::exp2_config::table_t exp2_table[CONFIG_T::exp2_config::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    typedef typename CONFIG_T::score_t score_t;
    typedef typename CONFIG_T::sm_e_t sm_e_t;
    score_t s[CONFIG_T::n_chan];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=s complete)
    dense<data_T, score_t, typename CONFIG_T::score_config>(f, s, score_weight, score_bias);
pool_update:
    for (unsigned j = 0; j < CONFIG_T::n_chan; j++) {
        VENOM_PRAGMA(HLS UNROLL)
        const ap_int<score_t::width + 1> ds = ap_int<score_t::width + 1>(code_of(s[j])) - code_of(st.m[j]);
        const ap_uint<score_t::width> dabs = ds < 0 ? ap_uint<score_t::width>(-ds) : ap_uint<score_t::width>(ds);
        const typename CONFIG_T::diff_t diff = from_code<typename CONFIG_T::diff_t>(dabs);
        const sm_e_t e = lut_exp2neg<typename CONFIG_T::diff_t, sm_e_t, typename CONFIG_T::exp2_config>(diff, exp2_table);
        const bool gt = s[j] > st.m[j];
        const sm_e_t one = 1;
        const sm_e_t a = gt ? e : one;
        const sm_e_t b = gt ? one : e;
        typename CONFIG_T::l_accum_t l_acc = st.l[j] * a;
        l_acc += b;
        st.l[j] = l_acc;
        typename CONFIG_T::acc_accum_t a_acc = st.acc[j] * a;
        a_acc += b * f[j];
        st.acc[j] = a_acc;
        if (gt) st.m[j] = s[j];
    }
}

template <class res_T, typename CONFIG_T>
void attention_pool_finish(const attention_pool_state<CONFIG_T>& st, res_T pooled[CONFIG_T::n_chan],
                           const typename CONFIG_T::recip_config::table_t
                               recip_table[CONFIG_T::recip_config::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    typedef typename CONFIG_T::sm_l_t sm_l_t;
    typedef ap_uint<CONFIG_T::mant_frac + 1> mant_t;
    typedef ap_uint<sm_l_t::width + CONFIG_T::mant_frac + 1> wide_t;
    typedef typename CONFIG_T::pooled_accum_t pooled_accum_t;
pool_finish:
    for (unsigned j = 0; j < CONFIG_T::n_chan; j++) {
        VENOM_PRAGMA(HLS UNROLL)
        // l = m_l 2**p: M = floor(m_l 2**mant_frac)
        const ap_uint<sm_l_t::width> lc = code_of(st.l[j]);
        const int p = bit_length(lc) - 1;
        const int sh = p - CONFIG_T::mant_frac;
        const wide_t wide = lc;
        const mant_t m = sh >= 0 ? mant_t(wide >> sh) : mant_t(wide << (-sh));
        const typename CONFIG_T::sm_recip_t r =
            lut_uniform<typename CONFIG_T::sm_recip_t, typename CONFIG_T::recip_config>(m, recip_table);
        // l >= 1 after any sample, so n = p - F_l is in [0, p_max]; no samples: l = acc = 0, pooled 0
        const int n_raw = p - CONFIG_T::l_frac;
        const int n = n_raw < 0 ? 0 : (n_raw > CONFIG_T::p_max ? CONFIG_T::p_max : n_raw);
        const pooled_accum_t prod = st.acc[j] * r;  // exact, p_max spare fraction bits
        const ap_int<pooled_accum_t::width> shifted = code_of(prod) >> n;
        pooled[j] = from_code<pooled_accum_t>(shifted);
    }
}

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_ATTENTION_POOL_H_
