#pragma once
// Orders credited to campaign touches over columns: each order goes to its
// customer's latest (or earliest) touch at or before it and no more than a
// window before it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::marketing {

struct TimedRows {
  const int64_t* customer = nullptr;
  const int64_t* time = nullptr;  // ns since the epoch
  size_t n = 0;
};

// Per order, the row of the credited touch, or -1. `last`: the latest touch
// with order - window <= touch <= order (among touches at the same time,
// the later row); otherwise the earliest such touch (the earlier row).
// Throws std::invalid_argument for a negative window.
std::vector<int64_t> attribute_orders(const TimedRows& orders, const TimedRows& touches, int64_t window,
                                      bool last, Cancel& cancel);

}  // namespace crmcore::marketing
