#pragma once
// The stage funnel over a deal_stages history held as columns.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crmcore::sales {

// How many deals reached each step of a funnel of `steps` steps (or a later
// one: a deal that skipped qualified still passed it). `deal[i]` is the
// history row's deal as a code in [0, deals), `step[i]` its stage's step in
// the funnel, or -1 for a stage off the funnel (lost, unknown). Deals with no
// step on the funnel count nowhere. Throws std::invalid_argument on a code or
// step out of range.
std::vector<int64_t> funnel_reached(const int64_t* deal, const int32_t* step, size_t rows, int64_t deals,
                                    int32_t steps);

// The stages of one pipeline, as funnel_groups reads a stage code: its step
// on the funnel (-1 off it: lost) and its category.
enum class StageCategory : int8_t { Open = 0, Won = 1, Lost = 2 };
struct FunnelStages {
  std::vector<int32_t> step;             // per stage code
  std::vector<StageCategory> category;   // per stage code
  int32_t steps = 0;                     // the funnel's length
};

// The deals of a pipeline, each with its group key, and their stage history
// as the store keeps it: ids, stage codes, times (ns, INT64_MIN for none).
struct FunnelInput {
  const int64_t* deal_ids;     // the pipeline's deals (unique)
  const int64_t* deal_key;     // per deal: its group key (owner id, a team's code, ...); null: no key
  const uint8_t* key_present;  // per deal: 0 where the key is missing (the deal is left out); null: all present
  const double* deal_amount;   // per deal (NaN counts 0)
  size_t deals;
  const int64_t* row_deal;     // per history row: its deal's id (a deal not listed: the row is ignored)
  const int32_t* row_stage;    // the row's stage code, -1 for a stage the pipeline lacks
  const int64_t* row_at;       // when; INT64_MIN (no time) ignores the row
  size_t rows;
  int period;                  // -1 no period, else a scoring::Period: the deal's first row's period
  int64_t as_of;
};

// The funnel of every group at once. Groups are the distinct (period, key)
// of the deals, ascending (period INT64_MIN, key 0 when not used), among
// the deals that have each: a deal without a first row has no period. Per
// group and step (row-major, groups x steps): the deals whose furthest step
// by `as_of` is that one or a later one (`reached`), their amounts, the
// deals whose last row by `as_of` is that open stage (`open`); per group
// the deals whose last row by then is lost; and the earliest row read
// (of the listed deals, by `as_of`). The last row of a deal is the
// latest; of two at one instant, the later in the input.
struct FunnelGroups {
  std::vector<int64_t> period, key;  // per group
  std::vector<int64_t> reached, open;
  std::vector<double> amount;
  std::vector<int64_t> lost;         // per group
  int64_t first_read;                // the earliest row counted (any group), INT64_MIN for none
};
FunnelGroups funnel_groups(const FunnelInput& in, const FunnelStages& stages);

}  // namespace crmcore::sales
