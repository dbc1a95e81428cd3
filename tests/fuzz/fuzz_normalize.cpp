// Fuzzes the normalization of typed text: parse_time against an independent
// reading of the documented forms (a regular expression and libc's timegm),
// format_time/parse_time round trips, normalize_phone and normalize_email
// idempotent, phone_alternatives well formed, split_values' parts free of
// separators. The whole input is each function's argument.
#include <ctime>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "crmcore/records/normalize.hpp"
#include "fuzz_support.hpp"

namespace {

using crmcore::fuzz::finding;
using crmcore::fuzz::known;
using crmcore::fuzz::shown;
using namespace crmcore::records;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// ---- dates ----------------------------------------------------------------

// The forms normalize.hpp documents, as RFC 3339 bounds them: a date with '-'
// or '/', then optionally a time after ' ' or 'T' with seconds and a
// fraction, then 'Z' or an offset of at most 23:59 (hours and minutes as
// "+08", "+0800" or "+08:00"). Spaces around are trimmed before.
const std::regex& date_form() {
  static const std::regex form(
      R"(([0-9]{4})([-/])([0-9]{2})\2([0-9]{2}))"
      R"((?:[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(?:Z|([-+])([0-9]{2})(?::?([0-9]{2}))?)?)?)");
  return form;
}

enum class Expect { Date, NotDate, Either };

// What parse_time should return for `text`, by the regular expression and
// timegm. Dates whose nanoseconds come within a second of int64's ends may
// go either way: the parser keeps a margin there.
Expect expected_time(std::string_view text, int64_t& ns) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  // libstdc++'s regex recurses per character: long texts (a fraction of a
  // thousand digits) are left to the round trip alone.
  if (text.size() > 256) return Expect::Either;
  const bool colon_last = !text.empty() && text.back() == ':';  // "+08:" is a known finding
  if (colon_last) text.remove_suffix(1);
  std::cmatch m;
  if (!std::regex_match(text.data(), text.data() + text.size(), m, date_form())) return Expect::NotDate;
  if (colon_last && (!m[9].matched || m[11].matched || !known("time-offset-colon"))) return Expect::NotDate;
  auto num = [&m](size_t i) { return m[i].matched ? std::stol(m[i].str()) : 0L; };
  const long year = num(1), month = num(3), day = num(4), hour = num(5), minute = num(6), second = num(7);
  const long offset_hours = num(10), offset_minutes = num(11);
  if (hour > 23 || minute > 59 || second > 60) return Expect::NotDate;
  if ((offset_hours > 23 || offset_minutes > 59) && !known("time-offset-range")) return Expect::NotDate;
  std::tm tm{};
  tm.tm_year = static_cast<int>(year - 1900);
  tm.tm_mon = static_cast<int>(month - 1);
  tm.tm_mday = static_cast<int>(day);
  const time_t midnight = timegm(&tm);  // normalizes tm: the 30th of February becomes March
  std::tm back{};
  gmtime_r(&midnight, &back);
  if (month < 1 || month > 12 || back.tm_mon + 1 != month || back.tm_mday != day) return Expect::NotDate;
  const long sign = m[9].matched && m[9].str() == "-" ? -1 : 1;
  const __int128 seconds = static_cast<__int128>(midnight) + hour * 3600 + minute * 60 + second -
                           sign * (offset_hours * 3600 + offset_minutes * 60);
  long nanos = 0;
  const std::string fraction = m[8].str().substr(0, 9);
  for (size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  const __int128 total = seconds * 1000000000 + nanos;
  constexpr __int128 kMargin = 1000000000;
  if (total > INT64_MAX || total < INT64_MIN) return total > INT64_MAX + kMargin || total < INT64_MIN - kMargin ? Expect::NotDate : Expect::Either;
  ns = static_cast<int64_t>(total);
  return total > INT64_MAX - kMargin || total < INT64_MIN + kMargin ? Expect::Either : Expect::Date;
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

// ---- phones, e-mails, lists --------------------------------------------------

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
    if (alt == p || !phone_form(alt))
      finding("phone_alternatives(" + shown(p) + ") gives " + shown(alt));
}

void check_email(const std::string& text) {
  const std::string e = normalize_email(text);
  std::string_view trimmed = text;
  while (!trimmed.empty() && is_space(trimmed.front())) trimmed.remove_prefix(1);
  while (!trimmed.empty() && is_space(trimmed.back())) trimmed.remove_suffix(1);
  std::string expected(trimmed);
  for (auto& c : expected)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  if (e != expected) finding("normalize_email(" + shown(text) + ") = " + shown(e) + ", expected " + shown(expected));
}

void check_split(const std::string& text) {
  const auto parts = split_values(text);
  std::string joined;
  for (const auto& part : parts) {
    if (part.empty() || part.find_first_of(";,") != std::string::npos || is_space(part.front()) || is_space(part.back()))
      finding("split_values(" + shown(text) + ") gives the part " + shown(part));
    joined += (joined.empty() ? "" : ";") + part;
  }
  // Tags are stored joined with ';' and split again when read.
  if (split_values(joined) != parts) finding("split_values(" + shown(text) + ") does not survive joining with ';'");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_time(text);
  check_phone(text);
  check_email(text);
  check_split(text);
  return 0;
}
