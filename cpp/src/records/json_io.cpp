#include "crmcore/records/json_io.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <string_view>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"

namespace crmcore::records {

namespace {

using Json = nlohmann::ordered_json;  // keeps the fields in the kind's order

// Appends `text` as a JSON string. The store's text is UTF-8 (it came from
// Python strings or parsed JSON), so only quotes, backslashes and control
// characters need escapes.
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

// The shortest text that reads back as the same double, kept a JSON number
// with a fraction ("1200.0", not "1200") so that it reads back as a number.
void append_real(std::string& out, double v) {
  char buf[40];
  char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, end);
  if (std::find_if(buf, end, [](char c) { return c == '.' || c == 'e' || c == 'n'; }) == end) out += ".0";
}

void append_time(std::string& out, int64_t ns) {
  std::string text = format_time(ns);
  text[text.find(' ')] = 'T';  // "YYYY-MM-DD HH:MM:SS" -> ISO 8601
  append_string(out, text);
}

// Appends the JSON value of one stored value of column `c`.
void append_value(std::string& out, const Column& c, const Field* field, size_t row) {
  if (c.name == kTagsColumn) {
    out.push_back('[');
    if (c.present(row)) {
      bool first = true;
      for (const auto& tag : split_values(c.texts[row])) {
        if (!first) out.push_back(',');
        append_string(out, tag);
        first = false;
      }
    }
    out.push_back(']');
    return;
  }
  if (c.name == kCustomColumn) {  // stored as a JSON object already
    out += c.present(row) && !c.texts[row].empty() ? c.texts[row] : std::string("{}");
    return;
  }
  if (!c.present(row)) {
    out += "null";
    return;
  }
  switch (c.storage) {
    case Column::Storage::Int:
      if ((field && field->type == FieldType::Time) || c.name == kCreatedColumn || c.name == kUpdatedColumn)
        append_time(out, c.ints[row]);
      else if (field && field->type == FieldType::Bool)
        out += c.ints[row] != 0 ? "true" : "false";
      else
        append_int(out, c.ints[row]);
      break;
    case Column::Storage::Real: append_real(out, c.reals[row]); break;
    case Column::Storage::Text: append_string(out, c.texts[row]); break;
  }
}

// What the values of one key across the file's records are, which decides
// the column it becomes: whole numbers (or true/false) stay whole numbers,
// numbers stay numbers, anything else goes in as text for the store to read.
struct KeyTypes {
  bool whole = false, fractional = false, other = false;
};

void note_type(const Json& v, KeyTypes& t) {
  if (v.is_null()) return;
  if (v.is_boolean() || v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) t.other = true;
    else t.whole = true;
  } else if (v.is_number_float()) {
    t.fractional = true;
  } else {
    t.other = true;
  }
}

std::string text_of(const std::string& key, const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (key == kTagsColumn && v.is_array()) {
    std::string joined;
    for (const auto& tag : v) joined += (joined.empty() ? "" : ";") + (tag.is_string() ? tag.get<std::string>() : tag.dump());
    return joined;
  }
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

size_t export_json(const Store& store, const std::string& kind_name, const std::string& path) {
  const Kind& k = kind(kind_name);
  Table t = store.select(kind_name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw StorageError("cannot write '" + path + "'");
  std::vector<const Field*> fields;
  std::vector<std::string> keys;  // '"name":' of each column
  for (const auto& c : t.columns) {
    fields.push_back(k.field(c.name));
    keys.emplace_back();
    append_string(keys.back(), c.name);
    keys.back() += ':';
  }
  constexpr size_t kFlushBytes = size_t{1} << 20;
  const size_t rows = t.rows();
  std::string buffer = "[";
  for (size_t r = 0; r < rows; ++r) {
    buffer += r == 0 ? "\n{" : ",\n{";
    for (size_t c = 0; c < t.columns.size(); ++c) {
      if (c > 0) buffer.push_back(',');
      buffer += keys[c];
      append_value(buffer, t.columns[c], fields[c], r);
    }
    buffer.push_back('}');
    if (buffer.size() >= kFlushBytes) out.write(buffer.data(), static_cast<std::streamsize>(buffer.size())), buffer.clear();
  }
  buffer += "\n]\n";
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  out.close();
  if (!out) throw StorageError("writing '" + path + "' failed");
  return rows;
}

WriteResult import_json(Store& store, const std::string& kind_name, const std::string& path, OnError on_error,
                        const Progress& progress) {
  const Kind& k = kind(kind_name);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError("cannot read '" + path + "'");
  Json doc;
  try {
    doc = Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw ValidationError(k.name, -1, "", "'" + path + "' is not valid JSON (" + e.what() + ")");
  }
  if (doc.is_object() && doc.contains(k.name)) doc = std::move(doc[k.name]);
  if (!doc.is_array()) throw ValidationError(k.name, -1, "", "'" + path + "' does not hold a list of records");

  // The columns: every key any record has, in the order first seen.
  std::vector<std::string> keys;
  std::unordered_map<std::string, size_t> index;
  std::vector<KeyTypes> types;
  for (size_t r = 0; r < doc.size(); ++r) {
    if (!doc[r].is_object()) throw ValidationError(k.name, static_cast<int64_t>(r), "", "is not a JSON object");
    for (const auto& [key, value] : doc[r].items()) {
      if (key == "id" || key == kCreatedColumn || key == kUpdatedColumn) continue;  // the store gives these
      auto [it, added] = index.try_emplace(key, keys.size());
      if (added) keys.push_back(key), types.emplace_back();
      note_type(value, types[it->second]);
    }
  }
  Table t;
  for (size_t c = 0; c < keys.size(); ++c) {
    const KeyTypes& kt = types[c];
    const bool text = kt.other || keys[c] == kTagsColumn || keys[c] == kCustomColumn;
    t.columns.emplace_back(keys[c], text            ? Column::Storage::Text
                                    : kt.fractional ? Column::Storage::Real
                                                    : Column::Storage::Int);
  }
  const size_t n = doc.size();
  for (auto& col : t.columns) {
    col.valid.assign(n, 0);
    switch (col.storage) {
      case Column::Storage::Int: col.ints.assign(n, 0); break;
      case Column::Storage::Real: col.reals.assign(n, 0.0); break;
      case Column::Storage::Text: col.texts.assign(n, std::string()); break;
    }
  }
  for (size_t r = 0; r < n; ++r) {
    for (const auto& [key, value] : doc[r].items()) {
      auto it = index.find(key);
      if (it == index.end() || value.is_null()) continue;
      Column& col = t.columns[it->second];
      col.valid[r] = 1;
      switch (col.storage) {
        case Column::Storage::Int: col.ints[r] = value.is_boolean() ? value.get<bool>() : value.get<int64_t>(); break;
        case Column::Storage::Real: col.reals[r] = value.get<double>(); break;
        case Column::Storage::Text: col.texts[r] = text_of(key, value); break;
      }
    }
  }
  doc = Json();  // the columns hold it all now
  return store.insert(kind_name, t, on_error, progress);
}

}  // namespace crmcore::records
