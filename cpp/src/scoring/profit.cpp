#include "crmcore/scoring/profit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "crmcore/scoring/group.hpp"

namespace crmcore::scoring {

int64_t period_ordinal(int64_t ns, Period period) {
  // Floor division: instants before 1970 belong to earlier days.
  int64_t days = ns / kNsPerDay - ((ns % kNsPerDay) < 0 ? 1 : 0);
  // Civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  switch (period) {
    case Period::Year: return year - 1970;
    case Period::Quarter: return (year - 1970) * 4 + (month - 1) / 3;
    case Period::Month: return (year - 1970) * 12 + month - 1;
  }
  return 0;
}

ProfitPeriods profit_by_period(const int64_t* customer, const int64_t* date, const double* amount,
                               const double* cost, size_t n, Period period, Cancel& cancel,
                               std::optional<int64_t> last_period) {
  require_times(date, n, "transactions", "date");
  require_finite(amount, n, "transactions", "amount");
  require_finite(cost, n, "transactions", "cost");
  const Groups groups = group_keys(customer, n, cancel);
  std::vector<int64_t> ord(n);
  std::vector<int64_t> first(groups.size(), std::numeric_limits<int64_t>::max());
  int64_t latest = last_period ? *last_period : std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < n; ++i) {
    ord[i] = period_ordinal(date[i], period);
    first[groups.code[i]] = std::min(first[groups.code[i]], ord[i]);
    latest = std::max(latest, ord[i]);
    cancel.tick();
  }
  std::vector<size_t> start(groups.size() + 1, 0);
  for (size_t g = 0; g < groups.size(); ++g) start[g + 1] = start[g] + static_cast<size_t>(latest - first[g] + 1);
  ProfitPeriods out;
  const size_t rows = start.back();
  out.customer.resize(rows);
  out.period.resize(rows);
  out.orders.assign(rows, 0);
  // Compensated sums, as rfm and profit total the same amounts.
  std::vector<KahanSum> revenue(rows), cost_sum(rows);
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t r = start[g]; r < start[g + 1]; ++r) {
      out.customer[r] = groups.keys[g];
      out.period[r] = first[g] + static_cast<int64_t>(r - start[g]);
    }
  for (size_t i = 0; i < n; ++i) {
    const uint32_t g = groups.code[i];
    const size_t r = start[g] + static_cast<size_t>(ord[i] - first[g]);
    revenue[r].add(amount[i]);
    cost_sum[r].add(cost[i]);
    ++out.orders[r];
    cancel.tick();
  }
  out.revenue.resize(rows);
  out.cost.resize(rows);
  for (size_t r = 0; r < rows; ++r) out.revenue[r] = revenue[r].sum, out.cost[r] = cost_sum[r].sum;
  out.profit.resize(rows);
  out.change.resize(rows);
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t r = start[g]; r < start[g + 1]; ++r) {
      out.profit[r] = out.revenue[r] - out.cost[r];
      out.change[r] = r == start[g] ? std::numeric_limits<double>::quiet_NaN() : out.profit[r] - out.profit[r - 1];
    }
  return out;
}

ParetoClasses pareto_classes(const double* value, size_t n, const std::vector<double>& cutoffs) {
  for (size_t c = 0; c < cutoffs.size(); ++c)
    if (!(cutoffs[c] > 0 && cutoffs[c] <= 1) || (c && cutoffs[c] <= cutoffs[c - 1]))
      throw std::invalid_argument("cut-offs must be increasing shares in (0, 1]");
  // Shares do not change when every value is scaled by the same power of two
  // (an exact operation), so the positive values are summed scaled to at most
  // 1: a total of finite values beyond the double range (two of 1e308) must
  // not turn every share into 0. Values that are not finite (a customer's
  // total that itself overflowed) have no share of a finite total: they are
  // ranked (+inf first, -inf last, NaN after everything) but get no share
  // and no class, and the others' shares are of the finite total.
  double top = 0;
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(value[i]) && value[i] > top) top = value[i];
  const int exponent = top > 0 ? std::ilogb(top) + 1 : 0;
  auto scaled = [exponent](double v) { return std::ldexp(v, -exponent); };
  std::vector<double> neg(n);
  KahanSum total;
  for (size_t i = 0; i < n; ++i) {
    // NaN sorts after -inf (its negation is given the largest key).
    neg[i] = std::isnan(value[i]) ? std::numeric_limits<double>::infinity() : -value[i];
    if (std::isfinite(value[i]) && value[i] > 0) total.add(scaled(value[i]));
  }
  std::vector<uint32_t> order = stable_argsort(neg.data(), n);
  // NaN after -inf: stable_argsort put NaN (key +inf) among the -inf values.
  std::stable_partition(order.begin(), order.end(), [&](uint32_t i) { return !std::isnan(value[i]); });
  ParetoClasses out;
  out.cls.resize(n);
  out.rank.resize(n);
  out.share.resize(n);
  out.cum_share.resize(n);
  const int8_t last = static_cast<int8_t>(cutoffs.size());
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  KahanSum before;
  for (size_t p = 0; p < n; ++p) {
    const uint32_t i = order[p];
    out.rank[i] = static_cast<int64_t>(p + 1);
    if (!std::isfinite(value[i])) {
      out.cls[i] = -1;
      out.share[i] = out.cum_share[i] = kNaN;
      continue;
    }
    const double v = value[i] > 0 ? scaled(value[i]) : 0.0;
    out.share[i] = total.sum > 0 ? v / total.sum : 0.0;
    int8_t cls = last;
    if (v > 0) {
      const double share_before = before.sum / total.sum;
      cls = 0;
      // A tiny tolerance keeps an exact 0.8 from being read as 0.8000000001.
      while (cls < last && share_before >= cutoffs[cls] - 1e-12) ++cls;
    }
    out.cls[i] = cls;
    before.add(v);
    out.cum_share[i] = total.sum > 0 ? before.sum / total.sum : 0.0;
  }
  return out;
}

}  // namespace crmcore::scoring
