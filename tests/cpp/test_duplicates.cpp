// Duplicate search: each normalization rule by example, the edit distance
// against a plain textbook table, and the blocked search against scoring
// every pair.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <tuple>

#include "crmcore/records/duplicates.hpp"

using namespace crmcore;
using namespace crmcore::records;

namespace {

std::string key(const std::string& name) { return to_utf8(normalize_name(name).key); }
std::string place(const std::string& name) { return place_name(normalize_name(name).place); }

// A few readings, as the pypinyin table gives them (most common first).
PinyinTable small_table() {
  PinyinTable t;
  for (auto [c, r] : std::vector<std::pair<char32_t, const char*>>{
           {U'王', "wang"}, {U'王', "yu"}, {U'汪', "wang"}, {U'芳', "fang"}, {U'方', "fang"}, {U'单', "dan"},
           {U'单', "shan"}, {U'单', "chan"}, {U'小', "xiao"}, {U'明', "ming"}, {U'李', "li"}, {U'雷', "lei"},
           {U'吕', "lv"}, {U'吕', "lu"}, {U'布', "bu"}, {U'欧', "ou"}, {U'阳', "yang"}, {U'娜', "na"}})
    t.add(c, r);
  return t;
}

struct Pair {
  int64_t a, b;
  double score;
  uint32_t reasons;
  bool operator<(const Pair& o) const { return std::tie(a, b) < std::tie(o.a, o.b); }
};

std::vector<Pair> pairs_of(const DuplicatePairs& r) {
  std::vector<Pair> out;
  for (size_t k = 0; k < r.a.size(); ++k) out.push_back({r.a[k], r.b[k], r.score[k], r.reasons[k]});
  return out;
}

DuplicatePairs search(const std::vector<std::string>& names, const std::vector<std::string>& phones,
                      const std::vector<std::string>& emails, double threshold = 0.5, bool exhaustive = false,
                      const PinyinTable& table = small_table(), int max_typos = 2) {
  DuplicateOptions o;
  o.threshold = threshold;
  o.exhaustive = exhaustive;
  o.max_typos = max_typos;
  Cancel cancel;
  return find_duplicates(names, phones, emails, table, o, cancel);
}

// The reasons of the pair of rows 0 and 1 at the lowest threshold.
uint32_t reasons_of(const std::string& a, const std::string& b, const std::string& pa = "",
                    const std::string& pb = "", const std::string& ea = "", const std::string& eb = "") {
  auto r = search({a, b}, {pa, pb}, {ea, eb}, duplicate_score_floor() + 1e-9);
  return r.a.empty() ? 0 : r.reasons[0];
}

}  // namespace

TEST(DuplicateNames, FullWidthCaseSpacesAndPunctuationFold) {
  EXPECT_EQ(key("ＳＵＭＭＩＴ　Ｔｒａｄｉｎｇ"), "summittrading");
  EXPECT_EQ(key("Summit-Trading"), key("summit  trading"));
  EXPECT_EQ(key("O'Brien"), "obrien");          // apostrophes and dots join
  EXPECT_EQ(key("约翰·史密斯"), "约翰史密斯");  // so does the middle dot of transliterations
  EXPECT_EQ(key("Lucía Müller"), "luciamuller");
  EXPECT_EQ(key("Wáng Fāng"), "wangfang");      // pinyin with tone marks
  EXPECT_EQ(key("Lǚ Bù"), "lubu");
}

TEST(DuplicateNames, LegalSuffixesGo) {
  const std::string stem = "华创科技";
  for (const char* s : {"华创科技有限公司", "华创科技股份有限公司", "华创科技有限责任公司", "华创科技集团",
                        "华创科技集团有限公司", "华创科技集团股份有限公司", "华创科技 有限公司", "华创科技公司"})
    EXPECT_EQ(key(s), stem) << s;
  for (const char* s : {"Summit Trading Co., Ltd.", "Summit Trading Co. Ltd", "Summit Trading Co.,Ltd",
                        "Summit Trading Ltd", "Summit Trading Limited", "Summit Trading Inc.", "Summit Trading LLC",
                        "Summit Trading L.L.C.", "Summit Trading GmbH", "Summit Trading Corp",
                        "Summit Trading GmbH & Co. KG", "Summit Trading Group", "SUMMIT TRADING PLC"})
    EXPECT_EQ(key(s), "summittrading") << s;
  // A name that is nothing but a legal form keeps it.
  EXPECT_EQ(key("有限公司"), "有限公司");
  EXPECT_EQ(key("Inc."), "inc");
  EXPECT_EQ(key("Company Ltd"), "company");
}

TEST(DuplicateNames, LeadingAndBracketedPlacesGo) {
  for (const char* s : {"上海华创科技有限公司", "上海市华创科技有限公司", "华创科技（上海）有限公司",
                        "华创科技(上海市)有限公司", "上海 华创科技", "【上海】华创科技"}) {
    EXPECT_EQ(key(s), "华创科技") << s;
    EXPECT_EQ(place(s), "上海") << s;
  }
  EXPECT_EQ(key("广东省深圳市瑞丰电子有限公司"), "瑞丰电子");
  EXPECT_EQ(place("广东省深圳市瑞丰电子有限公司"), "深圳");
  EXPECT_EQ(key("广西壮族自治区南宁宏达贸易"), "宏达贸易");
  EXPECT_EQ(key("Shanghai Huachuang Technologies Co. Ltd"), "huachuangtechnologies");
  EXPECT_EQ(place("Shanghai Huachuang Technologies"), "上海");
  // Not places: a market (市场) after a city, a person's name, a Latin name of two words.
  EXPECT_EQ(key("北京市场研究有限公司"), "市场研究");
  EXPECT_EQ(key("江西瓜"), "江西瓜");
  EXPECT_EQ(key("Jilin Zhang"), "jilinzhang");
  EXPECT_EQ(place("华创科技"), "");
}

TEST(DuplicateNames, PlacesAgreeWithTheirProvince) {
  const int shenzhen = normalize_name("深圳华创").place, guangdong = normalize_name("广东华创").place;
  const int beijing = normalize_name("北京华创").place;
  EXPECT_TRUE(same_place(shenzhen, guangdong));
  EXPECT_TRUE(same_place(guangdong, shenzhen));
  EXPECT_FALSE(same_place(shenzhen, beijing));
  EXPECT_FALSE(same_place(-1, beijing));
}

TEST(DuplicateNames, WordOrderIsIgnoredInTheSortedForm) {
  EXPECT_EQ(normalize_name("Wang Fang").sorted, normalize_name("FANG wang").sorted);
  EXPECT_NE(normalize_name("Wang Fang").key, normalize_name("Fang Wang").key);
}

TEST(DuplicatePhones, TheNationalNumberIsCompared) {
  EXPECT_EQ(phone_key("+1 415 555 0123"), phone_key("(415) 555-0123"));
  EXPECT_EQ(phone_key("001 415 555 0123"), "4155550123");
  EXPECT_EQ(phone_key("+44 20 7946 0958"), phone_key("020 7946 0958"));
  EXPECT_EQ(phone_key("+44 (0)20 7946 0958"), "2079460958");
  EXPECT_EQ(phone_key("+86 755 1234 5678"), phone_key("0755-12345678"));
  EXPECT_EQ(phone_key("＋８６　１３８　００１３　８０００"), "13800138000");
  EXPECT_EQ(phone_key("86-13800138000"), "13800138000");
  EXPECT_EQ(phone_key("n/a"), "");
}

namespace {

// The optimal string alignment distance by the textbook table, in full.
int textbook_osa(const std::u32string& a, const std::u32string& b) {
  std::vector<std::vector<int>> d(a.size() + 1, std::vector<int>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

TEST(DuplicateTypos, DistanceMatchesTheTextbookTable) {
  EXPECT_EQ(typo_distance(U"ab", U"ba", 2), 1);     // a transposition is one edit
  EXPECT_EQ(typo_distance(U"ca", U"abc", 5), 3);    // OSA edits no substring twice (true Damerau: 2)
  EXPECT_EQ(typo_distance(U"华创科技", U"华信科技", 1), 1);
  EXPECT_EQ(typo_distance(U"kitten", U"sitting", 2), 3);  // over the limit: limit + 1
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> length(0, 9), letter(0, 3);
  for (int round = 0; round < 3000; ++round) {
    std::u32string a, b;
    for (int k = length(rng); k > 0; --k) a.push_back(U'a' + letter(rng));
    for (int k = length(rng); k > 0; --k) b.push_back(U'a' + letter(rng));
    const int want = textbook_osa(a, b);
    for (int limit = 0; limit <= 3; ++limit)
      ASSERT_EQ(typo_distance(a, b, limit), std::min(want, limit + 1)) << to_utf8(a) << " / " << to_utf8(b);
  }
}

TEST(DuplicatePinyin, SyllablesSplit) {
  const PinyinTable t = small_table();
  EXPECT_TRUE(t.spells_pinyin("xiaoming"));
  EXPECT_TRUE(t.spells_pinyin("wangfang"));
  EXPECT_FALSE(t.spells_pinyin("smith"));
  EXPECT_FALSE(t.spells_pinyin(""));
}

TEST(DuplicatePinyin, HanNamesMeetTheirPinyinSpellings) {
  for (const char* latin : {"Wang Fang", "Fang Wang", "WANG fang", "Wangfang", "wáng fāng"})
    EXPECT_TRUE(reasons_of("王芳", latin) & kSamePinyin) << latin;
  EXPECT_TRUE(reasons_of("单小明", "Shan Xiaoming") & kSamePinyin);  // a surname's other reading
  EXPECT_TRUE(reasons_of("吕布", "Lu Bu") & kSamePinyin);            // ü written u
  EXPECT_TRUE(reasons_of("欧阳娜娜", "Nana Ouyang") & kSamePinyin);  // a two-character surname
  // Two Han names reading alike are two people, not one spelled twice.
  EXPECT_FALSE(reasons_of("王芳", "汪芳", "138 0013 8000", "13800138000") & kSamePinyin);
  EXPECT_FALSE(reasons_of("王芳", "Li Lei") & kSamePinyin);
  // Without a table nothing is read as pinyin.
  auto r = search({"王芳", "Wang Fang"}, {"13800138000", "13800138000"}, {"", ""}, duplicate_score_floor() + 1e-9, false,
                  PinyinTable());
  ASSERT_EQ(r.a.size(), 1u);
  EXPECT_EQ(r.reasons[0], kSamePhone | kDifferentName);
}

TEST(DuplicateScores, EvidenceAddsUpAndCommonValuesCountLess) {
  // Same phone, same name: near certain.
  auto r = search({"上海华创科技有限公司", "华创科技（上海）有限公司"}, {"021-6552 1234", "+86 21 6552 1234"},
                  {"", ""});
  ASSERT_EQ(r.a.size(), 1u);
  EXPECT_EQ(r.reasons[0], kSamePhone | kSameName);
  EXPECT_GT(r.score[0], 0.95);
  // The same two names in two cities are two companies: the name weighs nothing.
  EXPECT_EQ(reasons_of("北京华创科技有限公司", "上海华创科技有限公司", "13800000001", "13800000001", "a@b.cn",
                       "a@b.cn"),
            kSamePhone | kSameEmail | kDifferentCity);
  EXPECT_TRUE(search({"北京华创科技有限公司", "上海华创科技有限公司"}, {"", ""}, {"", ""}).a.empty());
  // A typo, and a phone shared by the pair alone.
  EXPECT_EQ(reasons_of("Northwind Traders", "Nortwhind Traders", "+1 212 555 0100", "212-555-0100"),
            kSamePhone | kSimilarName);
  // A mistyped legal form is no evidence against the name it follows.
  EXPECT_EQ(reasons_of("Harbor Media Group", "Harbor Media rGoup", "13800000001", "13800000001"),
            kSamePhone | kSimilarName);
  EXPECT_EQ(reasons_of("Harbor", "Harbor Media rGoup", "13800000001", "13800000001"), kSamePhone | kSimilarName);
  EXPECT_EQ(reasons_of("Hab", "Hab Media", "13800000001", "13800000001"), kSamePhone | kDifferentName);
  // Different phones and a different name: nothing to go on.
  EXPECT_EQ(reasons_of("Acme", "Zenith", "1111111", "2222222"), 0u);
  // A phone shared by two records weighs more than one shared by ten.
  std::vector<std::string> names(12), phones(12), emails(12);  // no names: the phone alone
  phones[0] = phones[1] = "13800000001";
  for (int k = 2; k < 12; ++k) phones[k] = "13800000002";
  auto low = search(names, phones, emails, duplicate_score_floor() + 1e-9);
  double rare = 0, common = 1;
  for (size_t k = 0; k < low.a.size(); ++k) (low.a[k] == 0 ? rare : common) = low.score[k];
  EXPECT_GT(rare, common);
}

TEST(DuplicateSearch, RefusesThresholdsItCannotHonour) {
  EXPECT_THROW(search({"a"}, {""}, {""}, duplicate_score_floor()), std::invalid_argument);
  EXPECT_THROW(search({"a"}, {""}, {""}, 1.5), std::invalid_argument);
  EXPECT_THROW(search({"a"}, {""}, {""}, 0.5, false, small_table(), 3), std::invalid_argument);
  Cancel cancel;
  EXPECT_THROW(find_duplicates({"a", "b"}, {""}, {"", ""}, PinyinTable(), DuplicateOptions(), cancel),
               std::invalid_argument);
  EXPECT_TRUE(search({}, {}, {}).a.empty());
}

namespace {

// Records drawn from small pools, so that names, typos, places, pinyin,
// phones and e-mails collide often and at every block size.
void random_records(std::mt19937& rng, size_t n, std::vector<std::string>& names, std::vector<std::string>& phones,
                    std::vector<std::string>& emails) {
  const std::vector<std::string> stems = {"华创科技", "华信科技", "同创科技", "Northwind Traders", "Northwind Trader",
                                          "Nortwind Traders", "Summit Foods", "Sumit Foods", "王芳", "汪芳",
                                          "单小明", "Wang Fang", "Fang Wang", "Shan Xiaoming", "Xiaoming Shan",
                                          "Li Lei", "李雷", "欧阳娜娜", "Nana Ouyang", "Bluewater Logistics",
                                          "Bluewatr Logistics", "Blue Water Logistic", "Evergreen Electronics",
                                          "Evergreen Electronic", "Evergren Electronics"};
  const std::vector<std::string> prefixes = {"", "", "", "上海", "北京市", "深圳", "广东省"};
  const std::vector<std::string> suffixes = {"", "有限公司", " Ltd", " Co., Ltd.", "股份有限公司"};
  std::uniform_int_distribution<size_t> stem(0, stems.size() - 1), prefix(0, prefixes.size() - 1),
      suffix(0, suffixes.size() - 1), phone(0, 40), email(0, 60), coin(0, 3);
  for (size_t i = 0; i < n; ++i) {
    names.push_back(prefixes[prefix(rng)] + stems[stem(rng)] + suffixes[suffix(rng)]);
    std::string p = coin(rng) == 0 ? "" : "138" + std::to_string(10000000 + phone(rng));
    if (!p.empty() && coin(rng) == 0) p = "+86 " + p + "; 139" + std::to_string(20000000 + phone(rng));
    phones.push_back(p);
    emails.push_back(coin(rng) < 2 ? "" : "user" + std::to_string(email(rng)) + (coin(rng) ? "@x.cn" : "@X.CN"));
  }
}

}  // namespace

TEST(DuplicateSearch, BlocksFindEveryPairThatScoringAllPairsFinds) {
  std::mt19937 rng(42);
  for (size_t n : {2, 30, 300, 1500}) {
    std::vector<std::string> names, phones, emails;
    random_records(rng, n, names, phones, emails);
    for (double threshold : {duplicate_score_floor() + 1e-6, 0.1, 0.3, 0.5, 0.8, 0.99}) {
      for (int typos : {0, 1, 2}) {
        auto blocked = pairs_of(search(names, phones, emails, threshold, false, small_table(), typos));
        auto all = pairs_of(search(names, phones, emails, threshold, true, small_table(), typos));
        ASSERT_EQ(blocked.size(), all.size()) << "n=" << n << " threshold=" << threshold << " typos=" << typos;
        for (size_t k = 0; k < all.size(); ++k) {
          ASSERT_EQ(blocked[k].a, all[k].a);
          ASSERT_EQ(blocked[k].b, all[k].b);
          ASSERT_DOUBLE_EQ(blocked[k].score, all[k].score);
          ASSERT_EQ(blocked[k].reasons, all[k].reasons);
        }
      }
    }
  }
}

TEST(DuplicateSearch, ClustersAreConnectedComponentsNamedByTheirFirstRow) {
  // 0-1 share a phone, 1-2 an e-mail, 3-4 a phone; 5 stands alone.
  auto r = search({"Li Lei", "Li Lei", "Li Lei", "Summit Foods", "Summit Foods Ltd", "Acme"},
                  {"13800000001", "13800000001", "", "13900000009", "139 0000 0009", ""},
                  {"", "li@x.cn", "LI@X.CN", "", "", ""});
  std::set<std::pair<int64_t, int64_t>> got;
  for (size_t k = 0; k < r.a.size(); ++k) got.insert({r.a[k], r.cluster[k]});
  EXPECT_EQ(got, (std::set<std::pair<int64_t, int64_t>>{{0, 0}, {1, 0}, {3, 3}}));
  EXPECT_EQ(r.a.size(), 4u);  // 0-1, 0-2 (same name, no conflict), 1-2, 3-4
}
