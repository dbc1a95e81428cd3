// Attribution of orders to touches (see crmcore/marketing/attribution.hpp):
// touches sorted once by (customer, time, row), then each order finds its
// customer's run and the window's end in it by binary search.
#include "crmcore/marketing/attribution.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace crmcore::marketing {

std::vector<int64_t> attribute_orders(const TimedRows& orders, const TimedRows& touches, int64_t window,
                                      bool last, Cancel& cancel) {
  if (window < 0) throw std::invalid_argument("the attribution window must not be negative");
  std::vector<int64_t> order(touches.n);
  std::iota(order.begin(), order.end(), int64_t{0});
  // Stable, so touches at the same time keep their rows' order: "the later
  // row" and "the earlier row" are the ends of a run of equal times.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    if (touches.customer[a] != touches.customer[b]) return touches.customer[a] < touches.customer[b];
    return touches.time[a] < touches.time[b];
  });
  std::vector<int64_t> who(touches.n), when(touches.n);
  for (size_t i = 0; i < touches.n; ++i) {
    who[i] = touches.customer[order[i]];
    when[i] = touches.time[order[i]];
  }
  std::vector<int64_t> out(orders.n, -1);
  for (size_t j = 0; j < orders.n; ++j) {
    const int64_t c = orders.customer[j];
    const int64_t t = orders.time[j];
    const auto lo = std::lower_bound(who.begin(), who.end(), c) - who.begin();
    const auto hi = std::upper_bound(who.begin() + lo, who.end(), c) - who.begin();
    if (lo == hi) continue;
    const auto begin = when.begin() + lo, end = when.begin() + hi;
    // A window reaching before the epoch's range saturates rather than wraps.
    const int64_t from = t < INT64_MIN + window ? INT64_MIN : t - window;
    if (last) {
      const auto p = std::upper_bound(begin, end, t);  // past the touches at or before t
      if (p != begin && *(p - 1) >= from) out[j] = order[(p - 1) - when.begin()];
    } else {
      const auto p = std::lower_bound(begin, end, from);  // the first touch in the window
      if (p != end && *p <= t) out[j] = order[p - when.begin()];
    }
    if ((j & 0xFFF) == 0) cancel.tick(4096);
  }
  return out;
}

}  // namespace crmcore::marketing
