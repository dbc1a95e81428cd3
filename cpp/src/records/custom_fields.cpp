#include "custom_fields.hpp"

#include <cmath>
#include <string_view>
#include <vector>

#include "crmcore/records/normalize.hpp"
#include "json_text.hpp"
#include "values.hpp"

namespace crmcore::records {

std::string custom_name_problem(const std::string& name) {
  constexpr size_t kLongest = 64;
  if (name.empty()) return "is empty";
  if (name.size() > kLongest) return "is longer than " + std::to_string(kLongest) + " bytes";
  for (unsigned char c : name) {
    const bool ascii_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '-';
    if (c < 0x80 && !ascii_ok) {
      const std::string what = c < 0x20 || c == 0x7f ? "a control character" : quote(std::string(1, char(c)));
      return "holds " + what + ": a custom field's name is letters, digits, '_' and '-'";
    }
  }
  // Non-ASCII bytes must be whole UTF-8 characters: the name is SQL text.
  return json_text::Json::accept("\"" + name + "\"") ? "" : "is not valid UTF-8 text";
}

std::string custom_key_sql(const std::string& key, const std::string& qualifier) {
  return "json_extract(" + qualifier + kCustomColumn + ", '$.\"" + key + "\"')";
}

std::string pg_custom_key_sql(const std::string& key, FieldType type, const std::string& qualifier) {
  // (The key is a valid name: no quote can end the literal.)
  const std::string text = "(" + qualifier + kCustomColumn + "::jsonb ->> '" + key + "')";
  switch (type) {
    case FieldType::Integer: return "(" + text + "::bigint)";
    case FieldType::Real: return "(" + text + "::float8)";
    case FieldType::Bool: return "(" + text + "::boolean::int)";  // 1/0, as SQLite reads true/false
    default: return "(" + text + " COLLATE \"C\")";               // text, and times as ISO text
  }
}

std::string custom_index_name(const std::string& kind, const std::string& key) {
  return "crm_idx_" + kind + "_custom_" + key;
}

std::string custom_time_text(int64_t ns) {
  std::string text = format_time(ns);
  text[text.find(' ')] = 'T';
  return text;
}

namespace {

// The text of a JSON string (its raw text, quotes included). Most hold no
// escape and are cut out as they are; the parser reads the others.
std::string string_text(std::string_view raw) {
  if (raw.find('\\') == std::string_view::npos) return std::string(raw.substr(1, raw.size() - 2));
  return json_text::Json::parse(raw).get<std::string>();
}

// One member of a compact JSON object: its key (unescaped) and the text of its value.
struct Member {
  std::string key;
  std::string_view raw_key;
  std::string_view value;
};

// The index just past the JSON string that starts at `i` (a '"').
size_t end_of_string(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i + 1;
  }
  return s.size();
}

// The members of a compact JSON object (json_text::compact_object's text:
// no whitespace, valid), in order.
std::vector<Member> members_of(std::string_view object) {
  std::vector<Member> out;
  size_t i = 1;  // past '{'
  while (i + 1 < object.size()) {
    Member m;
    const size_t key_end = end_of_string(object, i);
    m.raw_key = object.substr(i, key_end - i);
    m.key = string_text(m.raw_key);
    i = key_end + 1;  // past ':'
    const size_t start = i;
    for (int depth = 0; i < object.size(); ++i) {
      const char c = object[i];
      if (c == '"') {
        i = end_of_string(object, i) - 1;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;  // the object's own end
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    m.value = object.substr(start, i - start);
    out.push_back(std::move(m));
    ++i;  // past ',' (or the final '}')
  }
  return out;
}

// Reads the JSON value `raw` of the declared field `f` into `out` (null for
// JSON null), converted to the field's type; throws RowFailure.
void read_custom_value(const Field& f, std::string_view raw, std::string& text, Value& out) {
  out.set_null();
  switch (raw.front()) {
    case 'n': return;
    case '{':
    case '[':
      throw RowFailure{f.name, std::string("is a JSON ") + (raw.front() == '{' ? "object" : "list") + ", not " +
                                   to_string(f.type) + " (its declared type)"};
    case 't':
    case 'f':
      if (f.type == FieldType::Bool) return out.set_int(raw.front() == 't');
      if (f.type == FieldType::Text) return out.own_text(std::string(raw));
      throw RowFailure{f.name, std::string(raw) + " is true/false, not " + to_string(f.type) + " (its declared type)"};
    case '"':
      text = string_text(raw);
      if (f.type == FieldType::Text) return out.set_text(text);
      if (text.find_first_not_of(" \t\r\n") == std::string::npos) return;  // blank: no value
      return coerce_text(f, text, out);
    default: {  // a number, its exact text
      text.assign(raw);
      if (f.type == FieldType::Text) return out.set_text(text);
      if (f.type == FieldType::Time)
        throw RowFailure{f.name, text + " is a number, not a date: give dates as text, e.g. \"2025-01-05\""};
      if (f.type == FieldType::Integer && !parse_whole_number(text)) {
        // 42.0 is the whole number 42 (JSON writers print doubles so).
        const auto v = parse_number(text);
        if (v && std::isfinite(*v) && *v == std::floor(*v) && std::fabs(*v) <= 9.0e15)
          return out.set_int(static_cast<int64_t>(*v));
      }
      return coerce_text(f, text, out);
    }
  }
}

void append_custom_value(std::string& out, const Field& f, const Value& v) {
  switch (v.type) {
    case Value::Type::Null: out += "null"; return;
    case Value::Type::Real: json_text::append_real(out, v.r); return;
    case Value::Type::Text: json_text::append_string(out, *v.text); return;
    case Value::Type::Int:
      if (f.type == FieldType::Time) json_text::append_string(out, custom_time_text(v.i));
      else if (f.type == FieldType::Bool) out += v.i != 0 ? "true" : "false";
      else json_text::append_int(out, v.i);
      return;
  }
}

}  // namespace

void check_custom(const Kind& k, std::string& custom) {
  if (k.custom.empty()) return;
  const std::vector<Member> members = custom.empty() ? std::vector<Member>{} : members_of(custom);
  std::vector<bool> seen(k.custom.size(), false);
  std::string out = "{", text;
  Value v;
  for (const auto& m : members) {
    if (out.size() > 1) out.push_back(',');
    out.append(m.raw_key).push_back(':');
    size_t d = 0;
    while (d < k.custom.size() && k.custom[d].name.compare(std::char_traits<char>::length(kCustomPrefix),
                                                            std::string::npos, m.key) != 0)
      ++d;
    if (d == k.custom.size()) {  // not declared: kept as it is
      out.append(m.value);
      continue;
    }
    const Field& f = k.custom[d];
    seen[d] = true;
    read_custom_value(f, m.value, text, v);
    check_value(f, v);
    append_custom_value(out, f, v);
  }
  for (size_t d = 0; d < k.custom.size(); ++d)
    if (!seen[d] && k.custom[d].required) throw RowFailure{k.custom[d].name, "is required but missing"};
  custom = out.size() > 1 ? out + "}" : std::string();
}

}  // namespace crmcore::records
