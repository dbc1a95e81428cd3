// Fuzzes the readers of typed text in normalize.hpp, the whole input being
// each one's argument: parse_time against regular expressions of the
// documented forms and libc's timegm, with format_time round trips; the
// number readers against std::from_chars; parse_amount's decorations against
// parse_number of the same decimal; parse_bool against the documented
// spellings; tags and lists against the documented splitting; normalize_phone
// and normalize_email idempotent and well formed.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "crmcore/records/normalize.hpp"
#include "fuzz_support.hpp"

namespace {

using crmcore::fuzz::finding;
using crmcore::fuzz::known;
using crmcore::fuzz::shown;
using namespace crmcore::records;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// ---- dates ----------------------------------------------------------------

// The date forms normalize.hpp documents, each with the rest of the text:
// "2025-01-05" / "2025/1/5" / "2025.1.5" (one separator), "2025年1月5日" (or
// 号), and "20250105" with nothing after it.
const std::regex& date_with_separator() {
  static const std::regex r(R"(([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})(.*))");
  return r;
}
const std::regex& date_in_chinese() {
  static const std::regex r("([0-9]{4})\xE5\xB9\xB4([0-9]{1,2})\xE6\x9C\x88([0-9]{1,2})(?:\xE6\x97\xA5|\xE5\x8F\xB7)(.*)");
  return r;
}
const std::regex& date_compact() {
  static const std::regex r(R"(([0-9]{4})([0-9]{2})([0-9]{2}))");
  return r;
}
// The time of day: "H:MM[:SS[.fraction]]", then 'Z' or an offset "+08",
// "+0800" or "+08:00" of at most 14:00, as the world's time zones are.
const std::regex& time_of_day() {
  static const std::regex r(
      R"(([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(?:Z|([-+])([0-9]{2})(?::?([0-9]{2}))?)?)");
  return r;
}

enum class Expect { Date, NotDate, Either };

// What parse_time should return for `text`. Dates whose nanoseconds come
// within a second of int64's ends may go either way: the parser keeps a
// margin there.
Expect expected_time(std::string_view text, int64_t& ns) {
  text = trimmed(text);
  // libstdc++'s regex recurses per character: long texts (a fraction of a
  // thousand digits) are left to the round trip alone.
  if (text.size() > 256) return Expect::Either;
  std::cmatch m;
  std::string rest;
  bool space_needed = true;
  long year, month, day;
  auto num = [](const auto& g) { return g.matched ? std::stol(g.str()) : 0L; };
  if (std::regex_match(text.data(), text.data() + text.size(), m, date_with_separator())) {
    year = num(m[1]), month = num(m[3]), day = num(m[4]), rest = m[5].str();
  } else if (std::regex_match(text.data(), text.data() + text.size(), m, date_in_chinese())) {
    year = num(m[1]), month = num(m[2]), day = num(m[3]), rest = m[4].str(), space_needed = false;
  } else if (std::regex_match(text.data(), text.data() + text.size(), m, date_compact())) {
    year = num(m[1]), month = num(m[2]), day = num(m[3]);
  } else {
    return Expect::NotDate;
  }
  long hour = 0, minute = 0, second = 0, nanos = 0, offset = 0;
  if (!rest.empty()) {
    // A time after 'T' or spaces; after 日 the spaces may be left out, and 'T' is not used.
    size_t at = rest.find_first_not_of(' ');
    if (space_needed && rest[0] == 'T') at = 1;
    else if (at == std::string::npos || (space_needed && at == 0)) return Expect::NotDate;
    std::string time = rest.substr(at);
    // "+08:" (a colon and no minutes) is a known finding.
    const bool colon_last = !time.empty() && time.back() == ':';
    if (colon_last) time.pop_back();
    std::smatch t;
    if (!std::regex_match(time, t, time_of_day())) return Expect::NotDate;
    if (colon_last && (!t[5].matched || t[7].matched || !known("time-offset-colon"))) return Expect::NotDate;
    hour = num(t[1]), minute = num(t[2]), second = num(t[3]);
    const std::string fraction = t[4].str().substr(0, 9);
    for (size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    const long offset_hours = num(t[6]), offset_minutes = num(t[7]);
    if (hour > 23 || minute > 59 || second > 60 || offset_minutes > 59 || offset_hours * 60 + offset_minutes > 14 * 60)
      return Expect::NotDate;
    offset = (t[5].str() == "-" ? -1 : 1) * (offset_hours * 3600 + offset_minutes * 60);
  }
  std::tm tm{};
  tm.tm_year = static_cast<int>(year - 1900);
  tm.tm_mon = static_cast<int>(month - 1);
  tm.tm_mday = static_cast<int>(day);
  const time_t midnight = timegm(&tm);  // normalizes: the 30th of February comes back as March
  std::tm back{};
  gmtime_r(&midnight, &back);
  if (month < 1 || month > 12 || back.tm_mon + 1 != month || back.tm_mday != day) return Expect::NotDate;
  const __int128 total =
      (static_cast<__int128>(midnight) + hour * 3600 + minute * 60 + second - offset) * 1000000000 + nanos;
  constexpr __int128 kMargin = 1000000000;
  if (total > INT64_MAX + kMargin || total < INT64_MIN - kMargin) return Expect::NotDate;
  if (total > INT64_MAX - kMargin || total < INT64_MIN + kMargin) return Expect::Either;
  ns = static_cast<int64_t>(total);
  return Expect::Date;
}

void check_time(const std::string& text) {
  const std::optional<int64_t> got = parse_time(text);
  int64_t ns = 0;
  const Expect expect = expected_time(text, ns);
  if (expect == Expect::NotDate && got) finding("parse_time(" + shown(text) + ") took a text that is not a date");
  if (expect == Expect::Date && !got) finding("parse_time(" + shown(text) + ") refused a date");
  if (expect == Expect::Date && *got != ns)
    finding("parse_time(" + shown(text) + ") = " + std::to_string(*got) + ", expected " + std::to_string(ns));
  if (got) {
    const std::string shown_time = format_time(*got);
    if (parse_time(shown_time) != got)
      finding("format_time(" + std::to_string(*got) + ") = " + shown(shown_time) + " does not read back");
  }
}

// ---- numbers and flags -------------------------------------------------------

// A decimal number as from_chars reads it, the whole text: spaces around and
// one leading '+' (before a digit, '.', or a letter of inf/nan) allowed.
template <class T>
std::optional<T> decimal(std::string_view s) {
  s = trimmed(s);
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+' && s[1] != ' ') s.remove_prefix(1);
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool same(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return a.has_value() == b.has_value();
  return *a == *b || (std::isnan(*a) && std::isnan(*b));
}

std::string shown_number(std::optional<double> v) {
  if (!v) return "nothing";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return buf;
}

void check_numbers(const std::string& text) {
  const auto whole = parse_whole_number(text);
  if (whole != decimal<int64_t>(text) && !(whole && text.find("+-") != std::string::npos && known("number-plus-minus")))
    finding("parse_whole_number(" + shown(text) + ") = " + (whole ? std::to_string(*whole) : "nothing"));
  const auto number = parse_number(text);
  if (!same(number, decimal<double>(text)) &&
      !(number && text.find("+-") != std::string::npos && known("number-plus-minus")))
    finding("parse_number(" + shown(text) + ") = " + shown_number(number));
  const auto amount = parse_amount(text);
  if (number && !same(amount, number)) finding("parse_amount(" + shown(text) + ") differs from parse_number");
  if (amount && (text.find('\0') != std::string::npos || text.find_first_of("xX") != std::string::npos))
    finding("parse_amount(" + shown(text) + ") = " + shown_number(amount) + " from hex or a NUL");

  // Decorations of a plain decimal ("1200.5") against parse_number of the
  // same decimal, scaled by its exponent: scaling is exact, as documented.
  static const std::regex plain_decimal(R"([0-9]{1,20}(?:\.[0-9]{1,20})?)");
  const std::string p(trimmed(text));
  if (p.size() > 41 || !std::regex_match(p, plain_decimal)) return;
  const auto expect = [](const std::string& decorated, const std::string& exact) {
    const auto want = parse_number(exact);
    const auto got = parse_amount(decorated);
    if (want && !same(got, want))
      finding("parse_amount(" + shown(decorated) + ") = " + shown_number(got) + ", expected " + shown_number(want));
  };
  expect("\xC2\xA5" + p, p);                        // ¥1200.5
  expect("-$" + p, "-" + p);
  expect(p + " RMB", p);
  expect(p + "\xE5\x85\x83", p);                    // 元
  expect(p + "\xE4\xB8\x87", p + "e4");             // 万
  expect(p + "\xE4\xBA\xBF\xE5\x85\x83", p + "e8"); // 亿元
  expect(p + "%", p + "e-2");
  // Thousands separators in groups of three, from the right of the whole part.
  const std::string whole_part = p.substr(0, p.find('.'));
  if (whole_part.size() > 3 && whole_part[0] != '0') {
    std::string grouped;
    for (size_t i = 0; i < whole_part.size(); ++i) {
      if (i > 0 && (whole_part.size() - i) % 3 == 0) grouped += ',';
      grouped += whole_part[i];
    }
    expect(grouped + p.substr(whole_part.size()), p);
  }
}

void check_bool(const std::string& text) {
  std::string t(trimmed(text));
  for (auto& c : t)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  std::optional<bool> expected;
  for (const char* yes : {"1", "true", "t", "yes", "y", "\xE6\x98\xAF", "\xE5\xAF\xB9", "\xE7\x9C\x9F"})  // 是 对 真
    if (t == yes) expected = true;
  for (const char* no : {"0", "false", "f", "no", "n", "\xE5\x90\xA6", "\xE9\x94\x99", "\xE5\x81\x87"})  // 否 错 假
    if (t == no) expected = false;
  if (parse_bool(text) != expected) finding("parse_bool(" + shown(text) + ") is not the documented reading");
}

// ---- phones, e-mails, lists, tags ---------------------------------------------

bool phone_form(const std::string& p) {
  if (p.size() < 5) return false;
  for (size_t i = 0; i < p.size(); ++i)
    if (!(p[i] >= '0' && p[i] <= '9') && !(i == 0 && p[i] == '+')) return false;
  return true;
}

void check_phone(const std::string& text) {
  const std::string p = normalize_phone(text);
  if (p.empty()) return;
  if (!phone_form(p)) finding("normalize_phone(" + shown(text) + ") = " + shown(p) + ", not digits after an optional +");
  const std::string again = normalize_phone(p);
  if (again != p && !(p.rfind("00", 0) == 0 && known("phone-86-00")))
    finding("normalize_phone is not idempotent: " + shown(text) + " -> " + shown(p) + " -> " + shown(again));
  for (const auto& alt : phone_alternatives(p))
    if (alt == p || !phone_form(alt)) finding("phone_alternatives(" + shown(p) + ") gives " + shown(alt));
}

void check_email(const std::string& text) {
  const std::string e = normalize_email(text);
  std::string expected(trimmed(text));
  for (auto& c : expected)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  if (e != expected) finding("normalize_email(" + shown(text) + ") = " + shown(e) + ", expected " + shown(expected));
}

void check_lists(const std::string& text) {
  const auto parts = split_values(text);
  std::string joined;
  for (const auto& part : parts) {
    if (part.empty() || part.find_first_of(";,") != std::string::npos || is_space(part.front()) || is_space(part.back()))
      finding("split_values(" + shown(text) + ") gives the part " + shown(part));
    joined += (joined.empty() ? "" : ";") + part;
  }
  if (split_values(joined) != parts) finding("split_values(" + shown(text) + ") does not survive joining with ';'");

  const auto tags = split_tags(text);
  if (tags != crmcore::fuzz::documented_tags(text)) finding("split_tags(" + shown(text) + ") is not the documented split");
  // How tags are kept: joined, then split again when read (tags holding a
  // control character, the separator among them, are refused before that).
  const bool control = std::any_of(tags.begin(), tags.end(), [](const std::string& tag) {
    return std::any_of(tag.begin(), tag.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  });
  if (!control && split_tags(join_tags(tags)) != tags)
    finding("the tags of " + shown(text) + " do not survive join_tags");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_time(text);
  check_numbers(text);
  check_bool(text);
  check_phone(text);
  check_email(text);
  check_lists(text);
  return 0;
}
