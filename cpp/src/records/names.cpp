// How duplicates read names and phone numbers: the folding of what people
// type into the form two records are compared in.
#include <algorithm>
#include <array>

#include "crmcore/records/duplicates.hpp"
#include "crmcore/records/normalize.hpp"

namespace crmcore::records {

namespace {

// ---- characters -------------------------------------------------------------

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (extra < 0 || i + static_cast<size_t>(extra) >= s.size()) {
      ++i;  // a stray byte of broken UTF-8 carries no letter
      continue;
    }
    char32_t cp = extra == 0 ? c : c & (0x3F >> extra);
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((cc >> 6) != 0x2) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    i += ok ? static_cast<size_t>(extra) + 1 : 1;
    if (ok) out.push_back(cp);
  }
  return out;
}

bool is_han(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x20000 && c <= 0x2FFFF) || c == 0x3007;
}

// What a character is to a name: part of a word, a joiner that vanishes
// ('.', apostrophes, the middle dot of transliterated names), a separator,
// or a bracket.
enum class Role { Word, Join, Separator, Open, Close };

// Latin-1 and Latin Extended-A letters without their accents, from U+00C0
// (' ' marks × and ÷, which separate); checked against Unicode's own
// decompositions in the tests.
constexpr std::string_view kLatinFold =
    "aaaaaaaceeeeiiiidnooooo ouuuuytsaaaaaaaceeeeiiiidnooooo ouuuuyty"
    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkkllllllllllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
// U+01CD..U+01DC: the pinyin tone letters ǎ ǐ ǒ ǔ ǖ ǘ ǚ ǜ and their capitals.
constexpr std::string_view kPinyinToneFold = "aaiioouuuuuuuuuu";

Role ascii_role(char32_t& c) {
  if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return Role::Word;
  switch (c) {
    case '.': case '\'': case '`': return Role::Join;
    case '(': case '[': case '{': return Role::Open;
    case ')': case ']': case '}': return Role::Close;
    default: return Role::Separator;
  }
}

// Folds `c` in place (full width to ASCII, upper to lower case, accents off)
// and says what it is.
Role fold(char32_t& c) {
  if (c < 0x80) return ascii_role(c);
  if (c >= 0xFF01 && c <= 0xFF5E) {  // full-width ASCII
    c -= 0xFEE0;
    return ascii_role(c);
  }
  if (c >= 0xC0 && c < 0x180) {
    c = static_cast<unsigned char>(kLatinFold[c - 0xC0]);
    return c == ' ' ? Role::Separator : Role::Word;
  }
  if (c >= 0x1CD && c <= 0x1DC) {
    c = static_cast<unsigned char>(kPinyinToneFold[c - 0x1CD]);
    return Role::Word;
  }
  switch (c) {
    case 0x00B7: case 0x2018: case 0x2019: case 0x2027: case 0x30FB: case 0xFF65: return Role::Join;
    case 0x3008: case 0x300A: case 0x3010: case 0x3014: case 0x3016: return Role::Open;
    case 0x3009: case 0x300B: case 0x3011: case 0x3015: case 0x3017: return Role::Close;
    case 0x3005: case 0x3007: return Role::Word;  // 々 and 〇 are written as characters
    default: break;
  }
  if (c < 0xC0 || (c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F) ||
      (c >= 0xFE30 && c <= 0xFE6F) || (c >= 0xFF5F && c <= 0xFF64))
    return Role::Separator;  // Latin-1 signs, general and CJK punctuation, spaces
  return Role::Word;
}

std::u32string u32(std::string_view utf8) { return decode_utf8(utf8); }

bool starts_with(std::u32string_view s, std::u32string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(std::u32string_view s, std::u32string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- places -------------------------------------------------------------------

struct Place {
  const char* han;
  const char* latin;  // "" where the romanized name is no single word
  int province;       // index of the province a city lies in, -1 for provinces
};

// Provinces, municipalities and regions first, then the larger cities.
const std::array kPlaces = {
    Place{"北京", "beijing", -1},   Place{"天津", "tianjin", -1},     Place{"上海", "shanghai", -1},
    Place{"重庆", "chongqing", -1}, Place{"河北", "hebei", -1},       Place{"山西", "shanxi", -1},
    Place{"辽宁", "liaoning", -1},  Place{"吉林", "jilin", -1},       Place{"黑龙江", "heilongjiang", -1},
    Place{"江苏", "jiangsu", -1},   Place{"浙江", "zhejiang", -1},    Place{"安徽", "anhui", -1},
    Place{"福建", "fujian", -1},    Place{"江西", "jiangxi", -1},     Place{"山东", "shandong", -1},
    Place{"河南", "henan", -1},     Place{"湖北", "hubei", -1},       Place{"湖南", "hunan", -1},
    Place{"广东", "guangdong", -1}, Place{"海南", "hainan", -1},      Place{"四川", "sichuan", -1},
    Place{"贵州", "guizhou", -1},   Place{"云南", "yunnan", -1},      Place{"陕西", "shaanxi", -1},
    Place{"甘肃", "gansu", -1},     Place{"青海", "qinghai", -1},     Place{"台湾", "taiwan", -1},
    Place{"内蒙古", "", -1},        Place{"广西", "guangxi", -1},     Place{"西藏", "xizang", -1},
    Place{"宁夏", "ningxia", -1},   Place{"新疆", "xinjiang", -1},    Place{"香港", "hongkong", -1},
    Place{"澳门", "macau", -1},
    // cities
    Place{"深圳", "shenzhen", 18},  Place{"广州", "guangzhou", 18},   Place{"东莞", "dongguan", 18},
    Place{"佛山", "foshan", 18},    Place{"珠海", "zhuhai", 18},      Place{"惠州", "huizhou", 18},
    Place{"汕头", "shantou", 18},   Place{"杭州", "hangzhou", 10},    Place{"宁波", "ningbo", 10},
    Place{"温州", "wenzhou", 10},   Place{"绍兴", "shaoxing", 10},    Place{"嘉兴", "jiaxing", 10},
    Place{"金华", "jinhua", 10},    Place{"台州", "taizhou", 10},     Place{"南京", "nanjing", 9},
    Place{"苏州", "suzhou", 9},     Place{"无锡", "wuxi", 9},         Place{"常州", "changzhou", 9},
    Place{"南通", "nantong", 9},    Place{"徐州", "xuzhou", 9},       Place{"扬州", "yangzhou", 9},
    Place{"成都", "chengdu", 20},   Place{"武汉", "wuhan", 16},       Place{"西安", "xian", 23},
    Place{"郑州", "zhengzhou", 15}, Place{"洛阳", "luoyang", 15},     Place{"长沙", "changsha", 17},
    Place{"青岛", "qingdao", 14},   Place{"济南", "jinan", 14},       Place{"烟台", "yantai", 14},
    Place{"潍坊", "weifang", 14},   Place{"沈阳", "shenyang", 6},     Place{"大连", "dalian", 6},
    Place{"厦门", "xiamen", 12},    Place{"福州", "fuzhou", 12},      Place{"泉州", "quanzhou", 12},
    Place{"合肥", "hefei", 11},     Place{"昆明", "kunming", 22},     Place{"哈尔滨", "harbin", 8},
    Place{"长春", "changchun", 7},  Place{"石家庄", "shijiazhuang", 4}, Place{"唐山", "tangshan", 4},
    Place{"保定", "baoding", 4},    Place{"太原", "taiyuan", 5},      Place{"南昌", "nanchang", 13},
    Place{"南宁", "nanning", 28},   Place{"贵阳", "guiyang", 21},     Place{"兰州", "lanzhou", 24},
    Place{"海口", "haikou", 19},    Place{"三亚", "sanya", 19},       Place{"呼和浩特", "hohhot", 27},
    Place{"乌鲁木齐", "urumqi", 31}, Place{"银川", "yinchuan", 30},   Place{"西宁", "xining", 25},
    Place{"拉萨", "lhasa", 29},     Place{"台北", "taipei", 26},
};

// What may follow a place's name: 上海市, 广东省, 广西壮族自治区, ...
const char* const kPlaceSuffixes[] = {"特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"};

struct PlaceForms {
  std::vector<std::u32string> han, latin, suffixes;
  std::unordered_map<char32_t, std::vector<int>> by_first;  // places by the first character of their Han name
  std::unordered_map<std::u32string, int> by_latin;
};

const PlaceForms& place_forms() {
  static const PlaceForms forms = [] {
    PlaceForms f;
    for (const auto& p : kPlaces) {
      f.han.push_back(u32(p.han));
      f.latin.push_back(u32(p.latin));
      f.by_first[f.han.back().front()].push_back(static_cast<int>(f.han.size() - 1));
      if (!f.latin.back().empty()) f.by_latin.emplace(f.latin.back(), static_cast<int>(f.latin.size() - 1));
    }
    for (const char* s : kPlaceSuffixes) f.suffixes.push_back(u32(s));
    return f;
  }();
  return forms;
}

// The place that `word` starts with and how many characters it takes
// (with 市 / 省 / 自治区), or -1. "市场" (market) after a city is a word of
// its own, not 市.
int leading_place(std::u32string_view word, size_t& length) {
  const auto& forms = place_forms();
  if (word.empty()) return -1;
  const auto candidates = forms.by_first.find(word.front());
  if (candidates == forms.by_first.end()) return -1;
  int best = -1;
  for (int p : candidates->second) {
    const auto& han = forms.han[static_cast<size_t>(p)];
    if (starts_with(word, han) && (best < 0 || han.size() > length)) best = p, length = han.size();
  }
  if (best < 0) return -1;
  for (const auto& suffix : forms.suffixes) {
    if (starts_with(word.substr(length), suffix) && !starts_with(word.substr(length), U"市场")) {
      length += suffix.size();
      break;
    }
  }
  return best;
}

int latin_place(const std::u32string& word) {
  const auto& forms = place_forms();
  if (word.empty() || word.front() > 'z') return -1;
  const auto it = forms.by_latin.find(word);
  return it == forms.by_latin.end() ? -1 : it->second;
}

// A word that is a place and nothing else (the 上海 of "华创科技（上海）").
int whole_place(const std::u32string& word) {
  size_t length = 0;
  const int p = leading_place(word, length);
  if (p >= 0 && length == word.size()) return p;
  return latin_place(word);
}

// ---- legal forms ----------------------------------------------------------------

// Longest first, so that 集团有限公司 goes whole rather than leave 集团.
const char* const kHanLegalSuffixes[] = {"集团股份有限公司", "集团有限公司", "股份有限公司", "有限责任公司",
                                         "有限公司", "股份公司", "公司", "集团", "控股"};
const char* const kLatinLegalWords[] = {
    "co",  "coltd", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "company",
    "llc", "llp",   "lp",  "plc",     "gmbh", "ag",          "kg",   "sa",          "sarl",
    "srl", "spa",   "bv",  "nv",      "pty",  "pte",         "group", "holding",    "holdings"};

const std::vector<std::u32string>& han_legal_suffixes() {
  static const std::vector<std::u32string> v = [] {
    std::vector<std::u32string> out;
    for (const char* s : kHanLegalSuffixes) out.push_back(u32(s));
    return out;
  }();
  return v;
}

bool latin_legal_word(std::u32string_view w) {
  static const std::vector<std::u32string> v = [] {
    std::vector<std::u32string> out;
    for (const char* s : kLatinLegalWords) out.push_back(u32(s));
    return out;
  }();
  return std::find(v.begin(), v.end(), w) != v.end();
}

size_t total_length(const std::vector<std::u32string>& words) {
  size_t n = 0;
  for (const auto& w : words) n += w.size();
  return n;
}

// Takes leading places off (a province, then a city: 广东省深圳市…), leaving
// at least two characters (a person called 江西瓜 keeps the name) or, in
// Latin script, two words.
void take_leading_places(std::vector<std::u32string>& words, int& place) {
  for (int round = 0; round < 2 && !words.empty(); ++round) {
    std::u32string& first = words.front();
    size_t length = 0;
    int p = leading_place(first, length);
    if (p >= 0) {
      if (total_length(words) - length < 2) return;
      first.erase(0, length);
      if (first.empty()) words.erase(words.begin());
      place = p;
      continue;
    }
    p = latin_place(first);
    if (p < 0 || words.size() < 3) return;
    words.erase(words.begin());
    place = p;
  }
}

void take_legal_suffixes(std::vector<std::u32string>& words) {
  while (!words.empty()) {
    std::u32string& last = words.back();
    if (words.size() > 1 && latin_legal_word(last)) {
      words.pop_back();
      continue;
    }
    // The longest legal form the name ends with; none is taken off a name
    // that is nothing else ("有限公司" stays whole).
    const auto& suffixes = han_legal_suffixes();
    auto suffix = std::find_if(suffixes.begin(), suffixes.end(), [&](const auto& s) { return ends_with(last, s); });
    if (suffix == suffixes.end() || total_length(words) == suffix->size()) return;
    last.erase(last.size() - suffix->size());
    if (last.empty()) words.pop_back();
  }
}

std::u32string joined(const std::vector<std::u32string>& words) {
  std::u32string out;
  for (const auto& w : words) out += w;
  return out;
}

}  // namespace

// ---- names ---------------------------------------------------------------------------

NameForm normalize_name(std::string_view text) {
  NameForm form;
  std::vector<std::u32string> words;
  std::u32string word;
  size_t group_start = 0;  // the first word inside the innermost open bracket
  int depth = 0;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char32_t c : decode_utf8(text)) {
    switch (fold(c)) {
      case Role::Word: word.push_back(c); break;
      case Role::Join: break;
      case Role::Separator: flush(); break;
      case Role::Open:
        flush();
        ++depth;
        group_start = words.size();
        break;
      case Role::Close:
        flush();
        if (depth > 0 && --depth == 0 && words.size() == group_start + 1) {
          // A bracketed place ("华创科技（上海）有限公司") names where, not who.
          const int p = whole_place(words.back());
          if (p >= 0 && words.size() > 1) {
            words.pop_back();
            if (form.place < 0) form.place = p;
          }
        }
        break;
    }
  }
  flush();
  take_leading_places(words, form.place);
  take_legal_suffixes(words);
  form.key = joined(words);
  form.han = !form.key.empty() && std::all_of(form.key.begin(), form.key.end(), is_han);
  form.words = words;
  std::sort(words.begin(), words.end());
  form.sorted = joined(words);
  return form;
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  auto put = [&out](char32_t c, int shift) { out.push_back(static_cast<char>(0x80 | ((c >> shift) & 0x3F))); };
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      put(c, 0);
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      put(c, 6), put(c, 0);
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      put(c, 12), put(c, 6), put(c, 0);
    }
  }
  return out;
}

bool same_place(int a, int b) {
  if (a == b) return true;
  if (a < 0 || b < 0) return false;
  return kPlaces[static_cast<size_t>(a)].province == b || kPlaces[static_cast<size_t>(b)].province == a;
}

std::string place_name(int place) {
  return place >= 0 && static_cast<size_t>(place) < kPlaces.size() ? kPlaces[static_cast<size_t>(place)].han : "";
}

// ---- pinyin ------------------------------------------------------------------------------

namespace {

uint64_t packed(std::string_view syllable) {
  uint64_t out = 0;
  for (char c : syllable) out = out << 8 | static_cast<unsigned char>(c);
  return out;
}

}  // namespace

void PinyinTable::add(char32_t han, std::string_view reading) {
  if (reading.empty()) return;
  auto& list = readings_[han];
  if (std::find(list.begin(), list.end(), reading) == list.end()) list.emplace_back(reading);
  if (reading.size() <= 8) {  // syllables have at most six letters
    syllables_.insert(packed(reading));
    longest_syllable_ = std::max(longest_syllable_, reading.size());
  }
}

const std::vector<std::string>* PinyinTable::readings(char32_t han) const {
  auto it = readings_.find(han);
  return it == readings_.end() ? nullptr : &it->second;
}

bool PinyinTable::spells_pinyin(std::string_view word) const {
  if (word.empty() || syllables_.empty()) return false;
  // ok[i]: word[0, i) splits into syllables.
  std::vector<char> ok(word.size() + 1, 0);
  ok[0] = 1;
  for (size_t i = 0; i < word.size(); ++i) {
    if (!ok[i]) continue;
    for (size_t len = 1; len <= longest_syllable_ && i + len <= word.size(); ++len)
      if (syllables_.count(packed(word.substr(i, len)))) ok[i + len] = 1;
  }
  return ok[word.size()] != 0;
}

// ---- phones --------------------------------------------------------------------------------

std::string phone_key(std::string_view text) {
  std::string normalized = normalize_phone(text);
  if (normalized.empty()) return normalized;
  if (normalized[0] == '+') {
    auto national = phone_alternatives(normalized);
    return national.empty() ? normalized.substr(1) : national.front();
  }
  if (normalized[0] == '0' && normalized.size() > 7) normalized.erase(0, 1);  // the trunk 0
  return normalized;
}

// ---- typos -----------------------------------------------------------------------------------

int typo_distance(std::u32string_view a, std::u32string_view b, int limit) {
  const size_t n = a.size(), m = b.size();
  const size_t gap = n > m ? n - m : m - n;
  if (gap > static_cast<size_t>(limit)) return limit + 1;
  // Three rows of the optimal-string-alignment table, on the stack for the
  // names of everyday length (this runs once per candidate pair); stop once a
  // whole row is over the limit, since later rows only grow.
  constexpr size_t kShort = 64;
  int stack[3][kShort + 1];
  std::vector<int> heap;
  int *two = stack[0], *one = stack[1], *row = stack[2];
  if (m > kShort) {
    heap.resize(3 * (m + 1));
    two = heap.data(), one = two + m + 1, row = one + m + 1;
  }
  for (size_t j = 0; j <= m; ++j) one[j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    row[0] = static_cast<int>(i);
    int best = row[0];
    for (size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int d = std::min({one[j] + 1, row[j - 1] + 1, one[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d = std::min(d, two[j - 2] + 1);
      row[j] = d;
      best = std::min(best, d);
    }
    if (best > limit) return limit + 1;
    std::swap(two, one);
    std::swap(one, row);
  }
  return std::min(one[m], limit + 1);
}

}  // namespace crmcore::records
