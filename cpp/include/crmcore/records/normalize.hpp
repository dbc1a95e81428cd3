#pragma once
// Normalization of what people type: phone numbers in any format, e-mail
// addresses in any case, dates in the usual spellings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crmcore::records {

// Digits only, with full-width digits folded to ASCII and Chinese numbers in
// their national form (+86 / 0086 / 86 before a mobile removed, the trunk 0
// restored before a landline's area code: "+86 755 ..." is "0755 ..."); other
// international numbers keep their country code after a '+'. Returns "" when
// the text holds too few digits to be a phone number.
std::string normalize_phone(std::string_view text);

// Other forms under which a phone number may have been stored, for a lookup
// that found nothing under its normalized form. A number typed without its
// country code may be stored with one: "(415) 555-0123" may be
// "+1 415 555 0123", and "020 7946 0958" (trunk 0) "+44 20 7946 0958". One
// typed with a country code may be stored in national form, with or without
// the trunk 0. Numbers of fewer than 7 national digits get no other forms.
std::vector<std::string> phone_alternatives(const std::string& normalized);

// Trimmed and lower-cased (ASCII letters; the rest of UTF-8 is kept as is).
std::string normalize_email(std::string_view text);

// Splits a multi-valued field ("a; b, c") into trimmed, non-empty values.
std::vector<std::string> split_values(std::string_view text);

// Tags travel and are kept as one text: each tag after this separator (a
// control character, which no tag may hold), so that a tag may hold ';' or
// ','. A list of tags from Python or a JSON file is joined so; text without
// the separator in front is a person's list ("vip; key account, 北京") and
// is split at ';' and ','.
inline constexpr char kTagSeparator = '\x1f';
std::string join_tags(const std::vector<std::string>& tags);
std::vector<std::string> split_tags(std::string_view text);

// A whole number in decimal ("42", " -7 ", "+3"): the whole text must be
// the number (no NUL, hex, fraction or trailing junk) and fit in 64 bits.
std::optional<int64_t> parse_whole_number(std::string_view text);

// A decimal number ("1200.5", "1e3", " -0.25 "), the whole text; no hex
// floats, no NUL or trailing junk. "inf" and "nan" are read as such (the
// store then refuses what is not finite, naming it).
std::optional<double> parse_number(std::string_view text);

// A number as other programs' exports write amounts: what parse_number
// reads, and also thousands separators in groups of three ("1,200.50"; not
// "1,20,0"), a currency before or after it ("¥1,200", "￥1200", "$1,200.5",
// "RMB 1200", "1200元", "1,200 USD"; one, and dropped: the store keeps no
// currency), a sign before or after the currency, the Chinese units 万
// (10^4) and 亿 (10^8) ("1.2万", "3亿元"), and a percent sign ("12%" is
// 0.12, "12.5％" 0.125; not with a currency or unit). Decorated numbers take
// no exponent. Scaling is decimal, so "1.2万" is exactly 12000. Anything else
// in the text (words, NUL, hex, a second currency) makes it no amount.
std::optional<double> parse_amount(std::string_view text);

// A yes/no in any of the usual spellings, trimmed and in any case: 1/0,
// true/false, t/f, yes/no, y/n, 是/否, 对/错, 真/假.
std::optional<bool> parse_bool(std::string_view text);

// Parses a date, with an optional time of day, into nanoseconds since the
// epoch (UTC). The date is year first, with a four-digit year:
//   "2025-01-05", "2025/1/5", "2025.1.5" (one separator, months and days of
//   one or two digits), "2025年1月5日" (or 号), and "20250105" (eight digits
//   and nothing more; no time may follow it).
// A time may follow after a space (none needed after 日/号) or 'T':
// "H:MM[:SS[.fraction]]" with an hour of one or two digits, then an optional
// 'Z' or +HH:MM offset (at most 14:00, as the world's time zones are):
// "2025-12-25 9:40", "2025年1月5日 9:40", "2024-01-01T08:00:00+08:00".
// Day-first and month-first dates ("05/01/2025") and two-digit years are
// ambiguous and refused (an import mapping can name their format). Returns
// nullopt when the text is not such a date, or names no day of the calendar.
std::optional<int64_t> parse_time(std::string_view text);

// Whether `text` is a date (and time) parse_time reads but outside the times
// the store keeps (kTimeRange), so the refusal can say so rather than "not a date".
bool time_out_of_range(std::string_view text);
inline constexpr const char* kTimeRange = "1677-09-22 to 2262-04-11";

// The inverse for display: "YYYY-MM-DD HH:MM:SS" (with fraction when non-zero).
std::string format_time(int64_t ns);

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
// The inverse: the date of a day counted from 1970-01-01.
void civil_from_days(int64_t days, int64_t& year, unsigned& month, unsigned& day);

}  // namespace crmcore::records
