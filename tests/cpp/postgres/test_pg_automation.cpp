// Automation rules on both engines (rules.cpp; on PostgreSQL the watches of
// "changed" rules are permanent triggers of the store's schema, and
// run_rule takes the store's write lock through the Dialect). Expectations
// are worked by hand from the rules; tests/cpp/test_automation.cpp and the
// Python suites hold SQLite to the same.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../columns.hpp"
#include "both_engines.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

class PgAutomation : public pgtest::BothEngines {};

int64_t add(Store& s, const std::string& kind, std::vector<Column> columns) {
  return s.insert(kind, table(std::move(columns))).ids.at(0);
}

int64_t add_rule(Store& s, const std::string& name, const std::string& trigger, const std::string& kind,
                 const std::string& field, const std::string& condition, const std::string& actions) {
  return add(s, "automation_rules",
             {text_column("name", {name}), text_column("trigger", {trigger}), text_column("record_kind", {kind}),
              text_column("field", {field}), text_column("condition", {condition}), text_column("actions", {actions})});
}

std::vector<int64_t> tagged(const Store& s, const std::string& kind, const std::string& tag) {
  Column t = text_column("value", {tag});
  return s.query(kind, {{Condition{"tags", Op::AnyTag, t}}});
}

std::vector<std::string> texts(const Store& s, const std::string& kind, const std::string& field) {
  const Table t = s.select(kind);
  return t.find(field)->texts;
}

TEST_P(PgAutomation, AnImportSetsOffItsCreatedRulesOnTheRowsThatMeetThem) {
  const int64_t c = add(s(), "customers", {text_column("name", {"Acme"}), text_column("email", {"a@x.org"})});
  add_rule(s(), "big", "created", "orders", "", R"([["amount", ">=", 100]])",
           R"([{"do": "tag", "add": ["big"]}, {"do": "message", "subject": "Order of {amount}"}])");
  const auto ids = s().insert("orders", table({int_column("customer_id", {c, c, c}),
                                               time_column("ordered_at", {kJan1, kJan1 + kDay, kJan1 + 2 * kDay}),
                                               real_column("amount", {50.0, 150.0, 100.0})}))
                       .ids;
  EXPECT_EQ(tagged(s(), "orders", "big"), (std::vector<int64_t>{ids[1], ids[2]}));
  // One message per order that met it, in the orders' order, to the customer's address.
  EXPECT_EQ(texts(s(), "outbox", "subject"), (std::vector<std::string>{"Order of 150.0", "Order of 100.0"}));
  EXPECT_EQ(texts(s(), "outbox", "to_address"), (std::vector<std::string>{"a@x.org", "a@x.org"}));
  EXPECT_TRUE(s().audit_check().empty());
}

TEST_P(PgAutomation, AChangedRuleSeesTheFieldChangeAndNothingElse) {
  const int64_t c = add(s(), "customers", {text_column("name", {"Acme"}), text_column("status", {"a"})});
  add_rule(s(), "vip", "changed", "customers", "status", R"([["status", "==", "vip"]])",
           R"([{"do": "task", "subject": "Welcome {name} to vip"}])");
  s().update("customers", c, table({text_column("name", {"Acme Ltd"})}));  // another field: no change seen
  s().update("customers", c, table({text_column("status", {"vip"})}));
  s().update("customers", c, table({text_column("status", {"vip"})}));  // the same value: no change
  EXPECT_EQ(texts(s(), "tasks", "subject"), (std::vector<std::string>{"Welcome Acme Ltd to vip"}));
  if (on_postgres()) {  // the watch is the schema's: another session's change is seen as well
    auto b = other();
    b->update("customers", c, table({text_column("status", {"b"})}));
    b->update("customers", c, table({text_column("status", {"vip"})}));
    EXPECT_EQ(b->count("tasks"), 2);
  }
  EXPECT_TRUE(s().audit_check().empty());
}

TEST_P(PgAutomation, RunRuleActsOnTheRecordsThatMeetItAndNotesEachRun) {
  const int64_t a = add(s(), "contacts", {text_column("name", {"Li"}), text_column("region", {"vip"})});
  const int64_t b = add(s(), "contacts", {text_column("name", {"Wu"}), text_column("region", {"x"})});
  const int64_t rule = add_rule(s(), "greet", "date", "contacts", "birthday", R"([["region", "==", "vip"]])",
                                R"([{"do": "tag", "add": ["greeted"]}])");
  const auto acted = s().run_rule(rule, {a, b}, {kJan1, kJan1}, {0.0, 0.0}, kJan1 + kDay, true);
  EXPECT_EQ(acted, (std::vector<int64_t>{a}));  // b does not meet the condition
  EXPECT_EQ(tagged(s(), "contacts", "greeted"), (std::vector<int64_t>{a}));
  EXPECT_EQ(s().count("automation_runs"), 1);
  const Table r = s().select("automation_rules");
  EXPECT_EQ(r.find("last_run_at")->ints.at(0), kJan1 + kDay);
  // A rule that is not there leaves nothing behind, on either engine.
  EXPECT_THROW(s().run_rule(rule + 1000, {a}, {kJan1}, {0.0}, kJan1, true), NotFound);
  EXPECT_EQ(s().count("automation_runs"), 1);
  EXPECT_TRUE(s().audit_check().empty());
}

TEST_P(PgAutomation, AnEndlessChainIsStoppedAndTheWriteUndone) {
  add_rule(s(), "loop", "created", "tasks", "", "", R"([{"do": "task", "subject": "again"}])");
  EXPECT_THROW(s().insert("tasks", table({text_column("subject", {"first"})})), ValidationError);
  EXPECT_EQ(s().count("tasks"), 0);
  add(s(), "customers", {text_column("name", {"after"})});  // the store writes on
  EXPECT_TRUE(s().audit_check().empty());
}

INSTANTIATE_TEST_SUITE_P(Engines, PgAutomation, pgtest::kEngines);

}  // namespace
