#include "crmcore/stock/ledger.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace crmcore::stock {

namespace {

// Sums of quantities differ from exact ones by rounding: this close to zero is zero.
constexpr double kTolerance = 1e-9;

void check_row(const Movements& m, size_t i, int64_t products, int64_t locations) {
  auto bad = [i](const std::string& what) {
    throw std::invalid_argument("movement row " + std::to_string(i) + ": " + what);
  };
  if (m.type[i] < Receipt || m.type[i] > Transfer) bad("unknown type code " + std::to_string(m.type[i]));
  if (m.product[i] < 0 || m.product[i] >= products) bad("product code out of range");
  if (m.location[i] < 0 || m.location[i] >= locations) bad("location code out of range");
  if (m.type[i] == Transfer && (m.to_location[i] < 0 || m.to_location[i] >= locations))
    bad("a transfer's destination code is out of range");
}

// The rows at or before `as_of`, in time order (ties in input order).
std::vector<size_t> in_time_order(const Movements& m, int64_t as_of) {
  std::vector<size_t> order;
  order.reserve(m.rows);
  for (size_t i = 0; i < m.rows; ++i)
    if (m.at[i] <= as_of) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&m](size_t a, size_t b) { return m.at[a] < m.at[b]; });
  return order;
}

}  // namespace

Levels levels(const Movements& m, int64_t products, int64_t locations, int64_t as_of, int64_t since) {
  if (products < 0 || locations < 0) throw std::invalid_argument("negative number of products or locations");
  const auto cells = static_cast<size_t>(products) * static_cast<size_t>(locations);
  const auto P = static_cast<uint64_t>(products);
  const auto L = static_cast<uint64_t>(locations);
  // The cost is the scattered read-modify-writes into the cells (300k cells
  // of 8 bytes outgrow a core's cache), not reading the columns, so the main
  // pass scatters once per row: `seen` rides in the sum's sign of zero. Every
  // cell starts at -0.0; a movement after `as_of` adds -0.0, which leaves
  // -0.0 as it is (and costs no mispredicted branch); a counted one adds its
  // signed quantity + 0.0, and in IEEE arithmetic (round to nearest, no
  // fast-math) no sum with a counted term is ever -0.0 again (x + -x is
  // +0.0). A last pass over the cells reads `seen` off and clears the sign.
  // (A separate `seen` array cost a second scattered store per row.) The
  // window's shipments (days of cover) and transfers' destinations, each a
  // few of the rows, get passes of their own whose branch skips the rest:
  // that scatters less than adding 0 each row. A row with a code out of
  // range writes to a spare cell past the end and sets `bad`; a second look
  // then names it (a separate checking pass cost a fifth of the time).
  const int8_t* type = m.type;
  const int64_t* product = m.product;
  const int64_t* location = m.location;
  Levels out{std::vector<double>(cells + 1, -0.0), std::vector<double>(cells + 1, 0.0),
             std::vector<uint8_t>(cells, 0)};
  double* on_hand = out.on_hand.data();
  double* shipped = out.shipped.data();
  static constexpr double kSign[] = {1.0, -1.0, 1.0, 1.0, -1.0};  // by type code, as signed_quantity
  bool bad = false, transfers = false;
  // Each row's cell and signed quantity (-0.0 after as_of).
  auto row = [&](size_t i, size_t& cell, double& q) {
    const int8_t t = type[i];
    const auto p = static_cast<uint64_t>(product[i]);
    const auto l = static_cast<uint64_t>(location[i]);
    const bool ok = (static_cast<uint8_t>(t) <= Transfer) & (p < P) & (l < L);
    bad |= !ok;
    transfers |= t == Transfer;
    cell = ok ? p * L + l : cells;
    const double v = kSign[ok ? t : 0] * m.quantity[i] + 0.0;
    q = m.at[i] <= as_of ? v : -0.0;
  };
  // (Partitioning the rows by block of cells first, so that each block's
  // sums stay in L2 while its rows are added, was tried: 1M rows into 300k
  // cells took 11 ms against 8 for the straight scatter, which the L3 cache
  // serves with many misses in flight.)
  for (size_t i = 0; i < m.rows; ++i) {
    size_t cell;
    double q;
    row(i, cell, q);
    on_hand[cell] += q;
  }
  // (The window's shipments summed beside the stock in the same cache line,
  // one scattered update a row, took as long as this pass: 17 ms at 1M.)
  for (size_t i = 0; since < as_of && i < m.rows; ++i) {
    if (type[i] != Shipment || m.at[i] <= since || m.at[i] > as_of) continue;
    const auto p = static_cast<uint64_t>(product[i]);
    const auto l = static_cast<uint64_t>(location[i]);
    shipped[p < P && l < L ? p * L + l : cells] += m.quantity[i];
  }
  if (bad)
    for (size_t i = 0; i < m.rows; ++i) check_row(m, i, products, locations);  // throws, naming the first bad row
  for (size_t i = 0; transfers && i < m.rows; ++i) {
    if (type[i] != Transfer) continue;
    if (static_cast<uint64_t>(m.to_location[i]) >= L) check_row(m, i, products, locations);  // throws
    if (m.at[i] > as_of) continue;
    const size_t to = static_cast<size_t>(product[i]) * L + static_cast<size_t>(m.to_location[i]);
    on_hand[to] += m.quantity[i] + 0.0;
  }
  uint8_t* seen = out.seen.data();
  for (size_t c = 0; c < cells; ++c) {
    seen[c] = !(on_hand[c] == 0.0 && std::signbit(on_hand[c]));
    on_hand[c] += 0.0;  // -0.0 becomes 0.0
  }
  out.on_hand.pop_back();
  out.shipped.pop_back();
  return out;
}

Valuation moving_average(const Movements& m, int64_t products, int64_t as_of) {
  if (products < 0) throw std::invalid_argument("negative number of products");
  for (size_t i = 0; i < m.rows; ++i) check_row(m, i, products, std::numeric_limits<int64_t>::max());
  const auto P = static_cast<size_t>(products);
  Valuation out{std::vector<double>(P, 0.0), std::vector<double>(P, std::nan(""))};
  for (size_t i : in_time_order(m, as_of)) {
    const auto p = static_cast<size_t>(m.product[i]);
    if (m.type[i] == Transfer) continue;  // the product's stock, all locations together, stays as it was
    const double q = signed_quantity(m.type[i], m.quantity[i]);
    const double before = out.on_hand[p];
    out.on_hand[p] += q;
    const double c = m.unit_cost[i];
    if (q > 0 && !std::isnan(c)) {
      double& avg = out.average_cost[p];
      const double weight = before > kTolerance && !std::isnan(avg) ? before : 0.0;
      avg = (weight * (weight > 0 ? avg : 0.0) + q * c) / (weight + q);
    }
  }
  return out;
}

Stockouts stockouts(const Movements& m, int64_t products, int64_t locations, int64_t as_of) {
  if (products < 0 || locations < 0) throw std::invalid_argument("negative number of products or locations");
  // Each movement's effect on each location it touches: a transfer is two.
  struct Step {
    int64_t key, at;
    size_t seq;
    double q;
  };
  std::vector<Step> steps;
  steps.reserve(m.rows);
  for (size_t i = 0; i < m.rows; ++i) {
    check_row(m, i, products, locations);
    if (m.at[i] > as_of) continue;
    steps.push_back({m.product[i] * locations + m.location[i], m.at[i], i, signed_quantity(m.type[i], m.quantity[i])});
    if (m.type[i] == Transfer)
      steps.push_back({m.product[i] * locations + m.to_location[i], m.at[i], i, m.quantity[i]});
  }
  std::sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) {
    return a.key != b.key ? a.key < b.key : a.at != b.at ? a.at < b.at : a.seq < b.seq;
  });
  Stockouts out;
  for (size_t s = 0; s < steps.size();) {
    const int64_t key = steps[s].key;
    double balance = 0;
    bool out_of_stock = false;
    for (; s < steps.size() && steps[s].key == key; ++s) {
      balance += steps[s].q;
      const bool empty = balance <= kTolerance;
      if (empty && !out_of_stock) {
        out.product.push_back(key / locations);
        out.location.push_back(key % locations);
        out.start.push_back(steps[s].at);
        out.end.push_back(std::numeric_limits<int64_t>::min());
        out.lowest.push_back(balance);
      } else if (empty) {
        out.lowest.back() = std::min(out.lowest.back(), balance);
      } else if (out_of_stock) {
        out.end.back() = steps[s].at;
      }
      out_of_stock = empty;
    }
  }
  for (double& v : out.lowest)
    if (std::abs(v) <= kTolerance) v = 0.0;
  return out;
}

}  // namespace crmcore::stock
