// The record store: normalization, validation, the write path and lookups.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"
#include "columns.hpp"

using namespace crmcore;
using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

int64_t add_customer(Store& s, const std::string& name, const std::string& phone = "") {
  Table t;
  t.columns.push_back(text_column("name", {name}));
  if (!phone.empty()) t.columns.push_back(text_column("phone", {phone}));
  return s.insert("customers", t).ids.at(0);
}

}  // namespace

TEST(NormalizePhone, FoldsFormattingAndChinesePrefixes) {
  const std::string want = "13800138000";
  for (const char* typed : {"13800138000", "138 0013 8000", "138-0013-8000", "(138) 0013-8000", "+86 138 0013 8000",
                            "0086 13800138000", "+86-138-0013-8000", "8613800138000",
                            "\xEF\xBC\x91\xEF\xBC\x93\xEF\xBC\x98 0013 8000"})  // full-width "138"
    EXPECT_EQ(normalize_phone(typed), want) << typed;
}

TEST(NormalizePhone, KeepsOtherCountryCodesAndRejectsNoise) {
  EXPECT_EQ(normalize_phone("+1 (415) 555-0100"), "+14155550100");
  EXPECT_EQ(normalize_phone("001 415 555 0100"), "+14155550100");
  EXPECT_EQ(normalize_phone("010-6552 1234"), "01065521234");
  EXPECT_EQ(normalize_phone("+86 10 6552 1234"), "01065521234");
  EXPECT_EQ(normalize_phone("+44 (0)20 7946 0018"), "+442079460018");
  EXPECT_EQ(normalize_phone("(020) 7946 0018"), "02079460018");
  EXPECT_EQ(normalize_phone("0086 (755) 5206-7962"), "075552067962");
  EXPECT_EQ(normalize_phone("abc"), "");
  EXPECT_EQ(normalize_phone("12"), "");
}

TEST(PhoneAlternatives, AddOrDropTheCountryCode) {
  auto alts = phone_alternatives("4155550123");
  auto has = [&alts](const std::string& s) { return std::find(alts.begin(), alts.end(), s) != alts.end(); };
  EXPECT_TRUE(has("+14155550123"));
  EXPECT_TRUE(has("+444155550123"));
  EXPECT_FALSE(has("+864155550123"));  // Chinese numbers are stored in national form
  alts = phone_alternatives("02079460958");
  EXPECT_TRUE(has("+442079460958"));   // trunk 0 dropped
  EXPECT_TRUE(has("+3902079460958"));  // or kept, as Italy does
  // Country codes are read as a prefix code: +852 is Hong Kong, not +85 and 2.
  EXPECT_EQ(phone_alternatives("+85223456789"), (std::vector<std::string>{"23456789", "023456789"}));
  EXPECT_EQ(phone_alternatives("+12125550100"), (std::vector<std::string>{"2125550100", "02125550100"}));
  EXPECT_TRUE(phone_alternatives("5550123").size() > 0);
  EXPECT_TRUE(phone_alternatives("555012").empty());    // too short to guess a country
  EXPECT_TRUE(phone_alternatives("+1555012").empty());
  EXPECT_TRUE(phone_alternatives("+2945550123").empty());  // 29 + 4: no such country code
}

TEST(NormalizeEmail, TrimsAndLowercases) { EXPECT_EQ(normalize_email("  Li.Lei@Example.COM "), "li.lei@example.com"); }

TEST(ParseTime, AcceptsTheUsualSpellings) {
  EXPECT_EQ(parse_time("1970-01-01"), 0);
  EXPECT_EQ(parse_time("1970-01-02"), 86400LL * 1000000000LL);
  EXPECT_EQ(parse_time("2024-02-29 12:30"), parse_time("2024-02-29T12:30:00Z"));
  EXPECT_EQ(parse_time("2024/03/01"), parse_time("2024-03-01"));
  EXPECT_EQ(*parse_time("2024-01-01T08:00:00+08:00"), *parse_time("2024-01-01"));
  EXPECT_EQ(*parse_time("2000-01-01 00:00:00.5") - *parse_time("2000-01-01"), 500000000LL);
  // 2024-03-01 is day 19783 since the epoch (checked with Python's datetime).
  EXPECT_EQ(*parse_time("2024-03-01") / 86400000000000LL, 19783);
  EXPECT_EQ(format_time(*parse_time("1999-12-31 23:59:59")), "1999-12-31 23:59:59");
}

TEST(FormatTime, MatchesPythonsDatetime) {
  // The right-hand sides are pandas.Timestamp(ns).isoformat() with ' ' for 'T'.
  EXPECT_EQ(format_time(0), "1970-01-01 00:00:00");
  EXPECT_EQ(format_time(-1), "1969-12-31 23:59:59.999999999");
  EXPECT_EQ(format_time(1709210096000000007LL), "2024-02-29 12:34:56.000000007");
  EXPECT_EQ(format_time(-2208988800000000000LL), "1900-01-01 00:00:00");
  EXPECT_EQ(format_time(7258118399999999999LL), "2199-12-31 23:59:59.999999999");
}

TEST(ParseTime, RejectsImpossibleDates) {
  for (const char* bad : {"2023-02-29", "2024-13-01", "2024-00-10", "24-01-01", "2024-01-01 25:00", "yesterday", ""})
    EXPECT_FALSE(parse_time(bad).has_value()) << bad;
}

TEST(ParseTime, TellsADateOutOfRangeFromNoDate) {
  // The store keeps int64 nanoseconds since 1970 (as pandas): 1677-09-21 00:12:44 to 2262-04-11 23:47:15.
  for (const char* far : {"0001-01-01", "1677-09-21", "2262-04-12", "9999-12-31 23:59", "1600-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_time(far).has_value()) << far;
    EXPECT_TRUE(time_out_of_range(far)) << far;
  }
  for (const char* kept : {"1677-09-22", "2262-04-11", "2024-01-01"}) {
    EXPECT_TRUE(parse_time(kept).has_value()) << kept;
    EXPECT_FALSE(time_out_of_range(kept)) << kept;
  }
  for (const char* bad : {"2023-02-29", "0001-13-01", "yesterday", "01/01/0001"}) EXPECT_FALSE(time_out_of_range(bad)) << bad;
}

TEST(Store, ADateOutOfRangeIsRefusedSayingSo) {
  Store s(":memory:");
  Table t;
  t.columns.push_back(int_column("customer_id", {add_customer(s, "Acme")}));
  t.columns.push_back(real_column("amount", {1}));
  t.columns.push_back(text_column("ordered_at", {"0001-01-01"}));
  try {
    s.insert("orders", t);
    ADD_FAILURE() << "accepted an order of year 1";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "ordered_at");
    EXPECT_EQ(e.reason(), "'0001-01-01' is outside the dates the store keeps (1677-09-22 to 2262-04-11)");
  }
  EXPECT_EQ(s.count("orders"), 0);
}

TEST(Store, IdsAreUniqueAcrossKinds) {
  Store s(":memory:");
  int64_t c = add_customer(s, "Acme");
  Table contact;
  contact.columns.push_back(text_column("name", {"Li Lei"}));
  int64_t p = s.insert("contacts", contact).ids.at(0);
  EXPECT_NE(c, p);
  EXPECT_EQ(s.kind_of(c), "customers");
  EXPECT_EQ(s.kind_of(p), "contacts");
  EXPECT_EQ(s.kind_of(999), "");
}

TEST(Store, ImportIsAllOrNothing) {
  Store s(":memory:");
  int64_t c = add_customer(s, "Acme");
  Table orders;
  orders.columns.push_back(int_column("customer_id", {c, c, 424242}));
  orders.columns.push_back(text_column("ordered_at", {"2024-01-01", "2024-01-02", "2024-01-03"}));
  orders.columns.push_back(real_column("amount", {10, 20, 30}));
  try {
    s.insert("orders", orders);
    FAIL() << "expected a ValidationError";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.row(), 2);
    EXPECT_EQ(e.field(), "customer_id");
    EXPECT_NE(std::string(e.what()).find("424242"), std::string::npos);
  }
  EXPECT_EQ(s.count("orders"), 0);

  WriteResult r = s.insert("orders", orders, OnError::Skip);
  EXPECT_EQ(s.count("orders"), 2);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].row, 2);
  EXPECT_EQ(r.ids[2], -1);
  EXPECT_EQ(s.integrity_check(), "ok");
}

// Imports are written in chunks of 65,536 rows, each by one INSERT ... SELECT;
// a bad row in a later chunk still names its own row and undoes the earlier chunks.
TEST(Store, ImportAcrossChunksIsAllOrNothingAndKeepsRowOrder) {
  Store s(":memory:");
  int64_t a = add_customer(s, "Acme");
  int64_t b = add_customer(s, "Beta");
  const size_t n = 140000;
  std::vector<int64_t> customer(n);
  std::vector<double> amount(n);
  for (size_t i = 0; i < n; ++i) customer[i] = i % 3 ? a : b, amount[i] = static_cast<double>(i);
  customer[131073] = 999999;
  Table orders;
  orders.columns.push_back(int_column("customer_id", customer));
  orders.columns.push_back(text_column("ordered_at", std::vector<std::string>(n, "2024-01-01")));
  orders.columns.push_back(real_column("amount", amount));
  try {
    s.insert("orders", orders);
    FAIL() << "expected a ValidationError";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.row(), 131073);
    EXPECT_EQ(e.field(), "customer_id");
  }
  EXPECT_EQ(s.count("orders"), 0);

  WriteResult r = s.insert("orders", orders, OnError::Skip);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].row, 131073);
  EXPECT_EQ(s.count("orders"), static_cast<int64_t>(n - 1));
  Table back = s.select("orders", nullptr);
  const Column* got = back.find("amount");
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->reals.size(), n - 1);
  for (size_t i = 0, j = 0; i < n; ++i) {
    if (i == 131073) continue;
    ASSERT_EQ(got->reals[j], amount[i]) << "row " << i;
    ASSERT_EQ(back.find("id")->ints[j], r.ids[i]) << "row " << i;
    ++j;
  }
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST(Store, ExplainsBadValues) {
  Store s(":memory:");
  int64_t c = add_customer(s, "Acme");
  struct Case {
    Column column;
    std::string field;
  };
  std::vector<Case> cases = {
      {text_column("amount", {"12,5x"}), "amount"},
      {text_column("ordered_at", {"2024-02-30"}), "ordered_at"},
      {real_column("amount", {std::numeric_limits<double>::infinity()}), "amount"},
      {text_column("status_typo", {"x"}), "status_typo"},
  };
  for (auto& cs : cases) {
    Table t;
    t.columns.push_back(int_column("customer_id", {c}));
    if (cs.field != "ordered_at") t.columns.push_back(text_column("ordered_at", {"2024-01-01"}));
    if (cs.field != "amount") t.columns.push_back(real_column("amount", {1}));
    t.columns.push_back(cs.column);
    try {
      s.insert("orders", t);
      ADD_FAILURE() << "accepted bad " << cs.field;
    } catch (const ValidationError& e) {
      EXPECT_EQ(e.field(), cs.field);
    }
  }
  Table missing;
  missing.columns.push_back(int_column("customer_id", {c}));
  missing.columns.push_back(real_column("amount", {1}));
  try {
    s.insert("orders", missing);
    ADD_FAILURE() << "accepted an order without a date";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "ordered_at");
    EXPECT_EQ(e.reason(), "is required but missing");
  }
  EXPECT_EQ(s.count("orders"), 0);
}

TEST(Store, FindsByPhoneEmailNameAndTag) {
  Store s(":memory:");
  Table t;
  t.columns.push_back(text_column("name", {"北京华信科技有限公司", "Acme Trading", "王芳"}));
  t.columns.push_back(text_column("phone", {"010-6552 1234", "+1 415 555 0100", "+86 139 1234 5678; 021 5555 6666"}));
  t.columns.push_back(text_column("email", {"", "Sales@Acme.com", ""}));
  t.columns.push_back(text_column("tags", {"vip;b2b", "b2b", ""}));
  t.columns.back().valid = {1, 1, 0};
  auto ids = s.insert("customers", t).ids;
  EXPECT_EQ(s.find_phone("customers", "(010) 65521234"), std::vector<int64_t>{ids[0]});
  EXPECT_EQ(s.find_phone("customers", "0086 139-1234-5678"), std::vector<int64_t>{ids[2]});
  EXPECT_EQ(s.find_phone("customers", "021-5555-6666"), std::vector<int64_t>{ids[2]});
  EXPECT_EQ(s.find("customers", "email", "sales@ACME.com"), std::vector<int64_t>{ids[1]});
  EXPECT_EQ(s.find("customers", "name", "华信"), std::vector<int64_t>{ids[0]});
  EXPECT_EQ(s.find("customers", "name", "acme"), std::vector<int64_t>{ids[1]});
  EXPECT_EQ(s.find("customers", "name", "%"), std::vector<int64_t>{});  // wildcards are literal
  EXPECT_EQ(s.find("customers", "tag", "b2b"), (std::vector<int64_t>{ids[0], ids[1]}));
  EXPECT_TRUE(s.find_phone("contacts", "010-6552 1234").empty());
}

TEST(Store, UpdateAndDeleteKeepLookupsAndReferencesRight) {
  Store s(":memory:");
  int64_t c = add_customer(s, "Acme", "138 0013 8000");
  Table change;
  change.columns.push_back(text_column("phone", {"139 0000 1111"}));
  s.update("customers", c, change);
  EXPECT_TRUE(s.find_phone("customers", "13800138000").empty());
  EXPECT_EQ(s.find_phone("customers", "13900001111"), std::vector<int64_t>{c});

  Table order;
  order.columns.push_back(int_column("customer_id", {c}));
  order.columns.push_back(text_column("ordered_at", {"2024-01-01"}));
  order.columns.push_back(real_column("amount", {5}));
  int64_t o = s.insert("orders", order).ids.at(0);
  EXPECT_THROW(s.remove("customers", c), ValidationError);  // still has an order
  s.remove("orders", o);
  s.remove("customers", c);
  EXPECT_EQ(s.count("customers"), 0);
  EXPECT_TRUE(s.find_phone("customers", "13900001111").empty());
  EXPECT_THROW(s.remove("customers", c), NotFound);
  EXPECT_THROW(s.update("customers", c, change), NotFound);
}

TEST(Store, HooksSeeEveryWriteAndCanRefuseIt) {
  Store s(":memory:");
  int seen = 0;
  s.add_write_hook([&seen](const WriteRequest& r) {
    ++seen;
    if (r.op == WriteOp::Delete) throw Error("deleting is not allowed here");
  });
  int64_t c = add_customer(s, "Acme");
  EXPECT_THROW(s.remove("customers", c), Error);
  EXPECT_EQ(s.count("customers"), 1);
  EXPECT_EQ(seen, 2);
  Table log = s.audit_log(10);
  EXPECT_EQ(log.rows(), 1u);  // the refused delete left no entry
  EXPECT_EQ(log.find("first_id")->ints.at(0), c);
}

TEST(Store, LinksNeedExistingEnds) {
  Store s(":memory:");
  int64_t a = add_customer(s, "A"), b = add_customer(s, "B");
  Table link;
  link.columns.push_back(int_column("src", {a, a}));
  link.columns.push_back(int_column("dst", {b, 777}));
  link.columns.push_back(text_column("type", {"partner_of", "partner_of"}));
  try {
    s.insert("links", link);
    FAIL();
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.row(), 1);
    EXPECT_EQ(e.field(), "dst");
  }
  EXPECT_EQ(s.count("links"), 0);
}
