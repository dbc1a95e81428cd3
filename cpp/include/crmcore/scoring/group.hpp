#pragma once
// Grouping rows by an int64 key (customer, order, product id) without a
// general-purpose group-by: ids are factorized to dense codes numbered in
// ascending key order, so every per-customer result comes out sorted by id.
#include <cstddef>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <algorithm>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::scoring {

struct Groups {
  std::vector<int64_t> keys;   // distinct keys, ascending
  std::vector<uint32_t> code;  // per row: index into keys
  size_t size() const { return keys.size(); }
};

// The span of the keys and whether a direct table over it is cheap (dense
// ids: store ids, CDNOW numbers), in which case kernels may index by key - lo.
struct KeySpan {
  int64_t lo = 0;
  uint64_t range = 0;  // hi - lo
  bool dense = false;
};
KeySpan key_span(const int64_t* key, size_t n);

// Dense ids (the common case: store ids, CDNOW numbers) go through a direct
// table; sparse ones through an open-addressing hash table.
Groups group_keys(const int64_t* key, size_t n, Cancel& cancel);

// Rows listed group by group (stable within a group): rows of group g are
// row[start[g]] .. row[start[g+1]-1].
struct GroupedRows {
  std::vector<uint32_t> row;
  std::vector<size_t> start;
};
GroupedRows rows_by_group(const Groups& groups);

// Stable ascending argsort (LSD radix); ties keep their input order, which
// callers use to break ties by customer id.
std::vector<uint32_t> stable_argsort(const double* value, size_t n);

// Inputs checks shared by the kernels: a missing value names its row.
[[noreturn]] void throw_missing_value(const char* kind, size_t row, const char* field);
[[noreturn]] void throw_missing_time(const char* kind, size_t row, const char* field);
void require_finite(const double* value, size_t n, const char* kind, const char* field);
void require_times(const int64_t* ns, size_t n, const char* kind, const char* field);

void advise_huge_pages(void* p, size_t bytes);

// A table of per-id accumulators too big for the CPU caches, indexed at
// random once per row. On Linux it asks for transparent huge pages: with 4 KiB
// pages nearly every row would also miss the TLB.
template <typename T>
class SlotTable {
 public:
  explicit SlotTable(size_t n) : n_(n) {
    constexpr size_t kHuge = size_t(1) << 21;
    bytes_ = std::max<size_t>(kHuge, (n * sizeof(T) + kHuge - 1) / kHuge * kHuge);
    data_ = static_cast<T*>(std::aligned_alloc(kHuge, bytes_));
    if (!data_) throw std::bad_alloc();
    advise_huge_pages(data_, bytes_);
    for (size_t i = 0; i < n; ++i) new (&data_[i]) T();
  }
  ~SlotTable() { std::free(data_); }
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return n_; }

 private:
  T* data_ = nullptr;
  size_t n_ = 0, bytes_ = 0;
};

// Compensated (Kahan) running sum, the same steps in the same row order as
// pandas' groupby sum, so totals agree to the bit and near-equal totals rank
// the same way in both.
struct KahanSum {
  double sum = 0.0, comp = 0.0;
  void add(double v) {
    const double y = v - comp;
    const double t = sum + y;
    comp = (t - sum) - y;
    // Once the sum has left the double range (or an inf came in) the
    // compensation is inf or NaN; dropping it keeps the sum's own inf instead
    // of turning the next addition into inf - inf = NaN. Finite sums never
    // take this branch.
    if (!std::isfinite(comp)) comp = 0.0;
    sum = t;
  }
};

// Unsigned keys that sort like the values: radix sorts and histograms of
// ids and amounts work on these.
inline uint64_t ordered_bits(int64_t v) { return static_cast<uint64_t>(v) ^ (1ULL << 63); }
inline uint64_t ordered_bits(double v) {
  v += 0.0;  // -0.0 and 0.0 are equal values and must tie
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & (1ULL << 63)) ? ~u : (u | (1ULL << 63));
}

constexpr int64_t kNsPerDay = 86400LL * 1000000000LL;
constexpr int64_t kNaT = INT64_MIN;  // NumPy's NaT as int64

// Days from `earlier` to `later` (int64 ns; negative when `later` is
// earlier). The store keeps times from 1677 to 2262, so two of them can be
// more than 2^63 ns apart and `later - earlier` would wrap: then the whole
// days are taken apart first (floor division cannot overflow) and only the
// parts of a day, below 86400e9 each, subtracted as nanoseconds. The one
// rule for every span between two times (Python's is
// scoring._columns.days_between).
inline double days_between(int64_t later, int64_t earlier) {
  // Where the nanoseconds between them fit in int64, their quotient, as
  // pandas divides two times (the sum of parts below can differ in the last bit).
  if (int64_t span; !__builtin_sub_overflow(later, earlier, &span))
    return static_cast<double>(span) / static_cast<double>(kNsPerDay);
  const int64_t later_day = later / kNsPerDay - (later % kNsPerDay < 0 ? 1 : 0);
  const int64_t earlier_day = earlier / kNsPerDay - (earlier % kNsPerDay < 0 ? 1 : 0);
  const int64_t part = (later - later_day * kNsPerDay) - (earlier - earlier_day * kNsPerDay);
  return static_cast<double>(later_day - earlier_day) + static_cast<double>(part) / static_cast<double>(kNsPerDay);
}

}  // namespace crmcore::scoring
