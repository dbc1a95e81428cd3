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

}  // namespace crmcore::sales
