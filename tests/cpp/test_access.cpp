// Access: a scoped store reads only what its user may read, checks writes
// before the store sees them, and reports an unreadable record exactly as a
// missing one (the Python tests compare the rules with a reference model).
#include <gtest/gtest.h>

#include "crmcore/access/access.hpp"
#include "crmcore/errors.hpp"
#include "columns.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

int64_t add(Store& s, const std::string& kind, std::vector<Column> columns) {
  Table t;
  t.columns = std::move(columns);
  return s.insert(kind, t).ids.at(0);
}

std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const NotFound& e) {
    return e.what();
  }
  return "";
}

struct Company {
  Store s{":memory:"};
  int64_t boss, rep, other, mine, theirs;
  explicit Company(const std::string& mode) {
    add(s, "access_settings", {text_column("name", {"mode"}), text_column("value", {mode})});
    boss = add(s, "staff", {text_column("name", {"Boss"}), text_column("role", {"manager"})});
    rep = add(s, "staff", {text_column("name", {"Rep"}), int_column("manager_id", {boss})});
    other = add(s, "staff", {text_column("name", {"Other"})});
    mine = add(s, "customers", {text_column("name", {"Mine"}), int_column("owner_id", {rep})});
    theirs = add(s, "customers", {text_column("name", {"Theirs"}), int_column("owner_id", {other})});
  }
};

}  // namespace

TEST(Access, DecentralizedReadsOnlyTheBooksInReach) {
  Company c("decentralized");
  access::ScopedStore rep(c.s, c.rep), boss(c.s, c.boss);
  EXPECT_EQ(rep.select("customers").columns[0].ints, (std::vector<int64_t>{c.mine}));
  EXPECT_EQ(boss.count("customers"), 1);  // the rep is a report of the boss
  EXPECT_EQ(rep.kind_of(c.theirs), "");
  // Not visible reads exactly as not there.
  const int64_t missing = 1'000'000;
  auto said = message([&] { rep.remove("customers", c.theirs); });
  auto absent = message([&] { rep.remove("customers", missing); });
  EXPECT_EQ(said, "no customers record with id " + std::to_string(c.theirs));
  EXPECT_EQ(absent, "no customers record with id " + std::to_string(missing));
  EXPECT_EQ(c.s.count("customers"), 2);
}

TEST(Access, CentralizedReadsAllAndRefusesEditsNamingTheRule) {
  Company c("centralized");
  access::ScopedStore other(c.s, c.other);
  EXPECT_EQ(other.count("customers"), 2);
  Table t;
  t.columns.push_back(text_column("name", {"Renamed"}));
  try {
    other.update("customers", c.mine, t);
    FAIL() << "the update went through";
  } catch (const access::PermissionDenied& e) {
    EXPECT_NE(std::string(e.what()).find("customers " + std::to_string(c.mine)), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("centralized mode"), std::string::npos) << e.what();
  }
  // A new record must stay editable by its writer: owned by someone else, it is refused.
  Table given;
  given.columns = {text_column("name", {"Gift"}), int_column("owner_id", {c.rep})};
  EXPECT_THROW(other.insert("customers", given), access::PermissionDenied);
  given.columns[1] = int_column("owner_id", {c.other});
  EXPECT_EQ(other.insert("customers", given).ids.size(), 1u);
  EXPECT_EQ(c.s.actor(), "");  // declared only while the scoped write ran
}

TEST(Access, FieldRulesHideAndCannotBeSearched) {
  Company c("centralized");
  add(c.s, "orders", {int_column("customer_id", {c.mine}), text_column("ordered_at", {"2025-01-05"}),
                      real_column("amount", {10.0}), real_column("cost", {6.0})});
  add(c.s, "access_field_rules", {text_column("kind", {"orders"}), text_column("field", {"cost"}),
                                  text_column("role", {"sales"}), text_column("action", {"hide"})});
  access::ScopedStore rep(c.s, c.rep);
  const Table t = rep.select("orders");
  ASSERT_NE(t.find("cost"), nullptr);
  EXPECT_FALSE(t.find("cost")->present(0));
  EXPECT_TRUE(c.s.select("orders").find("cost")->present(0));
  Condition cost{"cost", Op::Gt, real_column("", {1.0})};
  EXPECT_THROW(rep.query("orders", {{cost}}), access::PermissionDenied);
}

TEST(Access, KindRulesAreDerivedFromTheKindTable) {
  // Owned kinds name their owner; a kind referring to one follows it, by
  // the reference's own kind; a catalog and the kinds no one owns do not.
  ASSERT_NE(access::kind_rule("tasks"), nullptr);
  EXPECT_EQ(access::kind_rule("tasks")->owner, "assignee_id");
  EXPECT_EQ(access::kind_rule("tickets")->owner, "owner_id");
  const access::KindRule* po = access::kind_rule("purchase_orders");
  ASSERT_NE(po, nullptr);
  EXPECT_EQ(po->parents, (std::vector<std::string>{"supplier_id"}));
  EXPECT_EQ(po->parent_kinds, (std::vector<std::string>{"customers"}));
  EXPECT_EQ(access::kind_rule("customers")->parents, std::vector<std::string>{});  // partner_id is its own kind
  EXPECT_EQ(access::kind_rule("products"), nullptr);
  EXPECT_EQ(access::kind_rule("staff"), nullptr);
  EXPECT_EQ(access::kind_rule("access_shares"), nullptr);
}

TEST(Access, ADeactivatedStaffMemberGetsNoHandle) {
  Company c("decentralized");
  Table off;
  off.columns = {int_column("active", {0})};
  c.s.update("staff", c.rep, off);
  EXPECT_THROW(access::ScopedStore(c.s, c.rep), access::PermissionDenied);
}
