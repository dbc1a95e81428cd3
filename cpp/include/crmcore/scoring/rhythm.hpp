#pragma once
// Each customer's purchase rhythm (count, first and last purchase, the mean
// and the regularity of the gaps between purchases) and the churn risk it
// implies. Classification, lifecycle, loyalty and churn all start here.
#include <cstdint>
#include <optional>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::scoring {

struct Rhythm {
  std::vector<int64_t> customer;  // ascending
  std::vector<int64_t> purchases;
  std::vector<int64_t> first, last;  // ns
  std::vector<double> amount;
  std::vector<double> mean_gap;  // days between consecutive purchases; NaN with one purchase
  std::vector<double> cv_gap;    // std/mean of the gaps (population std); NaN with fewer than two gaps
};

// Transactions after as_of are ignored. amount may be null (all zero).
Rhythm purchase_rhythm(const int64_t* customer, const int64_t* date, const double* amount, size_t n,
                       std::optional<int64_t> as_of, Cancel& cancel);

// Regularized lower incomplete gamma P(shape, x/scale): the gamma CDF.
double gamma_cdf(double x, double shape, double scale);

// The probability that a customer still buying in their rhythm would have
// bought again within `silence` days: the CDF at the silence of a gamma
// distribution of gaps with the customer's mean and coefficient of
// variation. Few gaps say little, so mean and CV are shrunk towards the
// population's (prior_mean, prior_cv) as if the prior were prior_weight gaps;
// customers with one purchase get the prior alone.
std::vector<double> rhythm_risk(const double* silence, const double* mean_gap, const double* cv_gap,
                                const int64_t* purchases, size_t n, double prior_mean, double prior_cv,
                                double prior_weight);

}  // namespace crmcore::scoring
