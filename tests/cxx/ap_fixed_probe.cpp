// ap_fixed probe for tests/test_qformat.py: runs real ap_fixed / ap_ufixed assignments so the numpy model in
// python/venom_fpga/qformat.py can be compared with them code for code.
//
// The formats under test must be known at compile time, so the test writes them into "ap_fixed_probe_table.h"
// (a generated header in its build directory) as two tables of function pointers:
//   kFromDouble[i] = &from_double<Target>                 double          -> Target
//   kFromSource[j] = &from_source<Target, Source>         raw Source code -> Target
// Every function converts n values and writes the raw bits of each result, sign-extended to int64.
#include <ap_fixed.h>
#include <ap_int.h>
#include <stdint.h>

namespace {

// Raw bits of an ap_fixed/ap_ufixed as int64 (sign-extended for signed formats).
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
int64_t code_of(const ap_fixed_base<W, I, S, Q, O, N>& t) {
  uint64_t u = t.range(W - 1, 0).to_uint64();
  if (S && W < 64 && ((u >> (W - 1)) & 1)) u |= ~0ULL << W;
  return static_cast<int64_t>(u);
}

// Sets the raw bits of an ap_fixed/ap_ufixed from a code (low W bits used).
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
void set_code(ap_fixed_base<W, I, S, Q, O, N>& t, int64_t code) {
  t.range(W - 1, 0) = static_cast<ap_ulong>(code);
}

template <class Target>
void from_double(const double* x, int64_t* out, long n) {
  for (long i = 0; i < n; ++i) {
    Target t = x[i];
    out[i] = code_of(t);
  }
}

template <class Target, class Source>
void from_source(const int64_t* code, int64_t* out, long n) {
  for (long i = 0; i < n; ++i) {
    Source s;
    set_code(s, code[i]);
    Target t = s;
    out[i] = code_of(t);
  }
}

typedef void (*FromDoubleFn)(const double*, int64_t*, long);
typedef void (*FromSourceFn)(const int64_t*, int64_t*, long);

#include "ap_fixed_probe_table.h"

}  // namespace

extern "C" {

long probe_n_from_double() { return sizeof(kFromDouble) / sizeof(kFromDouble[0]); }
long probe_n_from_source() { return sizeof(kFromSource) / sizeof(kFromSource[0]); }

// Returns 0 on success, -1 for an unknown id.
int probe_from_double(long id, const double* x, int64_t* out, long n) {
  if (id < 0 || id >= probe_n_from_double()) return -1;
  kFromDouble[id](x, out, n);
  return 0;
}

int probe_from_source(long id, const int64_t* code, int64_t* out, long n) {
  if (id < 0 || id >= probe_n_from_source()) return -1;
  kFromSource[id](code, out, n);
  return 0;
}

// ap_int<12>: 2047 + 1 assigned back to ap_int<12> (wraps to -2048).
long probe_ap_int12_increment(long a) {
  ap_int<12> x = a;
  ap_int<12> y = x + 1;
  return y.to_int64();
}

}  // extern "C"
