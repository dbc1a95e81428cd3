// Scoring kernels on tiny inputs whose answers are worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "crmcore/errors.hpp"
#include "crmcore/scoring/affinity.hpp"
#include "crmcore/scoring/group.hpp"
#include "crmcore/scoring/profit.hpp"
#include "crmcore/scoring/rfm.hpp"
#include "crmcore/scoring/rhythm.hpp"
#include "crmcore/scoring/stats.hpp"

using namespace crmcore;
using namespace crmcore::scoring;

namespace {
constexpr int64_t D = kNsPerDay;
}

TEST(ScoringGroups, DenseAndHashedIdsGiveAscendingCodes) {
  Cancel cancel;
  const std::vector<int64_t> dense{5, 3, 5, 9};
  Groups g = group_keys(dense.data(), dense.size(), cancel);
  EXPECT_EQ(g.keys, (std::vector<int64_t>{3, 5, 9}));
  EXPECT_EQ(g.code, (std::vector<uint32_t>{1, 0, 1, 2}));
  const std::vector<int64_t> sparse{INT64_MAX, -4, 1LL << 50, -4};
  g = group_keys(sparse.data(), sparse.size(), cancel);
  EXPECT_EQ(g.keys, (std::vector<int64_t>{-4, 1LL << 50, INT64_MAX}));
  EXPECT_EQ(g.code, (std::vector<uint32_t>{2, 0, 1, 0}));
}

TEST(ScoringGroups, StableArgsortKeepsTiesInInputOrder) {
  const std::vector<double> v{2.0, -1.0, 2.0, 0.0, -0.0};
  EXPECT_EQ(stable_argsort(v.data(), v.size()), (std::vector<uint32_t>{1, 3, 4, 0, 2}));
}

TEST(ScoringRfm, QuantileScoresAreQcutOfTheRank) {
  // Ten distinct values: two per bin.
  std::vector<double> v{10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  auto s = quantile_scores(v.data(), v.size(), 5, true, Ties::First);
  EXPECT_EQ(s, (std::vector<int8_t>{5, 5, 4, 4, 3, 3, 2, 2, 1, 1}));
  // Seven values: qcut's edges 1, 2.2, 3.4, 4.6, 5.8, 7 put ranks 1-2, 3, 4, 5, 6-7 in bins 1..5.
  std::vector<double> seven{1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(quantile_scores(seven.data(), 7, 5, true, Ties::First), (std::vector<int8_t>{1, 1, 2, 3, 4, 5, 5}));
  // Ties: first splits equal values by position, min gives them the lowest score of the run.
  std::vector<double> tied{1, 1, 1, 1, 2};
  EXPECT_EQ(quantile_scores(tied.data(), 5, 5, true, Ties::First), (std::vector<int8_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(quantile_scores(tied.data(), 5, 5, true, Ties::Min), (std::vector<int8_t>{1, 1, 1, 1, 5}));
  EXPECT_EQ(quantile_scores(tied.data(), 5, 5, false, Ties::Min), (std::vector<int8_t>{2, 2, 2, 2, 1}));
}

TEST(ScoringRfm, RecencyFrequencyMonetary) {
  Cancel cancel;
  const std::vector<int64_t> cust{2, 1, 2, 3};
  const std::vector<int64_t> date{0, 5 * D, 3 * D, 9 * D};
  const std::vector<double> amount{10, 1, 5, 2};
  Rfm r = rfm(cust.data(), date.data(), amount.data(), 4, std::nullopt, 5, Ties::First, cancel);
  EXPECT_EQ(r.customer, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(r.as_of, 10 * D);
  EXPECT_EQ(r.recency, (std::vector<double>{5, 7, 1}));
  EXPECT_EQ(r.frequency, (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(r.monetary, (std::vector<double>{1, 15, 2}));
  EXPECT_EQ(r.r_score, (std::vector<int8_t>{3, 1, 5}));
  EXPECT_EQ(r.f_score, (std::vector<int8_t>{1, 5, 3}));
  // as_of before customer 3's only purchase drops them.
  r = rfm(cust.data(), date.data(), amount.data(), 4, 6 * D, 5, Ties::First, cancel);
  EXPECT_EQ(r.customer, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(r.recency, (std::vector<double>{1, 3}));
  // The default point is midnight after the latest purchase, also for a time of day (and before 1970).
  const std::vector<int64_t> noon{9 * D + D / 2, -3 * D + D / 2};
  r = rfm(cust.data(), noon.data(), amount.data(), 2, std::nullopt, 5, Ties::First, cancel);
  EXPECT_EQ(r.as_of, 10 * D);
  const std::vector<int64_t> before{-3 * D + D / 2, -5 * D};
  r = rfm(cust.data(), before.data(), amount.data(), 2, std::nullopt, 5, Ties::First, cancel);
  EXPECT_EQ(r.as_of, -2 * D);
}

TEST(ScoringRfm, MissingAmountNamesTheRow) {
  Cancel cancel;
  const std::vector<int64_t> cust{1, 2};
  const std::vector<int64_t> date{0, 0};
  const std::vector<double> amount{1, NAN};
  try {
    rfm(cust.data(), date.data(), amount.data(), 2, std::nullopt, 5, Ties::First, cancel);
    FAIL();
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.row(), 1);
    EXPECT_EQ(e.field(), "amount");
  }
}

TEST(ScoringProfit, PeriodOrdinalsFollowPandas) {
  const int64_t feb_2024 = 19754 * D;  // 2024-02-01
  EXPECT_EQ(period_ordinal(feb_2024, Period::Year), 54);
  EXPECT_EQ(period_ordinal(feb_2024, Period::Quarter), 216);
  EXPECT_EQ(period_ordinal(feb_2024, Period::Month), 649);
  EXPECT_EQ(period_ordinal(-1, Period::Month), -1);  // 1969-12-31 23:59:59.999999999
}

TEST(ScoringProfit, DensePeriodsWithChange) {
  Cancel cancel;
  const std::vector<int64_t> cust{1, 1, 2};
  const int64_t y2023 = 19358 * D, y2025 = 20089 * D;  // 2023-01-01, 2025-01-01
  const std::vector<int64_t> date{y2023, y2025, y2025};
  const std::vector<double> amount{10, 4, 3}, cost{4, 1, 1};
  ProfitPeriods p = profit_by_period(cust.data(), date.data(), amount.data(), cost.data(), 3, Period::Year, cancel);
  EXPECT_EQ(p.customer, (std::vector<int64_t>{1, 1, 1, 2}));
  EXPECT_EQ(p.period, (std::vector<int64_t>{53, 54, 55, 55}));
  EXPECT_EQ(p.profit, (std::vector<double>{6, 0, 3, 2}));
  EXPECT_TRUE(std::isnan(p.change[0]));
  EXPECT_EQ(p.change[1], -6);
  EXPECT_EQ(p.change[2], 3);
  EXPECT_TRUE(std::isnan(p.change[3]));
  // Through a later period (the period of as_of): silence shows as zero profit up to it.
  p = profit_by_period(cust.data(), date.data(), amount.data(), cost.data(), 3, Period::Year, cancel, 56);
  EXPECT_EQ(p.period, (std::vector<int64_t>{53, 54, 55, 56, 55, 56}));
  EXPECT_EQ(p.profit, (std::vector<double>{6, 0, 3, 0, 2, 0}));
  EXPECT_EQ(p.change[3], -3);
}

TEST(ScoringProfit, ParetoClassesIncludeTheCrossingItem) {
  // Shares 50%, 30%, 15%, 5%: A takes the first two (reaching 80%), B the third (95%), C the rest.
  const std::vector<double> v{15, 50, -3, 30, 5};
  ParetoClasses c = pareto_classes(v.data(), v.size(), {0.8, 0.95});
  EXPECT_EQ(c.cls, (std::vector<int8_t>{1, 0, 2, 0, 2}));
  EXPECT_EQ(c.rank, (std::vector<int64_t>{3, 1, 5, 2, 4}));
  EXPECT_DOUBLE_EQ(c.cum_share[0], 0.95);
}

// Totals beyond the double range (two amounts of 1e308) are inf, stay inf as
// more rows are added, and do not disturb anyone else's shares.
TEST(ScoringOverflow, SumsStayInfAndSharesStayFinite) {
  KahanSum s;
  for (int i = 0; i < 5; ++i) s.add(1e308);
  EXPECT_EQ(s.sum, INFINITY);  // the compensation used to turn the third addition into inf - inf = NaN
  KahanSum down;
  for (int i = 0; i < 5; ++i) down.add(-1e308);
  EXPECT_EQ(down.sum, -INFINITY);

  // Finite values whose positive total exceeds the double range: shares as for the same values / 1e308.
  const std::vector<double> big{1e308, 1e308, 1e307, -5.0};
  ParetoClasses c = pareto_classes(big.data(), big.size(), {0.8, 0.95});
  EXPECT_NEAR(c.share[0], 1.0 / 2.1, 1e-15);
  EXPECT_NEAR(c.share[2], 0.1 / 2.1, 1e-15);
  EXPECT_NEAR(c.cum_share[2], 1.0, 1e-15);
  EXPECT_EQ(c.cls, (std::vector<int8_t>{0, 0, 2, 2}));  // 1e307 comes after 95.2% of the total

  // Values that are not finite are ranked (+inf first, -inf last but before NaN) with no share or class;
  // the others' shares are of the finite total.
  const std::vector<double> v{30.0, NAN, INFINITY, 10.0, -INFINITY};
  c = pareto_classes(v.data(), v.size(), {0.8});
  EXPECT_EQ(c.rank, (std::vector<int64_t>{2, 5, 1, 3, 4}));
  EXPECT_EQ(c.cls, (std::vector<int8_t>{0, -1, -1, 0, -1}));  // 10 crosses 80%: still A
  EXPECT_DOUBLE_EQ(c.share[0], 0.75);
  EXPECT_DOUBLE_EQ(c.cum_share[3], 1.0);
  EXPECT_TRUE(std::isnan(c.share[1]) && std::isnan(c.share[2]) && std::isnan(c.cum_share[4]));

  // A NaN score input ranks worst; +inf best.
  const std::vector<double> m{NAN, 1.0, INFINITY, 2.0};
  EXPECT_EQ(quantile_scores(m.data(), m.size(), 4, true, Ties::First), (std::vector<int8_t>{1, 2, 4, 3}));
}

TEST(ScoringRhythm, GapsAndTheirRegularity) {
  Cancel cancel;
  const std::vector<int64_t> cust{1, 1, 1, 2};
  const std::vector<int64_t> date{30 * D, 0, 10 * D, 0};
  Rhythm r = purchase_rhythm(cust.data(), date.data(), nullptr, 4, std::nullopt, cancel);
  EXPECT_EQ(r.purchases, (std::vector<int64_t>{3, 1}));
  EXPECT_DOUBLE_EQ(r.mean_gap[0], 15.0);
  EXPECT_NEAR(r.cv_gap[0], 5.0 / 15.0, 1e-12);  // gaps 10 and 20
  EXPECT_TRUE(std::isnan(r.mean_gap[1]));
}

TEST(ScoringRhythm, GammaCdfKnownValues) {
  EXPECT_NEAR(gamma_cdf(2.0, 1.0, 1.0), 1 - std::exp(-2.0), 1e-14);  // exponential
  EXPECT_NEAR(gamma_cdf(3.0, 2.0, 1.0), 1 - 4 * std::exp(-3.0), 1e-14);  // Erlang-2
  EXPECT_NEAR(gamma_cdf(100.0, 100.0, 1.0), 0.5132987982791486, 1e-12);
  EXPECT_EQ(gamma_cdf(0.0, 2.0, 1.0), 0.0);
}

TEST(ScoringStats, CountsSumsMediansSkipMissing) {
  Cancel cancel;
  const std::vector<int64_t> key{4, 4, 4, 9, 4};
  const std::vector<double> v{1, 5, NAN, 2, 3};
  GroupStats s = group_stats(key.data(), 5, {v.data()}, true, cancel);
  EXPECT_EQ(s.key, (std::vector<int64_t>{4, 9}));
  EXPECT_EQ(s.rows, (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(s.count[0], (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(s.sum[0], (std::vector<double>{9, 2}));
  EXPECT_EQ(s.median[0], (std::vector<double>{3, 2}));
}

TEST(ScoringAffinity, ItemsetsAndRules) {
  Cancel cancel;
  // Baskets {1,2,3}, {1,2}, {1}, {2,3}; item 2 listed twice in the first.
  const std::vector<int64_t> basket{10, 10, 10, 10, 11, 11, 12, 13, 13};
  const std::vector<int64_t> item{1, 2, 3, 2, 1, 2, 1, 2, 3};
  Itemsets s = frequent_itemsets(basket.data(), item.data(), basket.size(), 0.5, 0, cancel);
  EXPECT_EQ(s.baskets, 4);
  EXPECT_EQ(s.offset, (std::vector<uint64_t>{0, 1, 2, 3, 5, 7}));
  EXPECT_EQ(s.item, (std::vector<int64_t>{1, 2, 3, 1, 2, 2, 3}));
  EXPECT_EQ(s.count, (std::vector<int64_t>{3, 3, 2, 2, 2}));
  Rules r = association_rules(s, 0.0, cancel);
  ASSERT_EQ(r.support.size(), 4u);
  // {1} -> {2}: support 2/4, confidence 2/3, lift (2/3) / (3/4).
  EXPECT_EQ(r.antecedent[0], 1);
  EXPECT_EQ(r.consequent[0], 2);
  EXPECT_DOUBLE_EQ(r.confidence[0], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.lift[0], (2.0 / 3.0) / 0.75);
  // {3} -> {2}: every basket with 3 has 2.
  EXPECT_EQ(r.antecedent[3], 3);
  EXPECT_DOUBLE_EQ(r.confidence[3], 1.0);
}

TEST(ScoringRfm, QuantileScoresMatchAFullSortOnRandomInputs) {
  // Reference: sort (value, position) and bin each rank with the qcut rule.
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t n = 1 + rng() % 3000;
    const int bins = 1 + static_cast<int>(rng() % 12);
    const int distinct = 1 + static_cast<int>(rng() % 50);  // few distinct values: many ties
    std::vector<double> v(n);
    for (auto& x : v) x = trial % 2 ? static_cast<double>(rng() % distinct) : std::ldexp(double(rng() % 1000000), -10);
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<int8_t> first(n), min(n);
    for (size_t p = 0; p < n; ++p) {
      const size_t k = n > 1 ? (p * bins + (n - 2)) / (n - 1) : 1;
      first[order[p]] = static_cast<int8_t>(std::max<size_t>(1, k));
    }
    for (size_t p = 0; p < n; ++p)
      min[order[p]] = p > 0 && v[order[p]] == v[order[p - 1]] ? min[order[p - 1]] : first[order[p]];
    ASSERT_EQ(quantile_scores(v.data(), n, bins, true, Ties::First), first) << "trial " << trial;
    ASSERT_EQ(quantile_scores(v.data(), n, bins, true, Ties::Min), min) << "trial " << trial;
  }
}
