#include "crmcore/sales/funnel.hpp"

#include <stdexcept>
#include <string>

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
