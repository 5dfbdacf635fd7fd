// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: dense (linear) layers with exact wide accumulation and one rounding per output.
//
//   matvec       acc = W x            (exact; for layers whose outputs are split into several signals)
//   dense_accum  acc = W x + b        (exact)
//   dense        y   = W x + b        (exact accumulation, then ONE assignment to res_T: its rounding and
//                                      overflow modes, exactly QFormat.quantize of the golden model)
//
// accum_t must hold every product and the bias exactly: the exporter computes its width from the formats
// (n_in * max|x| * max|w| + max|b|) and its fraction bits as max(F_x + F_w, F_b). The order of summation
// then cannot change the result.
#ifndef VENOM_DENSE_H_
#define VENOM_DENSE_H_

#include "venom/common.h"

VENOM_LABELS_BEGIN

namespace venom {

struct dense_config {
    // Sizes: y[n_out] = W[n_out][n_in] x[n_in] (+ b[n_out]).
    static const unsigned n_in = 1;
    static const unsigned n_out = 1;
    // Folding: the caller's pipeline initiation interval (cycles per call). Weight rows are partitioned so that
    // ceil(n_out / reuse_factor) rows (n_in products each) can be read per cycle; Vitis shares each multiplier
    // between up to reuse_factor products.
    static const unsigned reuse_factor = 1;
    static const unsigned row_partition = 1;  // ceil(n_out / reuse_factor), set by the exporter
    // Formats: the weight and bias formats of the precision config, and the exact accumulator.
    typedef ap_fixed<18, 1, AP_RND_CONV, AP_SAT> weight_t;
    typedef ap_fixed<18, 1, AP_RND_CONV, AP_SAT> bias_t;
    typedef ap_fixed<48, 24> accum_t;
};

// acc = W x, exact.
template <class data_T, typename CONFIG_T>
void matvec(const data_T x[CONFIG_T::n_in], typename CONFIG_T::accum_t acc[CONFIG_T::n_out],
            const typename CONFIG_T::weight_t w[CONFIG_T::n_out][CONFIG_T::n_in]) {
    VENOM_PRAGMA(HLS INLINE)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=w cyclic factor=CONFIG_T::row_partition dim=1)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=w complete dim=2)
matvec_rows:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        VENOM_PRAGMA(HLS UNROLL)
        typename CONFIG_T::accum_t a = 0;
    matvec_cols:
        for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
            VENOM_PRAGMA(HLS UNROLL)
            a += w[o][i] * x[i];
        }
        acc[o] = a;
    }
}

// acc = W x + b, exact.
template <class data_T, typename CONFIG_T>
void dense_accum(const data_T x[CONFIG_T::n_in], typename CONFIG_T::accum_t acc[CONFIG_T::n_out],
                 const typename CONFIG_T::weight_t w[CONFIG_T::n_out][CONFIG_T::n_in],
                 const typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    VENOM_PRAGMA(HLS INLINE)
    matvec<data_T, CONFIG_T>(x, acc, w);
dense_bias:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        VENOM_PRAGMA(HLS UNROLL)
        acc[o] += b[o];
    }
}

// y = W x + b: exact accumulation, one rounding into res_T.
template <class data_T, class res_T, typename CONFIG_T>
void dense(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_out],
           const typename CONFIG_T::weight_t w[CONFIG_T::n_out][CONFIG_T::n_in],
           const typename CONFIG_T::bias_t b[CONFIG_T::n_out]) {
    VENOM_PRAGMA(HLS INLINE)
    typename CONFIG_T::accum_t acc[CONFIG_T::n_out];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=acc complete)
    dense_accum<data_T, CONFIG_T>(x, acc, w, b);
dense_out:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        VENOM_PRAGMA(HLS UNROLL)
        y[o] = acc[o];
    }
}

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_DENSE_H_
