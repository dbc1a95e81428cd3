// The write path's domain rules on a PostgreSQL store (pg_rules.cpp), one
// case per rule family, against a real server (pg_server.hpp). Expectations
// are worked by hand from the rules (the default pipeline's stages and
// probabilities, the tickets' workflow), and the same cases are written
// for SQLite in tests/cpp/test_sales_rules.cpp and the Python suites.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "../columns.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"
#include "both_engines.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

using pgtest::add;
using pgtest::column;

// Every case on both engines (both_engines.hpp).
class PgRules : public pgtest::BothEngines {};

TEST_P(PgRules, DealStagesAreCheckedAndKept) {
  const int64_t cust = add(s(), "customers", {text_column("name", {"Acme"})});
  const int64_t deal = add(s(), "deals", {int_column("customer_id", {cust}), text_column("stage", {"线索"}),
                                          time_column("stage_changed_at", {kJan1})});
  Table d = s().select("deals");
  EXPECT_EQ(column(d, "stage").texts.at(0), "lead");  // the label names the stage
  EXPECT_DOUBLE_EQ(column(d, "probability").reals.at(0), 0.1);
  EXPECT_EQ(column(d, "closed_at").valid.at(0), 0);
  s().update("deals", deal, table({text_column("stage", {"won"}), time_column("stage_changed_at", {kJan1 + kDay})}));
  d = s().select("deals");
  EXPECT_DOUBLE_EQ(column(d, "probability").reals.at(0), 1.0);
  EXPECT_EQ(column(d, "closed_at").ints.at(0), kJan1 + kDay);
  try {
    s().update("deals", deal, table({text_column("stage", {"maybe"})}));
    FAIL() << "a stage the pipeline lacks was accepted";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "stage");
    EXPECT_NE(e.reason().find("lead, qualified, proposal, negotiation, won, lost"), std::string::npos) << e.reason();
  }
  const Table h = s().select("deal_stages");
  ASSERT_EQ(h.rows(), 2u);  // the refused move left nothing
  EXPECT_EQ(column(h, "stage").texts, (std::vector<std::string>{"lead", "won"}));
  EXPECT_EQ(column(h, "from_stage").valid.at(0), 0);
  EXPECT_EQ(column(h, "from_stage").texts.at(1), "lead");
  EXPECT_EQ(column(h, "changed_at").ints, (std::vector<int64_t>{kJan1, kJan1 + kDay}));
  EXPECT_EQ(column(s().select("deals"), "stage").texts.at(0), "won");
}

TEST_P(PgRules, EveryChangeOfTheExpectedCloseIsKept) {
  const int64_t cust = add(s(), "customers", {text_column("name", {"Acme"})});
  const int64_t deal = add(s(), "deals", {int_column("customer_id", {cust}), text_column("stage", {"lead"}),
                                          time_column("expected_close", {kJan1 + 30 * kDay}),
                                          time_column("close_changed_at", {kJan1})});
  s().update("deals", deal, table({time_column("expected_close", {kJan1 + 60 * kDay}),
                                   time_column("close_changed_at", {kJan1 + 20 * kDay})}));
  s().update("deals", deal, table({real_column("amount", {5.0})}));  // the date stays: no row
  const Table h = s().select("deal_close_dates");
  ASSERT_EQ(h.rows(), 2u);
  EXPECT_EQ(column(h, "expected_close").ints, (std::vector<int64_t>{kJan1 + 30 * kDay, kJan1 + 60 * kDay}));
  EXPECT_EQ(column(h, "previous").valid.at(0), 0);
  EXPECT_EQ(column(h, "previous").ints.at(1), kJan1 + 30 * kDay);
}

TEST_P(PgRules, TicketsFollowTheirWorkflow) {
  const int64_t cust = add(s(), "customers", {text_column("name", {"Acme"})});
  const int64_t staff = add(s(), "staff", {text_column("name", {"Li"})});
  const int64_t ticket = add(s(), "tickets", {int_column("customer_id", {cust}), text_column("subject", {"s"}),
                                              text_column("status", {"new"}), time_column("opened_at", {kJan1})});
  EXPECT_THROW(s().update("tickets", ticket, table({text_column("status", {"assigned"})})), ValidationError);
  try {
    s().update("tickets", ticket, table({text_column("status", {"closed"})}));
    FAIL() << "new -> closed was accepted";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "status");
    EXPECT_NE(e.reason().find("assigned, in_progress, resolved"), std::string::npos) << e.reason();
  }
  s().update("tickets", ticket, table({text_column("status", {"assigned"}), int_column("assignee_id", {staff}),
                                       time_column("status_changed_at", {kJan1 + kDay})}));
  s().update("tickets", ticket,
             table({text_column("status", {"resolved"}), time_column("status_changed_at", {kJan1 + 3 * kDay})}));
  const Table t = s().select("tickets");
  EXPECT_EQ(column(t, "status").texts.at(0), "resolved");
  // "assigned" is no work yet: the first response is the move to resolved.
  EXPECT_EQ(column(t, "first_response_at").ints.at(0), kJan1 + 3 * kDay);
  EXPECT_EQ(column(t, "resolved_at").ints.at(0), kJan1 + 3 * kDay);
  const Table e = s().select("ticket_events");
  EXPECT_EQ(column(e, "status").texts, (std::vector<std::string>{"new", "assigned", "resolved"}));
}

TEST_P(PgRules, InvoiceCarriesItsLinesAndRefusesAPaymentBeyondIt) {
  const int64_t cust = add(s(), "customers", {text_column("name", {"Acme"})});
  const int64_t inv = add(s(), "invoices", {int_column("customer_id", {cust}), time_column("issued_at", {kJan1}),
                                            time_column("due_at", {kJan1 + 30 * kDay})});
  // 2 x 50 with 10% tax and 1 x 30 untaxed: 140.
  s().insert("invoice_lines", table({int_column("invoice_id", {inv, inv}), real_column("quantity", {2, 1}),
                                     real_column("unit_price", {50, 30}), real_column("tax_rate", {0.1, 0})}));
  EXPECT_DOUBLE_EQ(column(s().select("invoices"), "amount").reals.at(0), 140.0);
  auto pay = [&](double amount, const char* overpayment = nullptr) {
    std::vector<Column> c = {int_column("customer_id", {cust}), int_column("invoice_id", {inv}),
                             time_column("paid_at", {kJan1 + kDay}), real_column("amount", {amount})};
    if (overpayment) c.push_back(text_column("overpayment", {overpayment}));
    return add(s(), "payments", std::move(c));
  };
  pay(100.0);
  try {
    pay(1e9);
    FAIL() << "a payment of 1e9 against 40 open was accepted";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.kind(), "payments");
    EXPECT_EQ(e.field(), "amount");
    EXPECT_NE(e.reason().find("invoice " + std::to_string(inv) + ": 40 of its amount 140"), std::string::npos)
        << e.reason();
  }
  EXPECT_EQ(s().select("payments").rows(), 1u);
  EXPECT_EQ(column(s().select("invoices"), "status").texts.at(0), "issued");
  pay(55.0, "credit");  // 15 beyond the 40 open, kept as the customer's credit
  Table p = s().select("payments");
  EXPECT_EQ(column(p, "credit").valid.at(0), 0);
  EXPECT_NEAR(column(p, "credit").reals.at(1), 15.0, 1e-9);
  EXPECT_EQ(column(s().select("invoices"), "status").texts.at(0), "paid");
  EXPECT_THROW(s().update("invoices", inv, table({real_column("amount", {150.0})})), ValidationError);  // unbalanced
  EXPECT_THROW(s().update("invoices", inv, table({time_column("due_at", {kJan1 - kDay})})), ValidationError);
  // The payment that marked the invoice paid wrote a side entry for it (the
  // seal numbers those itself): the writes after it and the refused ones
  // left the chain whole, with no gap.
  add(s(), "customers", {text_column("name", {"Beta"})});
  EXPECT_TRUE(s().audit_check().empty());
}

// The audit log numbers its entries 1, 2, 3... on both engines, whatever
// rolled back between them: a dry run, a refused write, a rule's side
// entries (PostgreSQL's identity column hands out numbers that a rollback
// does not take back; the seal numbers the entries itself).
TEST_P(PgRules, TheAuditLogHasNoGapsAfterRollbacksAndSideEntries) {
  const int64_t cust = add(s(), "customers", {text_column("name", {"Acme"})});
  s().insert("customers", table({text_column("name", {"dry"})}), OnError::Raise, {}, /*dry_run=*/true);
  EXPECT_THROW(add(s(), "orders", {int_column("customer_id", {cust})}), ValidationError);  // no amount, no date
  const int64_t inv = add(s(), "invoices", {int_column("customer_id", {cust}), time_column("issued_at", {kJan1}),
                                            time_column("due_at", {kJan1}), real_column("amount", {10.0})});
  add(s(), "payments", {int_column("customer_id", {cust}), int_column("invoice_id", {inv}),
                        time_column("paid_at", {kJan1}), real_column("amount", {10.0})});  // marks it paid
  add(s(), "customers", {text_column("name", {"Beta"})});
  EXPECT_TRUE(s().audit_check().empty());
  std::vector<int64_t> seqs = column(s().audit_log(100), "seq").ints;
  std::sort(seqs.begin(), seqs.end());
  // customer, invoice, payment, the invoice's status (a side entry), customer
  EXPECT_EQ(seqs, (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST_P(PgRules, AnOrderCannotBePaidBeyondItsAmountNorLoweredBelowItsPayments) {
  const int64_t cust = add(s(), "customers", {text_column("name", {"Acme"})});
  const int64_t order = add(s(), "orders", {int_column("customer_id", {cust}), time_column("ordered_at", {kJan1}),
                                            real_column("amount", {10.0})});
  add(s(), "payments", {int_column("customer_id", {cust}), int_column("order_id", {order}),
                        time_column("paid_at", {kJan1}), real_column("amount", {8.0})});
  EXPECT_THROW(add(s(), "payments", {int_column("customer_id", {cust}), int_column("order_id", {order}),
                                     time_column("paid_at", {kJan1}), real_column("amount", {2.5})}),
               ValidationError);
  try {
    s().update("orders", order, table({real_column("amount", {7.0})}));
    FAIL() << "an order lowered below its payments was accepted";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.kind(), "orders");
    EXPECT_NE(e.reason().find("payments totalling 8"), std::string::npos) << e.reason();
  }
  s().update("orders", order, table({real_column("amount", {9.0})}));
  EXPECT_DOUBLE_EQ(column(s().select("orders"), "amount").reals.at(0), 9.0);
}

TEST_P(PgRules, TargetsAndProjectsAreChecked) {
  const int64_t staff = add(s(), "staff", {text_column("name", {"Li"})});
  EXPECT_THROW(add(s(), "targets", {int_column("staff_id", {staff}), text_column("period", {"2024-13"}),
                                    text_column("metric", {"bookings"}), real_column("amount", {5.0})}),
               ValidationError);
  add(s(), "targets", {int_column("staff_id", {staff}), text_column("period", {"2024-Q1"}),
                       text_column("metric", {"bookings"}), real_column("amount", {5.0})});
  const int64_t cust = add(s(), "customers", {text_column("name", {"Acme"})});
  const int64_t deal = add(s(), "deals", {int_column("customer_id", {cust}), text_column("stage", {"lead"})});
  EXPECT_THROW(add(s(), "projects", {text_column("name", {"p"}), int_column("deal_id", {deal})}), ValidationError);
  s().update("deals", deal, table({text_column("stage", {"won"})}));
  add(s(), "projects", {text_column("name", {"p"}), int_column("deal_id", {deal})});
  EXPECT_EQ(s().select("targets").rows(), 1u);
  EXPECT_EQ(s().select("projects").rows(), 1u);
}

TEST_P(PgRules, ContractsEndAfterTheyStart) {
  const int64_t cust = add(s(), "customers", {text_column("name", {"Acme"})});
  try {
    add(s(), "contracts", {int_column("customer_id", {cust}), time_column("started_at", {kJan1}),
                           time_column("ends_at", {kJan1 - kDay})});
    FAIL() << "a contract ending before it starts was accepted";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "ends_at");
    EXPECT_EQ(e.reason(), "is before started_at");
  }
  const int64_t contract = add(s(), "contracts", {int_column("customer_id", {cust}), time_column("started_at", {kJan1}),
                                                  time_column("ends_at", {kJan1 + 365 * kDay})});
  EXPECT_THROW(s().update("contracts", contract, table({time_column("started_at", {kJan1 + 400 * kDay})})),
               ValidationError);
  EXPECT_EQ(column(s().select("contracts"), "started_at").ints.at(0), kJan1);
}

// Receipts fill their purchase line and take its cost; the stock never goes
// below zero where no backorders are taken; the ledger is not changed; the
// kept monthly balances follow it, and stock on a date reads them.
TEST_P(PgRules, StockMovementsAreCheckedAndTheirBalancesKept) {
  const int64_t supplier = add(s(), "customers", {text_column("name", {"Supplier"})});
  const int64_t product = add(s(), "products", {text_column("sku", {"P1"}), text_column("name", {"Bolt"})});
  const int64_t a = add(s(), "locations", {text_column("name", {"A"})});
  const int64_t b = add(s(), "locations", {text_column("name", {"B"})});
  const int64_t po = add(s(), "purchase_orders", {int_column("supplier_id", {supplier}), int_column("location_id", {a}),
                                                  time_column("ordered_at", {kJan1})});
  const int64_t line = add(s(), "purchase_lines", {int_column("purchase_order_id", {po}), int_column("product_id", {product}),
                                                   real_column("quantity", {10}), real_column("unit_cost", {2})});
  auto move = [&](const char* type, int64_t at, double quantity, int64_t day, std::vector<Column> more = {}) {
    more.push_back(text_column("type", {type}));
    more.push_back(int_column("product_id", {product}));
    more.push_back(int_column("location_id", {at}));
    more.push_back(real_column("quantity", {quantity}));
    more.push_back(time_column("moved_at", {kJan1 + day * kDay}));
    return add(s(), "stock_movements", std::move(more));
  };
  const int64_t receipt = move("receipt", a, 6, 4, {int_column("purchase_line_id", {line})});
  Table l = s().select("purchase_lines");
  EXPECT_DOUBLE_EQ(column(l, "received_quantity").reals.at(0), 6.0);
  EXPECT_EQ(column(l, "received_at").ints.at(0), kJan1 + 4 * kDay);
  EXPECT_DOUBLE_EQ(column(s().select("stock_movements"), "unit_cost").reals.at(0), 2.0);  // the line's
  try {
    move("receipt", a, 5, 5, {int_column("purchase_line_id", {line})});
    FAIL() << "receipts beyond the line were accepted";
  } catch (const ValidationError& e) {
    EXPECT_NE(e.reason().find("receipts of 11 exceed the 10 ordered"), std::string::npos) << e.reason();
  }
  try {
    move("shipment", a, 8, 6);
    FAIL() << "a shipment beyond the stock was accepted";
  } catch (const ValidationError& e) {
    EXPECT_NE(e.reason().find("would hold -2 of"), std::string::npos) << e.reason();
  }
  EXPECT_THROW(move("adjustment", a, -1, 6), ValidationError);  // no reason
  EXPECT_THROW(s().update("stock_movements", receipt, table({real_column("quantity", {7})})), ValidationError);
  move("transfer", a, 2, 33, {int_column("to_location_id", {b})});  // Feb 3
  move("shipment", a, 1, 40);                                        // Feb 10
  // 2024-01 is month 2024 * 12, 2024-02 the next.
  const Store::StockBalances kept = s().stock_balances();
  EXPECT_EQ(kept.location, (std::vector<int64_t>{a, a, b}));
  EXPECT_EQ(kept.period, (std::vector<int64_t>{24288, 24289, 24289}));
  EXPECT_EQ(kept.change, (std::vector<double>{6, -3, 2}));
  // On Feb 5: January's balance and February's movements up to then.
  Store::StockLevels on = s().stock_levels(kJan1 + 35 * kDay, kJan1);
  EXPECT_EQ(on.location, (std::vector<int64_t>{a, b}));
  EXPECT_EQ(on.on_hand, (std::vector<double>{4, 2}));
  on = s().stock_levels(kJan1 + 59 * kDay, kJan1 + 35 * kDay);  // Feb 29
  EXPECT_EQ(on.on_hand, (std::vector<double>{3, 2}));
  EXPECT_EQ(on.shipped, (std::vector<double>{1, 0}));
  EXPECT_TRUE(s().audit_check().empty());
}

TEST_P(PgRules, ACompletedRecurringTaskMakesItsNextOccurrence) {
  EXPECT_THROW(add(s(), "tasks", {text_column("subject", {"call"}), text_column("recurrence", {"monthly"})}),
               ValidationError);  // a series needs its first due time
  const int64_t due = kJan1 + 30 * kDay + 10 * 3600LL * 1000000000LL;  // Jan 31, 10:00
  const int64_t task = add(s(), "tasks", {text_column("subject", {"call"}), time_column("due_at", {due}),
                                          text_column("recurrence", {"monthly"})});
  EXPECT_EQ(column(s().select("tasks"), "series_start").ints.at(0), due);
  s().update("tasks", task, table({int_column("done", {1})}));
  Table t = s().select("tasks");
  ASSERT_EQ(t.rows(), 2u);
  EXPECT_EQ(column(t, "done_at").valid.at(0), 1);  // stamped
  const int64_t next = column(t, "next_task_id").ints.at(0);
  EXPECT_EQ(column(t, "id").ints.at(1), next);
  // The 31st falls on Feb 29 in 2024, at the same time of day.
  EXPECT_EQ(column(t, "due_at").ints.at(1), kJan1 + 59 * kDay + 10 * 3600LL * 1000000000LL);
  EXPECT_EQ(column(t, "series_start").ints.at(1), due);
  s().update("tasks", task, table({int_column("done", {0})}));
  EXPECT_EQ(column(s().select("tasks"), "done_at").valid.at(0), 0);  // cleared
  s().update("tasks", task, table({int_column("done", {1})}));
  EXPECT_EQ(s().select("tasks").rows(), 2u);  // it has its next one already
}

TEST_P(PgRules, CommissionRulesMayNotOverlap) {
  const int64_t partner = add(s(), "customers", {text_column("name", {"Partner"})});
  auto rule = [&](int64_t from, int64_t until) {
    return add(s(), "commission_rules", {int_column("partner_id", {partner}), text_column("category", {"tools"}),
                                         real_column("rate", {0.1}), time_column("valid_from", {from}),
                                         time_column("valid_until", {until})});
  };
  const int64_t first = rule(kJan1, kJan1 + 31 * kDay);
  rule(kJan1 + 31 * kDay, kJan1 + 60 * kDay);  // from the day the first ends
  try {
    rule(kJan1 + 10 * kDay, kJan1 + 20 * kDay);
    FAIL() << "an overlapping rule was accepted";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "valid_from");
    EXPECT_NE(e.reason().find("overlaps rule " + std::to_string(first)), std::string::npos) << e.reason();
  }
  EXPECT_THROW(rule(kJan1 + 90 * kDay, kJan1 + 80 * kDay), ValidationError);  // ends before it begins
  EXPECT_EQ(s().select("commission_rules").rows(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Engines, PgRules, pgtest::kEngines);

}  // namespace

// The catalog and a custom key's index on both engines (pgcat18): a declared
// integer key converted on write and found by its index, a closed text key
// extended with a labelled value, each change audited and the chain whole;
// expectations by hand.
TEST_P(PgRules, CatalogAndACustomKeyIndex) {
  s().declare_custom("customers", "seats", FieldType::Integer, {}, false, /*index=*/true);
  s().declare_custom("customers", "level", FieldType::Text, {"gold", "silver"}, false, false);
  s().allow("customers", "custom.level", "bronze", {Label{"铜牌", "", "zh"}});
  const auto ids = s().insert("customers", table({text_column("name", {"A", "B"}),
                                                  text_column("custom", {R"({"seats":"12","level":"铜牌"})",
                                                                         R"({"seats":3})"})}))
                       .ids;
  try {
    add(s(), "customers", {text_column("name", {"C"}), text_column("custom", {R"({"seats":true})"})});
    FAIL() << "true was taken for a whole number";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "custom.seats");
  }
  Table t = s().select("customers", &ids, nullptr);
  EXPECT_EQ(column(t, "custom").texts.at(0), R"({"seats":12,"level":"bronze"})");
  Column more("v", Column::Storage::Int);
  more.ints = {10};
  more.valid = {1};
  EXPECT_EQ(s().query("customers", {{Condition{"custom.seats", Op::Gt, more}}}), std::vector<int64_t>{ids.at(0)});
  const auto indexed = s().indexes("customers");
  EXPECT_NE(std::find(indexed.begin(), indexed.end(), "custom.seats"), indexed.end());
  // (Whether the planner takes the index on three rows is its choice: tests/python/test_catalog_pg.py asks with more.)
  EXPECT_TRUE(s().create_index("customers", "region"));
  EXPECT_FALSE(s().create_index("customers", "region"));
  EXPECT_TRUE(s().drop_index("customers", "region"));
  try {
    s().allow("customers", "custom.level", "铜牌", {});
    FAIL() << "a label was taken for a value of its own";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "custom.level");
  }
  const Table log = s().audit_log(100);
  const Column& op = column(log, "op");
  EXPECT_EQ(std::count(op.texts.begin(), op.texts.end(), "schema"), 3);  // two declarations, one allow; the refusal none
  EXPECT_TRUE(s().audit_check().empty());
}
