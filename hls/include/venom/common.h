// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: pragma macro, raw integer codes of fixed-point values, leading-one detection.
//
// Part of the hand-written, header-only kernel library in hls/include/venom/ (namespace venom). The generated
// project (hls/generated/<model>/) instantiates these templates with its own config structs; nothing here knows
// the model's dimensions or formats.
#ifndef VENOM_COMMON_H_
#define VENOM_COMMON_H_

#include <ap_fixed.h>
#include <ap_int.h>

// HLS pragmas are written VENOM_PRAGMA(HLS PIPELINE II=CONFIG_T::reuse_factor): the _Pragma form lets their
// arguments name config constants, and only Vitis HLS synthesis (which defines __SYNTHESIS__) sees them, so
// g++ -Wall reports no unknown pragmas. C simulation ignores HLS pragmas either way.
#define VENOM_PRAGMA_STRING(x) _Pragma(#x)
#ifdef __SYNTHESIS__
#define VENOM_PRAGMA(...) VENOM_PRAGMA_STRING(__VA_ARGS__)
#else
#define VENOM_PRAGMA(...)
#endif

// Every loop carries a label, which names it in the Vitis HLS reports; g++ would call the labels unused. This
// one warning is switched off for the kernel headers only (each header pushes and pops it).
#define VENOM_LABELS_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-label\"")
#define VENOM_LABELS_END _Pragma("GCC diagnostic pop")

VENOM_LABELS_BEGIN

namespace venom {

// Compile-time helpers for sizes (C++14 constexpr, usable in template arguments and array bounds).
constexpr int max_int(int a, int b) { return a > b ? a : b; }
constexpr int min_int(int a, int b) { return a < b ? a : b; }
constexpr unsigned ceil_div(unsigned a, unsigned b) { return (a + b - 1) / b; }

// ap_int<W> for signed codes, ap_uint<W> for unsigned ones.
template <int W, bool S>
struct code_type {
    typedef ap_int<W> type;
};
template <int W>
struct code_type<W, false> {
    typedef ap_uint<W> type;
};

// The integer code of a fixed-point value: its raw two's-complement bits (ap_int for ap_fixed, ap_uint for
// ap_ufixed), so that value = code * 2**-(W - I).
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
inline typename code_type<W, S>::type code_of(const ap_fixed_base<W, I, S, Q, O, N>& x) {
    typename code_type<W, S>::type c;
    c.range(W - 1, 0) = x.range(W - 1, 0);
    return c;
}

// The fixed-point value of type T whose code is c (sign- or zero-extended, or truncated, to T's width first).
// Exact whenever c fits T's width: this is a raw-bit load, no rounding.
template <class T, int W, bool S>
inline T from_code(const ap_int_base<W, S>& c) {
    const typename code_type<T::width, S>::type bits = c;
    T x;
    x.range(T::width - 1, 0) = bits.range(T::width - 1, 0);
    return x;
}

// floor(log2(v)) + 1 for v > 0, and 0 for v == 0: the position of the leading one, counted from 1.
template <int W>
inline int bit_length(const ap_uint<W>& v) {
    VENOM_PRAGMA(HLS INLINE)
    int n = 0;
leading_one:
    for (int k = 0; k < W; k++) {
        VENOM_PRAGMA(HLS UNROLL)
        if (v[k]) n = k + 1;
    }
    return n;
}

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_COMMON_H_
