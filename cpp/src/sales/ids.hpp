#pragma once
// Record ids to positions, for kernels that take the ids as the store hands
// them rather than codes the caller made. Store ids are dense (one sequence
// per store), so a table over their range costs one read per look-up; when
// they are sparse (a filtered subset of a large store) a hash map instead.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <vector>

namespace crmcore::sales {

class IdIndex {
 public:
  // `ids[i]` gets position i; ids are expected unique (the last one wins).
  IdIndex(const int64_t* ids, size_t n) {
    if (n == 0) return;
    // Ids in order without gaps (a whole kind as the store lists it): the
    // position is the id less the first, no table to read. Checked first,
    // in one pass that stops at the first gap, so that the usual case reads
    // the ids once instead of twice.
    sequential_ = ids[0] <= std::numeric_limits<int64_t>::max() - static_cast<int64_t>(n - 1);
    for (size_t i = 1; i < n && sequential_; ++i) sequential_ = ids[i] == ids[0] + static_cast<int64_t>(i);
    if (sequential_) {
      lo_ = ids[0], hi_ = ids[0] + static_cast<int64_t>(n - 1);
      return;
    }
    const auto [lo, hi] = std::minmax_element(ids, ids + n);
    lo_ = *lo, hi_ = *hi;
    const uint64_t span = static_cast<uint64_t>(hi_) - static_cast<uint64_t>(lo_);
    dense_ = span < 4 * static_cast<uint64_t>(n) + 1024;
    if (dense_) {
      table_.assign(static_cast<size_t>(span) + 1, -1);
      for (size_t i = 0; i < n; ++i) table_[static_cast<size_t>(ids[i] - lo_)] = static_cast<int64_t>(i);
    } else {
      sparse_.reserve(n);
      for (size_t i = 0; i < n; ++i) sparse_[ids[i]] = static_cast<int64_t>(i);
    }
  }
  // Whether the ids are in order without gaps (the position of an id is
  // then the id less the first).
  bool in_order() const { return sequential_; }
  // The position of `id`, or -1 when it is none of the ids.
  int64_t find(int64_t id) const {
    if (id < lo_ || id > hi_) return -1;
    if (sequential_) return id - lo_;
    if (dense_) return table_[static_cast<size_t>(id - lo_)];
    auto it = sparse_.find(id);
    return it == sparse_.end() ? -1 : it->second;
  }

 private:
  int64_t lo_ = 1, hi_ = 0;  // empty: every id is out of range
  bool dense_ = true, sequential_ = false;
  std::vector<int64_t> table_;
  std::unordered_map<int64_t, int64_t> sparse_;
};

}  // namespace crmcore::sales

namespace crmcore::sales {

// Dense group codes for items keyed by a pair of integers (a period ordinal
// and an id, say): `code[i]` in [0, groups) numbering the distinct pairs in
// ascending (a, b) order, or -1 where `keep[i]` is 0. `a` and `b` of each
// group come back in `group_a` and `group_b`. A grid over both ranges when
// it is small next to the items (one read per item, no sort), else a sort of
// the distinct pairs.
struct PairGroups {
  std::vector<int64_t> code, group_a, group_b;
};
PairGroups group_pairs(const int64_t* a, const int64_t* b, const uint8_t* keep, size_t n);

}  // namespace crmcore::sales
