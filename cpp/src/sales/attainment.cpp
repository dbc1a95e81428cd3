#include "crmcore/sales/attainment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "crmcore/records/normalize.hpp"
#include "ids.hpp"

namespace crmcore::sales {
namespace {

constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
constexpr int64_t kNsPerDay = 86400LL * 1000000000LL;

// The first instant of a month (months since January 1970) in nanoseconds,
// saturated to int64's range: a target's year may lie outside the 1678-2262
// that nanoseconds reach, and then no event can fall before (or after) it.
int64_t month_start_ns(int64_t month) {
  const int64_t year = 1970 + (month >= 0 ? month / 12 : -((-month + 11) / 12));
  const auto m = static_cast<unsigned>(month - (year - 1970) * 12) + 1;
  const int64_t days = records::days_from_civil(year, m, 1);
  if (days > std::numeric_limits<int64_t>::max() / kNsPerDay) return std::numeric_limits<int64_t>::max();
  if (days < kNone / kNsPerDay) return kNone + 1;  // above INT64_MIN: "no time" stays outside every stretch
  return days * kNsPerDay;
}

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("attainment: " + what); }

}  // namespace

std::vector<double> attainment_sums(const std::vector<EventStream>& streams, int32_t metrics, const Credits& credits,
                                    const int64_t* from, const int64_t* to, size_t targets) {
  // (The messages are made only on failure: made per credit they cost
  // more than the sums.)
  if (metrics < 0) fail("negative number of metrics");
  for (size_t c = 0; c < credits.n; ++c) {
    if (credits.target[c] < 0 || static_cast<uint64_t>(credits.target[c]) >= targets)
      fail("credit " + std::to_string(c) + " names target " + std::to_string(credits.target[c]));
    if (credits.metric[c] < 0 || credits.metric[c] >= metrics)
      fail("credit " + std::to_string(c) + " names metric " + std::to_string(credits.metric[c]));
  }
  for (size_t s = 0; s < streams.size(); ++s)
    if (streams[s].metric < 0 || streams[s].metric >= metrics)
      fail("stream " + std::to_string(s) + " has metric " + std::to_string(streams[s].metric));
  std::vector<double> sums(targets, 0.0);
  // The boundaries of the targets' periods: between two
  // consecutive ones every target either covers the whole stretch or none
  // of it, so a sum per stretch is all the grid needs (a dozen months for a
  // year's targets, however many targets there are).
  std::vector<int64_t> bound;
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = kNone;
  for (size_t t = 0; t < targets; ++t)
    if (to[t] > from[t]) lo = std::min(lo, from[t]), hi = std::max(hi, to[t]);
  if (lo < hi && static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) <= 4 * targets + 1024) {
    // The months in use marked over their range (a few years): no sort.
    std::vector<uint8_t> used(static_cast<size_t>(hi - lo) + 1, 0);
    for (size_t t = 0; t < targets; ++t)
      if (to[t] > from[t]) used[static_cast<size_t>(from[t] - lo)] = used[static_cast<size_t>(to[t] - lo)] = 1;
    for (size_t m = 0; m < used.size(); ++m)
      if (used[m]) bound.push_back(lo + static_cast<int64_t>(m));
  } else {
    for (size_t t = 0; t < targets; ++t)
      if (to[t] > from[t]) bound.push_back(from[t]), bound.push_back(to[t]);
    std::sort(bound.begin(), bound.end());
    bound.erase(std::unique(bound.begin(), bound.end()), bound.end());
  }
  if (bound.size() < 2) return sums;
  std::vector<int64_t> bound_ns(bound.size());
  std::transform(bound.begin(), bound.end(), bound_ns.begin(), month_start_ns);
  const int64_t lo_ns = bound_ns.front(), hi_ns = bound_ns.back();
  const auto width = static_cast<int64_t>(bound.size());  // stretches + 1: the running total before the first

  // The credited owners, and a grid row for each (metric, owner) some
  // credit reads: a manager's roll-up or a team adds credits, not rows of
  // events, and an owner nobody credits on a metric costs no row.
  std::vector<int64_t> owners(credits.owner, credits.owner + credits.n);
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  const IdIndex owner_at(owners.data(), owners.size());
  std::vector<int32_t> row_of(static_cast<size_t>(metrics) * owners.size(), -1);
  auto slot = [&](int32_t metric, int64_t owner) {
    return static_cast<size_t>(metric) * owners.size() + static_cast<size_t>(owner_at.find(owner));
  };
  int32_t rows = 0;
  for (size_t c = 0; c < credits.n; ++c)
    if (int32_t& r = row_of[slot(credits.metric[c], credits.owner[c])]; r < 0) r = rows++;
  std::vector<double> grid(static_cast<size_t>(rows) * static_cast<size_t>(width), 0.0);

  // Each day the boundaries span -> its stretch, when that table is small
  // beside the events (boundaries are whole days: a day never straddles two).
  size_t events = 0;
  for (const auto& s : streams) events += s.rows;
  const bool saturated = lo_ns == kNone + 1 || hi_ns == std::numeric_limits<int64_t>::max();
  const uint64_t days = saturated ? 0 : static_cast<uint64_t>((hi_ns - lo_ns) / kNsPerDay);
  const bool by_day = !saturated && days <= events + 100000;
  std::vector<int32_t> stretch_of_day(by_day ? days : 0);
  for (size_t d = 0, j = 0; d < stretch_of_day.size(); ++d) {
    while (lo_ns + static_cast<int64_t>(d) * kNsPerDay >= bound_ns[j + 1]) ++j;
    stretch_of_day[d] = static_cast<int32_t>(j);
  }
  // The owners' ids span a small range (a company's staff): each stream's
  // rows by id in one table over it, one read per event instead of an id
  // look-up and then the row.
  const uint64_t id_span = owners.empty() ? 0 : static_cast<uint64_t>(owners.back()) - static_cast<uint64_t>(owners.front()) + 1;
  const bool by_id = id_span <= 4 * events + 4096;
  for (const auto& s : streams) {
    const int32_t* row_of_owner = row_of.data() + static_cast<size_t>(s.metric) * owners.size();
    std::vector<int32_t> row_by_id(by_id ? id_span : 0, -1);
    for (size_t o = 0; by_id && o < owners.size(); ++o)
      row_by_id[static_cast<size_t>(owners[o] - owners.front())] = row_of_owner[o];
    const int64_t first_id = owners.empty() ? 0 : owners.front();
    // One loop per kind of stream (a missing mask or none, values or counts,
    // stretches by day or searched): no test per event of what the stream is.
    auto run = [&](auto missing, auto valued, auto daily) {
      double* base = grid.data() + 1;
      for (size_t i = 0; i < s.rows; ++i) {
        const int64_t at = s.at[i];
        // NaT is INT64_MIN, below lo_ns (saturated at INT64_MIN + 1).
        if (at < lo_ns || at >= hi_ns) continue;
        if constexpr (decltype(missing)::value)
          if (s.missing[i]) continue;
        int32_t row;
        if (by_id) {
          const uint64_t k = static_cast<uint64_t>(s.owner[i]) - static_cast<uint64_t>(first_id);
          row = k < id_span ? row_by_id[k] : -1;
        } else {
          const int64_t owner = owner_at.find(s.owner[i]);
          row = owner < 0 ? -1 : row_of_owner[owner];
        }
        if (row < 0) continue;
        double v = 1.0;
        if constexpr (decltype(valued)::value) {
          v = s.value[i];
          if (std::isnan(v)) continue;
        }
        size_t col;
        if constexpr (decltype(daily)::value)
          col = static_cast<size_t>(stretch_of_day[static_cast<uint64_t>(at - lo_ns) / kNsPerDay]);
        else
          col = static_cast<size_t>(std::upper_bound(bound_ns.begin(), bound_ns.end(), at) - bound_ns.begin() - 1);
        base[static_cast<size_t>(row) * static_cast<size_t>(width) + col] += v;
      }
    };
    using Yes = std::true_type;
    using No = std::false_type;
    auto with_day = [&](auto missing, auto valued) {
      if (by_day) run(missing, valued, Yes{});
      else run(missing, valued, No{});
    };
    auto with_value = [&](auto missing) {
      if (s.value) with_day(missing, Yes{});
      else with_day(missing, No{});
    };
    if (s.missing) with_value(Yes{});
    else with_value(No{});
  }
  // Running totals along each row: cell j is then everything before boundary j.
  for (int32_t r = 0; r < rows; ++r) {
    double* cell = grid.data() + static_cast<size_t>(r) * static_cast<size_t>(width);
    for (int64_t j = 1; j < width; ++j) cell[j] += cell[j - 1];
  }
  auto boundary = [&](int64_t month) {
    return static_cast<size_t>(std::lower_bound(bound.begin(), bound.end(), month) - bound.begin());
  };
  for (size_t c = 0; c < credits.n; ++c) {
    const auto t = static_cast<size_t>(credits.target[c]);
    if (to[t] <= from[t]) continue;
    const double* cell = grid.data() + static_cast<size_t>(row_of[slot(credits.metric[c], credits.owner[c])]) *
                                           static_cast<size_t>(width);
    sums[t] += cell[boundary(to[t])] - cell[boundary(from[t])];
  }
  return sums;
}

}  // namespace crmcore::sales
