// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: LayerNorm in exact integers, one rsqrt table and two roundings (python/venom_fpga/fixed/model.py).
//
// With U the codes of u (d = n channels, F_u fraction bits):
//   c_j  = d U_j - sum_k U_k                                   exact            (|c| < 2**(c_bits-1))
//   V    = sum_j c_j^2 + EPS,  EPS = round(eps d^3 2**(2 F_u))  exact, >= 1      (= d^3 (var + eps), u's LSB^2)
//   V    = m 2**e, e even, m in [1, 4): M = floor(m 2**mant_frac)  (leading-one detection)
//   rs   = rsqrt table(M)                                       (one rounding into rsqrt_t)
//   CN_j = c_j << (S - e/2), S = shift = e_max / 2              exact            (|CN| < 2**(S+1))
//   xn_j = CN_j * rs  [S + F_rs fraction bits]                  one rounding into xn_t  (= c_j / sqrt(V))
//   y_j  = gamma'_j xn_j + beta_j                               one rounding into res_T (gamma' = gamma sqrt(d))
#ifndef VENOM_LAYERNORM_H_
#define VENOM_LAYERNORM_H_

#include "venom/common.h"
#include "venom/dense.h"
#include "venom/lut.h"

VENOM_LABELS_BEGIN

namespace venom {

struct layernorm_config {
    static const unsigned n = 1;            // channels (d_model)
    static const unsigned reuse_factor = 1;  // the caller's initiation interval
    // Integer recipe (precision.ln_bounds / ln_eps_code of the layer): EPS in V's units, S = e_max / 2, the
    // rsqrt table's mantissa fraction bits, and the exact widths of sum U, c, V and CN.
    static const long long eps_code = 1;
    static const int shift = 0;
    static const int mant_frac = 1;
    static const int sum_bits = 1;
    static const int c_bits = 1;
    static const int v_bits = 1;
    static const int cn_bits = 1;
    typedef ap_ufixed<17, 1, AP_RND, AP_SAT> rsqrt_t;  // table output in (0.5, 1]
    typedef ap_fixed<18, 1, AP_RND, AP_SAT> xn_t;      // c / sqrt(V) in (-1, 1)
    typedef ap_fixed<18, 6, AP_RND_CONV, AP_SAT> gamma_t;
    typedef ap_fixed<18, 1, AP_RND_CONV, AP_SAT> beta_t;
    typedef ap_fixed<48, 24> accum_t;  // gamma' xn + beta, exact
    typedef lut_config rsqrt_config;
};

template <class data_T, class res_T, typename CONFIG_T>
void layernorm(const data_T u[CONFIG_T::n], res_T y[CONFIG_T::n], const typename CONFIG_T::gamma_t gamma[CONFIG_T::n],
               const typename CONFIG_T::beta_t beta[CONFIG_T::n],
               const typename CONFIG_T::rsqrt_config::table_t rsqrt_table[CONFIG_T::rsqrt_config::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    typedef ap_int<CONFIG_T::sum_bits> sum_t;
    typedef ap_int<CONFIG_T::c_bits> c_t;
    typedef ap_uint<CONFIG_T::v_bits> v_t;
    typedef ap_int<CONFIG_T::cn_bits> cn_t;
    typedef ap_fixed<CONFIG_T::cn_bits, CONFIG_T::cn_bits - CONFIG_T::shift> cn_fixed_t;  // CN * 2**-S
    typedef ap_uint<CONFIG_T::mant_frac + 2> mant_t;

    sum_t sum = 0;
ln_sum:
    for (unsigned j = 0; j < CONFIG_T::n; j++) {
        VENOM_PRAGMA(HLS UNROLL)
        sum += code_of(u[j]);
    }
    c_t c[CONFIG_T::n];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=c complete)
    v_t v = CONFIG_T::eps_code;
ln_centre:
    for (unsigned j = 0; j < CONFIG_T::n; j++) {
        VENOM_PRAGMA(HLS UNROLL)
        const sum_t scaled = code_of(u[j]) * sum_t(CONFIG_T::n);
        c[j] = scaled - sum;
        v += c[j] * c[j];
    }
    // V = m 2**e, e even: M = V >> (e - mant_frac), or V << (mant_frac - e) for a small V
    const int p = bit_length(v) - 1;
    const int e = p - (p & 1);
    const int sh = e - CONFIG_T::mant_frac;
    const ap_uint<CONFIG_T::v_bits + CONFIG_T::mant_frac + 2> wide = v;
    const mant_t m = sh >= 0 ? mant_t(wide >> sh) : mant_t(wide << (-sh));
    const typename CONFIG_T::rsqrt_t rs =
        lut_uniform<typename CONFIG_T::rsqrt_t, typename CONFIG_T::rsqrt_config>(m, rsqrt_table);
ln_scale:
    for (unsigned j = 0; j < CONFIG_T::n; j++) {
        VENOM_PRAGMA(HLS UNROLL)
        const cn_t cn = cn_t(c[j]) << (CONFIG_T::shift - e / 2);
        const typename CONFIG_T::xn_t xn = from_code<cn_fixed_t>(cn) * rs;
        typename CONFIG_T::accum_t acc = gamma[j] * xn;
        acc += beta[j];
        y[j] = acc;
    }
}

// The LayerNorm fold (precision config fold_layernorm; op_plan.LayerNormFoldPlan): LayerNorm + in_proj of layer 0
// from the input x, whose embed is affine in x (exact until the roundings of s, p, xi and z):
//   xx_kl = x_k x_l (k <= l)                           exact
//   V     = Qv . xx + q2 . x + c0                      exact, >= 1 (the op plan checks the quadratic's minimum)
//   V     = m 2**e, e even, m in [1, 4): rs = rsqrt table(M)
//   s     = G x + g0                                   one rounding into s_t (dense)
//   n     = clip(e/2, h_lo, h_lo + n_max) - h_lo
//   p_j   = s_j rs 2**-(frac + n)                      a barrel right shift, one rounding into p_t
//   [xi, z] = p + k0                                   one rounding each
struct layernorm_fold_config {
    static const unsigned n_in = 1;
    static const unsigned d_inner = 1;
    static const unsigned reuse_factor = 1;
    static const int xx_bits = 2;    // signed bits of x_k x_l
    static const int v_bits = 1;     // signed bits of V and its terms' partial sums
    static const int s_xx = 0;       // alignment shifts of V's terms onto V's fraction bits
    static const int s_x = 0;
    static const int s_c = 0;
    static const int mant_frac = 1;
    static const int h_lo = 0;
    static const int n_max = 0;
    typedef ap_fixed<18, 6, AP_RND_CONV, AP_SAT> Qv_t;
    typedef ap_fixed<18, 6, AP_RND_CONV, AP_SAT> q2_t;
    typedef ap_fixed<27, 6, AP_RND_CONV, AP_SAT> c0_t;
    typedef ap_fixed<18, 6, AP_RND_CONV, AP_SAT> k0_t;
    typedef ap_ufixed<17, 1, AP_RND, AP_SAT> rsqrt_t;
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> s_t;
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> p_t;
    typedef ap_fixed<48, 24> p_accum_t;   // s rs with n_max spare fraction bits, exact
    typedef ap_fixed<48, 24> in_accum_t;  // p + k0, exact
    typedef dense_config s_config;        // s = G x + g0
    typedef lut_config rsqrt_config;
};

template <class data_T, class xi_T, class z_T, typename CONFIG_T>
void layernorm_fold(const data_T x[CONFIG_T::n_in], xi_T xi[CONFIG_T::d_inner], z_T z[CONFIG_T::d_inner],
                    const typename CONFIG_T::Qv_t Qv[CONFIG_T::n_in * (CONFIG_T::n_in + 1) / 2],
                    const typename CONFIG_T::q2_t q2[CONFIG_T::n_in], const typename CONFIG_T::c0_t c0[1],
                    const typename CONFIG_T::s_config::weight_t G[2 * CONFIG_T::d_inner][CONFIG_T::n_in],
                    const typename CONFIG_T::s_config::bias_t g0[2 * CONFIG_T::d_inner],
                    const typename CONFIG_T::k0_t k0[2 * CONFIG_T::d_inner],
                    const typename CONFIG_T::rsqrt_config::table_t rsqrt_table[CONFIG_T::rsqrt_config::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    typedef ap_int<CONFIG_T::v_bits> v_t;
    typedef ap_uint<CONFIG_T::mant_frac + 2> mant_t;
    typedef typename CONFIG_T::p_accum_t p_accum_t;
    v_t v = v_t(code_of(c0[0])) << CONFIG_T::s_c;
    unsigned m = 0;
fold_quadratic:
    for (unsigned k = 0; k < CONFIG_T::n_in; k++) {
        VENOM_PRAGMA(HLS UNROLL)
    fold_products:
        for (unsigned l = k; l < CONFIG_T::n_in; l++) {
            VENOM_PRAGMA(HLS UNROLL)
            const ap_int<CONFIG_T::xx_bits> xx = code_of(x[k]) * code_of(x[l]);
            v += v_t(code_of(Qv[m]) * xx) << CONFIG_T::s_xx;
            m++;
        }
        v += v_t(code_of(q2[k]) * code_of(x[k])) << CONFIG_T::s_x;
    }
    // V = m 2**e, e even (V >= 1)
    const ap_uint<CONFIG_T::v_bits> vu = v;
    const int p = bit_length(vu) - 1;
    const int e = p - (p & 1);
    const int sh = e - CONFIG_T::mant_frac;
    const ap_uint<CONFIG_T::v_bits + CONFIG_T::mant_frac + 2> wide = vu;
    const mant_t mant = sh >= 0 ? mant_t(wide >> sh) : mant_t(wide << (-sh));
    const typename CONFIG_T::rsqrt_t rs =
        lut_uniform<typename CONFIG_T::rsqrt_t, typename CONFIG_T::rsqrt_config>(mant, rsqrt_table);
    typename CONFIG_T::s_t s[2 * CONFIG_T::d_inner];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=s complete)
    dense<data_T, typename CONFIG_T::s_t, typename CONFIG_T::s_config>(x, s, G, g0);
    const int h = e / 2;
    const int n = (h < CONFIG_T::h_lo ? CONFIG_T::h_lo : (h > CONFIG_T::h_lo + CONFIG_T::n_max ?
                                                           CONFIG_T::h_lo + CONFIG_T::n_max : h)) - CONFIG_T::h_lo;
fold_scale:
    for (unsigned j = 0; j < 2 * CONFIG_T::d_inner; j++) {
        VENOM_PRAGMA(HLS UNROLL)
        // s rs with n_max spare fraction bits (exact), shifted right by n <= n_max: only zeros leave
        const ap_int<p_accum_t::width> prod = ap_int<p_accum_t::width>(code_of(s[j]) * code_of(rs))
                                              << CONFIG_T::n_max;
        const typename CONFIG_T::p_t pj = from_code<p_accum_t>(ap_int<p_accum_t::width>(prod >> n));
        typename CONFIG_T::in_accum_t acc = pj;
        acc += k0[j];
        if (j < CONFIG_T::d_inner) {
            xi[j] = acc;
        } else {
            z[j - CONFIG_T::d_inner] = acc;
        }
    }
}

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_LAYERNORM_H_
