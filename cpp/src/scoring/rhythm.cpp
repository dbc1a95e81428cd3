#include "crmcore/scoring/rhythm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "crmcore/scoring/group.hpp"

namespace crmcore::scoring {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

Rhythm purchase_rhythm(const int64_t* customer, const int64_t* date, const double* amount, size_t n,
                       std::optional<int64_t> as_of, Cancel& cancel) {
  require_times(date, n, "transactions", "date");
  if (amount) require_finite(amount, n, "transactions", "amount");
  const Groups groups = group_keys(customer, n, cancel);
  const GroupedRows grouped = rows_by_group(groups);
  const int64_t cutoff = as_of ? *as_of : std::numeric_limits<int64_t>::max();
  Rhythm out;
  std::vector<int64_t> t;
  for (size_t g = 0; g < groups.size(); ++g) {
    t.clear();
    KahanSum spent;  // the same compensated total as rfm and profit
    for (size_t r = grouped.start[g]; r < grouped.start[g + 1]; ++r) {
      const uint32_t i = grouped.row[r];
      if (date[i] > cutoff) continue;
      t.push_back(date[i]);
      if (amount) spent.add(amount[i]);
    }
    if (t.empty()) continue;
    if (!std::is_sorted(t.begin(), t.end())) std::sort(t.begin(), t.end());
    const size_t k = t.size();
    double mean = kNaN, cv = kNaN;
    if (k >= 2) {
      mean = days_between(t.back(), t.front()) / static_cast<double>(k - 1);
      if (k >= 3 && mean > 0) {
        double ss = 0;
        for (size_t j = 1; j < k; ++j) {
          const double d = days_between(t[j], t[j - 1]) - mean;
          ss += d * d;
        }
        cv = std::sqrt(ss / static_cast<double>(k - 1)) / mean;
      }
    }
    out.customer.push_back(groups.keys[g]);
    out.purchases.push_back(static_cast<int64_t>(k));
    out.first.push_back(t.front());
    out.last.push_back(t.back());
    out.amount.push_back(spent.sum);
    out.mean_gap.push_back(mean);
    out.cv_gap.push_back(cv);
    cancel.tick(k);
  }
  return out;
}

double gamma_cdf(double x, double shape, double scale) {
  if (!(shape > 0) || !(scale > 0)) throw std::invalid_argument("gamma shape and scale must be positive");
  if (std::isnan(x)) return kNaN;
  if (x <= 0) return 0.0;
  if (std::isinf(x)) return 1.0;
  const double z = x / scale, a = shape;
  const double log_front = -z + a * std::log(z) - std::lgamma(a);
  if (z < a + 1) {
    // Power series of the lower function; converges fast below the mode.
    double term = 1.0 / a, sum = term;
    for (int k = 1; k < 10000; ++k) {
      term *= z / (a + k);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-16) break;
    }
    return std::min(1.0, sum * std::exp(log_front));
  }
  // Continued fraction of the upper function (modified Lentz).
  const double tiny = 1e-300;
  double b = z + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int k = 1; k < 10000; ++k) {
    const double an = -k * (k - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return std::max(0.0, 1.0 - std::exp(log_front) * h);
}

std::vector<double> rhythm_risk(const double* silence, const double* mean_gap, const double* cv_gap,
                                const int64_t* purchases, size_t n, double prior_mean, double prior_cv,
                                double prior_weight) {
  if (!(prior_mean > 0) || !(prior_cv > 0) || !(prior_weight >= 0))
    throw std::invalid_argument("the prior mean gap and CV must be positive, its weight non-negative");
  std::vector<double> risk(n);
  const double prior_cv2 = prior_cv * prior_cv;
  for (size_t i = 0; i < n; ++i) {
    const double gaps = purchases[i] > 1 ? static_cast<double>(purchases[i] - 1) : 0.0;
    const double mean = gaps > 0 && mean_gap[i] > 0
                            ? (gaps * mean_gap[i] + prior_weight * prior_mean) / (gaps + prior_weight)
                            : prior_mean;
    const double cv_n = std::isnan(cv_gap[i]) ? 0.0 : gaps;
    const double cv2 = cv_n > 0 ? (cv_n * cv_gap[i] * cv_gap[i] + prior_weight * prior_cv2) / (cv_n + prior_weight)
                                : prior_cv2;
    // A near-zero CV would make the distribution a step; cap the shape.
    const double shape = std::min(1.0 / std::max(cv2, 1e-12), 400.0);
    risk[i] = gamma_cdf(silence[i], shape, mean / shape);
  }
  return risk;
}

}  // namespace crmcore::scoring
