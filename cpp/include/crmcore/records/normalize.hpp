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

// Parses "YYYY-MM-DD", "YYYY/MM/DD", "YYYY-MM-DD HH:MM[:SS[.fraction]]" and the
// ISO 'T' form with an optional 'Z' or +HH:MM offset (at most 14:00, as the
// world's time zones are) into nanoseconds since the epoch (UTC). Returns
// nullopt when the text is not such a date.
std::optional<int64_t> parse_time(std::string_view text);

// The inverse for display: "YYYY-MM-DD HH:MM:SS" (with fraction when non-zero).
std::string format_time(int64_t ns);

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);

}  // namespace crmcore::records
