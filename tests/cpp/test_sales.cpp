// Sales report kernels on tiny inputs whose answers are worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "crmcore/sales/attainment.hpp"
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

TEST(SalesFunnel, EveryGroupInOnePassByHand) {
  // Stages: lead (step 0, open), won (step 1), lost (off the funnel). Deals 10, 11 (owner 1), 12 (owner 2),
  // 13 (no owner: left out), 14 (owner 2, no rows). Deal 10: lead, won; 11: lead, lost at the same instant
  // as a later lead row in the input (the later row wins: lead); 12: lead on the last instant of January,
  // won after as_of (not counted).
  const FunnelStages stages{{0, 1, -1}, {StageCategory::Open, StageCategory::Won, StageCategory::Lost}, 2};
  const std::vector<int64_t> ids{10, 11, 12, 13, 14}, key{1, 1, 2, 0, 2};
  const std::vector<uint8_t> present{1, 1, 1, 0, 1};
  const std::vector<double> amount{100, 40, std::nan(""), 5, 7};
  // 2024-01-01 = day 19723, 2024-02-01 = day 19754.
  const std::vector<int64_t> row_deal{10, 10, 11, 11, 11, 12, 12, 99};
  const std::vector<int32_t> row_stage{0, 1, 0, 2, 0, 0, 1, 0};
  const std::vector<int64_t> row_at{19723 * D, 19730 * D, 19754 * D, 19760 * D, 19760 * D, 19754 * D - 1, 19800 * D,
                                    19723 * D};
  const FunnelInput in{ids.data(), key.data(), present.data(), amount.data(), ids.size(), row_deal.data(),
                       row_stage.data(), row_at.data(), row_deal.size(), 2 /* month */, 19790 * D};
  const FunnelGroups g = funnel_groups(in, stages);
  // Groups (month, owner): (648 = 2024-01, 1), (648, 2: deal 12's last instant of January), (649, 1).
  EXPECT_EQ(g.period, (std::vector<int64_t>{648, 648, 649}));
  EXPECT_EQ(g.key, (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(g.reached, (std::vector<int64_t>{1, 1, 1, 0, 1, 0}));
  EXPECT_EQ(g.amount, (std::vector<double>{100, 100, 0, 0, 40, 0}));
  EXPECT_EQ(g.open, (std::vector<int64_t>{0, 0, 1, 0, 1, 0}));
  EXPECT_EQ(g.lost, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(g.first_read, 19723 * D);
  const std::vector<int32_t> bad{0, 1, 0, 2, 0, 0, 1, 3};
  const FunnelInput wrong{ids.data(), key.data(), present.data(), amount.data(), ids.size(), row_deal.data(),
                          bad.data(), row_at.data(), row_deal.size(), -1, 19790 * D};
  EXPECT_THROW(funnel_groups(wrong, stages), std::invalid_argument);
}

TEST(SalesAging, BalancesPerKeyAndBucketByHand) {
  // as_of day 100. Invoice 1 (customer 5): 100 due day 60 (40 days late: 31-60), 30 paid day 90 -> 70.
  // Invoice 2 (customer 5): 50 due day 120 (current). Invoice 3 (customer 9): void. Invoice 4 (customer 9):
  // 20 due day 99 (1 day late), paid in full day 100. Invoice 5 (no customer): left out. Invoice 6 (customer 7)
  // issued after as_of.
  const std::vector<int64_t> ids{1, 2, 3, 4, 5, 6}, key{5, 5, 9, 9, 0, 7};
  const std::vector<uint8_t> present{1, 1, 1, 1, 0, 1};
  const std::vector<int64_t> issued{10 * D, 20 * D, 30 * D, 40 * D, 50 * D, 101 * D};
  const std::vector<int64_t> due{60 * D, 120 * D, 60 * D, 99 * D, 60 * D, 130 * D};
  const std::vector<double> amount{100, 50, 80, 20, 10, 5};
  const std::vector<int32_t> status{1, -1, 3, 1, 1, 1};  // draft, issued, paid, void; -1: other text
  const std::vector<uint8_t> live{0, 1, 1, 0};
  const std::vector<int64_t> pay_invoice{1, 4, 1, 77};
  const std::vector<int64_t> paid_at{90 * D, 100 * D, 101 * D, 90 * D};
  const std::vector<double> settles{30, 20, 70, 5};
  const Aging a = aging_groups(ids.data(), key.data(), present.data(), issued.data(), due.data(), amount.data(),
                               status.data(), live, ids.size(), pay_invoice.data(), paid_at.data(), settles.data(),
                               pay_invoice.size(), 100 * D);
  EXPECT_EQ(a.keys, (std::vector<int64_t>{5}));
  EXPECT_EQ(a.sums, (std::vector<double>{50, 0, 70, 0, 0, 120}));  // the buckets, then the total
  const Aging book = aging_groups(ids.data(), nullptr, nullptr, issued.data(), due.data(), amount.data(),
                                  status.data(), live, ids.size(), pay_invoice.data(), paid_at.data(), settles.data(),
                                  pay_invoice.size(), 100 * D);
  // The whole book: invoice 5 (no customer, 40 days late) counts too; customer 9, nothing open, is no row.
  EXPECT_EQ(book.keys, (std::vector<int64_t>{0}));
  EXPECT_EQ(book.sums, (std::vector<double>{50, 0, 80, 0, 0, 130}));
}

TEST(SalesAttainmentSums, CreditsReadOffTheGridByHand) {
  // Months since 1970: 648 = 2024-01. Day 19723 = 2024-01-01, 19754 = 2024-02-01, 19783 = 2024-03-01.
  const int64_t jan = 19723 * D, feb = 19754 * D, mar = 19783 * D;
  // Bookings: owner 7 in January (10) and February (20, and the last nanosecond of February: 40),
  // owner 8 in March (80); a missing owner (5) and a NaN amount count nowhere.
  const std::vector<int64_t> owner{7, 7, 7, 8, 7, 7};
  const std::vector<uint8_t> missing{0, 0, 0, 0, 1, 0};
  const std::vector<int64_t> at{jan, feb, mar - 1, mar, jan, jan};
  const std::vector<double> value{10, 20, 40, 80, 5, std::nan("")};
  // Activities (no values: each counts one): owner 8 twice in January, once with no time.
  const std::vector<int64_t> owner2{8, 8, 8};
  const std::vector<int64_t> at2{jan, jan + D, std::numeric_limits<int64_t>::min()};
  const std::vector<EventStream> streams{{0, owner.data(), missing.data(), at.data(), value.data(), owner.size()},
                                         {1, owner2.data(), nullptr, at2.data(), nullptr, owner2.size()}};
  // Targets: 0 = Q1 bookings of 7; 1 = February bookings of the team {7, 8}; 2 = January activities of 8;
  // 3 = an empty period; 4 = bookings of 9 (no events).
  const std::vector<int64_t> from{648, 649, 648, 650, 648}, to{651, 650, 649, 650, 660};
  const std::vector<int64_t> target{0, 1, 1, 2, 3, 4}, who{7, 7, 8, 8, 7, 9};
  const std::vector<int32_t> metric{0, 0, 0, 1, 0, 0};
  const std::vector<double> sums =
      attainment_sums(streams, 2, {target.data(), who.data(), metric.data(), target.size()}, from.data(), to.data(), 5);
  EXPECT_EQ(sums, (std::vector<double>{70, 60, 2, 0, 0}));
  const std::vector<int32_t> bad{2};
  EXPECT_THROW(attainment_sums(streams, 2, {target.data(), who.data(), bad.data(), 1}, from.data(), to.data(), 5),
               std::invalid_argument);
}
