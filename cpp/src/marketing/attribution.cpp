// Attribution of orders to touches (see crmcore/marketing/attribution.hpp):
// touches grouped by customer once (stable, then by time within each
// customer), then each order finds its customer's touches and the window's
// end among them by binary search. Customer ids are usually dense (store
// ids), so a customer's touches are found through a direct table; sparse ids
// fall back to a binary search over the distinct customers.
#include "crmcore/marketing/attribution.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "crmcore/scoring/group.hpp"

namespace crmcore::marketing {

std::vector<int64_t> attribute_orders(const TimedRows& orders, const TimedRows& touches, int64_t window,
                                      bool last, Cancel& cancel) {
  if (window < 0) throw std::invalid_argument("the attribution window must not be negative");
  std::vector<int64_t> out(orders.n, -1);
  if (touches.n == 0) return out;
  const scoring::Groups groups = scoring::group_keys(touches.customer, touches.n, cancel);
  const scoring::GroupedRows grouped = scoring::rows_by_group(groups);
  // Within a customer by time; stable, so touches at the same time keep
  // their rows' order and "the later row" / "the earlier row" are the ends
  // of a run of equal times.
  std::vector<int64_t> row(grouped.row.begin(), grouped.row.end());
  std::vector<int64_t> when(touches.n);
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto b = row.begin() + static_cast<std::ptrdiff_t>(grouped.start[g]);
    const auto e = row.begin() + static_cast<std::ptrdiff_t>(grouped.start[g + 1]);
    std::stable_sort(b, e, [&](int64_t x, int64_t y) { return touches.time[x] < touches.time[y]; });
  }
  for (size_t i = 0; i < touches.n; ++i) when[i] = touches.time[row[i]];
  const scoring::KeySpan span = scoring::key_span(groups.keys.data(), groups.size());
  std::vector<int64_t> table;  // customer - lo -> group, or -1
  if (span.dense) {
    table.assign(span.range + 1, -1);
    for (size_t g = 0; g < groups.size(); ++g) table[static_cast<uint64_t>(groups.keys[g] - span.lo)] = static_cast<int64_t>(g);
  }
  constexpr int64_t kEarliest = std::numeric_limits<int64_t>::min();
  for (size_t j = 0; j < orders.n; ++j) {
    const int64_t c = orders.customer[j];
    int64_t g = -1;
    if (span.dense) {
      const uint64_t at = static_cast<uint64_t>(c) - static_cast<uint64_t>(span.lo);
      if (c >= span.lo && at <= span.range) g = table[at];
    } else {
      const auto k = std::lower_bound(groups.keys.begin(), groups.keys.end(), c);
      if (k != groups.keys.end() && *k == c) g = k - groups.keys.begin();
    }
    if (g < 0) continue;
    const int64_t t = orders.time[j];
    const auto begin = when.begin() + static_cast<std::ptrdiff_t>(grouped.start[g]);
    const auto end = when.begin() + static_cast<std::ptrdiff_t>(grouped.start[g + 1]);
    // A window reaching before the range of int64 saturates rather than wraps.
    const int64_t from = t < kEarliest + window ? kEarliest : t - window;
    if (last) {
      const auto p = std::upper_bound(begin, end, t);  // past the touches at or before t
      if (p != begin && *(p - 1) >= from) out[j] = row[(p - 1) - when.begin()];
    } else {
      const auto p = std::lower_bound(begin, end, from);  // the first touch in the window
      if (p != end && *p <= t) out[j] = row[p - when.begin()];
    }
    if ((j & 0xFFFF) == 0) cancel.tick(0x10000);
  }
  return out;
}

}  // namespace crmcore::marketing
