// Automation in the core: rules run by the write path, the depth limit, and
// the membership kernels against hand-worked cases.
#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "columns.hpp"
#include "crmcore/automation/members.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

int64_t add_rule(Store& s, const std::string& name, const std::string& trigger, const std::string& kind,
                 const std::string& condition, const std::string& actions) {
  return s.insert("automation_rules",
                  table({text_column("name", {name}), text_column("trigger", {trigger}),
                           text_column("record_kind", {kind}), text_column("condition", {condition}),
                           text_column("actions", {actions})}))
      .ids.front();
}

}  // namespace

TEST(AutomationRules, ImportTagsTheMatchingRowsAndAuditsTheRule) {
  Store s(":memory:");
  const int64_t c = s.insert("customers", table({text_column("name", {"Acme"})})).ids.front();
  const int64_t rule = add_rule(s, "big", "created", "orders", R"([["amount", ">=", 100]])",
                                R"([{"do": "tag", "add": ["big"]}])");
  Table orders = table({int_column("customer_id", {c, c, c}), text_column("ordered_at", {"2025-01-01", "2025-01-02", "2025-01-03"}),
                          real_column("amount", {50.0, 150.0, 100.0})});
  const auto ids = s.insert("orders", orders).ids;
  Column big;
  big.name = "value";
  big.texts = {"big"};
  EXPECT_EQ(s.query("orders", {{Condition{"tags", Op::AnyTag, big}}}), (std::vector<int64_t>{ids[1], ids[2]}));
  // The tags landed with the insert: its one entry (the newest) names the
  // rule and the orders it tagged; no update per order.
  const Table log = s.audit_log(10);
  ASSERT_EQ(log.find("op")->texts[0], "insert");
  const auto entry = nlohmann::json::parse(log.find("changes")->texts[0]);
  EXPECT_EQ(entry["rules"][std::to_string(rule)]["ids"], (nlohmann::json{ids[1], ids[2]}));
  EXPECT_EQ(entry["records"].size(), 2u);
  for (size_t i = 0; i < log.rows(); ++i) EXPECT_NE(log.find("op")->texts[i], "update");
  EXPECT_TRUE(s.audit_check().empty());
}

TEST(AutomationRules, EndlessChainIsStoppedAndTheWriteUndone) {
  Store s(":memory:");
  add_rule(s, "loop", "created", "tasks", "", R"([{"do": "task", "subject": "again"}])");
  EXPECT_THROW(s.insert("tasks", table({text_column("subject", {"first"})})), ValidationError);
  EXPECT_EQ(s.count("tasks"), 0);
}

TEST(AutomationRules, BadRuleIsRefused) {
  Store s(":memory:");
  EXPECT_THROW(add_rule(s, "x", "created", "orders", R"([["colour", "==", 1]])", R"([{"do": "tag", "add": "a"}])"),
               ValidationError);
  EXPECT_THROW(add_rule(s, "y", "created", "orders", "", R"([{"do": "explode"}])"), ValidationError);
  EXPECT_EQ(s.count("automation_rules"), 0);
}

TEST(MembersKernels, BalanceExpiryAndTiers) {
  const int64_t member[] = {0, 0, 0, 1};
  const int64_t at[] = {10, 20, 30, 10};
  const double points[] = {100, 50, -120, 30};
  const int64_t never = std::numeric_limits<int64_t>::max();
  const int64_t expires[] = {40, 60, never, 35};
  EXPECT_EQ(automation::points_balance(member, at, points, 4, 2, 25), (std::vector<double>{150, 30}));
  EXPECT_EQ(automation::points_balance(member, at, points, 4, 2, 30), (std::vector<double>{30, 30}));
  // The redemption used the first lot (100) and 20 of the second.
  EXPECT_EQ(automation::points_expiring(member, at, points, expires, 4, 2, 45), (std::vector<double>{0, 30}));
  EXPECT_EQ(automation::points_expiring(member, at, points, expires, 4, 2, 60), (std::vector<double>{30, 30}));
  EXPECT_THROW(automation::points_balance(member, at, points, 4, 1, 0), std::out_of_range);
  const double thresholds[] = {0, 1000, 5000};
  const double values[] = {-1, 0, 999, 1000, 7000};
  EXPECT_EQ(automation::tier_of(values, 5, thresholds, 3), (std::vector<int32_t>{-1, 0, 0, 1, 2}));
}
