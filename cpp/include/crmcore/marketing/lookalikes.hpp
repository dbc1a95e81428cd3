#pragma once
// Look-alike scoring of prospects over columns: for each customer who never
// bought, how many of the other customers sharing each of its field values
// bought (one vote per field), how many buyers share at least one value, and
// the products those buyers bought most. Field values arrive as integer codes
// (the caller factorizes text), so the kernel knows no field names.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::marketing {

struct LookalikeInput {
  size_t customers = 0;
  size_t fields = 0;
  // fields * customers codes, field-major (all customers' codes of field 0,
  // then field 1, ...); a negative code is a missing value, which matches
  // nothing.
  const int64_t* codes = nullptr;
  const uint8_t* bought = nullptr;  // customers flags
  // One entry per order line of a buyer: the customer's position (0 ..
  // customers-1) and the product id.
  const int64_t* line_customer = nullptr;
  const int64_t* line_product = nullptr;
  size_t lines = 0;
  size_t top = 3;  // products kept per prospect
};

struct Lookalikes {
  std::vector<int64_t> prospect;  // positions of the customers who never bought, ascending
  // prospects * fields, prospect-major: the share of buyers among the other
  // customers with the prospect's value of the field; NaN when the value is
  // missing or no other customer has it.
  std::vector<double> votes;
  std::vector<double> score;         // mean of a prospect's votes, 0 when it has none
  std::vector<int64_t> lookalikes;   // distinct buyers sharing at least one value
  // prospects * top product ids, most lines first (ties: smaller id first),
  // padded with -1.
  std::vector<int64_t> products;
};

// Throws std::invalid_argument for a line whose customer position is out of
// range. Prospects with the same codes in every field share one computation.
Lookalikes score_lookalikes(const LookalikeInput& in, Cancel& cancel);

}  // namespace crmcore::marketing
