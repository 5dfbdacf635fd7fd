// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: the MLP head, once per window.
//
//   m1 = GELU(W1 p + b1);  m2 = GELU(W2 m1 + b2);  [mu, log_var] = W3 m2 + b3
// Each dense layer accumulates exactly and rounds once into its signal's format (mlp0, mlp2); GELU is a table
// (lut_relu_minus); the last layer's one exact accumulator is rounded into mu_t and log_var_t.
#ifndef VENOM_MLP_HEAD_H_
#define VENOM_MLP_HEAD_H_

#include "venom/common.h"
#include "venom/dense.h"
#include "venom/lut.h"

VENOM_LABELS_BEGIN

namespace venom {

struct mlp_head_config {
    static const unsigned n_in = 1;      // d_model
    static const unsigned n_hidden = 1;  // d_head_hidden
    static const unsigned reuse_factor = 1;
    typedef ap_fixed<22, 6, AP_RND, AP_SAT> mlp0_t;
    typedef ap_fixed<22, 6, AP_RND, AP_SAT> gelu0_t;
    typedef ap_fixed<22, 6, AP_RND, AP_SAT> mlp2_t;
    typedef ap_fixed<22, 6, AP_RND, AP_SAT> gelu2_t;
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> mu_t;
    typedef ap_fixed<18, 6, AP_RND, AP_SAT> log_var_t;
    typedef dense_config mlp0_config;  // n_in -> n_hidden
    typedef dense_config mlp2_config;  // n_hidden -> n_hidden
    typedef dense_config mlp4_config;  // n_hidden -> 2 (mu, log_var)
    typedef lut_config gelu0_config;
    typedef lut_config gelu2_config;
};

template <class data_T, typename CONFIG_T>
void mlp_head(const data_T x[CONFIG_T::n_in], typename CONFIG_T::mu_t& mu, typename CONFIG_T::log_var_t& log_var,
              const typename CONFIG_T::mlp0_config::weight_t
                  w0[CONFIG_T::mlp0_config::n_out][CONFIG_T::mlp0_config::n_in],
              const typename CONFIG_T::mlp0_config::bias_t b0[CONFIG_T::mlp0_config::n_out],
              const typename CONFIG_T::mlp2_config::weight_t
                  w2[CONFIG_T::mlp2_config::n_out][CONFIG_T::mlp2_config::n_in],
              const typename CONFIG_T::mlp2_config::bias_t b2[CONFIG_T::mlp2_config::n_out],
              const typename CONFIG_T::mlp4_config::weight_t
                  w4[CONFIG_T::mlp4_config::n_out][CONFIG_T::mlp4_config::n_in],
              const typename CONFIG_T::mlp4_config::bias_t b4[CONFIG_T::mlp4_config::n_out],
              const typename CONFIG_T::gelu0_config::table_t gelu0_table[CONFIG_T::gelu0_config::n_entries],
              const typename CONFIG_T::gelu2_config::table_t gelu2_table[CONFIG_T::gelu2_config::n_entries]) {
    VENOM_PRAGMA(HLS INLINE)
    typename CONFIG_T::mlp0_t h0[CONFIG_T::n_hidden];
    typename CONFIG_T::gelu0_t g0[CONFIG_T::n_hidden];
    typename CONFIG_T::mlp2_t h2[CONFIG_T::n_hidden];
    typename CONFIG_T::gelu2_t g2[CONFIG_T::n_hidden];
    typename CONFIG_T::mlp4_config::accum_t o[CONFIG_T::mlp4_config::n_out];
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=h0 complete)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=g0 complete)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=h2 complete)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=g2 complete)
    VENOM_PRAGMA(HLS ARRAY_PARTITION variable=o complete)
    dense<data_T, typename CONFIG_T::mlp0_t, typename CONFIG_T::mlp0_config>(x, h0, w0, b0);
mlp_gelu0:
    for (unsigned k = 0; k < CONFIG_T::n_hidden; k++) {
        VENOM_PRAGMA(HLS UNROLL)
        g0[k] = lut_relu_minus<typename CONFIG_T::mlp0_t, typename CONFIG_T::gelu0_t, typename CONFIG_T::gelu0_config>(
            h0[k], gelu0_table);
    }
    dense<typename CONFIG_T::gelu0_t, typename CONFIG_T::mlp2_t, typename CONFIG_T::mlp2_config>(g0, h2, w2, b2);
mlp_gelu2:
    for (unsigned k = 0; k < CONFIG_T::n_hidden; k++) {
        VENOM_PRAGMA(HLS UNROLL)
        g2[k] = lut_relu_minus<typename CONFIG_T::mlp2_t, typename CONFIG_T::gelu2_t, typename CONFIG_T::gelu2_config>(
            h2[k], gelu2_table);
    }
    dense_accum<typename CONFIG_T::gelu2_t, typename CONFIG_T::mlp4_config>(g2, o, w4, b4);
    mu = o[0];
    log_var = o[1];
}

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_MLP_HEAD_H_
