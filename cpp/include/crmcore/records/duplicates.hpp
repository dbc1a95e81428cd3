#pragma once
// Candidate duplicates among the records of one kind (customers, contacts):
// which pairs may be the same party, how sure that is, and why.
//
// Each pair's evidence is weighed in bits, the way record-linkage models
// (Fellegi-Sunter) weigh it: agreeing on a value counts for more the rarer
// that value is in the data (a phone number shared by two records says more
// than one shared by forty, a rare company name more than 王伟), disagreeing
// counts against. The score is 1 / (1 + 2^-bits).
//
// Candidates come from blocks (records sharing a normalized phone, e-mail,
// name, pinyin spelling, or a name within a small edit distance), never from
// all n^2/2 pairs. The blocks are complete for the score: a pair that scores
// above the smallest allowed threshold shares at least one block that is
// searched, because a block is skipped only when its value is so common that
// agreeing on it adds no more than the little a common name adds, and that
// alone stays under the smallest threshold. `exhaustive` scores every pair
// instead, the reference the tests hold the blocked search to.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::records {

// Why a pair scored as it did: bits of DuplicatePairs::reasons.
enum DuplicateReason : uint32_t {
  kSamePhone = 1u << 0,
  kSameEmail = 1u << 1,
  kSameName = 1u << 2,        // equal after normalization (or the same words in another order)
  kSimilarName = 1u << 3,     // a small edit distance apart (typos), or one begins or ends the other
  kSamePinyin = 1u << 4,      // one reading, e.g. 王芳 / "Wang Fang" / "Fang Wang", or homophones
  kDifferentPhone = 1u << 5,  // both have phones, none shared
  kDifferentEmail = 1u << 6,
  kDifferentName = 1u << 7,   // both named, no name evidence at all
  kDifferentCity = 1u << 8,   // the names carry different cities (北京… / 上海…)
};

// The text of each reason bit, lowest bit first ("same phone", ...).
const std::vector<std::string>& duplicate_reason_names();

// Mandarin readings of Han characters as plain lower-case ASCII syllables
// ("wang"; ü written both "v" and "u"). The caller fills it from a maintained
// source (the Python side uses pypinyin's table, built from Unihan's
// kMandarin and kHanyuPinyin). An empty table turns pinyin matching off.
class PinyinTable {
 public:
  void add(char32_t han, std::string_view reading);
  // Readings of a character, or nullptr when it has none.
  const std::vector<std::string>* readings(char32_t han) const;
  // Whether `word` splits into syllables that some character reads as.
  bool spells_pinyin(std::string_view word) const;
  bool empty() const { return readings_.empty(); }

 private:
  std::unordered_map<char32_t, std::vector<std::string>> readings_;
  std::unordered_set<uint64_t> syllables_;  // each packed into an integer, a byte a letter
  size_t longest_syllable_ = 0;
};

// A name as the matcher compares it. Full-width forms are folded to ASCII,
// letters to lower case and Latin accents away; punctuation and spaces go
// ('.' and apostrophes join: "L.L.C." is "llc", "O'Brien" "obrien"); a
// leading city or province (上海 / 上海市 / 广东省 / "Shanghai"), or one in
// brackets ("华创科技（上海）有限公司"), is taken off into `place`; legal
// suffixes (有限公司, 股份有限公司, 集团, Co., Ltd., Inc., LLC, GmbH, ...) are
// taken off the end. Nothing is taken off that would leave the name empty.
struct NameForm {
  std::u32string key;                // the words joined, e.g. U"huachuangtechnologies"
  std::u32string sorted;             // the words sorted and joined ("fang wang" == "wang fang")
  std::vector<std::u32string> words;
  int place = -1;                    // index into the place table, -1 for none
  bool han = false;                  // key is all Han characters
};
NameForm normalize_name(std::string_view text);

// UTF-8 of code points (to show a NameForm's key).
std::string to_utf8(std::u32string_view text);

// Whether two places can be the same (equal, or a city and its province).
bool same_place(int a, int b);
// The place's name in Chinese, for messages and tests ("上海"); "" for -1.
std::string place_name(int place);

// A phone number as duplicates compare it: the national significant number
// of normalize_phone's result (country code and trunk 0 off), so
// "+1 415 555 0123" and "(415) 555-0123", or "+44 20 7946 0958" and
// "020 7946 0958", agree. "" when the text is no phone number.
std::string phone_key(std::string_view text);

// Optimal string alignment distance (Damerau-Levenshtein without editing a
// substring twice) between code point strings, or `limit + 1` when it is
// more than `limit`.
int typo_distance(std::u32string_view a, std::u32string_view b, int limit);

struct DuplicateOptions {
  double threshold = 0.5;  // keep pairs scoring at least this
  int max_typos = 2;       // edit distance allowed in long names (0 turns typo matching off)
  bool exhaustive = false; // score all n(n-1)/2 pairs: the reference for tests, small n only
};

// The score of a pair that shares nothing but a common name (about 0.06):
// thresholds must be above it.
double duplicate_score_floor();

// Pairs of rows (a < b) scoring at least the threshold, ordered by (a, b),
// with the connected component ("cluster") of each: the smallest row of the
// component the pair belongs to.
struct DuplicatePairs {
  std::vector<int64_t> a, b;
  std::vector<double> score;
  std::vector<uint32_t> reasons;
  std::vector<int64_t> cluster;
};

// names, phones and emails have one entry per record ("" where missing);
// phones and e-mails may hold several values separated by ';' or ','.
DuplicatePairs find_duplicates(const std::vector<std::string>& names, const std::vector<std::string>& phones,
                               const std::vector<std::string>& emails, const PinyinTable& pinyin,
                               const DuplicateOptions& options, Cancel& cancel);

}  // namespace crmcore::records
