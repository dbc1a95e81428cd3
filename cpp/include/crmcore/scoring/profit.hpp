#pragma once
// Profit contribution per customer and calendar period, and Pareto (ABC)
// classes over any per-customer value.
#include <cstdint>
#include <optional>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::scoring {

enum class Period { Year, Quarter, Month };

// The period's ordinal as pandas numbers it (Period("1970", "Y").ordinal == 0,
// months and quarters counted from January 1970), so Python can rebuild a
// PeriodIndex without parsing.
int64_t period_ordinal(int64_t ns, Period period);

struct ProfitPeriods {
  // Dense: every customer from the period of their first purchase to the
  // latest period in the data, so a period without purchases shows as zero
  // profit instead of silently vanishing from the change.
  std::vector<int64_t> customer, period, orders;
  std::vector<double> revenue, cost, profit;
  std::vector<double> change;  // profit minus the previous period's; NaN in the first period
};

// Rows run to the latest period in the data, or to last_period when that is
// later (the period of the analysis' as_of, so silence up to it shows).
ProfitPeriods profit_by_period(const int64_t* customer, const int64_t* date, const double* amount,
                               const double* cost, size_t n, Period period, Cancel& cancel,
                               std::optional<int64_t> last_period = std::nullopt);

struct ParetoClasses {
  std::vector<int8_t> cls;          // 0 = A, 1 = B, ...; non-positive values get the last class,
                                    // values that are not finite -1 (no class)
  std::vector<int64_t> rank;        // 1 = largest value; equal values by input order; NaN last
  std::vector<double> share;        // value / total of finite positive values; NaN if not finite
  std::vector<double> cum_share;    // share of this item and all ranked above it
};

// Items are ranked by value, largest first; an item belongs to the first
// class whose cut-off the cumulative share *before* it has not reached, so
// the item that crosses 80% still counts in A (A = the top items making 80%).
// A value that is not finite (a total that overflowed) is ranked but has no
// share or class; the shares of the others are of the finite values' total,
// which is summed without overflowing.
ParetoClasses pareto_classes(const double* value, size_t n, const std::vector<double>& cutoffs);

}  // namespace crmcore::scoring
