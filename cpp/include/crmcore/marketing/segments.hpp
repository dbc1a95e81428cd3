#pragma once
// What a segment's score conditions read, compiled to the least work: the
// orders' columns read once from the store (of the candidate customers only
// when no score needs everyone), and purchase counts and totals per
// candidate over those columns. Which statuses are purchases is decided by
// the caller from the distinct labels read (the label table lives in Python
// and may be extended there), so the status comes coded, never as text per row.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::records {
class Store;
}
namespace crmcore::access {
class ScopedStore;
}

namespace crmcore::marketing {

struct OrderColumns {
  std::vector<int64_t> customer;
  std::vector<int64_t> ordered_at;  // ns since the epoch
  std::vector<double> amount;
  std::vector<int32_t> status;      // index into labels; -1 for an order without status
  std::vector<std::string> labels;  // the distinct statuses, in order of first appearance
};

// Which columns to read beyond the customer and the status.
struct OrderParts {
  bool times = true;    // false leaves ordered_at empty
  bool amounts = true;  // false leaves amount empty
};

// The orders of `customers` (every order when null), in ascending order id,
// read as the store (or the scoped handle, under its access rules) reads them.
OrderColumns read_orders(const records::Store& store, const std::vector<int64_t>* customers, OrderParts parts,
                         const Cancel* cancel);
OrderColumns read_orders(const access::ScopedStore& store, const std::vector<int64_t>* customers, OrderParts parts,
                         const Cancel* cancel);

struct PurchaseTotals {
  std::vector<int64_t> frequency;  // per candidate: its purchases
  std::vector<double> monetary;    // per candidate: their amounts, summed as rfm sums them (Kahan, by order id)
};

// Orders as columns of equal length (ordered_at may be null: no time limit).
struct OrderRows {
  const int64_t* customer = nullptr;
  const int64_t* ordered_at = nullptr;
  const double* amount = nullptr;
  const int32_t* status = nullptr;
  size_t n = 0;
};

// Per customer of `candidates` (ascending, distinct), the orders among
// `orders` whose status code is flagged in `purchase` (one flag per label;
// an order without status is a purchase) and, when times are given, whose
// time is at or before `as_of`. Orders of other customers are skipped.
// std::invalid_argument for candidates out of order or a status code
// outside the flags.
PurchaseTotals purchase_totals(const OrderRows& orders, const std::vector<uint8_t>& purchase,
                               const std::vector<int64_t>& candidates, int64_t as_of, Cancel& cancel);

}  // namespace crmcore::marketing
