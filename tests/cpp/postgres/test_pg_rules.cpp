// The write path's domain rules on a PostgreSQL store (pg_rules.cpp), one
// case per rule family, against a real server (pg_server.hpp). Expectations
// are worked by hand from the rules (the default pipeline's stages and
// probabilities, the tickets' workflow), and the same cases are written
// for SQLite in tests/cpp/test_sales_rules.cpp and the Python suites.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "../columns.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"
#include "pg_server.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

constexpr int64_t kDay = 86400LL * 1000000000LL;
constexpr int64_t kJan1 = 19723 * kDay;  // 2024-01-01

Column time_column(const std::string& name, std::vector<int64_t> ns) {
  Column c = int_column(name, std::move(ns));
  c.origin = Column::Origin::Time;
  return c;
}

const Column& column(const Table& t, const std::string& name) {
  const Column* c = t.find(name);
  if (!c) throw std::runtime_error("no column " + name);
  return *c;
}

int64_t add(Store& s, const std::string& kind, std::vector<Column> columns) {
  return s.insert(kind, table(std::move(columns))).ids.at(0);
}

// A store per case: in memory on SQLite, a fresh schema of the suite's
// server on PostgreSQL; every case runs on both, so the engines are held to
// the same expectations.
class PgRules : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<pgtest::PgServer>();
    if (!server_->start(&why_)) server_.reset();
  }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override {
    if (std::string(GetParam()) == "sqlite") {
      store_ = std::make_unique<Store>(":memory:");
      return;
    }
    if (!server_) GTEST_SKIP() << "PostgreSQL tests skipped: " << why_;
    // dsn() is "host=H port=P user=U dbname=D ...": the store wants a URL.
    auto part = [&](const std::string& key) {
      const std::string d = server_->dsn();
      const size_t at = d.find(key + "=") + key.size() + 1;
      return d.substr(at, d.find(' ', at) - at);
    };
    std::string schema = "r_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& ch : schema)
      if (ch == '/') ch = '_';  // a parameterised case is "Name/1"
    store_ = std::make_unique<Store>("postgresql://" + part("user") + "@" + part("host") + ":" + part("port") + "/" +
                                     part("dbname") + "?schema=" + schema);
  }
  Store& s() { return *store_; }
  static std::unique_ptr<pgtest::PgServer> server_;
  static std::string why_;
  std::unique_ptr<Store> store_;
};
std::unique_ptr<pgtest::PgServer> PgRules::server_;
std::string PgRules::why_;

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
  if (std::string(GetParam()) != "sqlite")
    GTEST_SKIP() << "ledger rules not on PostgreSQL yet: seal_audit's side entries collide with audit_log's identity";
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
}

TEST_P(PgRules, AnOrderCannotBePaidBeyondItsAmountNorLoweredBelowItsPayments) {
  if (std::string(GetParam()) != "sqlite")
    GTEST_SKIP() << "ledger rules not on PostgreSQL yet: seal_audit's side entries collide with audit_log's identity";
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
  if (std::string(GetParam()) != "sqlite")
    GTEST_SKIP() << "ledger rules not on PostgreSQL yet: seal_audit's side entries collide with audit_log's identity";
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

INSTANTIATE_TEST_SUITE_P(Engines, PgRules, ::testing::Values("sqlite", "postgresql"));

}  // namespace
