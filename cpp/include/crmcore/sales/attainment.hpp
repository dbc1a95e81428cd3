#pragma once
// Attainment straight from the store's typed columns: each metric's events
// (owner id, time, amount) summed into one grid per owner and stretch of
// months in a single pass, then every target read off the grid. No text per
// event: the metric is known per stream, not per row.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crmcore::sales {

// The events of one metric as the store's columns hold them.
struct EventStream {
  int32_t metric = 0;              // the grid the stream adds into, in [0, metrics)
  const int64_t* owner = nullptr;  // the staff id credited
  const uint8_t* missing = nullptr;  // null, or 1 where the owner is missing (pandas' mask)
  const int64_t* at = nullptr;     // nanoseconds; INT64_MIN (no time) counts nowhere
  const double* value = nullptr;   // null: each event counts 1; a NaN value counts nowhere
  size_t rows = 0;
};

// Which owners' sums make up which target: credit c adds to target
// `target[c]` what owner `owner[c]` did on metric `metric[c]` within that
// target's months. A team's target has a credit per member; with the
// reporting lines rolled up, a manager's one per person below them.
struct Credits {
  const int64_t* target = nullptr;
  const int64_t* owner = nullptr;
  const int32_t* metric = nullptr;
  size_t n = 0;
};

// For each target t (months [from[t], to[t]) since January 1970, numpy's
// datetime64[M]; empty when to <= from) the sum of its credits. The events
// are summed once per (metric, owner, stretch between two consecutive
// target boundaries); an event's stretch comes from a table over the days
// the targets span (a binary search over the boundaries when that span is
// far larger than the events), its owner's row from a table over the
// credited ids. Throws std::invalid_argument on a credit naming a target or
// metric out of range, or a stream whose metric is.
std::vector<double> attainment_sums(const std::vector<EventStream>& streams, int32_t metrics, const Credits& credits,
                                    const int64_t* from, const int64_t* to, size_t targets);

}  // namespace crmcore::sales
