// The sales rules of the write path (stage_rules.cpp, sales_rules.cpp) on
// hand-worked cases, without Python: close-date history, invoices that
// carry their lines' total, and payments that cannot exceed what is open.
#include <gtest/gtest.h>

#include "columns.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

Table row(std::vector<Column> columns) {
  Table t;
  t.columns = std::move(columns);
  return t;
}

int64_t add(Store& s, const std::string& kind, std::vector<Column> columns) {
  return s.insert(kind, row(std::move(columns))).ids.at(0);
}

const Column& column(const Table& t, const std::string& name) {
  const Column* c = t.find(name);
  if (!c) throw std::runtime_error("no column " + name);
  return *c;
}

}  // namespace

TEST(SalesRules, EveryChangeOfTheExpectedCloseIsKept) {
  Store s(":memory:");
  const int64_t cust = add(s, "customers", {text_column("name", {"Acme"})});
  const int64_t deal = add(s, "deals", {int_column("customer_id", {cust}), text_column("stage", {"lead"}),
                                        time_column("expected_close", {kJan1 + 30 * kDay}),
                                        time_column("close_changed_at", {kJan1})});
  s.update("deals", deal, row({time_column("expected_close", {kJan1 + 60 * kDay}),
                               time_column("close_changed_at", {kJan1 + 20 * kDay})}));
  s.update("deals", deal, row({real_column("amount", {5.0})}));  // the date stays: no row
  const Table h = s.select("deal_close_dates");
  ASSERT_EQ(h.rows(), 2u);
  EXPECT_EQ(column(h, "expected_close").ints, (std::vector<int64_t>{kJan1 + 30 * kDay, kJan1 + 60 * kDay}));
  EXPECT_EQ(column(h, "previous").valid.at(0), 0);
  EXPECT_EQ(column(h, "previous").ints.at(1), kJan1 + 30 * kDay);
  EXPECT_EQ(column(h, "changed_at").ints, (std::vector<int64_t>{kJan1, kJan1 + 20 * kDay}));
}

TEST(SalesRules, InvoiceCarriesItsLinesAndRefusesAPaymentBeyondIt) {
  Store s(":memory:");
  const int64_t cust = add(s, "customers", {text_column("name", {"Acme"})});
  const int64_t inv = add(s, "invoices", {int_column("customer_id", {cust}), time_column("issued_at", {kJan1}),
                                          time_column("due_at", {kJan1 + 30 * kDay})});
  s.insert("invoice_lines", row({int_column("invoice_id", {inv, inv}), real_column("quantity", {2, 1}),
                                 real_column("unit_price", {50, 30}), real_column("tax_rate", {0.1, 0})}));
  const Table invoice = s.select("invoices");
  EXPECT_DOUBLE_EQ(column(invoice, "amount").reals.at(0), 140.0);
  auto pay = [&](double amount) {
    return add(s, "payments", {int_column("customer_id", {cust}), int_column("invoice_id", {inv}),
                               time_column("paid_at", {kJan1 + kDay}), real_column("amount", {amount})});
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
  EXPECT_EQ(s.select("payments").rows(), 1u);
  pay(40.0);
  EXPECT_EQ(column(s.select("invoices"), "status").texts.at(0), "paid");
  EXPECT_THROW(s.update("invoices", inv, row({real_column("amount", {150.0})})), ValidationError);  // unbalanced
}
