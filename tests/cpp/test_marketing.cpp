// Look-alike scoring of prospects on a market small enough to count by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "crmcore/marketing/attribution.hpp"
#include "crmcore/marketing/lookalikes.hpp"
#include "crmcore/marketing/segments.hpp"

using namespace crmcore;
using namespace crmcore::marketing;

TEST(Lookalikes, VotesBuyersAndProductsByHand) {
  // Customers 0..5. Industry: 0,1,2,3 share code 7; 4 has code 8; 5 missing.
  // Region: 0 and 4 share code 1; the rest missing. Buyers: 0 and 1.
  const std::vector<int64_t> codes{7, 7, 7, 7, 8, -1,    // industry
                                   1, -1, -1, -1, 1, -1};  // region
  const std::vector<uint8_t> bought{1, 1, 0, 0, 0, 0};
  // Buyer 0 bought product 50 twice and 40 once; buyer 1 bought 40 once, 60 once.
  const std::vector<int64_t> line_customer{0, 0, 0, 1, 1};
  const std::vector<int64_t> line_product{50, 50, 40, 40, 60};
  LookalikeInput in;
  in.customers = 6;
  in.fields = 2;
  in.codes = codes.data();
  in.bought = bought.data();
  in.line_customer = line_customer.data();
  in.line_product = line_product.data();
  in.lines = line_customer.size();
  in.top = 2;
  Cancel none;
  Lookalikes r = score_lookalikes(in, none);
  ASSERT_EQ(r.prospect, (std::vector<int64_t>{2, 3, 4, 5}));
  // Prospect 2: industry 7 has 3 others, 2 of them buyers; no region.
  EXPECT_DOUBLE_EQ(r.votes[0], 2.0 / 3.0);
  EXPECT_TRUE(std::isnan(r.votes[1]));
  EXPECT_DOUBLE_EQ(r.score[0], 2.0 / 3.0);
  EXPECT_EQ(r.lookalikes[0], 2);
  // Product counts over buyers 0 and 1: 50 x2, 40 x2, 60 x1; the tie goes to 40.
  EXPECT_EQ(r.products[0], 40);
  EXPECT_EQ(r.products[1], 50);
  // Prospect 3 has prospect 2's codes: the same answer.
  EXPECT_EQ(r.lookalikes[1], 2);
  EXPECT_EQ(r.products[2], 40);
  // Prospect 4: industry 8 has no other customer (no vote); region 1 is
  // shared with buyer 0 only (1 of 1 other bought).
  EXPECT_TRUE(std::isnan(r.votes[4]));
  EXPECT_DOUBLE_EQ(r.votes[5], 1.0);
  EXPECT_DOUBLE_EQ(r.score[2], 1.0);
  EXPECT_EQ(r.lookalikes[2], 1);
  EXPECT_EQ(r.products[4], 50);
  EXPECT_EQ(r.products[5], 40);
  // Prospect 5 has nothing: no vote, score 0, no look-alikes, no products.
  EXPECT_DOUBLE_EQ(r.score[3], 0.0);
  EXPECT_EQ(r.lookalikes[3], 0);
  EXPECT_EQ(r.products[6], -1);
  EXPECT_EQ(r.products[7], -1);
}

TEST(Lookalikes, RefusesALineOfAnUnknownCustomer) {
  const std::vector<int64_t> codes{0, 0};
  const std::vector<uint8_t> bought{1, 0};
  const std::vector<int64_t> line_customer{2};
  const std::vector<int64_t> line_product{1};
  LookalikeInput in;
  in.customers = 2;
  in.fields = 1;
  in.codes = codes.data();
  in.bought = bought.data();
  in.line_customer = line_customer.data();
  in.line_product = line_product.data();
  in.lines = 1;
  Cancel none;
  EXPECT_THROW(score_lookalikes(in, none), std::invalid_argument);
}

TEST(Attribution, LastAndFirstTouchInsideTheWindowByHand) {
  // Customer 1 touched at 10, 20, 20 (rows 0, 1, 2) and 40; customer 2 at 5.
  const std::vector<int64_t> touch_customer{1, 1, 1, 2, 1};
  const std::vector<int64_t> touched_at{10, 20, 20, 5, 40};
  // Orders: c1 at 25, c1 at 9 (before any touch), c1 at 50 (window 10: 40 only),
  // c1 at 31 (window 10: 20 and 20 lie 11 back, out), c2 at 15 (exactly the window), c3 at 30.
  const std::vector<int64_t> order_customer{1, 1, 1, 1, 2, 3};
  const std::vector<int64_t> ordered_at{25, 9, 50, 31, 15, 30};
  const TimedRows orders{order_customer.data(), ordered_at.data(), order_customer.size()};
  const TimedRows touches{touch_customer.data(), touched_at.data(), touch_customer.size()};
  Cancel none;
  EXPECT_EQ(attribute_orders(orders, touches, 10, true, none), (std::vector<int64_t>{2, -1, 4, -1, 3, -1}));
  EXPECT_EQ(attribute_orders(orders, touches, 10, false, none), (std::vector<int64_t>{1, -1, 4, -1, 3, -1}));
  // A wide window: the first touch is the earliest of all, the last the latest before the order.
  EXPECT_EQ(attribute_orders(orders, touches, 100, false, none), (std::vector<int64_t>{0, -1, 0, 0, 3, -1}));
  EXPECT_EQ(attribute_orders(orders, touches, 100, true, none), (std::vector<int64_t>{2, -1, 4, 2, 3, -1}));
  EXPECT_THROW(attribute_orders(orders, touches, -1, true, none), std::invalid_argument);
  // Ids too sparse for a direct table take the other way to the same answer.
  auto spread = [](std::vector<int64_t> ids) {
    for (auto& id : ids) id = id * 1'000'000'000'000LL - 7;
    return ids;
  };
  const std::vector<int64_t> far_touch = spread(touch_customer), far_order = spread(order_customer);
  const TimedRows far_orders{far_order.data(), ordered_at.data(), far_order.size()};
  const TimedRows far_touches{far_touch.data(), touched_at.data(), far_touch.size()};
  EXPECT_EQ(attribute_orders(far_orders, far_touches, 10, true, none), (std::vector<int64_t>{2, -1, 4, -1, 3, -1}));
  EXPECT_EQ(attribute_orders(far_orders, far_touches, 100, false, none), (std::vector<int64_t>{0, -1, 0, 0, 3, -1}));
}

TEST(SegmentScores, PurchaseTotalsOfTheCandidatesByHand) {
  // Orders of customers 10, 11, 12 and 40; labels: 0 "paid" (purchase), 1 "void" (not).
  const std::vector<int64_t> customer{10, 11, 10, 12, 10, 40, 11, 12};
  const std::vector<int64_t> at{1, 2, 3, 4, 5, 6, 7, 99};
  const std::vector<double> amount{1.5, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0};
  const std::vector<int32_t> status{0, -1, 1, 0, -1, 0, 1, 0};
  OrderRows rows{customer.data(), nullptr, amount.data(), status.data(), customer.size()};
  const std::vector<uint8_t> purchase{1, 0};
  Cancel none;
  // Candidates 10, 12 and 13 (no orders); 11 and 40 are not candidates.
  PurchaseTotals t = purchase_totals(rows, purchase, {10, 12, 13}, 0, none);
  EXPECT_EQ(t.frequency, (std::vector<int64_t>{2, 2, 0}));
  EXPECT_EQ(t.monetary, (std::vector<double>{17.5, 136.0, 0.0}));
  // With times, orders after as_of = 50 do not count (12's last one).
  rows.ordered_at = at.data();
  t = purchase_totals(rows, purchase, {10, 12, 13}, 50, none);
  EXPECT_EQ(t.frequency, (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(t.monetary, (std::vector<double>{17.5, 8.0, 0.0}));
  // Sparse candidates (far apart ids) are found by binary search, same answer.
  t = purchase_totals(rows, purchase, {10, 40, int64_t(1) << 40}, 50, none);
  EXPECT_EQ(t.frequency, (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(t.monetary, (std::vector<double>{17.5, 32.0, 0.0}));
}

TEST(SegmentScores, PurchaseTotalsRefuseBadInput) {
  const std::vector<int64_t> customer{1, 2};
  const std::vector<double> amount{1.0, NAN};
  const std::vector<int32_t> status{0, 2};
  OrderRows rows{customer.data(), nullptr, amount.data(), status.data(), 2};
  Cancel none;
  EXPECT_THROW(purchase_totals(rows, {1}, {2, 1}, 0, none), std::invalid_argument);  // out of order
  EXPECT_THROW(purchase_totals(rows, {1}, {1, 1}, 0, none), std::invalid_argument);  // repeated
  EXPECT_THROW(purchase_totals(rows, {1}, {2}, 0, none), std::invalid_argument);     // code 2 has no flag
  const std::vector<int32_t> known{0, 0};
  rows.status = known.data();
  EXPECT_THROW(purchase_totals(rows, {1}, {2}, 0, none), std::exception);  // a missing amount names its row
  EXPECT_EQ(purchase_totals(rows, {1}, {1}, 0, none).frequency, (std::vector<int64_t>{1}));
}
