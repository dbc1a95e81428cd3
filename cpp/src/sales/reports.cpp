#include "crmcore/sales/reports.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "crmcore/scoring/group.hpp"
#include "crmcore/scoring/profit.hpp"

namespace crmcore::sales {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_code(const char* what, size_t row, int64_t code, int64_t n, bool allow_missing) {
  if ((code < 0 && !(allow_missing && code == -1)) || code >= n)
    throw std::invalid_argument(std::string(what) + ": row " + std::to_string(row) + " has code " +
                                std::to_string(code) + ", outside [0, " + std::to_string(n) + ")");
}

// The row and target keys of period_sums and month_sums: codes in [0, keys) or -1.
void check_sums_input(const std::string& what, const int64_t* key, size_t rows, int64_t keys,
                      const int64_t* target_key, size_t targets) {
  if (keys < 0) throw std::invalid_argument(what + ": negative number of keys");
  for (size_t i = 0; i < rows; ++i) check_code(what.c_str(), i, key[i], keys, true);
  const std::string of_target = what + ": target";
  for (size_t t = 0; t < targets; ++t) check_code(of_target.c_str(), t, target_key[t], keys, true);
}

// Row positions grouped by code, codes ascending, input order kept within a
// code: a counting sort, linear in rows.
std::vector<size_t> by_code(const int64_t* code, size_t rows, int64_t n, std::vector<size_t>& start) {
  start.assign(static_cast<size_t>(n) + 1, 0);
  for (size_t i = 0; i < rows; ++i)
    if (code[i] >= 0) ++start[static_cast<size_t>(code[i]) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<size_t> order(start.back());
  std::vector<size_t> next(start.begin(), start.end() - 1);
  for (size_t i = 0; i < rows; ++i)
    if (code[i] >= 0) order[next[static_cast<size_t>(code[i])]++] = i;
  return order;
}

// The calendar month of a time in nanoseconds (months since January 1970,
// scoring's period ordinal), and whether the time is that month's first
// instant (the nanosecond before it lies in an earlier month).
struct Month {
  int64_t index;
  bool first_instant;
};

Month month_of(int64_t ns) {
  const int64_t month = scoring::period_ordinal(ns, scoring::Period::Month);
  return {month, scoring::period_ordinal(ns - 1, scoring::Period::Month) < month};
}

// period_sums when every target spans whole calendar months (a year, a
// quarter, a month: what targets are): sums per key and month in a dense
// grid, one pass over the rows, then running totals along each key's
// months. Empty when the targets are not month-aligned or the grid would be
// much larger than the rows (the caller then sorts instead).
// Sums per key and month in a dense grid, one pass over the rows, then
// running totals along each key's months; each target [from, to) in months
// is two reads. Empty when the grid would be much larger than the rows.
std::vector<double> grid_sums(const int64_t* key, const int64_t* month, const double* value, size_t rows,
                              int64_t keys, const int64_t* target_key, const int64_t* from, const int64_t* to,
                              size_t targets) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = kNone;
  for (size_t i = 0; i < rows; ++i) {
    if (key[i] < 0 || month[i] == kNone || std::isnan(value[i])) continue;
    lo = std::min(lo, month[i]), hi = std::max(hi, month[i]);
  }
  std::vector<double> sums(targets, 0.0);
  if (hi == kNone) return sums;  // nothing counts
  const int64_t width = hi - lo + 2;  // one column more: the running total before the first month
  if (keys * width > 4 * static_cast<int64_t>(rows) + 1000000) return {};
  std::vector<double> grid(static_cast<size_t>(keys * width), 0.0);
  for (size_t i = 0; i < rows; ++i)
    if (key[i] >= 0 && month[i] != kNone && !std::isnan(value[i]))
      grid[static_cast<size_t>(key[i] * width + month[i] - lo + 1)] += value[i];
  for (int64_t k = 0; k < keys; ++k)
    for (int64_t m = 1; m < width; ++m)
      grid[static_cast<size_t>(k * width + m)] += grid[static_cast<size_t>(k * width + m - 1)];
  // The running total up to (not including) month m of key k.
  auto before = [&](int64_t k, int64_t m) {
    const int64_t col = std::clamp<int64_t>(m - lo, 0, width - 1);
    return grid[static_cast<size_t>(k * width + col)];
  };
  for (size_t t = 0; t < targets; ++t)
    if (target_key[t] >= 0 && to[t] > from[t]) sums[t] = before(target_key[t], to[t]) - before(target_key[t], from[t]);
  return sums;
}

// period_sums when every target spans whole calendar months (a year, a
// quarter, a month: what targets are): each row's month, then grid_sums.
// Empty when the targets are not month-aligned or the grid is too large.
std::vector<double> month_grid_sums(const int64_t* key, const int64_t* at, const double* value, size_t rows,
                                    int64_t keys, const int64_t* target_key, const int64_t* start,
                                    const int64_t* end, size_t targets) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  std::vector<int64_t> from(targets), to(targets);
  for (size_t t = 0; t < targets; ++t) {
    const Month a = month_of(start[t]), b = month_of(end[t]);
    if (!a.first_instant || !b.first_instant) return {};
    from[t] = a.index, to[t] = b.index;
  }
  std::vector<int64_t> month(rows, kNone);
  for (size_t i = 0; i < rows; ++i)
    if (key[i] >= 0 && at[i] != kNone && !std::isnan(value[i]))
      month[i] = scoring::period_ordinal(at[i], scoring::Period::Month);  // the index alone: half month_of's work
  return grid_sums(key, month.data(), value, rows, keys, target_key, from.data(), to.data(), targets);
}

// period_sums by sorting: rows grouped by key (a counting sort), each
// group's (time, value) pairs sorted with running totals, and each target
// two binary searches in its group. Any times; linear in memory.
std::vector<double> sorted_sums(const int64_t* key, const int64_t* at, const double* value, size_t rows,
                                int64_t keys, const int64_t* target_key, const int64_t* start, const int64_t* end,
                                size_t targets);

}  // namespace

std::vector<double> stage_days(const int64_t* deal, const int64_t* at, const uint8_t* terminal, size_t rows,
                               int64_t deals, int64_t as_of) {
  if (deals < 0) throw std::invalid_argument("stage_days: negative number of deals");
  for (size_t i = 0; i < rows; ++i) check_code("stage_days", i, deal[i], deals, false);
  std::vector<size_t> start;
  std::vector<size_t> order = by_code(deal, rows, deals, start);
  std::vector<double> days(rows, kNaN);
  for (int64_t d = 0; d < deals; ++d) {
    auto first = order.begin() + static_cast<std::ptrdiff_t>(start[static_cast<size_t>(d)]);
    auto last = order.begin() + static_cast<std::ptrdiff_t>(start[static_cast<size_t>(d) + 1]);
    // Stable: two changes at one instant keep the order they were written in.
    std::stable_sort(first, last, [&](size_t a, size_t b) { return at[a] < at[b]; });
    for (auto it = first; it != last; ++it) {
      if (at[*it] > as_of || terminal[*it]) continue;
      int64_t end = (it + 1 != last && at[*(it + 1)] <= as_of) ? at[*(it + 1)] : as_of;
      days[*it] = scoring::days_between(end, at[*it]);
    }
  }
  return days;
}

std::vector<double> days_late(const int64_t* expected, const uint8_t* open, size_t rows, int64_t as_of) {
  std::vector<double> late(rows, kNaN);
  for (size_t i = 0; i < rows; ++i)
    if (open[i] && expected[i] < as_of) late[i] = scoring::days_between(as_of, expected[i]);
  return late;
}

std::vector<int64_t> first_at(const int64_t* deal, const int64_t* at, size_t rows, int64_t deals) {
  if (deals < 0) throw std::invalid_argument("first_at: negative number of deals");
  std::vector<int64_t> first(static_cast<size_t>(deals), std::numeric_limits<int64_t>::min());
  for (size_t i = 0; i < rows; ++i) {
    check_code("first_at", i, deal[i], deals, false);
    int64_t& f = first[static_cast<size_t>(deal[i])];
    if (f == std::numeric_limits<int64_t>::min() || at[i] < f) f = at[i];
  }
  return first;
}

Outcomes win_loss(const int64_t* group, const int8_t* outcome, size_t rows, int64_t groups) {
  if (groups < 0) throw std::invalid_argument("win_loss: negative number of groups");
  const size_t n = static_cast<size_t>(groups);
  Outcomes out{std::vector<int64_t>(n, 0), std::vector<int64_t>(n, 0)};
  for (size_t i = 0; i < rows; ++i) {
    check_code("win_loss", i, group[i], groups, true);
    if (group[i] < 0) continue;
    if (outcome[i] == 1) ++out.won[static_cast<size_t>(group[i])];
    else if (outcome[i] == 0) ++out.lost[static_cast<size_t>(group[i])];
  }
  return out;
}

Forecast forecast(const int64_t* group, const double* amount, const double* probability, const int8_t* category,
                  size_t rows, int64_t groups, double commit, double best_case) {
  if (groups < 0) throw std::invalid_argument("forecast: negative number of groups");
  size_t n = static_cast<size_t>(groups);
  Forecast out{std::vector<int64_t>(n, 0), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0),
               std::vector<double>(n, 0.0), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  for (size_t i = 0; i < rows; ++i) {
    check_code("forecast", i, group[i], groups, true);
    if (group[i] < 0) continue;
    size_t g = static_cast<size_t>(group[i]);
    double a = std::isnan(amount[i]) ? 0.0 : amount[i];
    if (category[i] == 1) {
      out.won[g] += a;
    } else if (category[i] == 0) {
      double p = probability[i];
      ++out.open_deals[g];
      out.pipeline[g] += a;
      if (!std::isnan(p)) out.weighted[g] += a * p;
      if (p >= commit) out.commit[g] += a;  // NaN compares false: an unknown chance is not commit
      if (p >= best_case) out.best_case[g] += a;
    }
  }
  return out;
}

std::vector<double> period_sums(const int64_t* key, const int64_t* at, const double* value, size_t rows,
                                int64_t keys, const int64_t* target_key, const int64_t* start, const int64_t* end,
                                size_t targets) {
  check_sums_input("period_sums", key, rows, keys, target_key, targets);
  if (targets == 0) return {};
  if (std::vector<double> by_month = month_grid_sums(key, at, value, rows, keys, target_key, start, end, targets);
      !by_month.empty())
    return by_month;
  return sorted_sums(key, at, value, rows, keys, target_key, start, end, targets);
}

std::vector<double> month_sums(const int64_t* key, const int64_t* month, const double* value, size_t rows,
                               int64_t keys, const int64_t* target_key, const int64_t* from, const int64_t* to,
                               size_t targets) {
  check_sums_input("month_sums", key, rows, keys, target_key, targets);
  if (targets == 0) return {};
  if (std::vector<double> grid = grid_sums(key, month, value, rows, keys, target_key, from, to, targets);
      !grid.empty())
    return grid;
  return sorted_sums(key, month, value, rows, keys, target_key, from, to, targets);
}

namespace {

std::vector<double> sorted_sums(const int64_t* key, const int64_t* at, const double* value, size_t rows,
                                int64_t keys, const int64_t* target_key, const int64_t* start, const int64_t* end,
                                size_t targets) {
  std::vector<size_t> first;
  const std::vector<size_t> order = by_code(key, rows, keys, first);
  // Each key's (time, value) pairs copied out contiguously and sorted by
  // time there: sorting row indices through at[] instead cost a cache miss
  // per comparison (three times slower on a million rows).
  std::vector<std::pair<int64_t, double>> pairs(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t r = order[i];
    const bool counts = at[r] != std::numeric_limits<int64_t>::min() && !std::isnan(value[r]);
    pairs[i] = {at[r], counts ? value[r] : 0.0};
  }
  for (int64_t k = 0; k < keys; ++k) {
    auto a = pairs.begin() + static_cast<std::ptrdiff_t>(first[static_cast<size_t>(k)]);
    auto b = pairs.begin() + static_cast<std::ptrdiff_t>(first[static_cast<size_t>(k) + 1]);
    std::sort(a, b, [](const auto& x, const auto& y) { return x.first < y.first; });
  }
  std::vector<int64_t> times(pairs.size());
  std::vector<double> total(pairs.size() + 1, 0.0);
  for (size_t i = 0; i < pairs.size(); ++i) {
    times[i] = pairs[i].first;
    total[i + 1] = total[i] + pairs[i].second;
  }
  std::vector<double> sums(targets, 0.0);
  for (size_t t = 0; t < targets; ++t) {
    if (target_key[t] < 0 || end[t] <= start[t]) continue;
    auto a = times.begin() + static_cast<std::ptrdiff_t>(first[static_cast<size_t>(target_key[t])]);
    auto b = times.begin() + static_cast<std::ptrdiff_t>(first[static_cast<size_t>(target_key[t]) + 1]);
    // A row at INT64_MIN sorts first and lies before any start.
    const auto from = std::lower_bound(a, b, start[t]) - times.begin();
    const auto to = std::lower_bound(a, b, end[t]) - times.begin();
    sums[t] = total[static_cast<size_t>(to)] - total[static_cast<size_t>(from)];
  }
  return sums;
}

}  // namespace

std::vector<int64_t> months(const int64_t* at, size_t rows) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  constexpr int64_t kDay = 86400LL * 1000000000LL;
  std::vector<int64_t> out(rows, kNone);
  // Days first (a floor division), then each day's month from a table over
  // the days in use: events span a few years, so the calendar arithmetic is
  // done once per day instead of once per row.
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = kNone;
  for (size_t i = 0; i < rows; ++i) {
    if (at[i] == kNone) continue;
    const int64_t day = at[i] / kDay - (at[i] % kDay < 0 ? 1 : 0);
    out[i] = day;
    lo = std::min(lo, day), hi = std::max(hi, day);
  }
  if (hi == kNone) return out;
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  const bool table = span <= static_cast<uint64_t>(rows) + 4096;
  std::vector<int64_t> month_of_day;
  if (table) {
    month_of_day.resize(static_cast<size_t>(span));
    for (uint64_t d = 0; d < span; ++d)
      month_of_day[d] = scoring::period_ordinal((lo + static_cast<int64_t>(d)) * kDay, scoring::Period::Month);
  }
  for (size_t i = 0; i < rows; ++i) {
    if (at[i] == kNone) continue;
    out[i] = table ? month_of_day[static_cast<size_t>(out[i] - lo)]
                   : scoring::period_ordinal(at[i], scoring::Period::Month);
  }
  return out;
}

}  // namespace crmcore::sales
