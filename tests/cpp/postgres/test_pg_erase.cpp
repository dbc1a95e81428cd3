// A person's erasure (privacy.cpp) on both engines, against a real server on
// PostgreSQL: the same records are changed, the same audit entries lose
// their values, the chain still verifies, and on PostgreSQL the touched
// tables are vacuumed after the commit. Expectations are worked by hand
// from the store below.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../columns.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"
#include "both_engines.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

// Every case on both engines (both_engines.hpp).
class PgErase : public pgtest::BothEngines {};
using pgtest::add;
using pgtest::column;

// The value of `field` in the row of `t` whose id is `id` ("<null>" for NULL).
std::string text_of(const Table& t, int64_t id, const std::string& field) {
  const Column& ids = column(t, "id");
  for (size_t i = 0; i < ids.ints.size(); ++i)
    if (ids.ints[i] == id) {
      const Column& c = column(t, field);
      return c.valid.empty() || c.valid[i] ? c.texts.at(i) : "<null>";
    }
  throw std::runtime_error("no row " + std::to_string(id));
}

TEST_P(PgErase, ThePersonTheirRecordsAndTheirAuditValuesGoAndTheChainHolds) {
  const int64_t person = add(s(), "customers", {text_column("name", {"Quennell Vasquez"}),
                                                text_column("kind", {"person"}),
                                                text_column("phone", {"+86 139 8765 4321"}),
                                                text_column("email", {"q.vasquez@unique.example"})});
  const int64_t note = add(s(), "interactions", {int_column("customer_id", {person}), text_column("channel", {"call"}),
                                                 time_column("occurred_at", {0}),
                                                 text_column("summary", {"Quennell Vasquez asked for a call"})});
  const int64_t other = add(s(), "customers", {text_column("name", {"Someone Else"}),
                                               text_column("address", {"c/o q.vasquez@unique.example"})});
  const int64_t bystander = add(s(), "customers", {text_column("name", {"Untouched"})});
  s().update("customers", person, table({text_column("region", {"east"})}));
  s().update("customers", bystander, table({text_column("region", {"west"})}));

  const ErasureReport report = s().erase_person(person);
  // The person, the interaction about them, and the other customer whose
  // address named their e-mail.
  EXPECT_EQ(report.records, 3);
  // The person's update: inserts keep no values in the log (the records
  // hold them), so the interaction's and the other customer's have none to take.
  EXPECT_EQ(report.audit_entries, 1);
  EXPECT_EQ(report.vacuumed, on_postgres());

  const Table customers = s().select("customers");
  EXPECT_EQ(text_of(customers, person, "name"), "(erased)");
  EXPECT_EQ(text_of(customers, person, "phone"), "<null>");
  EXPECT_EQ(text_of(customers, person, "email"), "<null>");
  EXPECT_EQ(text_of(customers, person, "kind"), "person");  // a fixed choice stays
  EXPECT_EQ(text_of(customers, other, "address"), "c/o [erased]");
  EXPECT_EQ(text_of(customers, bystander, "name"), "Untouched");
  EXPECT_EQ(text_of(s().select("interactions"), note, "summary"), "<null>");

  const Table log = s().audit_log(100);
  const Column &op = column(log, "op"), &changes = column(log, "changes"), &first = column(log, "first_id");
  ASSERT_EQ(op.texts.at(0), "erase");  // newest first
  EXPECT_EQ(first.ints.at(0), person);
  int bystander_kept = 0;
  for (size_t i = 0; i < op.texts.size(); ++i) {
    const bool kept = changes.valid.empty() || changes.valid[i];
    if (first.ints[i] == bystander && kept) ++bystander_kept;
    if (kept) EXPECT_EQ(changes.texts[i].find("Vasquez"), std::string::npos) << changes.texts[i];
  }
  EXPECT_EQ(bystander_kept, 1);  // their update keeps its values
  EXPECT_TRUE(s().audit_check().empty());
  // The next write chains on after the erasure's entry.
  add(s(), "customers", {text_column("name", {"After"})});
  EXPECT_TRUE(s().audit_check().empty());
}

TEST_P(PgErase, AnOrganizationAndAnOpenTransactionAreRefusedAndNothingChanges) {
  const int64_t acme = add(s(), "customers", {text_column("name", {"Acme"}), text_column("kind", {"organization"})});
  const int64_t li = add(s(), "contacts", {text_column("name", {"Li Lei"})});
  EXPECT_THROW(s().erase_person(acme), ValidationError);
  s().begin();
  EXPECT_THROW(s().erase_person(li), Error);
  s().rollback();
  EXPECT_EQ(text_of(s().select("contacts"), li, "name"), "Li Lei");
  EXPECT_THROW(s().erase_person(12345), NotFound);
  EXPECT_TRUE(s().audit_check().empty());
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, PgErase, pgtest::kEngines);
