#pragma once
// Per-group count, sum and median of several value columns at once (NaN =
// missing, skipped), for the many small per-customer summaries: ticket
// times, survey scores, product and staff profit.
#include <cstdint>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::scoring {

struct GroupStats {
  std::vector<int64_t> key;   // ascending
  std::vector<int64_t> rows;  // rows per group, missing values included
  std::vector<std::vector<int64_t>> count;  // [column][group], non-missing values
  std::vector<std::vector<double>> sum;
  std::vector<std::vector<double>> median;  // empty unless asked; NaN for a group without values
};

GroupStats group_stats(const int64_t* key, size_t n, const std::vector<const double*>& columns,
                       bool medians, Cancel& cancel);

}  // namespace crmcore::scoring
