// Sales report kernels on tiny inputs whose answers are worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "crmcore/sales/funnel.hpp"
#include "crmcore/sales/reports.hpp"

using namespace crmcore::sales;

namespace {
constexpr int64_t D = 86400LL * 1000000000LL;
}

TEST(SalesStageDays, UntilTheNextRowOrAsOfAndNotInTerminalStages) {
  // Deal 0: lead day 0, won day 10 (given out of order). Deal 1: lead day 2,
  // proposal day 5, negotiation day 40 (after as_of = day 30).
  const std::vector<int64_t> deal{0, 1, 0, 1, 1};
  const std::vector<int64_t> at{10 * D, 2 * D, 0, 5 * D, 40 * D};
  const std::vector<uint8_t> terminal{1, 0, 0, 0, 0};
  std::vector<double> days = stage_days(deal.data(), at.data(), terminal.data(), deal.size(), 2, 30 * D);
  EXPECT_TRUE(std::isnan(days[0]));
  EXPECT_DOUBLE_EQ(days[1], 3);
  EXPECT_DOUBLE_EQ(days[2], 10);
  EXPECT_DOUBLE_EQ(days[3], 25);
  EXPECT_TRUE(std::isnan(days[4]));
  const std::vector<int64_t> bad{2};
  EXPECT_THROW(stage_days(bad.data(), at.data(), terminal.data(), 1, 2, 0), std::invalid_argument);
}

TEST(SalesStageDays, TwoChangesAtOneInstantKeepTheirOrder) {
  const std::vector<int64_t> deal{0, 0, 0};
  const std::vector<int64_t> at{0, 4 * D, 4 * D};
  const std::vector<uint8_t> terminal{0, 0, 0};
  std::vector<double> days = stage_days(deal.data(), at.data(), terminal.data(), 3, 1, 6 * D);
  EXPECT_EQ(days, (std::vector<double>{4, 0, 2}));
}

TEST(SalesReports, FirstAtWinLossAndDaysLate) {
  const std::vector<int64_t> deal{1, 0, 1};
  const std::vector<int64_t> at{7, 3, 5};
  EXPECT_EQ(first_at(deal.data(), at.data(), 3, 3), (std::vector<int64_t>{3, 5, INT64_MIN}));
  const std::vector<int64_t> group{0, 0, 1, -1, 1};
  const std::vector<int8_t> outcome{1, 0, -1, 1, 1};
  Outcomes o = win_loss(group.data(), outcome.data(), 5, 2);
  EXPECT_EQ(o.won, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(o.lost, (std::vector<int64_t>{1, 0}));
  const std::vector<int64_t> expected{2 * D, 9 * D, 1 * D};
  const std::vector<uint8_t> open{1, 1, 0};
  std::vector<double> late = days_late(expected.data(), open.data(), 3, 5 * D);
  EXPECT_DOUBLE_EQ(late[0], 3);
  EXPECT_TRUE(std::isnan(late[1]) && std::isnan(late[2]));
}

TEST(SalesReports, ForecastSplitsCommitBestCaseAndWon) {
  const std::vector<int64_t> group{0, 0, 0, 0, 1};
  const std::vector<double> amount{100, 50, NAN, 30, 20};
  const std::vector<double> prob{0.8, 0.5, 0.9, NAN, 1.0};
  const std::vector<int8_t> category{0, 0, 0, 0, 1};
  Forecast f = forecast(group.data(), amount.data(), prob.data(), category.data(), 5, 2, 0.75, 0.5);
  EXPECT_EQ(f.open_deals, (std::vector<int64_t>{4, 0}));
  EXPECT_EQ(f.pipeline, (std::vector<double>{180, 0}));
  EXPECT_EQ(f.weighted, (std::vector<double>{105, 0}));
  EXPECT_EQ(f.commit, (std::vector<double>{100, 0}));
  EXPECT_EQ(f.best_case, (std::vector<double>{150, 0}));
  EXPECT_EQ(f.won, (std::vector<double>{0, 20}));
}

TEST(SalesReports, PeriodSumsCountEachKeysRowsInsideTheirTargetsPeriod) {
  // Key 0: 5 on day 1, 7 on day 10, 11 on day 20 (given out of order), one
  // without a time; key 1: 3 on day 10 and a NaN; one row for no one (-1).
  const int64_t none = std::numeric_limits<int64_t>::min();
  const std::vector<int64_t> key{0, 1, 0, 0, -1, 0, 1};
  const std::vector<int64_t> at{20 * D, 10 * D, D, 10 * D, 10 * D, none, 12 * D};
  const std::vector<double> value{11, 3, 5, 7, 100, 50, std::nan("")};
  // [day 1, day 10): 5; [day 10, day 21): 7 + 11; all of key 1: 3; key -1 and an empty period: 0.
  const std::vector<int64_t> target{0, 0, 1, -1, 0};
  const std::vector<int64_t> start{D, 10 * D, 0, 0, 5 * D};
  const std::vector<int64_t> end{10 * D, 21 * D, 100 * D, 100 * D, 5 * D};
  EXPECT_EQ(period_sums(key.data(), at.data(), value.data(), key.size(), 2, target.data(), start.data(), end.data(),
                        target.size()),
            (std::vector<double>{5, 18, 3, 0, 0}));
  const std::vector<int64_t> bad{2};
  EXPECT_THROW(period_sums(bad.data(), at.data(), value.data(), 1, 2, target.data(), start.data(), end.data(), 0),
               std::invalid_argument);
}

TEST(SalesReports, PeriodSumsOverWholeMonthsAgreeWithTheCalendar) {
  // Days since 1970-01-01: 2023-12-31 = 19722, 2024-01-01 = 19723, 2024-02-15 = 19768, 2024-03-31 = 19813.
  const int64_t second = 1000000000LL;
  const std::vector<int64_t> key{0, 0, 0, 0, 1};
  const std::vector<int64_t> at{19722 * D + 86399 * second, 19723 * D, 19768 * D, 19813 * D + 86399 * second,
                                19768 * D};
  const std::vector<double> value{1, 2, 4, 8, 16};
  // 2024-Q1 [19723, 19814), January [19723, 19754), 2023 [19358, 19723), December 2024 [20058, 20089),
  // key 1's February [19754, 19783).
  const std::vector<int64_t> target{0, 0, 0, 0, 1};
  const std::vector<int64_t> start{19723 * D, 19723 * D, 19358 * D, 20058 * D, 19754 * D};
  const std::vector<int64_t> end{19814 * D, 19754 * D, 19723 * D, 20089 * D, 19783 * D};
  EXPECT_EQ(period_sums(key.data(), at.data(), value.data(), key.size(), 2, target.data(), start.data(), end.data(),
                        target.size()),
            (std::vector<double>{14, 2, 1, 0, 16}));
}
