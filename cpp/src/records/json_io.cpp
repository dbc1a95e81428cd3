#include "crmcore/records/json_io.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"

namespace crmcore::records {

namespace {

using Json = nlohmann::json;  // only its SAX parser is used: records never become a document

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

// One key of the file's records as it is read: each row's value kept by
// type, in row order, until the whole file says which column it becomes.
struct KeyValues {
  enum Tag : uint8_t { Missing, Int, Real, Bool, Text };
  std::vector<uint8_t> tags;  // per row
  std::vector<int64_t> ints;  // Int and Bool values, in row order
  std::vector<double> reals;
  std::vector<std::string> texts;
  bool any_real = false, any_text = false;  // true/false count as text: "true" reads as a flag and as text
};

// Appends a value that is not text as JSON: null, true/false or a number.
void append_scalar(std::string& out, KeyValues::Tag tag, int64_t i, double r) {
  switch (tag) {
    case KeyValues::Missing: out += "null"; break;
    case KeyValues::Bool: out += i ? "true" : "false"; break;
    case KeyValues::Int: append_int(out, i); break;
    case KeyValues::Real: append_real(out, r); break;
    case KeyValues::Text: break;  // written by the caller, quoted or not
  }
}

// Reads a file's records straight into columns as nlohmann parses it,
// without building the document: the list (the top level, or the member
// named after the kind), one object per record. A member whose value is an
// object or a list (custom fields, tags, anything else) is kept as JSON
// text; a list of tags as "a;b". "id", "created_at" and "updated_at" are
// read and dropped: the store gives its own.
class RecordReader : public nlohmann::json_sax<Json> {
 public:
  explicit RecordReader(const Kind& k) : kind_(k) {}

  // Whether the file held the records' list (at the top, or as the kind's member).
  bool found_list() const { return list_depth_ > 0; }

  Table table() {
    Table t;
    for (size_t c = 0; c < names_.size(); ++c) {
      KeyValues& v = values_[c];
      v.tags.resize(rows_, KeyValues::Missing);
      const std::string& name = names_[c];
      const bool text = v.any_text || name == kTagsColumn || name == kCustomColumn;
      Column col(name, text ? Column::Storage::Text : v.any_real ? Column::Storage::Real : Column::Storage::Int);
      col.valid.assign(rows_, 0);
      size_t next_int = 0, next_real = 0, next_text = 0;
      for (size_t r = 0; r < rows_; ++r) {
        const uint8_t tag = v.tags[r];
        if (tag == KeyValues::Missing) {
          if (text) col.texts.emplace_back();
          else if (v.any_real) col.reals.push_back(0.0);
          else col.ints.push_back(0);
          continue;
        }
        col.valid[r] = 1;
        if (text) {
          std::string s;
          if (tag == KeyValues::Text) s = std::move(v.texts[next_text++]);
          else if (tag == KeyValues::Real) append_scalar(s, KeyValues::Real, 0, v.reals[next_real++]);
          else append_scalar(s, static_cast<KeyValues::Tag>(tag), v.ints[next_int++], 0.0);
          col.texts.push_back(std::move(s));
        } else if (v.any_real) {
          col.reals.push_back(tag == KeyValues::Real ? v.reals[next_real++] : static_cast<double>(v.ints[next_int++]));
        } else {
          col.ints.push_back(v.ints[next_int++]);
        }
      }
      v = KeyValues();  // the column holds it now
      t.columns.push_back(std::move(col));
    }
    return t;
  }

  bool null() override { return scalar(KeyValues::Missing, 0, 0.0, nullptr); }
  bool boolean(bool val) override { return scalar(KeyValues::Bool, val ? 1 : 0, 0.0, nullptr); }
  bool number_integer(number_integer_t val) override { return scalar(KeyValues::Int, val, 0.0, nullptr); }
  bool number_unsigned(number_unsigned_t val) override {
    if (val <= static_cast<number_unsigned_t>(INT64_MAX))
      return scalar(KeyValues::Int, static_cast<int64_t>(val), 0.0, nullptr);
    std::string text = std::to_string(val);  // too large for the store's integers: let it say so
    return scalar(KeyValues::Text, 0, 0.0, &text);
  }
  bool number_float(number_float_t val, const string_t&) override { return scalar(KeyValues::Real, 0, val, nullptr); }
  bool string(string_t& val) override { return scalar(KeyValues::Text, 0, 0.0, &val); }
  bool binary(binary_t&) override { return true; }  // JSON text has no binary values

  bool start_object(std::size_t) override { return open('{'); }
  bool start_array(std::size_t) override { return open('['); }
  bool end_object() override { return close('}'); }
  bool end_array() override { return close(']'); }

  bool key(string_t& val) override {
    if (capturing()) {
      separate();
      append_string(capture_, val);
      capture_ += ':';
      first_.back() = true;  // the value follows the colon without a comma
      return true;
    }
    if (depth_ == 1 && !in_list()) member_ = val;  // a member of the top-level object
    else key_ = val;
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw ValidationError(kind_.name, -1, "", std::string("not valid JSON (") + e.what() + ")");
  }

 private:
  bool in_list() const { return list_depth_ > 0 && !list_done_; }
  bool capturing() const { return capture_from_ > 0; }
  bool at_field() const { return in_list() && depth_ == list_depth_ + 1; }  // a record's member value
  bool at_record() const { return in_list() && depth_ == list_depth_; }    // an element of the list

  void separate() {
    if (!first_.back()) capture_ += tags_list_ && depth_ == capture_from_ ? ';' : ',';
    first_.back() = false;
  }

  bool scalar(KeyValues::Tag tag, int64_t i, double r, const std::string* text) {
    if (capturing()) {
      separate();
      const bool tag_item = tags_list_ && depth_ == capture_from_;  // a tag, joined with ';' unquoted
      if (!text) append_scalar(capture_, tag, i, r);
      else if (tag_item) capture_ += *text;
      else append_string(capture_, *text);
      return true;
    }
    if (at_record()) throw ValidationError(kind_.name, static_cast<int64_t>(rows_), "", "is not a JSON object");
    if (!at_field()) {
      if (depth_ == 0) throw ValidationError(kind_.name, -1, "", "does not hold a list of records");
      return true;  // a member of the top-level object other than the list
    }
    store(tag, i, r, text ? std::string(*text) : std::string());
    return true;
  }

  void store(KeyValues::Tag tag, int64_t i, double r, std::string text) {
    if (key_ == "id" || key_ == kCreatedColumn || key_ == kUpdatedColumn || tag == KeyValues::Missing) return;
    auto [it, added] = index_.try_emplace(key_, names_.size());
    if (added) names_.push_back(key_), values_.emplace_back();
    KeyValues& v = values_[it->second];
    const size_t row = rows_ - 1;
    if (v.tags.size() <= row) v.tags.resize(row + 1, KeyValues::Missing);
    v.tags[row] = tag;
    switch (tag) {
      case KeyValues::Int: v.ints.push_back(i); break;
      case KeyValues::Bool: v.ints.push_back(i), v.any_text = true; break;
      case KeyValues::Real: v.reals.push_back(r), v.any_real = true; break;
      case KeyValues::Text: v.texts.push_back(std::move(text)), v.any_text = true; break;
      case KeyValues::Missing: break;
    }
  }

  bool open(char bracket) {
    if (capturing()) {
      separate();
      capture_ += bracket;
      first_.push_back(true);
      ++depth_;
      return true;
    }
    if (depth_ == 0) {
      ++depth_;
      if (bracket == '[') list_depth_ = 1;
      return true;
    }
    if (depth_ == 1 && !in_list()) {  // a member's value in the top-level object
      ++depth_;
      if (bracket == '[' && member_ == kind_.name && !found_list()) list_depth_ = 2;
      else skip_from_ = depth_;
      return true;
    }
    if (skip_from_ > 0) return ++depth_, true;
    if (at_record()) {
      if (bracket != '{') throw ValidationError(kind_.name, static_cast<int64_t>(rows_), "", "is not a JSON object");
      ++rows_;
      ++depth_;
      return true;
    }
    if (at_field()) {  // an object or a list as a member's value: kept as text
      ++depth_;
      capture_from_ = depth_;
      tags_list_ = bracket == '[' && key_ == kTagsColumn;
      capture_.clear();
      if (!tags_list_) capture_ += bracket;
      first_.assign(1, true);
      return true;
    }
    ++depth_;
    return true;
  }

  bool close(char bracket) {
    if (capturing()) {
      if (depth_ == capture_from_) {
        if (!tags_list_) capture_ += bracket;
        capture_from_ = 0;
        --depth_;
        store(KeyValues::Text, 0, 0.0, std::move(capture_));
        capture_.clear();
        tags_list_ = false;
        return true;
      }
      capture_ += bracket;
      first_.pop_back();
      --depth_;
      return true;
    }
    if (skip_from_ > 0 && depth_ == skip_from_) skip_from_ = 0;
    if (in_list() && depth_ == list_depth_) list_done_ = true;  // later members are not read
    --depth_;
    return true;
  }

  const Kind& kind_;
  size_t rows_ = 0;
  int depth_ = 0;
  int list_depth_ = 0;   // the depth inside the records' list, once found
  int skip_from_ = 0;    // inside a top-level member that is not the list
  int capture_from_ = 0; // inside a member value kept as text
  bool tags_list_ = false;
  bool list_done_ = false;  // the records' list has closed
  std::string member_, key_;
  std::string capture_;
  std::vector<bool> first_;  // per open container while capturing: no element yet
  std::vector<std::string> names_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<KeyValues> values_;
};

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
  RecordReader reader(k);
  try {
    Json::sax_parse(in, &reader);
  } catch (const ValidationError& e) {
    if (e.row() >= 0) throw;
    throw ValidationError(k.name, -1, "", "'" + path + "' " + e.reason());
  }
  if (!reader.found_list()) throw ValidationError(k.name, -1, "", "'" + path + "' does not hold a list of records");
  return store.insert(kind_name, reader.table(), on_error, progress);
}

}  // namespace crmcore::records
