// Per-customer summary of a transaction log (the input of the lifetime-value
// models): a counting sort by customer code, then a small sort of each
// customer's period starts, instead of a hash group-by over (customer, period).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "crmcore/scoring/clv.hpp"

namespace crmcore::scoring::clv {

std::vector<int64_t> floor_to_period(const std::vector<int64_t>& ns, int64_t period_ns, int64_t offset_ns) {
  if (period_ns <= 0) throw std::invalid_argument("period length must be positive");
  std::vector<int64_t> out(ns.size());
  const int64_t nat = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < ns.size(); ++i) {
    if (ns[i] == nat) {
      out[i] = nat;
      continue;
    }
    // Floor division that rounds toward -inf for dates before the epoch.
    const int64_t shifted = ns[i] - offset_ns;
    int64_t q = shifted / period_ns;
    if (shifted % period_ns < 0) --q;
    out[i] = q * period_ns + offset_ns;
  }
  return out;
}

PeriodSummary summarize_periods(const int64_t* codes, const int64_t* period_start, const double* spend, size_t n,
                                int64_t n_customers, int64_t observation_end, Cancel* cancel) {
  if (n_customers < 0) throw std::invalid_argument("n_customers must be non-negative");
  const int64_t nat = std::numeric_limits<int64_t>::min();
  const size_t K = static_cast<size_t>(n_customers);
  std::vector<size_t> offset(K + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    if (codes[i] < 0 || codes[i] >= n_customers) throw std::invalid_argument("customer code out of range");
    if (period_start[i] != nat && period_start[i] <= observation_end) ++offset[static_cast<size_t>(codes[i]) + 1];
  }
  for (size_t k = 0; k < K; ++k) offset[k + 1] += offset[k];
  std::vector<std::pair<int64_t, double>> rows(offset[K]);
  {
    std::vector<size_t> fill(offset.begin(), offset.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      if (period_start[i] == nat || period_start[i] > observation_end) continue;
      rows[fill[static_cast<size_t>(codes[i])]++] = {period_start[i], spend ? spend[i] : 0.0};
    }
  }
  PeriodSummary out;
  out.first.assign(K, 0);
  out.last.assign(K, 0);
  out.n_periods.assign(K, 0);
  out.spend_all.assign(K, 0.0);
  out.spend_repeat.assign(K, 0.0);
  for (size_t k = 0; k < K; ++k) {
    auto lo = rows.begin() + static_cast<std::ptrdiff_t>(offset[k]);
    auto hi = rows.begin() + static_cast<std::ptrdiff_t>(offset[k + 1]);
    if (lo == hi) continue;
    std::sort(lo, hi, [](const auto& a, const auto& b) { return a.first < b.first; });
    out.first[k] = lo->first;
    out.last[k] = (hi - 1)->first;
    int64_t periods = 0;
    double all = 0;
    for (auto it = lo; it != hi; ++it) {
      if (it == lo || it->first != (it - 1)->first) ++periods;
      all += it->second;
    }
    out.n_periods[k] = periods;
    out.spend_all[k] = all;
    // Summed directly (not all - first) so that the repeat spend keeps its digits.
    double repeat = 0;
    for (auto it = lo; it != hi; ++it)
      if (it->first != lo->first) repeat += it->second;
    out.spend_repeat[k] = repeat;
    if (cancel) cancel->tick(static_cast<uint64_t>(hi - lo));
  }
  return out;
}

}  // namespace crmcore::scoring::clv
