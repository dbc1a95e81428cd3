#include "crmcore/service/business_hours.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace crmcore::service {

namespace {

constexpr int64_t kDayNs = 86'400'000'000'000;
constexpr int64_t kSecondNs = 1'000'000'000;
constexpr double kHourNs = 3.6e12;
// Days are counted from an origin a whole number of weeks before 1970 (so
// that the weekday of a shifted day is a plain remainder); working time in
// ns from there stays inside int64 for any opening hours up to 2189.
constexpr int64_t kOriginShift = 7 * 3000;
constexpr int64_t kLastDay = 80'000;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool is_weekday(int64_t day) { return ((day % 7 + 7 + 3) % 7) < 5; }  // 1970-01-01 was a Thursday

std::vector<int64_t> sorted_where(std::vector<int64_t> days, bool weekday) {
  days.erase(std::remove_if(days.begin(), days.end(), [&](int64_t d) { return is_weekday(d) != weekday; }),
             days.end());
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  return days;
}

// Weekdays from the origin to `day` (excluded).
int64_t weekdays_before(int64_t day) {
  static constexpr int64_t kPartialWeek[7] = {0, 1, 2, 2, 2, 3, 4};  // weekdays among the week's first r days
  const int64_t shifted = day + kOriginShift;  // >= 0, and shifted day 0 is a Thursday
  return shifted / 7 * 5 + kPartialWeek[shifted % 7];
}

void check_day(int64_t day) {
  if (day < -kOriginShift || day > kLastDay)
    throw std::invalid_argument("business hours are counted for dates from 1912-07 to 2189; a time lies outside");
}

}  // namespace

BusinessCalendar::BusinessCalendar(int64_t utc_offset_s, int64_t open_s, int64_t close_s,
                                   std::vector<int64_t> holidays, std::vector<int64_t> workdays)
    : offset_ns_(utc_offset_s * kSecondNs),
      open_ns_(open_s * kSecondNs),
      close_ns_(close_s * kSecondNs),
      holidays_(sorted_where(std::move(holidays), true)),
      workdays_(sorted_where(std::move(workdays), false)) {
  if (!(0 <= open_s && open_s < close_s && close_s <= 86'400))
    throw std::invalid_argument("opening hours must satisfy 0 <= open < close <= 24h (got " +
                                std::to_string(open_s) + " s to " + std::to_string(close_s) + " s)");
  if (utc_offset_s < -86'400 || utc_offset_s > 86'400) throw std::invalid_argument("UTC offset beyond a day");
  if (holidays_.empty() && workdays_.empty()) return;
  first_ = std::min(holidays_.empty() ? workdays_.front() : holidays_.front(),
                    workdays_.empty() ? holidays_.front() : workdays_.front());
  const int64_t last = std::max(holidays_.empty() ? workdays_.back() : holidays_.back(),
                                workdays_.empty() ? holidays_.back() : workdays_.back());
  check_day(first_);
  check_day(last);
  const auto days = static_cast<size_t>(last - first_ + 2);  // one past the last, where every change is counted
  adjust_.resize(days);
  working_.resize(days);
  int32_t adjust = 0;
  size_t h = 0, w = 0;
  for (size_t i = 0; i < days; ++i) {
    const int64_t day = first_ + static_cast<int64_t>(i);
    adjust_[i] = adjust;
    const bool holiday = h < holidays_.size() && holidays_[h] == day;
    const bool workday = w < workdays_.size() && workdays_[w] == day;
    working_[i] = is_weekday(day) ? !holiday : workday;
    adjust += static_cast<int32_t>(workday) - static_cast<int32_t>(holiday);
    h += holiday, w += workday;
  }
}

bool BusinessCalendar::is_working_day(int64_t day) const {
  const int64_t i = day - first_;
  if (i >= 0 && i < static_cast<int64_t>(working_.size())) return working_[static_cast<size_t>(i)] != 0;
  return is_weekday(day);  // outside the table: no holiday, no make-up day
}

int64_t BusinessCalendar::working_days_before(int64_t day) const {
  const int64_t weekdays = weekdays_before(day);
  if (adjust_.empty() || day < first_) return weekdays;
  const int64_t i = std::min(day - first_, static_cast<int64_t>(adjust_.size()) - 1);
  return weekdays + adjust_[static_cast<size_t>(i)];
}

int64_t BusinessCalendar::working_ns_until(int64_t t) const {
  const int64_t local = t + offset_ns_;
  const int64_t day = floor_div(local, kDayNs);
  check_day(day);
  const int64_t length = close_ns_ - open_ns_;
  int64_t out = working_days_before(day) * length;
  if (is_working_day(day)) out += std::clamp(local - day * kDayNs - open_ns_, int64_t{0}, length);
  return out;
}

int64_t BusinessCalendar::instant_at(int64_t target) const {
  const int64_t length = close_ns_ - open_ns_;
  if (target <= 0) return (-kOriginShift) * kDayNs + open_ns_ - offset_ns_;
  const int64_t k = (target - 1) / length;  // the target lies in the k-th working day (from 0)
  const int64_t rest = target - k * length;  // in (0, length]
  // The k-th working day is the first day with k + 1 working days up to and
  // including it. Without holidays it is the (k + 1)-th weekday; holidays and
  // make-up days shift that by the table's adjustment near it, which changes
  // slowly, so a few rounds settle it and steps of a day finish the job.
  auto nth_weekday = [](int64_t n) {  // the day holding the n-th weekday (1-based) after the origin
    static constexpr int64_t kOffset[5] = {0, 1, 4, 5, 6};  // Thu, Fri, Mon, Tue, Wed
    return -kOriginShift + (n - 1) / 5 * 7 + kOffset[(n - 1) % 5];
  };
  int64_t lo = nth_weekday(k + 1);
  for (int round = 0; round < 4; ++round) {
    const int64_t adjust = working_days_before(lo + 1) - weekdays_before(lo + 1);
    const int64_t next = nth_weekday(std::max<int64_t>(k + 1 - adjust, 1));
    if (next == lo) break;
    lo = next;
  }
  while (working_days_before(lo + 1) < k + 1) ++lo;
  while (lo > -kOriginShift && working_days_before(lo) >= k + 1) --lo;
  check_day(lo);
  return lo * kDayNs + open_ns_ + rest - offset_ns_;
}

std::vector<double> working_hours_between(const BusinessCalendar& cal, const int64_t* start, const int64_t* end,
                                          size_t rows) {
  std::vector<double> out(rows);
  for (size_t i = 0; i < rows; ++i) {
    if (start[i] == kNoTime || end[i] == kNoTime) {
      out[i] = std::nan("");
      continue;
    }
    out[i] = static_cast<double>(cal.working_ns_until(end[i]) - cal.working_ns_until(start[i])) / kHourNs;
  }
  return out;
}

std::vector<int64_t> add_working_hours(const BusinessCalendar& cal, const int64_t* start, const double* hours,
                                       size_t rows) {
  std::vector<int64_t> out(rows);
  for (size_t i = 0; i < rows; ++i) {
    if (start[i] == kNoTime || std::isnan(hours[i])) {
      out[i] = kNoTime;
      continue;
    }
    if (hours[i] < 0 || !std::isfinite(hours[i]))
      throw std::invalid_argument("working hours to add must be finite and >= 0 (row " + std::to_string(i) +
                                  ": " + std::to_string(hours[i]) + ")");
    if (hours[i] == 0) {
      out[i] = start[i];
      continue;
    }
    const auto add = static_cast<int64_t>(std::llround(hours[i] * kHourNs));
    out[i] = cal.instant_at(cal.working_ns_until(start[i]) + add);
  }
  return out;
}

}  // namespace crmcore::service
