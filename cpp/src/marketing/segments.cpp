// The orders a segment's scores need, as columns (see
// crmcore/marketing/segments.hpp). Reading goes through the store's own
// select and query (so a scoped handle applies its access rules and another
// engine answers the same); status text is coded here, so a million orders
// cross to the caller as integers and a handful of labels.
#include "crmcore/marketing/segments.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "crmcore/access/access.hpp"
#include "crmcore/records/store.hpp"
#include "crmcore/scoring/group.hpp"

namespace crmcore::marketing {

namespace {

records::Column& column_of(records::Table& t, const char* name) {
  for (auto& c : t.columns)
    if (c.name == name) return c;
  throw std::logic_error(std::string("the orders read have no column ") + name);
}

// The columns read, moved into OrderColumns; a missing amount (a field the
// reader may not see) becomes NaN, which purchase_totals refuses by row.
OrderColumns to_columns(records::Table t, OrderParts parts) {
  OrderColumns out;
  out.customer = std::move(column_of(t, "customer_id").ints);
  if (parts.amounts) {
    records::Column& amount = column_of(t, "amount");
    out.amount = std::move(amount.reals);  // its validity mask stays behind, read below
    for (size_t i = 0; i < out.amount.size(); ++i)
      if (!amount.present(i)) out.amount[i] = std::nan("");
  }
  if (parts.times) {
    records::Column& at = column_of(t, "ordered_at");
    out.ordered_at = std::move(at.ints);
    for (size_t i = 0; i < out.ordered_at.size(); ++i)
      if (!at.present(i)) out.ordered_at[i] = INT64_MIN;
  }
  const records::Column& status = column_of(t, "status");
  std::unordered_map<std::string, int32_t> code;
  out.status.resize(status.size());
  for (size_t i = 0; i < status.size(); ++i) {
    if (!status.present(i)) {
      out.status[i] = -1;
      continue;
    }
    // Looked up before inserting: emplace would build a node per row only
    // to drop it, and a store repeats a handful of statuses a million times.
    auto it = code.find(status.texts[i]);
    if (it == code.end()) {
      it = code.emplace(status.texts[i], static_cast<int32_t>(out.labels.size())).first;
      out.labels.push_back(status.texts[i]);
    }
    out.status[i] = it->second;
  }
  return out;
}

template <class S>
OrderColumns read_with(const S& store, const std::vector<int64_t>* customers, OrderParts parts,
                       const Cancel* cancel) {
  // Only the columns asked for: each one read costs about as much as another.
  std::vector<std::string> names = {"customer_id", "status"};
  if (parts.amounts) names.push_back("amount");
  if (parts.times) names.push_back("ordered_at");
  if (!customers) return to_columns(store.select("orders", nullptr, &names, cancel), parts);
  if (customers->empty()) return OrderColumns{};
  // The candidates' orders through the query layer: customer_id is indexed,
  // and the ids travel as one bound batch, never as SQL text.
  records::Condition in;
  in.field = "customer_id";
  in.op = records::Op::In;
  in.values = records::Column("customer_id", records::Column::Storage::Int);
  in.values.ints = *customers;
  return to_columns(store.select_query("orders", {{in}}, {}, -1, 0, &names, cancel), parts);
}

}  // namespace

OrderColumns read_orders(const records::Store& store, const std::vector<int64_t>* customers, OrderParts parts,
                         const Cancel* cancel) {
  return read_with(store, customers, parts, cancel);
}

OrderColumns read_orders(const access::ScopedStore& store, const std::vector<int64_t>* customers, OrderParts parts,
                         const Cancel* cancel) {
  return read_with(store, customers, parts, cancel);
}

PurchaseTotals purchase_totals(const OrderRows& orders, const std::vector<uint8_t>& purchase,
                               const std::vector<int64_t>& candidates, int64_t as_of, Cancel& cancel) {
  const size_t m = candidates.size();
  for (size_t i = 1; i < m; ++i)
    if (candidates[i] <= candidates[i - 1]) throw std::invalid_argument("the candidates must be ascending and distinct");
  PurchaseTotals out;
  out.frequency.assign(m, 0);
  out.monetary.assign(m, 0.0);
  if (m == 0) return out;
  // Candidate id -> position: a direct table when the ids are dense enough
  // (store ids are) or the table costs no more than the pass over the
  // orders (a few thousand candidates among a million customers, every
  // order read from the column cache), else a binary search per order.
  const int64_t lo = candidates.front(), hi = candidates.back();
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  const bool direct = range <= 8 * static_cast<uint64_t>(m) + 4096 || range <= 2 * static_cast<uint64_t>(orders.n);
  std::vector<int32_t> slot;
  if (direct) {
    slot.assign(range + 1, -1);
    for (size_t i = 0; i < m; ++i) slot[static_cast<uint64_t>(candidates[i] - lo)] = static_cast<int32_t>(i);
  }
  std::vector<scoring::KahanSum> sums(m);
  const int32_t labels = static_cast<int32_t>(purchase.size());
  for (size_t r = 0; r < orders.n; ++r) {
    cancel.tick();
    const int64_t c = orders.customer[r];
    if (c < lo || c > hi) continue;
    int64_t at;
    if (direct) {
      at = slot[static_cast<uint64_t>(c - lo)];
    } else {
      auto it = std::lower_bound(candidates.begin(), candidates.end(), c);
      at = it != candidates.end() && *it == c ? it - candidates.begin() : -1;
    }
    if (at < 0) continue;
    const int32_t s = orders.status[r];
    if (s < -1 || s >= labels) throw std::invalid_argument("an order's status code has no purchase flag");
    if (s >= 0 && !purchase[static_cast<size_t>(s)]) continue;
    if (orders.ordered_at) {
      if (orders.ordered_at[r] == INT64_MIN) scoring::throw_missing_time("orders", r, "ordered_at");
      if (orders.ordered_at[r] > as_of) continue;
    }
    if (!std::isfinite(orders.amount[r])) scoring::throw_missing_value("orders", r, "amount");
    ++out.frequency[static_cast<size_t>(at)];
    sums[static_cast<size_t>(at)].add(orders.amount[r]);
  }
  for (size_t i = 0; i < m; ++i) out.monetary[i] = sums[i].sum;
  return out;
}

}  // namespace crmcore::marketing
