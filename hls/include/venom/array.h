// SPDX-License-Identifier: BSD-3-Clause
// venom-fpga HLS kernels: the array of DESIGN.md §3.1 -- one time-multiplexed datapath for every channel.
//
// Four free-running processes (the bodies below; the generated top runs each as an hls::task), joined by FIFOs:
//
//   token --> array_step --head_queue--> array_head --record_fifo--> array_out --> record
//                  |                         |
//                  +------- drop events -----+--> array_drops (per-channel counters, drop_addr -> drop_count)
//
// array_step  one call per beat of F clocks (PIPELINE II = fold): at most one step token (slot, t, x, tag); the
//             slot's recurrent state is read from slot_state[slot] (block RAM / UltraRAM), stepped and written
//             back. A window's last token hands its pooling state and tag to the head queue, or, when the queue
//             is full, counts a drop for its channel: the input never stalls.
// array_head  one window per head_interval clocks (PIPELINE II = head_interval): pooling finish + MLP, one record
//             into the record FIFO, or a counted drop when it is full.
// array_out   the record FIFO to the record port, one per clock as the consumer takes them.
// array_drops counts drops per channel and cause, and serves drop_count = drops of channel drop_addr.
//
// The read-modify-write of slot_state closes at II = fold because two tokens of one slot are at least
// CFG::slot_distance beats apart (the token source guarantees it: DESIGN.md §3.1) -- the DEPENDENCE pragma says
// so. MODEL is the generated model: state_t (with a .pool member), pool_t, reset, step and head.
#ifndef VENOM_ARRAY_H_
#define VENOM_ARRAY_H_

#include "common.h"
#ifdef VENOM_CSIM_STANDIN
#include "csim_axis.h"  // g++ C simulation only
#else
#include <hls_stream.h>
#endif

VENOM_LABELS_BEGIN

namespace venom {

// The defaults of an array config; the exporter derives config_array from it (parameters.h).
struct array_config {
    static const unsigned slots = 1;          // S: windows in flight
    static const unsigned channels = 1;       // channel ids in the tag
    static const unsigned length = 1;         // L: samples per window
    static const unsigned fold = 1;           // F: clocks per beat (step initiation interval)
    static const unsigned head_interval = 1;  // clocks between two head starts
    static const unsigned head_queue = 1;     // windows waiting for the head
    static const unsigned record_fifo = 1;    // records waiting for the consumer
    static const unsigned period = 1;         // clocks per model-rate sample period (the token source's)
    static const unsigned slot_distance = 1;  // least beats between two tokens of one slot
    static const int count_bits = 1;          // drop counters
    // token and record words: the lsb and width of each field (python/venom_fpga/rtl/array.py stream_layouts)
    static const int token_bits = 1, record_bits = 1;
    static const int tok_iq_lsb = 0, tok_iq_bits = 1, tok_t_lsb = 0, tok_t_bits = 1, tok_slot_lsb = 0,
                     tok_slot_bits = 1, tok_channel_lsb = 0, tok_channel_bits = 1, tok_time_lsb = 0,
                     tok_time_bits = 1;
    static const int rec_mu_lsb = 0, rec_mu_bits = 1, rec_log_var_lsb = 0, rec_log_var_bits = 1,
                     rec_channel_lsb = 0, rec_channel_bits = 1, rec_time_lsb = 0, rec_time_bits = 1;
};

// What a window's last token hands the head: its pooling state and its tag.
template <class CFG, class MODEL>
struct head_request {
    typename MODEL::pool_t pool;
    ap_uint<CFG::tok_channel_bits> channel;
    ap_uint<CFG::tok_time_bits> time;
};

template <class CFG>
struct array_types {
    typedef ap_uint<CFG::token_bits> token_t;
    typedef ap_uint<CFG::record_bits> record_t;
    typedef ap_uint<CFG::tok_channel_bits> channel_t;  // a drop event: the channel that lost a window
    typedef ap_uint<CFG::count_bits> count_t;
};

// Field [LSB, LSB + BITS) of a word.
template <int LSB, int BITS, int W>
inline ap_uint<BITS> field(const ap_uint<W>& word) {
    return word.range(LSB + BITS - 1, LSB);
}

template <class CFG, class MODEL>
void array_step(hls::stream<typename array_types<CFG>::token_t>& token,
                hls::stream<head_request<CFG, MODEL>, CFG::head_queue>& head_queue,
                hls::stream<typename array_types<CFG>::channel_t>& drops) {
    VENOM_PRAGMA(HLS PIPELINE II=CFG::fold)
    static typename MODEL::state_t slot_state[CFG::slots];
    // one wide word per slot; the write-back of a slot's state may overlap the next tokens (of other slots)
    VENOM_PRAGMA(HLS AGGREGATE variable=slot_state compact=bit)
    VENOM_PRAGMA(HLS BIND_STORAGE variable=slot_state type=ram_s2p impl=VENOM_ARRAY_STATE_IMPL)
    VENOM_PRAGMA(HLS DEPENDENCE variable=slot_state inter RAW true distance=CFG::slot_distance)
    typename array_types<CFG>::token_t word;
    if (!token.read_nb(word)) return;  // an idle beat
    const ap_uint<CFG::tok_t_bits> t = field<CFG::tok_t_lsb, CFG::tok_t_bits>(word);
    const ap_uint<CFG::tok_slot_bits> slot = field<CFG::tok_slot_lsb, CFG::tok_slot_bits>(word);
    typename MODEL::state_t st = slot_state[slot];
    if (t == 0) MODEL::reset(st);  // a window's first token: the initial state, whatever the slot held
    MODEL::step(field<CFG::tok_iq_lsb, CFG::tok_iq_bits>(word), st);
    slot_state[slot] = st;
    if (t == CFG::length - 1) {
        head_request<CFG, MODEL> req;
        req.pool = st.pool;
        req.channel = field<CFG::tok_channel_lsb, CFG::tok_channel_bits>(word);
        req.time = field<CFG::tok_time_lsb, CFG::tok_time_bits>(word);
        if (!head_queue.write_nb(req)) drops.write(req.channel);
    }
}

template <class CFG, class MODEL>
void array_head(hls::stream<head_request<CFG, MODEL>, CFG::head_queue>& head_queue,
                hls::stream<typename array_types<CFG>::record_t, CFG::record_fifo>& record_fifo,
                hls::stream<typename array_types<CFG>::channel_t>& drops) {
    VENOM_PRAGMA(HLS PIPELINE II=CFG::head_interval)
    const head_request<CFG, MODEL> req = head_queue.read();
    typename MODEL::mu_t mu;
    typename MODEL::log_var_t log_var;
    MODEL::head(req.pool, mu, log_var);
    // mu and log_var codes sign-extended into their fields, then the tag
    const ap_int<CFG::rec_mu_bits> mu_field = code_of(mu);
    const ap_int<CFG::rec_log_var_bits> log_var_field = code_of(log_var);
    typename array_types<CFG>::record_t rec = 0;
    rec.range(CFG::rec_mu_lsb + CFG::rec_mu_bits - 1, CFG::rec_mu_lsb) = mu_field;
    rec.range(CFG::rec_log_var_lsb + CFG::rec_log_var_bits - 1, CFG::rec_log_var_lsb) = log_var_field;
    rec.range(CFG::rec_channel_lsb + CFG::rec_channel_bits - 1, CFG::rec_channel_lsb) = req.channel;
    rec.range(CFG::rec_time_lsb + CFG::rec_time_bits - 1, CFG::rec_time_lsb) = req.time;
    if (!record_fifo.write_nb(rec)) drops.write(req.channel);
}

template <class CFG>
void array_out(hls::stream<typename array_types<CFG>::record_t, CFG::record_fifo>& record_fifo,
               hls::stream<typename array_types<CFG>::record_t>& record) {
    VENOM_PRAGMA(HLS PIPELINE II=1)
    record.write(record_fifo.read());
}

template <class CFG>
void array_drops(hls::stream<typename array_types<CFG>::channel_t>& queue_drops,
                 hls::stream<typename array_types<CFG>::channel_t>& fifo_drops,
                 const typename array_types<CFG>::channel_t& drop_addr, typename array_types<CFG>::count_t& drop_count,
                 typename array_types<CFG>::count_t& drop_total) {
    VENOM_PRAGMA(HLS PIPELINE II=1)
    typedef typename array_types<CFG>::count_t count_t;
    // one counter RAM per cause: both causes may drop in one clock
    static count_t by_queue[CFG::channels];
    static count_t by_fifo[CFG::channels];
    static count_t total = 0;
    VENOM_PRAGMA(HLS BIND_STORAGE variable=by_queue type=ram_t2p impl=bram)
    VENOM_PRAGMA(HLS BIND_STORAGE variable=by_fifo type=ram_t2p impl=bram)
    // at most one event per cause per clock: each counter's read-modify-write is one clock apart at the least
    VENOM_PRAGMA(HLS DEPENDENCE variable=by_queue inter RAW true distance=1)
    VENOM_PRAGMA(HLS DEPENDENCE variable=by_fifo inter RAW true distance=1)
    typename array_types<CFG>::channel_t ch;
    count_t events = 0;
    if (queue_drops.read_nb(ch)) {
        by_queue[ch] = by_queue[ch] + 1;
        events++;
    }
    if (fifo_drops.read_nb(ch)) {
        by_fifo[ch] = by_fifo[ch] + 1;
        events++;
    }
    total += events;
    drop_count = by_queue[drop_addr] + by_fifo[drop_addr];
    drop_total = total;
}

#ifdef VENOM_CSIM_STANDIN
// The g++ C simulation of the array (the stand-in streams of csim_axis.h), one clock per tick(): each task body runs
// in the clocks the hardware runs it -- the record port when a record waits and the consumer is ready, the head
// once per head_interval clocks when a window waits, the step on every beat of F clocks, the drop counters every
// clock. A head request is seen one clock after its token, a record one clock after its head start: the array
// model's rules with step and head latencies of one clock (python/venom_fpga/hls/array.py).
template <class CFG, class MODEL>
class array_sim {
  public:
    typedef array_types<CFG> types;
    array_sim() : clock_(0), head_free_(0) {}

    // The reset between streams: queues and FIFOs empty, the clock at 0; slot state and drop counters stay.
    void reset() {
        token_.clear();
        head_queue_.clear();
        record_fifo_.clear();
        record_.clear();
        queue_drops_.clear();
        fifo_drops_.clear();
        clock_ = 0;
        head_free_ = 0;
    }

    unsigned long long clock() const { return clock_; }
    static bool on_beat(unsigned long long clock) { return clock % CFG::fold == 0; }

    // One clock: a token (only on a beat), the consumer's TREADY, the channel whose drops to show. Returns whether
    // a record left in this clock (then in `rec`).
    bool tick(bool has_token, const typename types::token_t& word, bool ready, typename types::record_t& rec,
              const typename types::channel_t& drop_addr) {
        bool left = false;
        if (ready && !record_fifo_.empty()) {
            array_out<CFG>(record_fifo_, record_);
            rec = record_.read();
            left = true;
        }
        if (clock_ >= head_free_ && !head_queue_.empty()) {
            array_head<CFG, MODEL>(head_queue_, record_fifo_, fifo_drops_);
            head_free_ = clock_ + CFG::head_interval;
        }
        if (on_beat(clock_)) {
            if (has_token) token_.write(word);
            array_step<CFG, MODEL>(token_, head_queue_, queue_drops_);
        }
        array_drops<CFG>(queue_drops_, fifo_drops_, drop_addr, drop_count, drop_total);
        clock_++;
        return left;
    }

    typename types::count_t drop_count, drop_total;  // the drops task's outputs after the last tick

  private:
    hls::stream<typename types::token_t> token_;
    hls::stream<head_request<CFG, MODEL>, CFG::head_queue> head_queue_;
    hls::stream<typename types::record_t, CFG::record_fifo> record_fifo_;
    hls::stream<typename types::record_t> record_;
    hls::stream<typename types::channel_t> queue_drops_, fifo_drops_;
    unsigned long long clock_, head_free_;
};
#endif  // VENOM_CSIM_STANDIN

}  // namespace venom

VENOM_LABELS_END

#endif  // VENOM_ARRAY_H_
