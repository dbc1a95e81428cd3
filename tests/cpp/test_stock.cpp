// Stock ledger kernels on tiny inputs whose answers are worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <stdexcept>
#include <vector>

#include "crmcore/stock/ledger.hpp"

using namespace crmcore::stock;

namespace {

constexpr int64_t D = 86400LL * 1000000000LL;

struct Ledger {
  std::vector<int8_t> type;
  std::vector<int64_t> product, location, to_location;
  std::vector<double> quantity, cost;
  std::vector<int64_t> at;

  void add(int8_t t, int64_t p, int64_t l, double q, int64_t day, double c = NAN, int64_t to = -1) {
    type.push_back(t), product.push_back(p), location.push_back(l), to_location.push_back(to);
    quantity.push_back(q), cost.push_back(c), at.push_back(day * D);
  }
  Movements view() const {
    return {type.data(), product.data(), location.data(), to_location.data(), quantity.data(), cost.data(),
            at.data(), type.size()};
  }
};

}  // namespace

TEST(StockLevels, SumOfMovementsUpToTheDayPerLocation) {
  Ledger m;  // product 0 at locations 0 and 1; product 1 never at location 1
  m.add(Receipt, 0, 0, 10, 1);
  m.add(Shipment, 0, 0, 3, 5);
  m.add(Transfer, 0, 0, 4, 6, NAN, 1);
  m.add(Return, 0, 1, 1, 8);
  m.add(Adjustment, 1, 0, -2, 3);
  m.add(Shipment, 0, 1, 2, 20);  // after as_of
  Levels day7 = levels(m.view(), 2, 2, 7 * D, 4 * D);
  EXPECT_EQ(day7.on_hand, (std::vector<double>{3, 4, -2, 0}));
  EXPECT_EQ(day7.shipped, (std::vector<double>{3, 0, 0, 0}));  // day 5 is in (4, 7]
  EXPECT_EQ(day7.seen, (std::vector<uint8_t>{1, 1, 1, 0}));
  Levels day0 = levels(m.view(), 2, 2, 0, 0);
  EXPECT_EQ(day0.seen, (std::vector<uint8_t>{0, 0, 0, 0}));
  m.add(Transfer, 0, 0, 1, 2);  // no destination
  EXPECT_THROW(levels(m.view(), 2, 2, 7 * D, 0), std::invalid_argument);
}

// The kernel splits its work into passes (checks, sums, shipments,
// transfers); every (as_of, since) pair on random movements must give what
// one movement-at-a-time loop over the rules in ledger.hpp gives.
TEST(StockLevels, RandomMovementsMatchAPlainLoopForEveryWindow) {
  std::mt19937_64 rng(7);
  Ledger m;
  const int64_t P = 5, L = 3;
  for (int i = 0; i < 400; ++i) {
    const auto t = static_cast<int8_t>(rng() % 5);
    const auto l = static_cast<int64_t>(rng() % L);
    m.add(t, static_cast<int64_t>(rng() % P), l, static_cast<double>(1 + rng() % 9) * (t == Adjustment ? -1 : 1),
          static_cast<int64_t>(rng() % 30), NAN, t == Transfer ? (l + 1 + static_cast<int64_t>(rng() % 2)) % L : -1);
  }
  for (int64_t as_of : {-1, 0, 10, 29, 40})
    for (int64_t since : {-5, 0, 5, 10, 29, 40}) {
      std::vector<double> on_hand(P * L, 0), shipped(P * L, 0);
      std::vector<uint8_t> seen(P * L, 0);
      for (size_t i = 0; i < m.type.size(); ++i) {
        if (m.at[i] > as_of * D) continue;
        const int64_t from = m.product[i] * L + m.location[i];
        on_hand[from] += signed_quantity(m.type[i], m.quantity[i]);
        seen[from] = 1;
        if (m.type[i] == Shipment && m.at[i] > since * D) shipped[from] += m.quantity[i];
        if (m.type[i] == Transfer) on_hand[m.product[i] * L + m.to_location[i]] += m.quantity[i];
        if (m.type[i] == Transfer) seen[m.product[i] * L + m.to_location[i]] = 1;
      }
      const Levels got = levels(m.view(), P, L, as_of * D, since * D);
      const std::string window = "as_of " + std::to_string(as_of) + " since " + std::to_string(since);
      EXPECT_EQ(got.on_hand, on_hand) << window;
      EXPECT_EQ(got.shipped, shipped) << window;
      EXPECT_EQ(got.seen, seen) << window;
    }
}

// A bad code is refused wherever it is, after the date asked for too, and
// the message names the first bad row.
TEST(StockLevels, ABadCodeIsRefusedNamingItsRow) {
  Ledger m;
  m.add(Receipt, 0, 0, 1, 1);
  m.add(Receipt, 0, 0, 1, 9);
  m.add(Shipment, 3, 0, 1, 9);  // product 3 of 2, after as_of
  m.add(Receipt, 0, 5, 1, 9);
  try {
    levels(m.view(), 2, 1, 2 * D, 0);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "movement row 2: product code out of range");
  }
  m.type[2] = 9;
  m.product[2] = 0;
  EXPECT_THROW(levels(m.view(), 2, 1, 2 * D, 0), std::invalid_argument);
  Ledger t;  // a transfer to nowhere, after as_of, among good rows
  t.add(Receipt, 0, 0, 1, 1);
  t.add(Transfer, 0, 0, 1, 2, NAN, 1);
  t.add(Transfer, 0, 1, 1, 9, NAN, 2);
  try {
    levels(t.view(), 1, 2, 3 * D, 0);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "movement row 2: a transfer's destination code is out of range");
  }
}

TEST(StockMovingAverage, ShortStockAndUnknownCostWeighNothing) {
  Ledger m;
  m.add(Receipt, 0, 0, 10, 1, 2.0);
  m.add(Shipment, 0, 0, 15, 2);           // 5 short
  m.add(Receipt, 0, 0, 10, 3, 4.0);       // 5 on hand, all at 4
  m.add(Adjustment, 0, 0, 5, 4, 1.0);     // (5*4 + 5*1) / 10
  m.add(Transfer, 0, 0, 3, 5, NAN, 1);    // the product's total stays
  m.add(Receipt, 1, 0, 4, 1);             // no cost: never costed
  Valuation v = moving_average(m.view(), 2, 10 * D);
  EXPECT_EQ(v.on_hand, (std::vector<double>{10, 4}));
  EXPECT_DOUBLE_EQ(v.average_cost[0], 2.5);
  EXPECT_TRUE(std::isnan(v.average_cost[1]));
  EXPECT_DOUBLE_EQ(moving_average(m.view(), 2, 3 * D).average_cost[0], 4.0);
}

TEST(StockOuts, SpellsFromEmptyToRestockedOrStillOpen) {
  Ledger m;
  m.add(Receipt, 0, 0, 2, 1);
  m.add(Shipment, 0, 0, 2, 3);            // empty from day 3
  m.add(Shipment, 0, 0, 1, 4);            // -1
  m.add(Receipt, 0, 0, 5, 9);             // back on day 9
  m.add(Transfer, 0, 0, 4, 10, NAN, 1);   // 0 left at 0 from day 10; 4 at location 1
  Stockouts s = stockouts(m.view(), 1, 2, 30 * D);
  ASSERT_EQ(s.start.size(), 2u);
  EXPECT_EQ(s.start, (std::vector<int64_t>{3 * D, 10 * D}));
  EXPECT_EQ(s.end, (std::vector<int64_t>{9 * D, std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(s.lowest, (std::vector<double>{-1, 0}));
  EXPECT_EQ(s.location, (std::vector<int64_t>{0, 0}));
}
