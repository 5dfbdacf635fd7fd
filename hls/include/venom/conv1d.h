// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: causal depthwise convolution, one sample per call, shift-register state.
//
//   y[d] = b[d] + sum_{k=0}^{d_conv-1} w[d][k] * x_{t-(d_conv-1)+k}[d]     (exact, one rounding into res_T)
//
// The state is the last d_conv - 1 inputs, oldest first (zero at the window start): hist[k][d] = x_{t-(d_conv-1)+k}.
#ifndef VENOM_CONV1D_H_
#define VENOM_CONV1D_H_

#include "venom/common.h"

VENOM_LABELS_BEGIN

namespace venom {

struct conv1d_config {
    static const unsigned n_chan = 1;  // d_inner
    static const unsigned d_conv = 1;  // taps
    static const unsigned hist_len = 1;  // max(d_conv - 1, 1): rows of the history array
    static const unsigned reuse_factor = 1;
    typedef ap_fixed<18, 1, AP_RND_CONV, AP_SAT> weight_t;
    typedef ap_fixed<18, 1, AP_RND_CONV, AP_SAT> bias_t;
    typedef ap_fixed<48, 24> accum_t;  // d_conv products plus the bias, exact
};

template <class data_T, typename CONFIG_T>
void conv1d_reset(data_T hist[CONFIG_T::hist_len][CONFIG_T::n_chan]) {
    VENOM_PRAGMA(HLS INLINE)
conv_reset_taps:
    for (unsigned k = 0; k < CONFIG_T::hist_len; k++) {
        VENOM_PRAGMA(HLS UNROLL)
    conv_reset_chan:
        for (unsigned d = 0; d < CONFIG_T::n_chan; d++) {
            VENOM_PRAGMA(HLS UNROLL)
            hist[k][d] = 0;
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void conv1d_step(const data_T x[CONFIG_T::n_chan], data_T hist[CONFIG_T::hist_len][CONFIG_T::n_chan],
                 res_T y[CONFIG_T::n_chan], const typename CONFIG_T::weight_t w[CONFIG_T::n_chan][CONFIG_T::d_conv],
                 const typename CONFIG_T::bias_t b[CONFIG_T::n_chan]) {
    VENOM_PRAGMA(HLS INLINE)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=w complete dim=0)
conv_chan:
    for (unsigned d = 0; d < CONFIG_T::n_chan; d++) {
        VENOM_PRAGMA(HLS UNROLL)
        typename CONFIG_T::accum_t acc = b[d];
    conv_taps:
        for (unsigned k = 0; k + 1 < CONFIG_T::d_conv; k++) {
            VENOM_PRAGMA(HLS UNROLL)
            acc += w[d][k] * hist[k][d];
        }
        acc += w[d][CONFIG_T::d_conv - 1] * x[d];
        y[d] = acc;
    conv_shift:
        for (unsigned k = 0; k + 1 < CONFIG_T::d_conv; k++) {
            VENOM_PRAGMA(HLS UNROLL)
            hist[k][d] = k + 2 < CONFIG_T::d_conv ? hist[k + 1][d] : x[d];
        }
    }
}

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_CONV1D_H_
