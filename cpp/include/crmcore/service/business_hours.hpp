#pragma once
// Business hours over columns: the working time between two instants and the
// instant a number of working hours after a start, for SLA targets. A working
// day is a weekday that is no public holiday, or a weekend day that a holiday
// made a working day (China's make-up working weekends); it is open from
// `open_s` to `close_s` local time. The caller passes the holiday and
// make-up dates (crmcore's Python side takes them from a maintained
// calendar); the core knows no country.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace crmcore::service {

// A missing time in the columns (pandas' NaT as int64).
inline constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

class BusinessCalendar {
 public:
  // `holidays` and `workdays` are local dates as days since 1970-01-01, in
  // any order; a holiday on a weekend and a make-up day on a weekday change
  // nothing and are dropped. Throws std::invalid_argument unless
  // 0 <= open_s < close_s <= 86400.
  BusinessCalendar(int64_t utc_offset_s, int64_t open_s, int64_t close_s, std::vector<int64_t> holidays,
                   std::vector<int64_t> workdays);

  bool is_working_day(int64_t day) const;
  // Working nanoseconds from a fixed origin to `t` (ns since the epoch, UTC):
  // differences of two of these are the working time between them.
  int64_t working_ns_until(int64_t t) const;
  // The earliest instant whose working_ns_until is `target` (when `target`
  // falls at a day's close, that close, not the next day's open).
  int64_t instant_at(int64_t target) const;

 private:
  int64_t working_days_before(int64_t day) const;  // in [origin, day)
  int64_t offset_ns_, open_ns_, close_ns_;
  std::vector<int64_t> holidays_, workdays_;  // sorted, weekdays / weekend days only
  // Over the days from first_ (the first holiday or make-up day) to the
  // last: make-up days minus holidays before each day, and whether it is a
  // working day, so that a row costs lookups, not searches.
  int64_t first_ = 0;
  std::vector<int32_t> adjust_;
  std::vector<uint8_t> working_;
};

// Working hours from start[i] to end[i] (negative when end is earlier); NaN
// where either is kNoTime.
std::vector<double> working_hours_between(const BusinessCalendar& cal, const int64_t* start, const int64_t* end,
                                          size_t rows);

// The instant `hours[i]` working hours after start[i] (start[i] itself for 0
// hours); kNoTime where start is kNoTime or hours is NaN. Throws
// std::invalid_argument on negative hours.
std::vector<int64_t> add_working_hours(const BusinessCalendar& cal, const int64_t* start, const double* hours,
                                       size_t rows);

}  // namespace crmcore::service
