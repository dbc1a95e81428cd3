#include "crmcore/automation/members.hpp"

#include <algorithm>
#include <deque>
#include <numeric>
#include <stdexcept>
#include <string>

namespace crmcore::automation {

namespace {

void check_member(int64_t m, int64_t members, size_t row) {
  if (m < 0 || m >= members)
    throw std::out_of_range("row " + std::to_string(row) + " names member " + std::to_string(m) + " of " +
                            std::to_string(members));
}

}  // namespace

std::vector<double> points_balance(const int64_t* member, const int64_t* at, const double* points, size_t n,
                                   int64_t members, int64_t as_of) {
  std::vector<double> out(static_cast<size_t>(members), 0.0);
  for (size_t i = 0; i < n; ++i) {
    check_member(member[i], members, i);
    if (at[i] <= as_of) out[static_cast<size_t>(member[i])] += points[i];
  }
  return out;
}

std::vector<double> points_expiring(const int64_t* member, const int64_t* at, const double* points,
                                    const int64_t* expires_at, size_t n, int64_t members, int64_t as_of) {
  // Rows by member, then date; at one time earnings come before spending.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t i = 0; i < n; ++i) check_member(member[i], members, i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (member[a] != member[b]) return member[a] < member[b];
    if (at[a] != at[b]) return at[a] < at[b];
    if ((points[a] >= 0) != (points[b] >= 0)) return points[a] >= 0;
    return a < b;
  });
  std::vector<double> out(static_cast<size_t>(members), 0.0);
  struct Lot {
    double left;
    int64_t expires;
  };
  std::deque<Lot> lots;
  for (size_t begin = 0; begin < n;) {
    const int64_t m = member[order[begin]];
    size_t end = begin;
    while (end < n && member[order[end]] == m) ++end;
    lots.clear();
    for (size_t j = begin; j < end; ++j) {
      const size_t i = order[j];
      if (at[i] > as_of) break;
      if (points[i] > 0) {
        lots.push_back({points[i], expires_at[i]});
        continue;
      }
      double use = -points[i];
      while (use > 0 && !lots.empty()) {
        const double take = std::min(use, lots.front().left);
        lots.front().left -= take;
        use -= take;
        if (lots.front().left <= 0) lots.pop_front();
      }
    }
    double lost = 0;
    for (const auto& lot : lots)
      if (lot.expires <= as_of) lost += lot.left;
    out[static_cast<size_t>(m)] = lost;
    begin = end;
  }
  return out;
}

std::vector<int32_t> tier_of(const double* values, size_t n, const double* thresholds, size_t tiers) {
  for (size_t t = 1; t < tiers; ++t)
    if (thresholds[t] < thresholds[t - 1]) throw std::invalid_argument("tier thresholds must be ascending");
  std::vector<int32_t> out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<int32_t>(std::upper_bound(thresholds, thresholds + tiers, values[i]) - thresholds) - 1;
  return out;
}

}  // namespace crmcore::automation
