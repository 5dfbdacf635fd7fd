// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga: C-SIMULATION STAND-IN for hls::stream and ap_axiu -- NOT the Xilinx headers, and never synthesized.
//
// The open ap_types headers (from hls4ml) have no ap_axi_sdata.h, and their hls_stream.h carries a proprietary
// notice, so the g++ C simulation of venom-fpga (python/venom_fpga/hls/export.py: compiled with
// -DVENOM_CSIM_STANDIN) uses this minimal, behaviour-compatible subset instead: a FIFO with read/write (blocking and not)/empty/full/size
// and the AXI4-Stream beat struct; hls::task is not modelled (the C simulation calls each task body
// at the clocks the hardware would run it: hls/templates/venom_csim.cpp.j2). Vitis HLS builds (C simulation, synthesis, co-simulation) never define
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

// A FIFO of DEPTH entries (0: unbounded, as an argument stream); reading an empty stream is a test-bench bug and
// aborts (Vitis C simulation warns and hangs). write_nb refuses a value when the FIFO is full, as Vitis' does.
template <class T, int DEPTH = 0>
class stream {
  public:
    stream() {}
    explicit stream(const char*) {}
    void write(const T& v) {
        if (full()) {
            std::fprintf(stderr, "venom csim stand-in: blocking write to a full hls::stream\n");
            std::abort();
        }
        fifo_.push_back(v);
    }
    bool write_nb(const T& v) {
        if (full()) return false;
        fifo_.push_back(v);
        return true;
    }
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
    bool read_nb(T& v) {
        if (fifo_.empty()) return false;
        v = read();
        return true;
    }
    bool empty() const { return fifo_.empty(); }
    bool full() const { return DEPTH > 0 && fifo_.size() >= static_cast<size_t>(DEPTH); }
    size_t size() const { return fifo_.size(); }
    void clear() { fifo_.clear(); }  // stand-in only: the C simulation's reset between stream segments

  private:
    stream(const stream&);
    stream& operator=(const stream&);
    std::deque<T> fifo_;
};

// hls::task: its constructor only checks that the body takes the arguments (the C simulation calls the bodies).
class task {
  public:
    template <class F, class... A>
    task(F body, A&... args) {
        typedef decltype(body(args...)) result_t;
        static_cast<void>(sizeof(result_t*));
    }
};

}  // namespace hls

// Vitis' storage class of tasks and their streams: one instance for the program
#define hls_thread_local static

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
