// Queries on the store: every operator on hand-checked records, the OR of
// AND-groups, order and slices, errors that name the field, values that stay
// values, long lists, indexes and Ctrl-C.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "crmcore/errors.hpp"
#include "crmcore/records/query.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore;
using namespace crmcore::records;

namespace {

using Ids = std::vector<int64_t>;

Column texts(std::vector<std::string> values, std::vector<uint8_t> valid = {}) {
  Column c("v", Column::Storage::Text);
  c.texts = std::move(values);
  c.valid = std::move(valid);
  return c;
}

Column ints(std::vector<int64_t> values, Column::Origin origin = Column::Origin::Number) {
  Column c("v", Column::Storage::Int);
  c.ints = std::move(values);
  c.origin = origin;
  return c;
}

Column reals(std::vector<double> values) {
  Column c("v", Column::Storage::Real);
  c.reals = std::move(values);
  return c;
}

Condition cond(std::string field, Op op, Column values = Column()) { return {std::move(field), op, std::move(values)}; }

// Customers, each row hand-made so that every expectation below can be
// checked by reading it:
//   0 Acme Trading  华东  +86 138 0013 8000  sales@acme.com  vip;b2b  {"level":3,"city":"上海"}
//   1 acme 100%     华北  -                  INFO@x.cn       b2b      {"level":"3"}
//   2 王芳           -     (021) 6552 1234    -               -        {"level":7.5,"a":{"b":1}}
//   3 Zeta_Co       US    -                  -               重点      -
struct Queries : ::testing::Test {
  Store s{":memory:"};
  Ids c;  // customer ids
  Ids o;  // order ids

  void SetUp() override {
    Table t;
    t.columns.push_back(texts({"Acme Trading", "acme 100%", "王芳", "Zeta_Co"}));
    t.columns.back().name = "name";
    t.columns.push_back(texts({"华东", "华北", "", "US"}, {1, 1, 0, 1}));
    t.columns.back().name = "region";
    t.columns.push_back(texts({"+86 138 0013 8000", "", "(021) 6552 1234", ""}, {1, 0, 1, 0}));
    t.columns.back().name = "phone";
    t.columns.push_back(texts({"sales@acme.com", "INFO@x.cn", "", ""}, {1, 1, 0, 0}));
    t.columns.back().name = "email";
    t.columns.push_back(texts({"vip;b2b", "b2b", "", "重点"}, {1, 1, 0, 1}));
    t.columns.back().name = "tags";
    t.columns.push_back(
        texts({R"({"level":3,"city":"上海"})", R"({"level":"3"})", R"({"level":7.5,"a":{"b":1}})", ""}, {1, 1, 1, 0}));
    t.columns.back().name = "custom";
    c = s.insert("customers", t).ids;

    Table orders;
    Column customer = ints({c[0], c[0], c[1], c[2]});
    customer.name = "customer_id";
    orders.columns.push_back(customer);
    orders.columns.push_back(texts({"2025-01-05", "2025-02-01 09:30", "2025/03/18", "2024-12-31"}));
    orders.columns.back().name = "ordered_at";
    orders.columns.push_back(reals({50.0, 900.0, 1200.0, 75.5}));
    orders.columns.back().name = "amount";
    orders.columns.push_back(texts({"paid", "paid", "refunded", ""}, {1, 1, 1, 0}));
    orders.columns.back().name = "status";
    o = s.insert("orders", orders).ids;
  }

  Ids where(const std::string& kind, AllOf all) { return s.query(kind, {std::move(all)}); }
  Ids customers(Condition one) { return where("customers", {std::move(one)}); }
  Ids orders(Condition one) { return where("orders", {std::move(one)}); }
};

}  // namespace

TEST_F(Queries, ComparisonsReadValuesAsTheFieldsType) {
  EXPECT_EQ(orders(cond("amount", Op::Gt, reals({100}))), (Ids{o[1], o[2]}));
  EXPECT_EQ(orders(cond("amount", Op::Ge, texts({"900"}))), (Ids{o[1], o[2]}));  // text read as a number
  EXPECT_EQ(orders(cond("amount", Op::Le, ints({75}))), (Ids{o[0]}));
  EXPECT_EQ(orders(cond("ordered_at", Op::Lt, texts({"2025-01-05"}))), (Ids{o[3]}));  // a date, not text
  EXPECT_EQ(orders(cond("ordered_at", Op::Lt, texts({"2025/02/01 09:30:01"}))), (Ids{o[0], o[1], o[3]}));
  EXPECT_EQ(orders(cond("ordered_at", Op::Between, texts({"2025-01-01", "2025-02-01 09:30"}))), (Ids{o[0], o[1]}));
  EXPECT_EQ(orders(cond("customer_id", Op::Eq, ints({c[0]}))), (Ids{o[0], o[1]}));
  EXPECT_EQ(orders(cond("status", Op::Ne, texts({"paid"}))), (Ids{o[2]}));  // missing is not "not paid"
  EXPECT_EQ(customers(cond("name", Op::Lt, texts({"Z"}))), (Ids{c[0]}));     // by code point: 'a' > 'Z'
}

TEST_F(Queries, MissingValuesAndMembership) {
  EXPECT_EQ(orders(cond("status", Op::Missing)), (Ids{o[3]}));
  EXPECT_EQ(orders(cond("status", Op::NotMissing)), (Ids{o[0], o[1], o[2]}));
  EXPECT_EQ(orders(cond("status", Op::Eq, texts({""}, {0}))), (Ids{o[3]}));  // == missing
  EXPECT_EQ(orders(cond("status", Op::Ne, reals({NAN}))), (Ids{o[0], o[1], o[2]}));
  EXPECT_EQ(orders(cond("status", Op::In, texts({"refunded", "shipped"}))), (Ids{o[2]}));
  EXPECT_EQ(orders(cond("status", Op::In, texts({"refunded", ""}, {1, 0}))), (Ids{o[2], o[3]}));
  EXPECT_EQ(orders(cond("status", Op::NotIn, texts({"refunded", ""}, {1, 0}))), (Ids{o[0], o[1]}));
  EXPECT_EQ(orders(cond("status", Op::In, texts({}))), Ids{});
  EXPECT_EQ(orders(cond("status", Op::NotIn, texts({}))), (Ids{o[0], o[1], o[2]}));
}

TEST_F(Queries, SubstringsAndPrefixesWithTheirCaseRules) {
  EXPECT_EQ(customers(cond("name", Op::Contains, texts({"cme"}))), (Ids{c[0], c[1]}));
  EXPECT_EQ(customers(cond("name", Op::Contains, texts({"Acme"}))), (Ids{c[0]}));  // case as given
  EXPECT_EQ(customers(cond("name", Op::IContains, texts({"ACME"}))), (Ids{c[0], c[1]}));
  EXPECT_EQ(customers(cond("name", Op::Contains, texts({"%"}))), (Ids{c[1]}));   // wildcards are literal
  EXPECT_EQ(customers(cond("name", Op::IContains, texts({"_"}))), (Ids{c[3]}));
  EXPECT_EQ(customers(cond("name", Op::StartsWith, texts({"王"}))), (Ids{c[2]}));
  EXPECT_EQ(customers(cond("name", Op::StartsWith, texts({"a", "Z"}))), (Ids{c[1], c[3]}));  // any of them
  EXPECT_EQ(customers(cond("name", Op::IStartsWith, texts({"ACME "}))), (Ids{c[0], c[1]}));
  EXPECT_EQ(customers(cond("name", Op::IStartsWith, texts({"ACME 1"}))), (Ids{c[1]}));
  EXPECT_EQ(customers(cond("region", Op::StartsWith, texts({""}))), (Ids{c[0], c[1], c[3]}));  // every text
  EXPECT_EQ(customers(cond("region", Op::StartsWith, texts({"华"}))), (Ids{c[0], c[1]}));
}

TEST_F(Queries, PhonesAndEmailsCompareNormalized) {
  EXPECT_EQ(customers(cond("phone", Op::Eq, texts({"138-0013-8000"}))), (Ids{c[0]}));
  EXPECT_EQ(customers(cond("phone", Op::In, texts({"0086 13800138000", "021 65521234"}))), (Ids{c[0], c[2]}));
  EXPECT_EQ(customers(cond("phone", Op::Ne, texts({"13800138000"}))), (Ids{c[2]}));
  EXPECT_EQ(customers(cond("phone", Op::Missing)), (Ids{c[1], c[3]}));
  EXPECT_EQ(customers(cond("email", Op::Eq, texts({" info@X.CN "}))), (Ids{c[1]}));
  EXPECT_EQ(customers(cond("phone", Op::Contains, texts({"6552"}))), (Ids{c[2]}));  // the text as written
  EXPECT_EQ(customers(cond("phone", Op::Eq, texts({"not a number"}))), Ids{});
  EXPECT_THROW(customers(cond("phone", Op::Lt, texts({"1"}))), ValidationError);
}

TEST_F(Queries, TagsAnyAllNone) {
  EXPECT_EQ(customers(cond("tags", Op::AnyTag, texts({"vip", "重点"}))), (Ids{c[0], c[3]}));
  EXPECT_EQ(customers(cond("tags", Op::AllTags, texts({"b2b", "vip"}))), (Ids{c[0]}));
  EXPECT_EQ(customers(cond("tags", Op::AllTags, texts({"b2b", "b2b"}))), (Ids{c[0], c[1]}));  // a set
  EXPECT_EQ(customers(cond("tags", Op::NoTag, texts({"b2b"}))), (Ids{c[2], c[3]}));
  EXPECT_EQ(customers(cond("tags", Op::Missing)), (Ids{c[2]}));
  EXPECT_EQ(customers(cond("tags", Op::NotMissing)), (Ids{c[0], c[1], c[3]}));
}

TEST_F(Queries, CustomKeysCompareLikeWithLike) {
  EXPECT_EQ(customers(cond("custom.level", Op::Eq, ints({3}))), (Ids{c[0]}));  // not the text "3"
  EXPECT_EQ(customers(cond("custom.level", Op::Eq, texts({"3"}))), (Ids{c[1]}));
  EXPECT_EQ(customers(cond("custom.level", Op::Gt, reals({1}))), (Ids{c[0], c[2]}));  // numbers only
  EXPECT_EQ(customers(cond("custom.level", Op::Gt, texts({"1"}))), (Ids{c[1]}));      // text only
  EXPECT_EQ(customers(cond("custom.level", Op::Missing)), (Ids{c[3]}));
  EXPECT_EQ(customers(cond("custom.a.b", Op::Eq, ints({1}))), (Ids{c[2]}));
  EXPECT_EQ(customers(cond("custom.city", Op::StartsWith, texts({"上"}))), (Ids{c[0]}));
  EXPECT_EQ(customers(cond("custom.level", Op::Contains, texts({"3"}))), (Ids{c[1]}));  // 3 is no text
  EXPECT_EQ(customers(cond("custom.level", Op::In, ints({3, 9}))), (Ids{c[0]}));
  EXPECT_EQ(customers(cond("custom.level", Op::NotIn, ints({3}))), (Ids{c[1], c[2]}));
  EXPECT_EQ(customers(cond("custom.level", Op::In, ints({}))), Ids{});  // its key path bound, then not needed
  EXPECT_EQ(customers(cond("custom.city", Op::Contains, texts({}))), Ids{});
}

TEST_F(Queries, GroupsOrderAndSlices) {
  const AnyOf either = {{cond("amount", Op::Gt, reals({1000}))},
                        {cond("status", Op::Eq, texts({"paid"})), cond("amount", Op::Lt, reals({100}))}};
  EXPECT_EQ(s.query("orders", either), (Ids{o[0], o[2]}));
  EXPECT_EQ(s.query("orders", {}), (Ids{o[0], o[1], o[2], o[3]}));    // no group: everything
  EXPECT_EQ(s.query("orders", {{}}), (Ids{o[0], o[1], o[2], o[3]}));  // an empty group holds
  EXPECT_EQ(s.query("orders", {}, {{"amount", true}}), (Ids{o[2], o[1], o[3], o[0]}));
  EXPECT_EQ(s.query("orders", {}, {{"status", false}, {"amount", true}}), (Ids{o[1], o[0], o[2], o[3]}));
  EXPECT_EQ(s.query("orders", {}, {{"status", true}}), (Ids{o[2], o[0], o[1], o[3]}));  // missing last, ties by id
  EXPECT_EQ(s.query("orders", {}, {{"amount", false}}, 2, 1), (Ids{o[3], o[1]}));
  EXPECT_EQ(s.query("orders", {}, {}, 0), Ids{});
  EXPECT_EQ(s.query("customers", {}, {{"custom.level", false}}), (Ids{c[0], c[2], c[1], c[3]}));
  EXPECT_THROW(s.query("orders", {}, {}, -1, -1), ValidationError);
  EXPECT_THROW(s.query("customers", {}, {{"tags", false}}), ValidationError);
}

TEST_F(Queries, SelectQueryReadsTheMatchesInOrder) {
  const std::vector<std::string> columns = {"amount", "status"};
  const Table t = s.select_query("orders", {{cond("amount", Op::Gt, reals({60}))}}, {{"amount", true}}, 2, 0, &columns);
  ASSERT_EQ(t.columns.size(), 3u);  // id first
  EXPECT_EQ(t.columns[0].ints, (Ids{o[2], o[1]}));
  EXPECT_EQ(t.columns[1].reals, (std::vector<double>{1200.0, 900.0}));
  EXPECT_EQ(t.columns[2].texts, (std::vector<std::string>{"refunded", "paid"}));
  const Table all = s.select_query("orders", {});
  EXPECT_EQ(all.rows(), 4u);
  EXPECT_EQ(all.find("status")->valid, (std::vector<uint8_t>{1, 1, 1, 0}));
  const Table none = s.select_query("orders", {{cond("amount", Op::Lt, reals({0}))}});
  EXPECT_EQ(none.rows(), 0u);
  const std::vector<std::string> unknown = {"nosuch"};
  EXPECT_THROW(s.select_query("orders", {}, {}, -1, 0, &unknown), NotFound);
}

TEST_F(Queries, LongListsGoAsABatch) {
  Column many = ints({});
  for (int64_t i = 0; i < 1000; ++i) many.ints.push_back(o[0] + i * 2);  // o[0] and o[2], then ids of nothing
  EXPECT_EQ(orders(cond("id", Op::In, many)), (Ids{o[0], o[2]}));
  EXPECT_EQ(orders(cond("id", Op::NotIn, many)), (Ids{o[1], o[3]}));
  Column statuses = texts(std::vector<std::string>(100, "refunded"));
  // Two lists in one statement, each under its own number in the batch.
  EXPECT_EQ(where("orders", {cond("id", Op::In, many), cond("status", Op::In, statuses)}), (Ids{o[2]}));
}

TEST_F(Queries, KeywordsKeepFindsRules) {
  EXPECT_EQ(s.find("customers", "name", "ACME"), (Ids{c[0], c[1]}));
  EXPECT_EQ(s.find("customers", "tag", "b2b"), (Ids{c[0], c[1]}));
  EXPECT_EQ(s.find("customers", "phone", "13800138000"), (Ids{c[0]}));
  EXPECT_EQ(s.find("orders", "customer_id", std::to_string(c[0])), (Ids{o[0], o[1]}));
  const Condition many = keyword_condition("orders", "status", texts({"paid", "refunded"}));
  EXPECT_EQ(many.op, Op::In);
  const Condition missing = keyword_condition("orders", "status", texts({""}, {0}));
  EXPECT_EQ(s.query("orders", {{missing}}), (Ids{o[3]}));
  EXPECT_EQ(keyword_condition("customers", "tag", texts({""}, {0})).op, Op::Missing);
}

TEST_F(Queries, ErrorsNameTheField) {
  auto field_of = [this](const std::string& kind, Condition one) {
    try {
      s.query(kind, {{std::move(one)}});
    } catch (const ValidationError& e) {
      return e.field() + ": " + e.reason();
    }
    return std::string("no error");
  };
  EXPECT_EQ(field_of("orders", cond("amount", Op::Gt, texts({"lots"}))).rfind("amount: ", 0), 0u);
  EXPECT_NE(field_of("orders", cond("nosuch", Op::Eq, ints({1}))).find("is not a field of orders"), std::string::npos);
  EXPECT_NE(field_of("orders", cond("amount", Op::Contains, texts({"1"}))).find("applies to text"), std::string::npos);
  EXPECT_NE(field_of("orders", cond("amount", Op::Between, reals({1}))).find("two values"), std::string::npos);
  EXPECT_NE(field_of("orders", cond("amount", Op::Eq, reals({1, 2}))).find("one value"), std::string::npos);
  EXPECT_NE(field_of("orders", cond("amount", Op::Lt, reals({NAN}))).find("missing value"), std::string::npos);
  EXPECT_NE(field_of("orders", cond("ordered_at", Op::Gt, ints({1735689600}))).find("epoch"), std::string::npos);
  EXPECT_NE(field_of("orders", cond("status", Op::AnyTag, texts({"x"}))).find("tags only"), std::string::npos);
  EXPECT_NE(field_of("customers", cond("kind", Op::Eq, texts({"org"}))).find("not one of"), std::string::npos);
  EXPECT_NE(field_of("customers", cond("custom.", Op::Missing)).find("no custom key"), std::string::npos);
  EXPECT_NE(field_of("customers", cond("custom.level", Op::Gt, ints({0}, Column::Origin::Time))).find("date"),
            std::string::npos);
  EXPECT_THROW(parse_op("orders", "amount", "=~"), ValidationError);
  EXPECT_EQ(parse_op("orders", "amount", "not in"), Op::NotIn);
  EXPECT_THROW(s.query("no_such_kind", {}), NotFound);
}

TEST_F(Queries, ValuesAndNamesNeverBecomeSql) {
  const std::string evil = "x'); DROP TABLE orders; --";
  EXPECT_EQ(orders(cond("status", Op::Eq, texts({evil}))), Ids{});
  EXPECT_EQ(customers(cond("custom.level", Op::Eq, texts({evil}))), Ids{});
  EXPECT_EQ(customers(cond("custom." + evil, Op::Missing)).size(), 4u);  // a key no record has
  EXPECT_THROW(orders(cond(evil, Op::Eq, texts({"x"}))), ValidationError);
  EXPECT_THROW(s.query("orders", {}, {{evil, false}}), ValidationError);
  EXPECT_THROW(s.create_index("orders", evil), ValidationError);
  EXPECT_EQ(s.count("orders"), 4);
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST_F(Queries, IndexesServeConditions) {
  EXPECT_NE(s.query_plan("customers", {{cond("region", Op::Eq, texts({"US"}))}}).find("SCAN"), std::string::npos);
  EXPECT_TRUE(s.create_index("customers", "region"));
  EXPECT_FALSE(s.create_index("customers", "region"));
  EXPECT_FALSE(s.create_index("orders", "customer_id"));  // a reference: indexed from the start
  EXPECT_TRUE(s.create_index("orders", "ordered_at"));
  EXPECT_EQ(s.indexes("customers"), (std::vector<std::string>{"phone", "email", "region", "owner_id", "partner_id", "tags"}));
  EXPECT_EQ(s.indexes("orders"),
            (std::vector<std::string>{"customer_id", "ordered_at", "staff_id", "partner_id", "tags"}));
  const std::string plan = s.query_plan("customers", {{cond("region", Op::StartsWith, texts({"华"}))}});
  EXPECT_NE(plan.find("crm_idx_customers_region (region>? AND region<?)"), std::string::npos) << plan;
  EXPECT_EQ(customers(cond("region", Op::StartsWith, texts({"华"}))), (Ids{c[0], c[1]}));
  EXPECT_NE(s.query_plan("orders", {{cond("ordered_at", Op::Gt, texts({"2025-02-01"}))}}).find("crm_idx_orders_ordered_at"),
            std::string::npos);
  EXPECT_TRUE(s.drop_index("customers", "region"));
  EXPECT_FALSE(s.drop_index("customers", "region"));
  EXPECT_EQ(s.indexes("customers"), (std::vector<std::string>{"phone", "email", "owner_id", "partner_id", "tags"}));
}
