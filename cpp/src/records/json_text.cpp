#include "json_text.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace crmcore::records::json_text {

void append_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

void append_real(std::string& out, double v) {
  char buf[40];
  char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, end);
  if (std::find_if(buf, end, [](char c) { return c == '.' || c == 'e' || c == 'n'; }) == end) out += ".0";
}

void Compactor::reset() {
  depth_ = 0;
  started_ = false;
  out_.clear();
  problem_.clear();
  first_.clear();
  keys_.clear();
  is_object_.clear();
}

void Compactor::refuse(std::string why) {
  if (problem_.empty()) problem_ = std::move(why);
  out_.clear();
}

void Compactor::before_value() {
  started_ = true;
  if (!writing() || first_.empty()) return;
  // In an object the key wrote the separator; the value follows its colon.
  if (!is_object_.back()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

bool Compactor::null() {
  before_value();
  if (writing()) out_ += "null";
  return true;
}

bool Compactor::boolean(bool val) {
  before_value();
  if (writing()) out_ += val ? "true" : "false";
  return true;
}

bool Compactor::number_integer(number_integer_t val) {
  before_value();
  if (writing()) append_int(out_, val);
  return true;
}

bool Compactor::number_unsigned(number_unsigned_t val) {
  before_value();
  if (writing()) {
    char buf[24];
    out_.append(buf, std::to_chars(buf, buf + sizeof buf, val).ptr);
  }
  return true;
}

bool Compactor::number_float(number_float_t, const string_t& raw) {
  // The number as written: an integer too large for 64 bits arrives here and
  // stays exact, and 0.1 stays 0.1.
  before_value();
  if (writing()) out_ += raw;
  return true;
}

// The store keeps no NUL in text (values.cpp text_problem), and PostgreSQL
// cannot read a JSON text holding \u0000 as jsonb: a custom value's key or
// text with one is refused on every engine, as a text field's is.
void Compactor::refuse_nul(const string_t& val) {
  if (val.find('\0') != string_t::npos) refuse("holds a NUL character (U+0000), which the store keeps in no text");
}

bool Compactor::string(string_t& val) {
  before_value();
  refuse_nul(val);
  if (writing()) append_string(out_, val);
  return true;
}

bool Compactor::key(string_t& val) {
  refuse_nul(val);
  if (!writing()) return true;
  if (!keys_.back().insert(val).second) {
    std::string shown;
    append_string(shown, val.size() > 60 ? val.substr(0, 60) : val);
    refuse("the key " + shown + " appears twice in one object");
    return true;
  }
  if (!first_.back()) out_.push_back(',');
  first_.back() = false;
  append_string(out_, val);
  out_.push_back(':');
  return true;
}

bool Compactor::open(char bracket) {
  before_value();
  ++depth_;
  if (depth_ > max_depth_)
    refuse("is nested more than " + std::to_string(max_depth_) + " levels deep (the limit for custom values)");
  if (writing()) {
    out_.push_back(bracket);
    first_.push_back(true);
    is_object_.push_back(bracket == '{');
    keys_.emplace_back();
  }
  return true;
}

bool Compactor::close(char bracket) {
  if (writing()) {
    out_.push_back(bracket);
    first_.pop_back();
    is_object_.pop_back();
    keys_.pop_back();
  }
  --depth_;
  return true;
}

bool Compactor::parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
  refuse(std::string("is not valid JSON (") + e.what() + ")");
  return false;
}

std::vector<std::pair<std::string, std::string>> object_members(std::string_view compact) {
  // A key's text is read back with nlohmann (escapes); a value runs to the
  // comma or brace that closes it at the object's own depth.
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 1;  // past '{'
  while (i < compact.size() && compact[i] == '"') {
    size_t end = i + 1;
    while (end < compact.size() && compact[end] != '"') end += compact[end] == '\\' ? 2 : 1;
    std::string key = Json::parse(compact.substr(i, end + 1 - i)).get<std::string>();
    size_t start = end + 2, pos = start;  // past '":'
    int depth = 0;
    bool in_string = false;
    for (; pos < compact.size(); ++pos) {
      const char c = compact[pos];
      if (in_string) {
        if (c == '\\') ++pos;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    out.emplace_back(std::move(key), std::string(compact.substr(start, pos - start)));
    i = pos + 1;
  }
  return out;
}

bool compact_object(std::string_view text, int max_depth, std::string& out, std::string& why) {
  // Only an object is wanted: anything else is refused before it is parsed.
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || text[start] != '{') {
    why = "is not a JSON object";
    return false;
  }
  Compactor writer(max_depth);
  Json::sax_parse(text.begin(), text.end(), &writer, nlohmann::detail::input_format_t::json, /*strict=*/true);
  if (!writer.problem().empty()) {
    why = writer.problem();
    return false;
  }
  out = writer.text() == "{}" ? std::string() : writer.take_text();
  return true;
}

}  // namespace crmcore::records::json_text
