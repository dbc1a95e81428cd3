#include "crmcore/records/normalize.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <string>
#include <utility>

namespace crmcore::records {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

std::string normalize_phone(std::string_view text) {
  std::string digits;
  bool plus = false;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '(' && text.substr(i, 3) == "(0)" && !digits.empty()) {
      i += 2;  // "+44 (0)20 ...": the trunk 0 that callers from abroad leave out
      continue;
    }
    if (c >= '0' && c <= '9') {
      digits.push_back(static_cast<char>(c));
    } else if (c == '+' && digits.empty()) {
      plus = true;
    } else if (c == 0xEF && i + 2 < text.size()) {
      // Full-width forms are U+FF01..U+FF5E, encoded EF BC xx / EF BD xx.
      unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      unsigned char c2 = static_cast<unsigned char>(text[i + 2]);
      if (c1 == 0xBC && c2 >= 0x90 && c2 <= 0x99) {  // U+FF10..U+FF19: digits
        digits.push_back(static_cast<char>('0' + (c2 - 0x90)));
      } else if (c1 == 0xBC && c2 == 0x8B && digits.empty()) {  // U+FF0B: '+'
        plus = true;
      }
      i += 2;
    }
    // Everything else (spaces, dashes, dots, brackets, letters) is formatting.
  }
  if (!plus && starts_with(digits, "00")) {  // international call prefix
    digits.erase(0, 2);
    plus = true;
  }
  if (plus) {
    if (starts_with(digits, "86")) {
      // Chinese numbers are kept in their national form: mobiles (1xx) as
      // they are, landlines with the trunk 0 before the area code, as they
      // are dialled at home ("+86 755 ..." is "0755 ...").
      std::string national = digits.substr(2);
      // One trunk 0 at most: "+86 00 ..." kept as "00..." would read as an
      // international prefix the next time it is normalized.
      while (national.size() > 1 && national[0] == '0' && national[1] == '0') national.erase(0, 1);
      const bool mobile = national.size() == 11 && national[0] == '1';
      if (!mobile && !national.empty() && national[0] != '0') national.insert(0, "0");
      return national.size() >= 5 ? national : std::string();
    }
    return digits.size() >= 5 ? "+" + digits : std::string();
  }
  // 86 in front of an 11-digit Chinese mobile number (which starts with 1).
  if (digits.size() == 13 && starts_with(digits, "861")) return digits.substr(2);
  return digits.size() >= 5 ? digits : std::string();
}

namespace {

// The ITU-T E.164 country codes in use. They form a prefix code: no code is
// the start of another, so the code at the start of a number is unambiguous.
constexpr const char* kCountryCodes[] = {
    "1",   "7",   "20",  "27",  "30",  "31",  "32",  "33",  "34",  "36",  "39",  "40",  "41",  "43",  "44",
    "45",  "46",  "47",  "48",  "49",  "51",  "52",  "53",  "54",  "55",  "56",  "57",  "58",  "60",  "61",
    "62",  "63",  "64",  "65",  "66",  "81",  "82",  "84",  "86",  "90",  "91",  "92",  "93",  "94",  "95",
    "98",  "211", "212", "213", "216", "218", "220", "221", "222", "223", "224", "225", "226", "227", "228",
    "229", "230", "231", "232", "233", "234", "235", "236", "237", "238", "239", "240", "241", "242", "243",
    "244", "245", "246", "247", "248", "249", "250", "251", "252", "253", "254", "255", "256", "257", "258",
    "260", "261", "262", "263", "264", "265", "266", "267", "268", "269", "290", "291", "297", "298", "299",
    "350", "351", "352", "353", "354", "355", "356", "357", "358", "359", "370", "371", "372", "373", "374",
    "375", "376", "377", "378", "379", "380", "381", "382", "383", "385", "386", "387", "389", "420", "421",
    "423", "500", "501", "502", "503", "504", "505", "506", "507", "508", "509", "590", "591", "592", "593",
    "594", "595", "596", "597", "598", "599", "670", "672", "673", "674", "675", "676", "677", "678", "679",
    "680", "681", "682", "683", "685", "686", "687", "688", "689", "690", "691", "692", "800", "808", "850",
    "852", "853", "855", "856", "870", "878", "880", "881", "882", "883", "886", "888", "960", "961", "962",
    "963", "964", "965", "966", "967", "968", "970", "971", "972", "973", "974", "975", "976", "977", "979",
    "992", "993", "994", "995", "996", "998"};

constexpr size_t kMinNationalDigits = 7;

// The length of the country code that `digits` starts with, or 0.
size_t country_code_length(const std::string& digits) {
  for (const char* code : kCountryCodes)
    if (starts_with(digits, code)) return std::char_traits<char>::length(code);
  return 0;
}

}  // namespace

std::vector<std::string> phone_alternatives(const std::string& normalized) {
  std::vector<std::string> out;
  if (starts_with(normalized, "+")) {
    const std::string digits = normalized.substr(1);
    const size_t code = country_code_length(digits);
    if (code == 0) return out;
    const std::string national = digits.substr(code);
    if (national.size() < kMinNationalDigits) return out;
    out.push_back(national);
    if (national[0] != '0') out.push_back("0" + national);
    return out;
  }
  if (normalized.size() < kMinNationalDigits) return out;
  const bool trunk = normalized[0] == '0';
  for (const char* code : kCountryCodes) {
    if (std::string_view(code) == "86") continue;  // stored in national form already
    out.push_back(std::string("+") + code + normalized);
    if (trunk) out.push_back(std::string("+") + code + normalized.substr(1));
  }
  return out;
}

std::string normalize_email(std::string_view text) {
  std::string out(trim(text));
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::vector<std::string> split_values(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ';' || text[i] == ',') {
      auto part = trim(text.substr(start, i - start));
      if (!part.empty()) out.emplace_back(part);
      start = i + 1;
    }
  }
  return out;
}

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& tag : tags) out.append(1, kTagSeparator).append(tag);
  return out;
}

std::vector<std::string> split_tags(std::string_view text) {
  if (text.empty() || text.front() != kTagSeparator) return split_values(text);
  std::vector<std::string> out;
  size_t start = 1;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == kTagSeparator) {
      auto tag = trim(text.substr(start, i - start));
      if (!tag.empty()) out.emplace_back(tag);
      start = i + 1;
    }
  }
  return out;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Counts in 400-year eras that start on March 1st, so that the leap day is
  // the last day of a year and month lengths repeat regularly.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

namespace {

// Reads exactly `n` digits at `pos`.
bool read_digits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned month_days(int64_t y, unsigned m) {
  static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

}  // namespace

namespace {

// The number's text without surrounding spaces and a leading '+', or "" when
// nothing is left. from_chars reads neither, and reads no hex without being asked.
std::string_view number_text(std::string_view text) {
  std::string_view s = trim(text);
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s.front() == '+' || s.front() == '-' || s.front() == ' ')) return {};  // "++1", "+-1", "+ 1"
  }
  return s;
}

}  // namespace

std::optional<int64_t> parse_whole_number(std::string_view text) {
  const std::string_view s = number_text(text);
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_number(std::string_view text) {
  const std::string_view s = number_text(text);
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  // Out of range (1e999) is refused rather than read as infinity.
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

namespace {

// The Chinese characters of dates and amounts, in UTF-8.
constexpr std::string_view kYear = "\xE5\xB9\xB4";        // 年
constexpr std::string_view kMonth = "\xE6\x9C\x88";       // 月
constexpr std::string_view kDay = "\xE6\x97\xA5";         // 日
constexpr std::string_view kDayNumber = "\xE5\x8F\xB7";   // 号
constexpr std::string_view kTenThousand = "\xE4\xB8\x87"; // 万
constexpr std::string_view kHundredMillion = "\xE4\xBA\xBF";  // 亿
constexpr std::string_view kYuan = "\xE5\x85\x83";        // 元

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads one to `most` digits at `pos`; more digits than that are no number.
bool read_short(std::string_view s, size_t& pos, size_t most, int64_t& out) {
  size_t n = 0;
  out = 0;
  while (pos < s.size() && is_digit(s[pos])) {
    if (++n > most) return false;
    out = out * 10 + (s[pos++] - '0');
  }
  return n > 0;
}

// Moves past `token` when the text at `pos` is it.
bool skip(std::string_view s, size_t& pos, std::string_view token) {
  if (s.substr(pos, token.size()) != token) return false;
  pos += token.size();
  return true;
}

size_t skip_spaces(std::string_view s, size_t& pos) {
  const size_t from = pos;
  while (pos < s.size() && s[pos] == ' ') ++pos;
  return pos - from;
}

// The date at the start of `s` (see parse_time); `pos` ends after it.
// `time_may_follow` says what may come next: nothing after the eight-digit
// form, and after 日 a time without the space.
bool read_date(std::string_view s, size_t& pos, int64_t& year, int64_t& month, int64_t& day, bool& time_may_follow,
               bool& space_needed) {
  if (!read_digits(s, pos, 4, year)) return false;
  time_may_follow = true;
  space_needed = true;
  if (pos < s.size() && is_digit(s[pos])) {  // "20250105", and nothing after it
    time_may_follow = false;
    return read_digits(s, pos, 2, month) && read_digits(s, pos, 2, day) && pos == s.size();
  }
  if (skip(s, pos, kYear)) {
    space_needed = false;
    return read_short(s, pos, 2, month) && skip(s, pos, kMonth) && read_short(s, pos, 2, day) &&
           (skip(s, pos, kDay) || skip(s, pos, kDayNumber));
  }
  if (pos >= s.size() || (s[pos] != '-' && s[pos] != '/' && s[pos] != '.')) return false;
  const char sep = s[pos++];
  return read_short(s, pos, 2, month) && pos < s.size() && s[pos++] == sep && read_short(s, pos, 2, day);
}

}  // namespace

namespace {

// A time in the forms parse_time reads, as whole seconds since 1970 (any
// year) and the nanoseconds past them; nullopt when the text is no such time.
std::optional<std::pair<int64_t, int64_t>> read_time(std::string_view text) {
  std::string_view s = trim(text);
  size_t pos = 0;
  int64_t year, month, day;
  bool time_may_follow, space_needed;
  if (!read_date(s, pos, year, month, day, time_may_follow, space_needed)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > month_days(year, static_cast<unsigned>(month)))
    return std::nullopt;
  int64_t hour = 0, minute = 0, second = 0, nanos = 0, offset_minutes = 0;
  if (pos < s.size()) {
    if (!time_may_follow) return std::nullopt;
    if (s[pos] == 'T' && space_needed) {
      ++pos;
    } else if (skip_spaces(s, pos) == 0 && space_needed) {
      return std::nullopt;
    }
    if (!read_short(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' || !read_digits(s, pos, 2, minute))
      return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!read_digits(s, pos, 2, second)) return std::nullopt;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int64_t scale = 100000000;
        size_t digits = 0;
        while (pos < s.size() && is_digit(s[pos])) {
          if (digits++ < 9) nanos += (s[pos] - '0') * scale, scale /= 10;
          ++pos;
        }
        if (digits == 0) return std::nullopt;
      }
    }
    if (pos < s.size() && s[pos] == 'Z') {
      ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      const int sign = s[pos++] == '-' ? -1 : 1;
      int64_t oh, om = 0;
      if (!read_digits(s, pos, 2, oh)) return std::nullopt;
      const bool colon = pos < s.size() && s[pos] == ':';
      if (colon) ++pos;
      // "+08:" is not an offset: a colon must be followed by the minutes.
      if ((colon || pos < s.size()) && !read_digits(s, pos, 2, om)) return std::nullopt;
      if (oh > 14 || om > 59 || oh * 60 + om > 14 * 60) return std::nullopt;
      offset_minutes = sign * (oh * 60 + om);
    }
    if (pos != s.size() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  }
  const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return std::pair{days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60, nanos};
}

// Outside about 1678..2261 nanoseconds overflow int64, as in pandas.
bool seconds_kept(int64_t seconds) { return seconds >= -9223372036LL && seconds <= 9223372035LL; }

}  // namespace

std::optional<int64_t> parse_time(std::string_view text) {
  const auto t = read_time(text);
  if (!t || !seconds_kept(t->first)) return std::nullopt;
  return t->first * 1000000000LL + t->second;
}

bool time_out_of_range(std::string_view text) {
  const auto t = read_time(text);
  return t && !seconds_kept(t->first);
}

namespace {

// A currency sign or code at `pos` ("¥", "￥", "$", "€", "£", "RMB", "usd",
// ...), or 元 when `yuan`; moves past it.
bool skip_currency(std::string_view s, size_t& pos, bool yuan) {
  static constexpr std::string_view kSigns[] = {"\xC2\xA5" /* ¥ */, "\xEF\xBF\xA5" /* ￥ */, "$",
                                                "\xE2\x82\xAC" /* € */, "\xC2\xA3" /* £ */};
  static constexpr std::string_view kCodes[] = {"RMB", "CNY", "USD", "EUR", "GBP", "HKD", "JPY"};
  for (auto sign : kSigns)
    if (skip(s, pos, sign)) return true;
  if (yuan && skip(s, pos, kYuan)) return true;
  if (pos + 3 > s.size()) return false;
  std::string code(s.substr(pos, 3));
  for (auto& c : code)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (auto known : kCodes) {
    // A code is a word of its own: "USDT" is not "USD" and a "T".
    if (code == known && (pos + 3 == s.size() || !std::isalpha(static_cast<unsigned char>(s[pos + 3])))) {
      pos += 3;
      return true;
    }
  }
  return false;
}

bool skip_sign(std::string_view s, size_t& pos, bool& seen, bool& negative) {
  if (pos >= s.size() || (s[pos] != '-' && s[pos] != '+')) return true;
  if (seen) return false;  // "--5", "-$-5"
  seen = true;
  negative = s[pos++] == '-';
  return true;
}

// The digits of a number at `pos`, with thousands separators in groups of
// three ("1,200,000.5"), appended to `out` without the separators.
bool read_grouped(std::string_view s, size_t& pos, std::string& out) {
  const size_t first = pos;
  while (pos < s.size() && is_digit(s[pos])) out.push_back(s[pos++]);
  const size_t lead = pos - first;
  if (lead == 0) return false;
  if (pos < s.size() && s[pos] == ',') {
    // "1200,000" is no grouping, and "0,123" a decimal comma (0.123), not 123.
    if (lead > 3 || s[first] == '0') return false;
    while (pos < s.size() && s[pos] == ',') {
      ++pos;
      for (int i = 0; i < 3; ++i, ++pos) {
        if (pos >= s.size() || !is_digit(s[pos])) return false;
        out.push_back(s[pos]);
      }
      if (pos < s.size() && is_digit(s[pos])) return false;  // "1,2000"
    }
  }
  if (pos < s.size() && s[pos] == '.') {
    out.push_back(s[pos++]);
    const size_t fraction = pos;
    while (pos < s.size() && is_digit(s[pos])) out.push_back(s[pos++]);
    if (pos == fraction) return false;  // "1."
  }
  return true;
}

}  // namespace

std::optional<double> parse_amount(std::string_view text) {
  if (auto plain = parse_number(text)) return plain;
  const std::string_view s = trim(text);
  size_t pos = 0;
  bool signed_ = false, negative = false;
  if (!skip_sign(s, pos, signed_, negative)) return std::nullopt;
  const bool currency_first = skip_currency(s, pos, false);
  if (currency_first) {
    skip_spaces(s, pos);
    if (!skip_sign(s, pos, signed_, negative)) return std::nullopt;
  }
  std::string number;
  if (!read_grouped(s, pos, number)) return std::nullopt;
  int exponent = 0;
  if (skip(s, pos, kTenThousand)) exponent = 4;
  else if (skip(s, pos, kHundredMillion)) exponent = 8;
  const size_t before_suffix = pos;
  skip_spaces(s, pos);
  const bool currency_after = !currency_first && skip_currency(s, pos, true);
  if (!currency_after) pos = before_suffix;
  if (skip(s, pos, "%") || skip(s, pos, "\xEF\xBC\x85" /* ％ */)) {
    if (currency_first || currency_after || exponent != 0) return std::nullopt;
    exponent = -2;
  }
  if (pos != s.size()) return std::nullopt;
  // Scaled in decimal by from_chars ("1.2e4"), which rounds once: 1.2 * 1e4
  // in doubles would round twice.
  number += "e" + std::to_string(exponent);
  double v = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), v, std::chars_format::general);
  if (ec != std::errc() || end != number.data() + number.size()) return std::nullopt;
  return negative ? -v : v;
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string t = normalize_email(text);  // trimmed, ASCII letters lower-cased
  for (std::string_view yes : {"1", "true", "t", "yes", "y", "\xE6\x98\xAF" /* 是 */, "\xE5\xAF\xB9" /* 对 */,
                               "\xE7\x9C\x9F" /* 真 */})
    if (t == yes) return true;
  for (std::string_view no : {"0", "false", "f", "no", "n", "\xE5\x90\xA6" /* 否 */, "\xE9\x94\x99" /* 错 */,
                              "\xE5\x81\x87" /* 假 */})
    if (t == no) return false;
  return std::nullopt;
}

std::string format_time(int64_t ns) {
  int64_t secs = ns / 1000000000LL;
  int64_t frac = ns % 1000000000LL;
  if (frac < 0) frac += 1000000000LL, secs -= 1;
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) rem += 86400, days -= 1;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  // Written digit by digit: exports format millions of times, and snprintf
  // was most of their cost.
  std::string out = "0000-00-00 00:00:00";
  auto put = [&out](size_t end, int64_t value, int digits) {
    for (int i = 1; i <= digits; ++i, value /= 10) out[end - static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  if (y < 0 || y > 9999) {
    char year[24];
    std::snprintf(year, sizeof year, "%04lld", static_cast<long long>(y));
    out.replace(0, 4, year);
  } else {
    put(4, y, 4);
  }
  const size_t base = out.size() - 15;  // the year may have taken more than four characters
  put(base + 3, m, 2);
  put(base + 6, d, 2);
  put(base + 9, rem / 3600, 2);
  put(base + 12, rem / 60 % 60, 2);
  put(base + 15, rem % 60, 2);
  if (frac != 0) {
    out += ".000000000";
    put(out.size(), frac, 9);
  }
  return out;
}

}  // namespace crmcore::records
