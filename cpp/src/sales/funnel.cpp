#include "crmcore/sales/funnel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "crmcore/scoring/profit.hpp"
#include "ids.hpp"

namespace crmcore::sales {

std::vector<int64_t> funnel_reached(const int64_t* deal, const int32_t* step, size_t rows, int64_t deals,
                                    int32_t steps) {
  if (deals < 0 || steps < 0) throw std::invalid_argument("funnel: negative number of deals or steps");
  // The furthest step of each deal, one pass over the rows; then a count per
  // furthest step, summed from the end, is how many reached each step.
  std::vector<int32_t> furthest(static_cast<size_t>(deals), -1);
  for (size_t i = 0; i < rows; ++i) {
    if (deal[i] < 0 || deal[i] >= deals)
      throw std::invalid_argument("funnel: row " + std::to_string(i) + " names deal code " + std::to_string(deal[i]) +
                                  ", outside [0, " + std::to_string(deals) + ")");
    if (step[i] < -1 || step[i] >= steps)
      throw std::invalid_argument("funnel: row " + std::to_string(i) + " has step " + std::to_string(step[i]));
    int32_t& f = furthest[static_cast<size_t>(deal[i])];
    if (step[i] > f) f = step[i];
  }
  std::vector<int64_t> reached(static_cast<size_t>(steps) + 1, 0);
  for (int32_t f : furthest)
    if (f >= 0) ++reached[static_cast<size_t>(f)];
  for (int32_t s = steps - 1; s > 0; --s) reached[static_cast<size_t>(s - 1)] += reached[static_cast<size_t>(s)];
  reached.pop_back();
  return reached;
}

}  // namespace crmcore::sales

namespace crmcore::sales {

FunnelGroups funnel_groups(const FunnelInput& in, const FunnelStages& stages) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  const int32_t codes = static_cast<int32_t>(stages.step.size());
  if (stages.category.size() != stages.step.size())
    throw std::invalid_argument("funnel: stage steps and categories differ in length");
  for (int32_t s = 0; s < codes; ++s)
    if (stages.step[static_cast<size_t>(s)] < -1 || stages.step[static_cast<size_t>(s)] >= stages.steps)
      throw std::invalid_argument("funnel: stage " + std::to_string(s) + " has step " +
                                  std::to_string(stages.step[static_cast<size_t>(s)]));
  const IdIndex index(in.deal_ids, in.deals);
  // Each row's deal found once; checked on the way.
  std::vector<int64_t> row_pos(in.rows);
  for (size_t i = 0; i < in.rows; ++i) {
    if (in.row_stage[i] < -1 || in.row_stage[i] >= codes)
      throw std::invalid_argument("funnel: row " + std::to_string(i) + " has stage code " +
                                  std::to_string(in.row_stage[i]) + ", outside [-1, " + std::to_string(codes) + ")");
    row_pos[i] = in.row_at[i] == kNone ? -1 : index.find(in.row_deal[i]);
  }
  // The group of each deal: its period (of its first row, whatever as_of) and key.
  std::vector<int64_t> period(in.deals, kNone), key(in.deals, 0);
  std::vector<uint8_t> keep(in.deals, 1);
  if (in.period >= 0) {
    std::vector<int64_t> first(in.deals, kNone);
    for (size_t i = 0; i < in.rows; ++i) {
      if (row_pos[i] < 0) continue;
      int64_t& f = first[static_cast<size_t>(row_pos[i])];
      if (f == kNone || in.row_at[i] < f) f = in.row_at[i];
    }
    const auto p = static_cast<scoring::Period>(in.period);
    for (size_t d = 0; d < in.deals; ++d) {
      if (first[d] == kNone) keep[d] = 0;
      else period[d] = scoring::period_ordinal(first[d], p);
    }
  }
  for (size_t d = 0; d < in.deals; ++d) {
    if (in.key_present && !in.key_present[d]) keep[d] = 0;
    if (in.deal_key) key[d] = in.deal_key[d];
  }
  PairGroups g = group_pairs(period.data(), key.data(), keep.data(), in.deals);
  // One pass over the history: each deal's furthest step and last row by as_of.
  std::vector<int32_t> furthest(in.deals, -1), last_stage(in.deals, -1);
  std::vector<int64_t> last_at(in.deals, kNone);
  std::vector<uint8_t> seen(in.deals, 0);
  int64_t first_read = kNone;
  for (size_t i = 0; i < in.rows; ++i) {
    const int64_t d = row_pos[i];
    if (d < 0 || in.row_at[i] > in.as_of) continue;
    if (first_read == kNone || in.row_at[i] < first_read) first_read = in.row_at[i];
    if (g.code[static_cast<size_t>(d)] < 0) continue;
    const size_t u = static_cast<size_t>(d);
    const int32_t stage = in.row_stage[i];
    if (stage >= 0) furthest[u] = std::max(furthest[u], stages.step[static_cast<size_t>(stage)]);
    if (!seen[u] || in.row_at[i] >= last_at[u]) seen[u] = 1, last_at[u] = in.row_at[i], last_stage[u] = stage;
  }
  const size_t groups = g.group_a.size(), width = static_cast<size_t>(stages.steps);
  FunnelGroups out{std::move(g.group_a), std::move(g.group_b), std::vector<int64_t>(groups * width, 0),
                   std::vector<int64_t>(groups * width, 0), std::vector<double>(groups * width, 0.0),
                   std::vector<int64_t>(groups, 0), first_read};
  for (size_t d = 0; d < in.deals; ++d) {
    const int64_t c = g.code[d];
    if (c < 0) continue;
    const size_t row = static_cast<size_t>(c) * width;
    if (furthest[d] >= 0) {
      ++out.reached[row + static_cast<size_t>(furthest[d])];
      if (!std::isnan(in.deal_amount[d])) out.amount[row + static_cast<size_t>(furthest[d])] += in.deal_amount[d];
    }
    if (last_stage[d] >= 0) {
      const size_t s = static_cast<size_t>(last_stage[d]);
      if (stages.category[s] == StageCategory::Lost) ++out.lost[static_cast<size_t>(c)];
      else if (stages.category[s] == StageCategory::Open && stages.step[s] >= 0)
        ++out.open[row + static_cast<size_t>(stages.step[s])];
    }
  }
  // A deal that got further also passed every step before: sums from the end.
  for (size_t c = 0; c < groups; ++c)
    for (size_t s = width; s-- > 1;) {
      out.reached[c * width + s - 1] += out.reached[c * width + s];
      out.amount[c * width + s - 1] += out.amount[c * width + s];
    }
  return out;
}

}  // namespace crmcore::sales
