// The forms other programs' exports write dates, amounts and yes/no in
// (issue 9), read by the parsers and by the store; and the forms that stay
// refused because they are junk or ambiguous (issue 8).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore;
using namespace crmcore::records;

namespace {

constexpr int64_t kSecond = 1000000000LL;
// Seconds since 1970 (UTC) of the reference days, from Python's
// datetime(..., tzinfo=timezone.utc).timestamp().
constexpr int64_t k20250105 = 1736035200;
constexpr int64_t k20251225_0940 = 1766655600;
constexpr int64_t k20240229 = 1709164800;

Column text_column(const std::string& name, std::vector<std::string> values) {
  Column c(name, Column::Storage::Text);
  c.texts = std::move(values);
  return c;
}

}  // namespace

TEST(LenientDates, YearFirstFormsOfOneDay) {
  for (const char* text : {"2025-01-05", "2025/1/5", "2025-1-5", "2025.1.5", "2025.01.05", "2025/01/5",
                           "2025年1月5日", "2025年01月05日", "2025年1月5号", "20250105", " 2025/1/5 "})
    EXPECT_EQ(parse_time(text), k20250105 * kSecond) << text;
  EXPECT_EQ(parse_time("20240229"), k20240229 * kSecond);
}

TEST(LenientDates, TimesOfDayAfterEveryForm) {
  for (const char* text : {"2025-12-25 9:40", "2025-12-25 09:40", "2025/12/25 9:40", "2025.12.25 9:40:00",
                           "2025年12月25日 9:40", "2025年12月25日9:40", "2025-12-25  9:40", "2025-12-25T09:40Z",
                           "2025-12-25T17:40+08:00"})
    EXPECT_EQ(parse_time(text), k20251225_0940 * kSecond) << text;
  EXPECT_EQ(*parse_time("2025/1/5 9:40:05.25") - k20250105 * kSecond, (9 * 3600 + 40 * 60 + 5) * kSecond + kSecond / 4);
}

TEST(LenientDates, AmbiguousAndImpossibleFormsAreRefused) {
  for (const char* bad : {
           "05/01/2025", "1/5/2025", "25/1/5", "2025-1/5", "2025/1-5", "2025.1/5",  // day/month first, mixed
           "2025/13/5", "2025/2/30", "2023年2月29日", "20251305", "20230229",         // no such day
           "2025年1月5", "2025年1月", "2025/001/5", "2025/1/005",                    // incomplete, too many digits
           "2025010", "202501051", "20250105 09:40", "20250105T0940",               // the compact form alone
           "2025/1/5 940", "2025/1/5 9:4", "2025/1/5 123:40", "2025/1/5 24:00",      // times
           "2025/1/59:40", "2025年1月5日T9:40", "2025/1/5 9:40 junk", "2025/1/5\x01"})
    EXPECT_FALSE(parse_time(bad)) << bad;
  EXPECT_FALSE(parse_time(std::string("2025/1/5\0junk", 13)));
  EXPECT_FALSE(parse_time(std::string("2025年1月5日\0", 16)));
}

TEST(LenientAmounts, SeparatorsCurrenciesAndUnits) {
  const std::pair<const char*, double> cases[] = {
      {"1,200.50", 1200.5},  {"1,234,567", 1234567}, {"¥1,200", 1200},     {"￥1200", 1200},
      {"RMB 1200", 1200},    {"rmb1200", 1200},      {"$1,200.5", 1200.5}, {"1200元", 1200},
      {"1,200 USD", 1200},   {"1.2万", 12000},        {"3亿", 3e8},          {"1.2万元", 12000},
      {"¥1.5万", 15000},      {"-1,200", -1200},      {"-¥1,200", -1200},   {"¥-1,200", -1200},
      {"+$5", 5},            {" ¥ 1,200.00 ", 1200}, {"12%", 0.12},        {"12.5％", 0.125},
      {"-3%", -0.03},        {"0.5", 0.5},           {"1e3", 1000},        {"€9.99", 9.99},
      {"£1,000", 1000},      {"0.1万", 1000},}
  ;
  for (const auto& [text, expected] : cases) EXPECT_EQ(parse_amount(text), expected) << text;
  // The scaling is decimal, as a person reads it: 1.1万 is 11000, and 0.07% is
  // the double nearest to 0.0007 (7e-4), not 0.07 / 100.
  EXPECT_EQ(parse_amount("1.1万"), 11000.0);
  EXPECT_EQ(parse_amount("0.07%"), 7e-4);
  EXPECT_EQ(parse_amount("123.456789亿"), 12345678900.0);
}

TEST(LenientAmounts, JunkAndAmbiguousGroupingsStayRefused) {
  for (const char* bad : {"", "1,20,0", "1,200,50", "1200,000", "1,2000", "0,123", ",100", "1,", "1,200.",
                          "100 junk", "100junk", "12abc", "0x1A", "0x1p3", "1e999", "¥", "万", "%", "--5", "-¥-5",
                          "¥1,200元", "$¥5", "¥12%", "1.2万%", "12%元", "1 200", "1.200,50", "12 %", "USDT 5",
                          "5 USDT", "1e3万", "(1,200)", "¥0x10", "1,200 1,200"})
    EXPECT_FALSE(parse_amount(bad)) << bad;
  EXPECT_FALSE(parse_amount(std::string("1,200\0", 6)));
  EXPECT_FALSE(parse_amount(std::string("\0" "100", 4)));
  EXPECT_FALSE(parse_amount(std::string("¥1\0" "00", 7)));
}

TEST(LenientBooleans, EveryUsualSpelling) {
  for (const char* yes : {"1", "true", "TRUE", "t", "Yes", "y", "Y", "是", " 是 ", "对", "真"})
    EXPECT_EQ(parse_bool(yes), true) << yes;
  for (const char* no : {"0", "false", "F", "no", "N", "否", "错", "假"}) EXPECT_EQ(parse_bool(no), false) << no;
  for (const char* bad : {"", "2", "yes please", "是的", "不", "on", "off"}) EXPECT_FALSE(parse_bool(bad)) << bad;
  EXPECT_FALSE(parse_bool(std::string("y\0", 2)));
}

TEST(LenientStore, AnImportReadsTheFormsAndNamesTheJunk) {
  Store s(":memory:");
  Table customer;
  customer.columns.push_back(text_column("name", {"Acme"}));
  const int64_t cid = s.insert("customers", customer).ids.at(0);
  const std::string id = std::to_string(cid);
  Table orders;
  orders.columns.push_back(text_column("customer_id", {id, id, id, id}));
  orders.columns.push_back(text_column("ordered_at", {"2025年1月5日", "2025/1/5", "20250105", "2025-12-25 9:40"}));
  orders.columns.push_back(text_column("amount", {"¥1,200", "1.2万", "1,20,0", "RMB 1200"}));
  const WriteResult result = s.insert("orders", orders, OnError::Skip);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].row, 2);
  EXPECT_EQ(result.errors[0].field, "amount");
  Table got = s.select("orders");
  EXPECT_EQ(got.find("amount")->reals, (std::vector<double>{1200, 12000, 1200}));
  EXPECT_EQ(got.find("ordered_at")->ints,
            (std::vector<int64_t>{k20250105 * kSecond, k20250105 * kSecond, k20251225_0940 * kSecond}));

  // Counts read like amounts; record ids do not.
  Table ticket;
  ticket.columns.push_back(text_column("customer_id", {id}));
  ticket.columns.push_back(text_column("opened_at", {"2025/1/5"}));
  ticket.columns.push_back(text_column("reopened", {"1,200"}));
  EXPECT_NO_THROW(s.insert("tickets", ticket));
  Table by_grouped_id = orders;
  by_grouped_id.columns[0] = text_column("customer_id", {"1,0" + id, id, id, id});
  EXPECT_THROW(s.insert("orders", by_grouped_id), ValidationError);
}

TEST(LenientStore, BooleansInChinese) {
  Store s(":memory:");
  Table campaign;
  campaign.columns.push_back(text_column("name", {"spring"}));
  const int64_t camp = s.insert("campaigns", campaign).ids.at(0);
  Table contact;
  contact.columns.push_back(text_column("name", {"Li", "Wang"}));
  const auto people = s.insert("contacts", contact).ids;
  Table members;
  members.columns.push_back(text_column("campaign_id", {std::to_string(camp), std::to_string(camp)}));
  members.columns.push_back(text_column("contact_id", {std::to_string(people[0]), std::to_string(people[1])}));
  members.columns.push_back(text_column("responded", {"是", "否"}));
  s.insert("campaign_members", members);
  EXPECT_EQ(s.select("campaign_members").find("responded")->ints, (std::vector<int64_t>{1, 0}));
}

TEST(DryRun, ReportsEveryBadRowAndWritesNothing) {
  Store s(":memory:");
  Table products;
  products.columns.push_back(text_column("sku", {"A", "B", "A", "C"}));
  products.columns.push_back(text_column("name", {"a", "b", "a again", "c"}));
  products.columns.push_back(text_column("list_price", {"9.5", "junk", "1", "¥2"}));
  const Table before = s.audit_log(100);
  // A dry run collects what a write alone finds (the duplicate sku) as well
  // as the bad values, even when asked to raise.
  const WriteResult checked = s.insert("products", products, OnError::Raise, {}, true);
  ASSERT_EQ(checked.errors.size(), 2u);
  EXPECT_EQ(checked.errors[0].row, 1);
  EXPECT_EQ(checked.errors[0].field, "list_price");
  EXPECT_EQ(checked.errors[1].row, 2);
  EXPECT_EQ(checked.errors[1].field, "sku");
  EXPECT_EQ(s.count("products"), 0);
  EXPECT_EQ(s.audit_log(100).rows(), before.rows());
  // The ids a real import then gives are those a store that never saw the dry run gives.
  Table ok;
  ok.columns.push_back(text_column("sku", {"Z"}));
  ok.columns.push_back(text_column("name", {"z"}));
  Store fresh(":memory:");
  EXPECT_EQ(s.insert("products", ok).ids, fresh.insert("products", ok).ids);
  // Inside a caller's transaction the dry run undoes only itself.
  s.begin();
  Table more = ok;
  more.columns[0] = text_column("sku", {"Y"});
  s.insert("products", more);
  s.insert("products", products, OnError::Skip, {}, true);
  s.commit();
  EXPECT_EQ(s.count("products"), 2);
  EXPECT_EQ(s.integrity_check(), "ok");
}
