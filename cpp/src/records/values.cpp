#include "values.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "crmcore/records/normalize.hpp"
#include "json_text.hpp"

namespace crmcore::records {

// A value as an error message shows it: cut after 60 bytes at a character
// boundary (a message must stay valid UTF-8), control characters escaped.
std::string quote(const std::string& s) {
  constexpr size_t kShown = 60;
  size_t cut = std::min(s.size(), kShown);
  while (cut < s.size() && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  std::string out = "'";
  for (size_t i = 0; i < cut; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(s[i]);
    }
  }
  return out + (cut < s.size() ? "...'" : "'");
}

namespace {

std::string format_real(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}


bool is_blank(const std::string& s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

}  // namespace

// Converts a text (from a text column or a default) to the field's type.
void coerce_text(const Field& f, const std::string& s, Value& out) {
  switch (f.type) {
    case FieldType::Text: out.set_text(s); return;
    case FieldType::Integer:
    case FieldType::Ref:
    case FieldType::AnyRef: {
      auto v = parse_whole_number(s);
      // A count may be written like an amount ("1,200", "1.2万"); a record id may not.
      if (!v && f.type == FieldType::Integer) {
        const auto amount = parse_amount(s);
        if (amount && *amount == std::floor(*amount) && std::fabs(*amount) <= 9.0e15) v = static_cast<int64_t>(*amount);
      }
      if (!v) {
        const bool digits = parse_number(s) && s.find_first_of(".eE") == std::string::npos;
        throw RowFailure{f.name, quote(s) + (digits ? " is too large for a whole number (at most 2**63-1)"
                                                     : " is not a whole number")};
      }
      out.set_int(*v);
      return;
    }
    case FieldType::Real: {
      const auto v = parse_amount(s);
      if (!v) throw RowFailure{f.name, quote(s) + " is not a number"};
      out.set_real(*v);
      return;
    }
    case FieldType::Time: {
      auto t = parse_time(s);
      if (!t && time_out_of_range(s))
        throw RowFailure{f.name, quote(s) + " is outside the dates the store keeps (" + kTimeRange + ")"};
      if (!t)
        throw RowFailure{f.name, quote(s) + " is not a date (expected year first, e.g. 2025-01-05, 2025/1/5 9:40,"
                                            " 2025年1月5日 or 20250105)"};
      out.set_int(*t);
      return;
    }
    case FieldType::Bool: {
      const auto v = parse_bool(s);
      if (!v) throw RowFailure{f.name, quote(s) + " is not true/false (or yes/no, y/n, 是/否, 对/错, 真/假)"};
      out.set_int(*v ? 1 : 0);
      return;
    }
  }
}

namespace {

// Whether `s` is text the store keeps: valid UTF-8 without NUL bytes (which
// C strings, and so many readers of the file, would cut the text at).
const char* text_problem(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == 0) return "holds a NUL byte";
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || i + len > n) return "is not valid UTF-8 text";
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
      return "is not valid UTF-8 text";
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return "is not valid UTF-8 text";
    i += len;
  }
  return nullptr;
}


const char* type_name(FieldType t) {
  switch (t) {
    case FieldType::Text: return "text";
    case FieldType::Integer: return "a whole number";
    case FieldType::Real: return "a number";
    case FieldType::Time: return "a date";
    case FieldType::Bool: return "true/false";
    case FieldType::Ref:
    case FieldType::AnyRef: return "a record id";
  }
  return "?";
}


// A whole number of the caller's column, by what it stands for (Column::Origin).
void coerce_int(const Field& f, Column::Origin origin, int64_t v, Value& out) {
  switch (origin) {
    case Column::Origin::Flag:
      if (f.type == FieldType::Bool) return out.set_int(v != 0);
      if (f.type == FieldType::Text) return out.own_text(v != 0 ? "true" : "false");
      throw RowFailure{f.name, std::string(v != 0 ? "True" : "False") + " is true/false, not " + type_name(f.type)};
    case Column::Origin::Time:
      if (f.type == FieldType::Time) return out.set_int(v);
      if (f.type == FieldType::Text) return out.own_text(format_time(v));
      throw RowFailure{f.name, format_time(v) + " is a date, not " + std::string(type_name(f.type))};
    case Column::Origin::Number:
      if (f.type == FieldType::Time)
        throw RowFailure{f.name, std::to_string(v) +
                                     " is a number, not a date: epoch numbers are ambiguous (seconds? milliseconds?);"
                                     " give dates, e.g. pd.to_datetime(column, unit='s')"};
      if (f.type == FieldType::Text) return out.own_text(std::to_string(v));
      if (f.type == FieldType::Real) return out.set_real(static_cast<double>(v));
      return out.set_int(v);
  }
}

}  // namespace

void coerce(const Field& f, const Column* col, size_t row, Value& out) {
  out.set_null();
  if (const std::string* problem = col ? col->problem(row) : nullptr) throw RowFailure{f.name, *problem};
  if (col && col->present(row)) {
    switch (col->storage) {
      case Column::Storage::Text: {
        const std::string& s = col->texts[row];
        if (const char* problem = text_problem(s)) throw RowFailure{f.name, quote(s) + " " + problem};
        if (!is_blank(s)) coerce_text(f, s, out);
        break;
      }
      case Column::Storage::Int: coerce_int(f, col->origin, col->ints[row], out); break;
      case Column::Storage::Real: {
        double v = col->reals[row];
        if (std::isnan(v)) break;
        if (f.type == FieldType::Real) {
          out.set_real(v);
        } else if (f.type == FieldType::Text) {
          out.own_text(format_real(v));
        } else if (f.type == FieldType::Time) {
          throw RowFailure{f.name, format_real(v) + " is a number, not a date"};
        } else {
          if (v != std::floor(v)) throw RowFailure{f.name, format_real(v) + " is not a whole number"};
          // Doubles past 2**53 are not exact whole numbers any more.
          if (std::fabs(v) > 9.0e15) throw RowFailure{f.name, format_real(v) + " is too large for a whole number"};
          out.set_int(static_cast<int64_t>(v));
        }
        break;
      }
    }
  }
  check_value(f, out);
}

void check_value(const Field& f, Value& out) {
  if (out.type == Value::Type::Null) {
    if (!f.default_value.empty()) coerce_text(f, f.default_value, out);
    else if (f.required) throw RowFailure{f.name, "is required but missing"};
    return;
  }
  // Checks on the value itself.
  if (out.type == Value::Type::Real && !std::isfinite(out.r))
    throw RowFailure{f.name, format_real(out.r) + " is not a finite number"};
  if (f.min < f.max) {
    double v = out.type == Value::Type::Real ? out.r : static_cast<double>(out.i);
    if (v < f.min && f.min == 0 && std::isinf(f.max))
      throw RowFailure{f.name, format_real(v) + " is negative; " + f.name + " cannot be below 0"};
    if (v < f.min || v > f.max)
      throw RowFailure{f.name, format_real(v) + " is outside " + format_real(f.min) + ".." + format_real(f.max)};
  }
  if (f.max_future_days >= 0 && out.type == Value::Type::Int) {
    // A date that is today anywhere on Earth (up to UTC+14) is not yet in the future.
    constexpr int64_t kDayNs = 86'400'000'000'000, kWidestZoneNs = 14 * 3'600'000'000'000;
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    if (out.i > now + f.max_future_days * kDayNs + kWidestZoneNs)
      throw RowFailure{f.name, format_time(out.i) + (f.max_future_days == 0
                                                         ? std::string(" lies in the future")
                                                         : " lies more than " + std::to_string(f.max_future_days) +
                                                               " days after today") +
                                   " (today is " + format_time(now).substr(0, 10) + ")"};
  }
  if (f.type == FieldType::Bool && (out.i != 0 && out.i != 1))
    throw RowFailure{f.name, std::to_string(out.i) + " is not true/false"};
  if (out.type == Value::Type::Text && !f.labels.empty()) {
    // Another spelling of an allowed value is stored as the value itself.
    auto it = std::lower_bound(f.labels.begin(), f.labels.end(), *out.text,
                               [](const Label& l, const std::string& s) { return l.label < s; });
    if (it != f.labels.end() && it->label == *out.text) out.set_text(it->value);
  }
  if (!f.choices.empty() && !f.open_choices) {
    bool ok = false;
    for (const auto& c : f.choices) ok = ok || c == *out.text;
    if (!ok) {
      std::string list;
      for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
      std::string spelled;
      for (const auto& l : f.labels) spelled += (spelled.empty() ? "" : ", ") + l.label;
      throw RowFailure{f.name, quote(*out.text) + " is not one of: " + list +
                                   (spelled.empty() ? "" : " (or their labels: " + spelled + ")")};
    }
  }
}


void bind_value(sql::Statement& st, int index, const Value& v) {
  switch (v.type) {
    case Value::Type::Null: st.bind_null(index); break;
    case Value::Type::Int: st.bind(index, v.i); break;
    case Value::Type::Real: st.bind(index, v.r); break;
    case Value::Type::Text: st.bind(index, *v.text); break;
  }
}

std::vector<std::string> read_tag_list(const std::vector<std::string>& tags) {
  // Joined, a tag holding the separator would be read as two.
  for (const auto& tag : tags)
    if (tag.find(kTagSeparator) != std::string::npos)
      throw RowFailure{kTagsColumn, "the tag " + quote(tag) + " holds a control character"};
  Column given(kTagsColumn, Column::Storage::Text);
  given.texts.push_back(join_tags(tags));
  given.valid.push_back(1);
  Extras out;
  read_extras(&given, nullptr, 0, out);
  return std::move(out.tags);
}

void read_extras(const Column* tags, const Column* custom, size_t row, Extras& out) {
  out.tags.clear();
  out.tags_text.clear();
  out.custom.clear();
  if (const std::string* problem = tags ? tags->problem(row) : nullptr) throw RowFailure{kTagsColumn, *problem};
  if (const std::string* problem = custom ? custom->problem(row) : nullptr) throw RowFailure{kCustomColumn, *problem};
  if (tags && tags->present(row)) {
    if (tags->storage != Column::Storage::Text) throw RowFailure{kTagsColumn, "must be text or a list of text"};
    for (auto& tag : split_tags(tags->texts[row])) {
      if (const char* problem = text_problem(tag)) throw RowFailure{kTagsColumn, "the tag " + quote(tag) + " " + problem};
      for (unsigned char c : tag)
        if (c < 0x20) throw RowFailure{kTagsColumn, "the tag " + quote(tag) + " holds a control character"};
      // A tag given twice is one tag.
      if (std::find(out.tags.begin(), out.tags.end(), tag) == out.tags.end()) out.tags.push_back(std::move(tag));
    }
    out.tags_text = join_tags(out.tags);
  }
  if (custom && custom->present(row)) {
    if (custom->storage != Column::Storage::Text) throw RowFailure{kCustomColumn, "must be a JSON object"};
    const std::string& text = custom->texts[row];
    std::string why;
    if (!is_blank(text) && !json_text::compact_object(text, kMaxCustomDepth, out.custom, why))
      throw RowFailure{kCustomColumn, quote(text) + " " + why};
  }
}

// Normalized lookup values of a phone or e-mail field (several per field).
std::vector<std::string> lookup_values(const Field& f, const std::string& text) {
  std::vector<std::string> out;
  for (const auto& part : split_values(text)) {
    if (f.lookup == Lookup::Phone) {
      std::string p = normalize_phone(part);
      if (p.empty()) throw RowFailure{f.name, quote(part) + " is not a phone number"};
      out.push_back(std::move(p));
    } else {
      std::string e = normalize_email(part);
      auto at = e.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == e.size() || e.find(' ') != std::string::npos)
        throw RowFailure{f.name, quote(part) + " is not an e-mail address"};
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace crmcore::records
