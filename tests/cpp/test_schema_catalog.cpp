// A store's catalog: labels and added allowed values, declared custom fields
// (checked and kept in canonical form on every write path), the index on a
// custom key, and the consistency rules between records.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "../../cpp/src/records/custom_fields.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"
#include "columns.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

// The stored text of one text column of one record.
std::string stored(const Store& s, const std::string& kind, int64_t id, const std::string& column) {
  std::vector<int64_t> ids{id};
  std::vector<std::string> columns{column};
  Table t = s.select(kind, &ids, &columns);
  return t.columns.at(1).present(0) ? t.columns.at(1).texts.at(0) : "(null)";
}

// The ValidationError a write throws (fails the test when it throws none).
template <typename Write>
ValidationError refusal(Write write) {
  try {
    write();
  } catch (const ValidationError& e) {
    return e;
  }
  ADD_FAILURE() << "the write was not refused";
  return ValidationError("", -1, "", "");
}

struct TempFile {
  std::string path = ::testing::TempDir() + "crmcore_catalog_" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".crm";
  TempFile() { remove_all(); }
  ~TempFile() { remove_all(); }
  void remove_all() const {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  }
};

}  // namespace

TEST(CatalogLabels, SeededChineseLabelsAreStoredAsTheirValues) {
  Store s(":memory:");
  const auto ids = s.insert("customers", table({text_column("name", {"A", "B", "C", "D"}),
                                                text_column("kind", {"企业", "公司", "个人", "organization"})}))
                       .ids;
  const char* want[] = {"organization", "organization", "person", "organization"};
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(stored(s, "customers", ids[i], "kind"), want[i]);
  const ValidationError e =
      refusal([&] { s.insert("customers", table({text_column("name", {"E"}), text_column("kind", {"政府"})})); });
  EXPECT_EQ(e.field(), "kind");
  EXPECT_NE(e.reason().find("not one of: organization, person"), std::string::npos) << e.what();
  EXPECT_EQ(s.count("customers"), 4);
}

TEST(CatalogLabels, AllowedValuesAndLabelsReachEveryHandleOfTheFile) {
  TempFile file;
  Store first(file.path);
  Store second(file.path);
  // The second handle read the catalog once (by writing) before the first changes it.
  second.insert("customers", table({text_column("name", {"A"})}));
  first.allow("customers", "kind", "government", {Label{"政府", "", "zh"}});
  const int64_t id =
      second.insert("customers", table({text_column("name", {"B"}), text_column("kind", {"政府"})})).ids.at(0);
  EXPECT_EQ(stored(second, "customers", id, "kind"), "government");
  const Kind k = second.describe("customers");
  EXPECT_EQ(k.field("kind")->choices, (std::vector<std::string>{"organization", "person", "government"}));
}

TEST(CatalogLabels, ConflictingLabelsAreRefused) {
  Store s(":memory:");
  EXPECT_EQ(refusal([&] { s.allow("customers", "kind", "person", {Label{"企业", "", "zh"}}); }).field(), "kind");
  EXPECT_EQ(refusal([&] { s.allow("customers", "kind", "person", {Label{"organization", "", "en"}}); }).field(),
            "kind");
  EXPECT_EQ(refusal([&] { s.allow("customers", "kind", "government", {}, /*add_value=*/false); }).field(), "kind");
  EXPECT_EQ(refusal([&] { s.allow("orders", "amount", "1", {}); }).field(), "amount");  // not text
  // A rolled-back change leaves the catalog as it was.
  s.begin();
  s.allow("customers", "kind", "government", {});
  s.rollback();
  EXPECT_EQ(refusal([&] { s.insert("customers", table({text_column("name", {"A"}), text_column("kind", {"government"})})); })
                .field(),
            "kind");
}

TEST(CustomFields, DeclaredKeysAreCheckedAndCanonicalOnEveryWritePath) {
  Store s(":memory:");
  s.declare_custom("customers", "signed", FieldType::Time, {}, false, false);
  s.declare_custom("customers", "seats", FieldType::Integer, {}, false, false);
  s.declare_custom("customers", "level", FieldType::Text, {"gold", "silver"}, false, false);
  s.allow("customers", "custom.level", "gold", {Label{"金牌", "", "zh"}});
  // Insert: converted; an undeclared key (a 20-digit integer) is kept exactly.
  const int64_t id = s.insert("customers", table({text_column("name", {"A"}),
                                                  text_column("custom", {R"({"signed":"2025-01-05","seats":"12",)"
                                                                   R"("level":"金牌","big":123456789012345678901})"})}))
                         .ids.at(0);
  EXPECT_EQ(stored(s, "customers", id, "custom"),
            R"({"signed":"2025-01-05T00:00:00","seats":12,"level":"gold","big":123456789012345678901})");
  // Update and upsert check the same way.
  s.update("customers", id, table({text_column("custom", {R"({"seats":7.0})"})}));
  EXPECT_EQ(stored(s, "customers", id, "custom"), R"({"seats":7})");
  for (const char* bad : {R"({"seats":"many"})", R"({"seats":1.5})", R"({"level":"bronze"})", R"({"signed":20250105})",
                          R"({"signed":[1]})", R"({"seats":true})"}) {
    const ValidationError e = refusal([&] { s.update("customers", id, table({text_column("custom", {bad})})); });
    EXPECT_EQ(e.field().rfind("custom.", 0), 0u) << bad << ": " << e.what();
    EXPECT_EQ(stored(s, "customers", id, "custom"), R"({"seats":7})") << bad;
    const ValidationError u = refusal([&] {
      s.upsert("customers", table({int_column("id", {id}), text_column("custom", {bad})}), {"id"}, false);
    });
    EXPECT_EQ(u.field(), e.field()) << bad;
  }
}

TEST(CustomFields, RequiredKeysAndDeclarationsOverStoredRecords) {
  Store s(":memory:");
  const auto ids = s.insert("customers", table({text_column("name", {"A", "B"}),
                                                text_column("custom", {R"({"seats":"3"})", R"({"seats":"x"})"})}))
                       .ids;
  // A stored record that does not fit refuses the declaration, naming it.
  const ValidationError e = refusal([&] { s.declare_custom("customers", "seats", FieldType::Integer, {}, false, false); });
  EXPECT_EQ(e.record_id(), ids[1]);
  EXPECT_TRUE(s.describe("customers").custom.empty());
  s.update("customers", ids[1], table({text_column("custom", {R"({"seats":4})"})}));
  s.declare_custom("customers", "seats", FieldType::Integer, {}, true, false);
  EXPECT_EQ(stored(s, "customers", ids[0], "custom"), R"({"seats":3})");  // converted in place
  EXPECT_EQ(refusal([&] { s.insert("customers", table({text_column("name", {"C"})})); }).field(), "custom.seats");
  s.update("customers", ids[0], table({text_column("name", {"A2"})}));  // the custom object is not written: fine
  EXPECT_EQ(refusal([&] { s.update("customers", ids[0], table({text_column("custom", {"{}"})})); }).field(), "custom.seats");
}

TEST(CustomFields, NamesThatCannotBeSqlTextAreRefused) {
  Store s(":memory:");
  for (const char* bad : {"", "a'b", "a\"b", "a.b", "a b", "a\\b", "$x"})
    EXPECT_THROW(s.declare_custom("customers", bad, FieldType::Text, {}, false, false), ValidationError) << bad;
  s.declare_custom("customers", "行业", FieldType::Text, {}, false, true);
  EXPECT_EQ(custom_key_sql("行业", "r."), "json_extract(r.custom, '$.\"行业\"')");
}

TEST(CustomFields, AQueryBuiltWithTheKeyExpressionUsesTheIndex) {
  TempFile file;
  {
    Store s(file.path);
    s.declare_custom("customers", "level", FieldType::Integer, {}, false, /*index=*/true);
    std::vector<std::string> names, customs;
    for (int i = 0; i < 200; ++i) {
      names.push_back("C" + std::to_string(i));
      customs.push_back(R"({"level":)" + std::to_string(i % 7) + "}");
    }
    s.insert("customers", table({text_column("name", names), text_column("custom", customs)}));
    const auto indexed = s.indexes("customers");
    EXPECT_NE(std::find(indexed.begin(), indexed.end(), "custom.level"), indexed.end());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.path.c_str(), &db), SQLITE_OK);
  const std::string query = "EXPLAIN QUERY PLAN SELECT r.id FROM customers AS r WHERE " + custom_key_sql("level", "r.") +
                            " = 3";
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, query.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string plan;
  while (sqlite3_step(st) == SQLITE_ROW) plan += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_NE(plan.find("USING INDEX " + custom_index_name("customers", "level")), std::string::npos) << plan;
}

TEST(Consistency, PrimaryContactAndPairRulesHoldWithinOneImport) {
  Store s(":memory:");
  const auto customers = s.insert("customers", table({text_column("name", {"A", "B"})})).ids;
  const int64_t contact = s.insert("contacts", table({text_column("name", {"P"})})).ids.at(0);
  auto links = [&](std::vector<int64_t> cs, std::vector<int64_t> primary) {
    Column flag("is_primary", Column::Storage::Int);
    flag.origin = Column::Origin::Flag;
    flag.ints = std::move(primary);
    return table({int_column("customer_id", cs), int_column("contact_id", std::vector<int64_t>(cs.size(), contact)), flag});
  };
  // Two primaries of one contact in one import: the second row is refused, and nothing lands.
  const ValidationError e = refusal([&] { s.insert("customer_contacts", links(customers, {1, 1})); });
  EXPECT_EQ(e.row(), 1);
  EXPECT_EQ(e.field(), "is_primary");
  EXPECT_EQ(s.count("customer_contacts"), 0);
  // The same pair twice: refused with OnError::Skip, the first lands.
  WriteResult r = s.insert("customer_contacts", links({customers[0], customers[0]}, {0, 0}), OnError::Skip);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].row, 1);
  EXPECT_EQ(r.errors[0].field, "contact_id");
  EXPECT_EQ(s.count("customer_contacts"), 1);
}

TEST(Consistency, NegativeAmountsAndFarFutureDatesAreRefused) {
  Store s(":memory:");
  const int64_t c = s.insert("customers", table({text_column("name", {"A"})})).ids.at(0);
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string next_year = format_time(now + int64_t{400} * 86'400'000'000'000).substr(0, 10);
  auto order = [&](const std::string& at, double amount) {
    Column a("amount", Column::Storage::Real);
    a.reals = {amount};
    return table({int_column("customer_id", {c}), text_column("ordered_at", {at}), a});
  };
  EXPECT_EQ(refusal([&] { s.insert("orders", order("2025-01-05", -1.0)); }).field(), "amount");
  EXPECT_EQ(refusal([&] { s.insert("orders", order(next_year, 1.0)); }).field(), "ordered_at");
  EXPECT_EQ(s.insert("orders", order("2025-01-05", 0.0)).ids.size(), 1u);
}
