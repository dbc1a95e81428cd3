// Business hours on a hand-worked case: China's National Day week of 2024
// (holidays Tue 1 Oct to Mon 7 Oct; Sun 29 Sep and Sat 12 Oct are make-up
// working days), opening hours 9:00-18:00 at UTC+8.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "crmcore/service/business_hours.hpp"

using namespace crmcore::service;

namespace {
constexpr int64_t H = 3600LL * 1000000000LL;
constexpr int64_t D = 24 * H;
constexpr int64_t kFri27Sep = 19993;  // days since 1970-01-01
// Local time `hour` on day `day` at UTC+8, as ns since the epoch (UTC).
int64_t local(int64_t day, double hour) { return day * D + static_cast<int64_t>(hour * H) - 8 * H; }

BusinessCalendar national_day() {
  std::vector<int64_t> holidays;
  for (int64_t d = 19997; d <= 20003; ++d) holidays.push_back(d);  // 1-7 Oct, weekend days among them
  return BusinessCalendar(8 * 3600, 9 * 3600, 18 * 3600, holidays, {19995, 20008});
}
}  // namespace

TEST(BusinessHours, WorkingDaysFollowHolidaysAndMakeUpDays) {
  const BusinessCalendar cal = national_day();
  EXPECT_TRUE(cal.is_working_day(kFri27Sep));
  EXPECT_FALSE(cal.is_working_day(kFri27Sep + 1));  // Sat 28 Sep
  EXPECT_TRUE(cal.is_working_day(kFri27Sep + 2));   // Sun 29 Sep, make-up
  EXPECT_FALSE(cal.is_working_day(19997));          // Tue 1 Oct
  EXPECT_TRUE(cal.is_working_day(20004));           // Tue 8 Oct
  EXPECT_TRUE(cal.is_working_day(20008));           // Sat 12 Oct, make-up
  EXPECT_FALSE(cal.is_working_day(20009));          // Sun 13 Oct
}

TEST(BusinessHours, FridayFivePmBeforeTheHolidayWeek) {
  const BusinessCalendar cal = national_day();
  const int64_t opened = local(kFri27Sep, 17);
  // 16 h: 1 on Friday, 9 on the make-up Sunday, 6 on Monday -> Mon 30 Sep 15:00.
  // 24 h: 1 + 9 + 9 by Monday's close, then the holiday, 5 on Tue 8 Oct -> 14:00.
  // 19 h ends exactly at Monday's close, not at the next opening.
  const std::vector<int64_t> start{opened, opened, opened, opened};
  const std::vector<double> hours{16, 24, 19, 0};
  const std::vector<int64_t> due = add_working_hours(cal, start.data(), hours.data(), 4);
  EXPECT_EQ(due[0], local(kFri27Sep + 3, 15));
  EXPECT_EQ(due[1], local(20004, 14));
  EXPECT_EQ(due[2], local(kFri27Sep + 3, 18));
  EXPECT_EQ(due[3], opened);

  // Friday 17:00 to Tue 8 Oct 10:00: 1 + 9 + 9 + 1 = 20 working hours; from
  // Saturday noon to Sunday 8:00 (closed, then before opening) none; back
  // in time the count is negative.
  const std::vector<int64_t> from{opened, local(kFri27Sep + 1, 12), local(20004, 10)};
  const std::vector<int64_t> to{local(20004, 10), local(kFri27Sep + 2, 8), opened};
  const std::vector<double> between = working_hours_between(cal, from.data(), to.data(), 3);
  EXPECT_DOUBLE_EQ(between[0], 20);
  EXPECT_DOUBLE_EQ(between[1], 0);
  EXPECT_DOUBLE_EQ(between[2], -20);
}

TEST(BusinessHours, OpenedAtNightStartsAtTheNextOpening) {
  const BusinessCalendar cal = national_day();
  // Sat 28 Sep 23:00: the next opening is the make-up Sunday's 9:00; 2 h -> 11:00.
  const std::vector<int64_t> start{local(kFri27Sep + 1, 23)};
  const std::vector<double> hours{2};
  EXPECT_EQ(add_working_hours(cal, start.data(), hours.data(), 1)[0], local(kFri27Sep + 2, 11));
}

TEST(BusinessHours, MissingValuesAndBadInput) {
  const BusinessCalendar cal = national_day();
  const std::vector<int64_t> start{kNoTime, local(kFri27Sep, 10)};
  const std::vector<int64_t> end{local(kFri27Sep, 12), kNoTime};
  for (double h : working_hours_between(cal, start.data(), end.data(), 2)) EXPECT_TRUE(std::isnan(h));
  const std::vector<double> hours{1, std::nan("")};
  EXPECT_EQ(add_working_hours(cal, start.data(), hours.data(), 2), (std::vector<int64_t>{kNoTime, kNoTime}));
  const std::vector<double> negative{-1};
  EXPECT_THROW(add_working_hours(cal, end.data(), negative.data(), 1), std::invalid_argument);
  EXPECT_THROW(BusinessCalendar(0, 18 * 3600, 9 * 3600, {}, {}), std::invalid_argument);
}

TEST(BusinessHours, LongTargetsCrossManyWeeks) {
  // Without holidays: 45 h from Monday 9:00 at 9 h a day is exactly one
  // working week -> Friday 18:00; 46 h -> the next Monday 10:00.
  const BusinessCalendar cal(0, 9 * 3600, 18 * 3600, {}, {});
  const int64_t monday = kFri27Sep - 4;  // Mon 23 Sep 2024
  const std::vector<int64_t> start{monday * D + 9 * H, monday * D + 9 * H};
  const std::vector<double> hours{45, 46};
  const std::vector<int64_t> due = add_working_hours(cal, start.data(), hours.data(), 2);
  EXPECT_EQ(due[0], (monday + 4) * D + 18 * H);
  EXPECT_EQ(due[1], (monday + 7) * D + 10 * H);
}

TEST(BusinessHours, AgreesWithADayByDayWalkOnRandomCalendars) {
  // Random holidays and make-up days around 2024; due times found by walking
  // the days one by one from the start.
  std::mt19937_64 rng(42);
  std::vector<int64_t> holidays, workdays;
  for (int i = 0; i < 60; ++i) holidays.push_back(19700 + static_cast<int64_t>(rng() % 700));
  for (int i = 0; i < 20; ++i) workdays.push_back(19700 + static_cast<int64_t>(rng() % 700));
  const BusinessCalendar cal(8 * 3600, 9 * 3600, 17 * 3600 + 1800, holidays, workdays);
  const int64_t open = 9 * H - 8 * H, length = 8 * H + H / 2;  // 9:00 local in UTC; 8.5 h a day
  for (int i = 0; i < 2000; ++i) {
    const int64_t start = 19650 * D + static_cast<int64_t>(rng() % (800ULL * 86400ULL)) * 1000000000LL;
    const double hours = static_cast<double>(rng() % 400) / 4.0 + 0.25;
    int64_t left = static_cast<int64_t>(hours * H), due = 0;
    for (int64_t day = (start + 8 * H) / D;; ++day) {
      if (!cal.is_working_day(day)) continue;
      const int64_t from = std::max(day * D + open, start), to = day * D + open + length;
      if (from >= to) continue;
      if (to - from >= left) {
        due = from + left;
        break;
      }
      left -= to - from;
    }
    const std::vector<int64_t> s{start};
    const std::vector<double> h{hours};
    ASSERT_EQ(add_working_hours(cal, s.data(), h.data(), 1)[0], due) << "row " << i;
    const std::vector<int64_t> e{due};
    ASSERT_DOUBLE_EQ(working_hours_between(cal, s.data(), e.data(), 1)[0], hours) << "row " << i;
  }
}
