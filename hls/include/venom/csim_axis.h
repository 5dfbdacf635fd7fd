// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga: C-SIMULATION STAND-IN for hls::stream and ap_axiu -- NOT the Xilinx headers, and never synthesized.
//
// The open ap_types headers (from hls4ml) have no ap_axi_sdata.h, and their hls_stream.h carries a proprietary
// notice, so the g++ C simulation of venom-fpga (python/venom_fpga/hls/export.py: compiled with
// -DVENOM_CSIM_STANDIN) uses this minimal, behaviour-compatible subset instead: a FIFO with read/write/empty/size
// and the AXI4-Stream beat struct. Vitis HLS builds (C simulation, synthesis, co-simulation) never define
// VENOM_CSIM_STANDIN and use <hls_stream.h> and <ap_axi_sdata.h>.
#ifndef VENOM_CSIM_AXIS_H_
#define VENOM_CSIM_AXIS_H_

#ifdef __SYNTHESIS__
#error "venom/csim_axis.h is a C-simulation stand-in; synthesis uses <hls_stream.h> and <ap_axi_sdata.h>"
#endif

#include <ap_int.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <deque>

namespace hls {

// An unbounded FIFO; reading an empty stream is a test-bench bug and aborts (Vitis C simulation warns and hangs).
template <class T>
class stream {
  public:
    stream() {}
    explicit stream(const char*) {}
    void write(const T& v) { fifo_.push_back(v); }
    T read() {
        if (fifo_.empty()) {
            std::fprintf(stderr, "venom csim stand-in: read from an empty hls::stream\n");
            std::abort();
        }
        T v = fifo_.front();
        fifo_.pop_front();
        return v;
    }
    void read(T& v) { v = read(); }
    bool empty() const { return fifo_.empty(); }
    bool full() const { return false; }
    size_t size() const { return fifo_.size(); }

  private:
    stream(const stream&);
    stream& operator=(const stream&);
    std::deque<T> fifo_;
};

}  // namespace hls

// One AXI4-Stream beat, as Vitis' ap_axiu<D, U, TI, TD> (side channels of width 0 are one unused bit here).
template <int D, int U, int TI, int TD>
struct ap_axiu {
    static const int n_bytes = (D + CHAR_BIT - 1) / CHAR_BIT;
    ap_uint<D> data;
    ap_uint<n_bytes> keep;
    ap_uint<n_bytes> strb;
    ap_uint<(U > 0) ? U : 1> user;
    ap_uint<1> last;
    ap_uint<(TI > 0) ? TI : 1> id;
    ap_uint<(TD > 0) ? TD : 1> dest;
};

#endif  // VENOM_CSIM_AXIS_H_
