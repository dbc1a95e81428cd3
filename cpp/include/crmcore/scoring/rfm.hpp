#pragma once
// RFM: recency, frequency and monetary value per customer, and their 1..bins
// quantile scores.
#include <cstdint>
#include <optional>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::scoring {

// How equal values are scored. Customers are first ranked by value (worst
// first), equal values by ascending customer id; score = the qcut bin of that
// rank, i.e. max(1, ceil((rank-1) * bins / (n-1))) for ranks 1..n, exactly
// pandas' qcut(values.rank(method="first"), bins). With Min, every customer
// of a run of equal values gets the score of the run's first member, so equal
// values always share a score. NaN (no order) ranks worst.
enum class Ties { First, Min };

std::vector<int8_t> quantile_scores(const double* value, size_t n, int bins, bool higher_is_better,
                                    Ties ties);

struct Rfm {
  std::vector<int64_t> customer;  // ascending
  std::vector<int64_t> last;      // ns of the last purchase
  std::vector<double> recency;    // days from last purchase to as_of
  std::vector<int64_t> frequency;
  std::vector<double> monetary;
  std::vector<int8_t> r_score, f_score, m_score;
  int64_t as_of = 0;
};

// Transactions after as_of are ignored; without as_of it is one day after the
// latest transaction, so the most recent buyers have recency 1, not 0.
Rfm rfm(const int64_t* customer, const int64_t* date, const double* amount, size_t n,
        std::optional<int64_t> as_of, int bins, Ties ties, Cancel& cancel);

}  // namespace crmcore::scoring
