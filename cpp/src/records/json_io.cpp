#include "crmcore/records/json_io.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "json_text.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

using json_text::Json;  // only its SAX parser is used: records never become a document

using json_text::append_int;
using json_text::append_real;
using json_text::append_string;

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
      for (const auto& tag : split_tags(c.texts[row])) {
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
  size_t seen_in_row = 0;                   // 1 + the last row that had this key
  std::vector<std::pair<size_t, std::string>> problems;  // rows whose value cannot be used, and why
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
// named after the kind), one object per record. The custom member's object
// is kept as compact JSON text, a list of tags as the store's tag list;
// an object or a list given for any other member cannot be one value of it,
// and is a problem of that row, as are a key repeated in one record and
// values nested too deep. "id", "created_at" and "updated_at" are read and
// dropped: the store gives its own.
class RecordReader : public nlohmann::json_sax<Json> {
 public:
  explicit RecordReader(const Kind& k) : kind_(k), nested_(kMaxCustomDepth) {}

  // Whether the file held the records' list (at the top, or as the kind's member).
  bool found_list() const { return list_depth_ > 0; }

  Table table() {
    Table t;
    if (names_.empty() && rows_ > 0) {
      // Records with no field the reader keeps ([{}]) are still records:
      // one empty column carries their number, and the store then names
      // each missing required field.
      Column none(kTagsColumn, Column::Storage::Text);
      none.texts.resize(rows_);
      none.valid.assign(rows_, 0);
      t.columns.push_back(std::move(none));
      return t;
    }
    for (size_t c = 0; c < names_.size(); ++c) {
      KeyValues& v = values_[c];
      v.tags.resize(rows_, KeyValues::Missing);
      const std::string& name = names_[c];
      const bool text = v.any_text || name == kTagsColumn || name == kCustomColumn;
      Column col(name, text ? Column::Storage::Text : v.any_real ? Column::Storage::Real : Column::Storage::Int);
      col.valid.assign(rows_, 0);
      col.problems = std::move(v.problems);
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

  bool null() override {
    if (nesting()) return tag_item(nullptr, "null"), nested_.null();
    return scalar(KeyValues::Missing, 0, 0.0, nullptr);
  }
  bool boolean(bool val) override {
    if (nesting()) return tag_item(nullptr, "true/false"), nested_.boolean(val);
    return scalar(KeyValues::Bool, val ? 1 : 0, 0.0, nullptr);
  }
  bool number_integer(number_integer_t val) override {
    if (nesting()) return tag_number(val), nested_.number_integer(val);
    return scalar(KeyValues::Int, val, 0.0, nullptr);
  }
  bool number_unsigned(number_unsigned_t val) override {
    if (nesting()) return tag_number(val), nested_.number_unsigned(val);
    if (val <= static_cast<number_unsigned_t>(INT64_MAX))
      return scalar(KeyValues::Int, static_cast<int64_t>(val), 0.0, nullptr);
    std::string text = std::to_string(val);  // too large for the store's integers: let it say so
    return scalar(KeyValues::Text, 0, 0.0, &text);
  }
  bool number_float(number_float_t val, const string_t& raw) override {
    if (nesting()) return tag_item(nullptr, "a fraction"), nested_.number_float(val, raw);
    return scalar(KeyValues::Real, 0, val, nullptr);
  }
  bool string(string_t& val) override {
    if (nesting()) {
      if (in_tags()) tag_item(&val, "");
      return nested_.string(val);
    }
    return scalar(KeyValues::Text, 0, 0.0, &val);
  }
  bool binary(binary_t&) override { return true; }  // JSON text has no binary values

  bool start_object(std::size_t n) override { return open('{', n); }
  bool start_array(std::size_t n) override { return open('[', n); }
  bool end_object() override { return close('}'); }
  bool end_array() override { return close(']'); }

  bool key(string_t& val) override {
    if (nesting()) return nested_.key(val);
    if (depth_ == 1 && !in_list()) member_ = val;  // a member of the top-level object
    else key_ = val;
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw ValidationError(kind_.name, -1, "", std::string("not valid JSON (") + e.what() + ")");
  }

 private:
  bool in_list() const { return list_depth_ > 0 && !list_done_; }
  bool nesting() const { return nesting_; }
  bool at_field() const { return in_list() && depth_ == list_depth_ + 1; }  // a record's member value
  // Whether the value being read is an item of a record's list of tags.
  bool in_tags() const { return nesting_ && nested_kind_ == '[' && key_ == kTagsColumn && nested_.depth() == 1; }

  template <typename Number>
  void tag_number(Number val) {
    if (!in_tags()) return;
    const std::string text = std::to_string(val);
    tag_item(&text, "");
  }

  // An item of a list of tags: text (or a whole number, read as its text)
  // is a tag; anything else (`what`) makes the list a problem of its row.
  void tag_item(const std::string* text, const char* what) {
    if (!in_tags()) return;
    if (text && text->find(kTagSeparator) != std::string::npos) {
      if (tag_problem_.empty()) tag_problem_ = "a tag holds a control character";
    } else if (text) {
      tags_.push_back(*text);
    } else if (tag_problem_.empty()) tag_problem_ = std::string("tags must be text, not ") + what;
  }
  bool at_record() const { return in_list() && depth_ == list_depth_; }    // an element of the list

  bool scalar(KeyValues::Tag tag, int64_t i, double r, const std::string* text) {
    if (at_record()) throw ValidationError(kind_.name, static_cast<int64_t>(rows_), "", "is not a JSON object");
    if (!at_field()) {
      if (depth_ == 0) throw ValidationError(kind_.name, -1, "", "does not hold a list of records");
      return true;  // a member of the top-level object other than the list
    }
    store(tag, i, r, text ? std::string(*text) : std::string());
    return true;
  }

  // The values of the current record's key `key_`, or null when the key is
  // one the store gives itself, or the record gave it before (which marks
  // the row).
  KeyValues* values_of_key() {
    if (key_ == "id" || key_ == kCreatedColumn || key_ == kUpdatedColumn) return nullptr;
    auto [it, added] = index_.try_emplace(key_, names_.size());
    if (added) names_.push_back(key_), values_.emplace_back();
    KeyValues& v = values_[it->second];
    if (v.seen_in_row == rows_) {
      // Two values for one field: taking either would be a guess, and
      // pushing both shifted every later record's value by one.
      mark(v, "appears twice in this record");
      return nullptr;
    }
    v.seen_in_row = rows_;
    return &v;
  }

  void mark(KeyValues& v, std::string why) {
    const size_t row = rows_ - 1;
    if (v.problems.empty() || v.problems.back().first != row) v.problems.emplace_back(row, std::move(why));
  }

  void store(KeyValues::Tag tag, int64_t i, double r, std::string text) {
    if (KeyValues* v = values_of_key(); v && tag != KeyValues::Missing) keep(*v, tag, i, r, std::move(text));
  }

  void keep(KeyValues& v, KeyValues::Tag tag, int64_t i, double r, std::string text) {
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

  // The end of a member's value that was an object or a list.
  void store_nested() {
    nesting_ = false;
    KeyValues* v = values_of_key();
    if (!v) return;
    if (!nested_.problem().empty()) return mark(*v, nested_.problem());
    if (key_ == kCustomColumn) {
      if (nested_kind_ != '{') return mark(*v, "must be a JSON object of custom fields");
      if (nested_.text() != "{}") keep(*v, KeyValues::Text, 0, 0.0, nested_.take_text());
    } else if (key_ == kTagsColumn) {
      if (nested_kind_ != '[') return mark(*v, "must be a list of tags");
      if (!tag_problem_.empty()) return mark(*v, tag_problem_);
      keep(*v, KeyValues::Text, 0, 0.0, join_tags(tags_));
    } else {
      mark(*v, std::string("is a JSON ") + (nested_kind_ == '{' ? "object" : "list") + ", not a single value");
    }
  }

  bool open(char bracket, std::size_t n) {
    if (nesting()) {
      if (in_tags()) tag_item(nullptr, bracket == '{' ? "an object" : "a list");
      return bracket == '{' ? nested_.start_object(n) : nested_.start_array(n);
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
    if (at_field()) {  // an object or a list as a member's value
      nesting_ = true;
      nested_kind_ = bracket;
      nested_.reset();
      tags_.clear();
      tag_problem_.clear();
      if (bracket == '{') nested_.start_object(n);
      else nested_.start_array(n);
      return true;
    }
    ++depth_;
    return true;
  }

  bool close(char bracket) {
    if (nesting()) {
      if (bracket == '}') nested_.end_object();
      else nested_.end_array();
      if (nested_.done()) store_nested();
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
  bool list_done_ = false;  // the records' list has closed
  std::string member_, key_;
  // A member's value that is an object or a list, written by nested_.
  bool nesting_ = false;
  char nested_kind_ = 0;
  json_text::Compactor nested_;
  std::vector<std::string> tags_;  // the items of a list of tags
  std::string tag_problem_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<KeyValues> values_;
};

}  // namespace

size_t export_json(const Store& store, const std::string& kind_name, const std::string& path) {
  return write_json(kind_name, store.select(kind_name), path);
}

size_t write_json(const std::string& kind_name, const Table& t, const std::string& path) {
  const Kind& k = kind(kind_name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    const std::string folder = folder_problem(path);
    throw StorageError("cannot write '" + path + "'" + (folder.empty() ? "" : ": " + folder));
  }
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
                        const Progress& progress, bool dry_run) {
  return store.insert(kind_name, read_json(kind_name, path), on_error, progress, dry_run);
}

Table read_json(const std::string& kind_name, const std::string& path) {
  const Kind& k = kind(kind_name);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw StorageError("'" + path + "' is a folder, not a JSON file");
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
  return reader.table();
}

}  // namespace crmcore::records
