// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: nonlinearities as integer tables with linear interpolation (DESIGN.md §2).
//
// The tables and their index constants are generated in Python (python/venom_fpga/fixed/lut.py, written into the
// generated luts.h as namespace venom_lut::<use>); the rule below is the one the golden model and the RTL use:
//
//   a  = clamp(a, LO_CODE, HI_CODE - 1);  d = a - LO_CODE;  i = d >> SHIFT;  r = d - (i << SHIFT)
//   V  = (T[i] << SHIFT) + (T[i+1] - T[i]) * r          exact integer, VALUE_FRAC fraction bits, V >= 0
//
// then per kind, exactly, and ONE assignment to the output type:
//   lut_uniform     y = V                                  a = the input code (a normalised mantissa)
//   lut_relu_minus  y = relu(x) - V                        a = |x| (SiLU, GELU)
//   lut_relu_plus   y = relu(x) + V                        a = |x| (softplus)
//   lut_exp2neg     y = V * 2**-n                          x >= 0: n = min(x >> F_in, NMAX), a = x mod 2**F_in
//                                                          (2**-x; a barrel shift, then the one rounding)
#ifndef VENOM_LUT_H_
#define VENOM_LUT_H_

#include "venom/common.h"

VENOM_LABELS_BEGIN

namespace venom {

struct lut_config {
    // Index rule (venom_lut::<use>::SHIFT, LO_CODE, HI_CODE): input codes clamp to [lo_code, hi_code - 1].
    static const int shift = 0;
    static const long long lo_code = 0;
    static const long long hi_code = 1;
    // Interpolated value V: fraction bits (TABLE_FRAC + SHIFT) and bits (>= bit_length(max T) + SHIFT, and enough
    // integer bits for the output assignment), computed by the exporter.
    static const int value_frac = 0;
    static const int value_bits = 1;
    // exp2neg only: the largest right shift (venom_lut::<use>::NMAX); larger shifts give 0 in every rounding mode.
    static const int nmax = 0;
    static const unsigned n_entries = 2;
    typedef int table_t;  // the C++ element type of the generated table
};

// V for the offset input d = a - lo_code in [0, hi_code - lo_code).
template <typename CONFIG_T, int W>
inline ap_uint<CONFIG_T::value_bits> lut_interp(const ap_uint<W>& d,
                                                const typename CONFIG_T::table_t table[CONFIG_T::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    typedef ap_int<CONFIG_T::value_bits + 2> value_t;
    const ap_uint<W> i = d >> CONFIG_T::shift;
    const ap_uint<W> r = d - (i << CONFIG_T::shift);
    const value_t t0 = table[i];
    const value_t t1 = table[i + 1];
    const value_t v = (t0 << CONFIG_T::shift) + (t1 - t0) * r;
    return v;
}

// V as a fixed-point value (exact).
template <typename CONFIG_T>
struct lut_value {
    typedef ap_ufixed<CONFIG_T::value_bits, CONFIG_T::value_bits - CONFIG_T::value_frac> type;
};

// y = V(x) on a normalised mantissa code (rsqrt, reciprocal).
template <class res_T, typename CONFIG_T, int W>
res_T lut_uniform(const ap_uint<W>& x, const typename CONFIG_T::table_t table[CONFIG_T::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    ap_uint<W> a = x;
    if (a < CONFIG_T::lo_code) a = CONFIG_T::lo_code;
    if (a > CONFIG_T::hi_code - 1) a = CONFIG_T::hi_code - 1;
    const ap_uint<W> d = a - CONFIG_T::lo_code;
    const ap_uint<CONFIG_T::value_bits> v = lut_interp<CONFIG_T>(d, table);
    const res_T y = from_code<typename lut_value<CONFIG_T>::type>(v);
    return y;
}

// V(|x|) for an odd-symmetric family: the offset input is |x| clamped to hi_code - 1 (lo_code is 0).
template <class data_T, typename CONFIG_T>
inline ap_uint<CONFIG_T::value_bits> lut_abs_value(const data_T& x,
                                                   const typename CONFIG_T::table_t table[CONFIG_T::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    const ap_int<data_T::width + 1> c = code_of(x);
    ap_uint<data_T::width> a = c < 0 ? ap_uint<data_T::width>(-c) : ap_uint<data_T::width>(c);
    if (a > CONFIG_T::hi_code - 1) a = CONFIG_T::hi_code - 1;
    return lut_interp<CONFIG_T>(a, table);
}

// y = relu(x) - V(|x|)  (SiLU: V = |x| sigmoid(-|x|); GELU: V = |x| Phi(-|x|)).
template <class data_T, class res_T, typename CONFIG_T>
res_T lut_relu_minus(const data_T& x, const typename CONFIG_T::table_t table[CONFIG_T::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    const typename lut_value<CONFIG_T>::type v = from_code<typename lut_value<CONFIG_T>::type>(
        lut_abs_value<data_T, CONFIG_T>(x, table));
    const data_T relu = x > 0 ? x : data_T(0);
    const res_T y = relu - v;
    return y;
}

// y = relu(x) + V(|x|)  (softplus: V = log(1 + exp(-|x|))).
template <class data_T, class res_T, typename CONFIG_T>
res_T lut_relu_plus(const data_T& x, const typename CONFIG_T::table_t table[CONFIG_T::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    const typename lut_value<CONFIG_T>::type v = from_code<typename lut_value<CONFIG_T>::type>(
        lut_abs_value<data_T, CONFIG_T>(x, table));
    const data_T relu = x > 0 ? x : data_T(0);
    const res_T y = relu + v;
    return y;
}

// y = 2**-x for x >= 0 (negative inputs read as 0): the table holds 2**-f on [0, 1); the integer part n shifts.
template <class data_T, class res_T, typename CONFIG_T>
res_T lut_exp2neg(const data_T& x, const typename CONFIG_T::table_t table[CONFIG_T::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    static const int W = data_T::width;
    static const int F = data_T::width - data_T::iwidth;  // input fraction bits (table index range [0, 2**F))
    static const int FS = F < W ? F : 0;                 // shift that splits integer and fraction parts
    static const int VW = CONFIG_T::value_bits + CONFIG_T::nmax;
    const ap_int<W + 1> c = code_of(x);
    const ap_uint<W> u = c < 0 ? ap_uint<W>(0) : ap_uint<W>(c);
    const ap_uint<W> n_int = F < W ? ap_uint<W>(u >> FS) : ap_uint<W>(0);
    const ap_uint<W> frac = u - (n_int << FS);
    const int n = n_int > CONFIG_T::nmax ? CONFIG_T::nmax : int(n_int);
    const ap_uint<CONFIG_T::value_bits> v = lut_interp<CONFIG_T>(frac, table);
    // V * 2**-n = (V << (nmax - n)) * 2**-(value_frac + nmax): exact, then one rounding.
    const ap_uint<VW> shifted = ap_uint<VW>(v) << (CONFIG_T::nmax - n);
    typedef ap_ufixed<VW, CONFIG_T::value_bits - CONFIG_T::value_frac> shifted_t;
    const res_T y = from_code<shifted_t>(shifted);
    return y;
}

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_LUT_H_
