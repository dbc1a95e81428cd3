#include "crmcore/scoring/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "crmcore/scoring/group.hpp"

namespace crmcore::scoring {

GroupStats group_stats(const int64_t* key, size_t n, const std::vector<const double*>& columns,
                       bool medians, Cancel& cancel) {
  const Groups groups = group_keys(key, n, cancel);
  GroupStats out;
  out.key = groups.keys;
  out.rows.assign(groups.size(), 0);
  for (uint32_t c : groups.code) ++out.rows[c];
  for (const double* col : columns) {
    std::vector<int64_t> count(groups.size(), 0);
    std::vector<KahanSum> acc(groups.size());
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(col[i])) continue;
      ++count[groups.code[i]];
      acc[groups.code[i]].add(col[i]);
      cancel.tick();
    }
    std::vector<double> sum(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) sum[g] = acc[g].sum;
    out.count.push_back(std::move(count));
    out.sum.push_back(std::move(sum));
  }
  if (!medians) return out;
  const GroupedRows grouped = rows_by_group(groups);
  std::vector<double> values;
  for (const double* col : columns) {
    std::vector<double> median(groups.size(), std::numeric_limits<double>::quiet_NaN());
    for (size_t g = 0; g < groups.size(); ++g) {
      values.clear();
      for (size_t r = grouped.start[g]; r < grouped.start[g + 1]; ++r)
        if (!std::isnan(col[grouped.row[r]])) values.push_back(col[grouped.row[r]]);
      if (values.empty()) continue;
      const size_t mid = values.size() / 2;
      std::nth_element(values.begin(), values.begin() + mid, values.end());
      double m = values[mid];
      if (values.size() % 2 == 0) m = (m + *std::max_element(values.begin(), values.begin() + mid)) / 2;
      median[g] = m;
      cancel.tick(values.size());
    }
    out.median.push_back(std::move(median));
  }
  return out;
}

}  // namespace crmcore::scoring
