#pragma once
// Kernels over the stock ledger's columns: stock on hand on any date, the
// moving-average cost, and the spells a location ran out. Movements arrive
// as the store keeps them, products and locations as dense codes the caller
// made; times are nanoseconds since the epoch. Nothing here knows the store.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crmcore::stock {

// Movement types, as codes.
enum MovementType : int8_t { Receipt = 0, Shipment = 1, Return = 2, Adjustment = 3, Transfer = 4 };

struct Movements {
  const int8_t* type;
  const int64_t* product;      // [0, products)
  const int64_t* location;     // [0, locations)
  const int64_t* to_location;  // a transfer's destination, else -1
  const double* quantity;      // positive; an adjustment's is the signed change
  const double* unit_cost;     // NaN: none given
  const int64_t* at;
  size_t rows;
};

// What a movement does to its location's stock: receipts, returns and
// adjustments add their quantity, shipments and transfers take it away
// (a transfer adds it at its destination).
inline double signed_quantity(int8_t type, double quantity) {
  return type == Shipment || type == Transfer ? -quantity : quantity;
}

// Per (product, location), index product * locations + location: the stock
// on hand on `as_of` (the sum of the movements at or before it), the
// quantity shipped in (since, as_of], and whether any movement ever touched
// the pair up to `as_of` (`seen`). Throws std::invalid_argument on a code
// out of range or an unknown type.
struct Levels {
  std::vector<double> on_hand, shipped;
  std::vector<uint8_t> seen;
};
Levels levels(const Movements& m, int64_t products, int64_t locations, int64_t as_of, int64_t since);

// Per product, over all its locations, on `as_of`: the stock on hand and its
// moving-average unit cost. Movements apply in time order (ties in input
// order). One that brings stock in at a known cost c (a receipt, a return or
// a positive adjustment with a unit cost) makes the average
// (max(q0, 0) * avg + q * c) / (max(q0, 0) + q), q0 being the stock before
// it: stock that was short (backorders) or of unknown cost weighs nothing.
// Anything else leaves the average as it is. NaN: never costed.
struct Valuation {
  std::vector<double> on_hand, average_cost;
};
Valuation moving_average(const Movements& m, int64_t products, int64_t as_of);

// The spells in which a (product, location) held nothing or less, up to
// `as_of`: from the movement that brought its stock to zero or below, to the
// one that brought it above zero again (`end` INT64_MIN while it lasts),
// with the lowest stock reached (minus the backorders). Time order, ties in
// input order; sorted by product, location, start.
struct Stockouts {
  std::vector<int64_t> product, location, start, end;
  std::vector<double> lowest;
};
Stockouts stockouts(const Movements& m, int64_t products, int64_t locations, int64_t as_of);

}  // namespace crmcore::stock
