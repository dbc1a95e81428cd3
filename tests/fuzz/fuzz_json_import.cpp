// Fuzzes the JSON record reader: the input is a file given to
// records::import_json for several kinds (OnError::Skip). A refusal must be a
// crmcore::Error; a record the store accepts must read back (select) as the
// file said, judged against nlohmann's DOM parser, which the reader under
// test does not use (it reads with SAX).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "crmcore/records/json_io.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"
#include "fuzz_support.hpp"

namespace {

using Json = nlohmann::json;
using crmcore::fuzz::finding;
using crmcore::fuzz::known;
using crmcore::fuzz::shown;
using namespace crmcore::records;

// Kinds that between them have every field type: text, choices, phone and
// e-mail lookups (customers), references, times and amounts (orders),
// ranged integers and reals (tickets), flags and optional references (tasks).
constexpr const char* kKinds[] = {"customers", "orders", "tickets", "tasks"};

// ---- the reference reading of the file ----------------------------------

// One record as the file spells it: every member in order, repeated keys
// kept (the DOM alone would keep the last).
using Members = std::vector<std::pair<std::string, Json>>;

struct Reference {
  bool valid_json = false;
  bool has_list = false;      // the top-level list, or the first list member named after the kind
  bool only_objects = true;   // every element of that list is an object
  std::vector<Members> records;
};

// nlohmann's parser callback reports each event with the depth of the
// container it belongs to: a record's object_start at the list's depth, its
// members' keys and scalar values one deeper, and a member's object or list
// value at its object_end/array_end, again one deeper.
Reference read_reference(const std::string& text, const std::string& kind) {
  Reference ref;
  bool top_object = false, list_open = false, record_open = false;
  int list_depth = -1;  // depth of the records' object_start events
  std::string member, key;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    using E = Json::parse_event_t;
    if (depth == 0 && event == E::object_start) top_object = true;
    if (depth == 0 && event == E::array_start) list_open = ref.has_list = true, list_depth = 1;
    if (top_object && depth == 1 && event == E::key) member = parsed.get<std::string>();
    if (top_object && depth == 1 && event == E::array_start && member == kind && !ref.has_list)
      list_open = ref.has_list = true, list_depth = 2;
    if (!list_open) return true;
    if (depth == list_depth - 1 && event == E::array_end) {
      list_open = false;
    } else if (depth == list_depth) {
      record_open = event == E::object_start;
      if (record_open) ref.records.emplace_back();
      else if (event == E::value || event == E::array_start) ref.only_objects = false;
    } else if (depth == list_depth + 1 && record_open) {
      if (event == E::key) key = parsed.get<std::string>();
      else if (event == E::value || event == E::object_end || event == E::array_end)
        ref.records.back().emplace_back(key, std::move(parsed));  // the DOM itself is not needed
    }
    return true;
  };
  ref.valid_json = !Json::parse(text, callback, /*allow_exceptions=*/false).is_discarded();
  return ref;
}

// ---- independent readings of typed text ---------------------------------

bool is_c_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::string_view trim_c_space(std::string_view s) {
  while (!s.empty() && is_c_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_c_space(s.back())) s.remove_suffix(1);
  return s;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// A decimal number, whole text, spaces around and a leading '+' allowed.
template <class T>
std::optional<T> decimal(std::string_view s) {
  s = trim_c_space(s);
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || end != s.data() + s.size()) return std::nullopt;
  if (ec == std::errc()) return v;
  if constexpr (std::is_floating_point_v<T>) {
    // from_chars calls a subnormal (1e-310) out of range too; it is a number.
    const double d = std::strtod(std::string(s).c_str(), nullptr);
    if (ec == std::errc::result_out_of_range && std::isfinite(d)) return d;
  }
  return std::nullopt;
}

std::optional<int64_t> flag(std::string_view s) {
  std::string t(trim_c_space(s));
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* yes : {"1", "true", "yes", "y", "t"})
    if (t == yes) return 1;
  for (const char* no : {"0", "false", "no", "n", "f"})
    if (t == no) return 0;
  return std::nullopt;
}

std::string joined_tags(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    for (const auto& tag : split_values(item)) out += (out.empty() ? "" : ";") + tag;
  return out;
}

// ---- findings already known (fuzz_support.hpp) ----------------------------

// A number text the store reads with strtod/strtoll, which stop at a NUL and
// take hexadecimal ("0x1A" is 26).
bool known_number_text(const Json& v) {
  if (!v.is_string()) return false;
  const auto& t = v.get_ref<const std::string&>();
  return (t.find('\0') != std::string::npos && known("number-text-nul")) ||
         (t.find_first_of("xX") != std::string::npos && known("number-text-hex"));
}

// An unsigned number above INT64_MAX inside an object or list member, which
// the reader writes back quoted, as a string.
bool known_big_unsigned(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() > INT64_MAX && known("json-big-uint-quoted");
  if (!v.is_structured()) return false;
  return std::any_of(v.begin(), v.end(), [](const Json& e) { return known_big_unsigned(e); });
}

bool repeats_a_key(const Members& members) {
  std::set<std::string> keys;
  for (const auto& m : members)
    if (!keys.insert(m.first).second) return true;
  return false;
}

// Records with nothing the reader keeps ({}, only nulls, only "id"): when no
// record has more, the reader's table has no column and so no rows.
bool keeps_no_field(const std::vector<Members>& records) {
  return std::all_of(records.begin(), records.end(), [](const Members& members) {
    return std::all_of(members.begin(), members.end(), [](const auto& m) {
      return m.second.is_null() || m.first == "id" || m.first == kCreatedColumn || m.first == kUpdatedColumn;
    });
  });
}

// ---- comparing what was stored with what the file said ------------------

struct Stored {
  const Store& store;
  const Column& col;
  size_t row;

  bool null() const { return !col.present(row); }
  const std::string& text() const { return col.texts[row]; }
  int64_t integer() const { return col.ints[row]; }
  double real() const { return col.reals[row]; }
};

// Whether the stored value is what `v` (the file's value for the member)
// should have become. A value the store may write in more than one way
// (a number in a text field) only has to be there.
bool stored_as(const Kind& k, const std::string& key, const Json& v, const Stored& s) {
  if (key == kTagsColumn) {
    std::vector<std::string> items;
    if (v.is_string()) items.push_back(v.get<std::string>());
    else if (v.is_array() && std::all_of(v.begin(), v.end(), [](const Json& e) { return e.is_string(); }))
      for (const auto& e : v) items.push_back(e.get<std::string>());
    else return true;  // numbers or lists inside: written as JSON text first, no one form to expect
    const std::string expected = joined_tags(items);
    return expected.empty() ? s.null() : !s.null() && s.text() == expected;
  }
  if (key == kCustomColumn) {
    if (v.is_null()) return s.null();
    Json object = v;
    if (v.is_string()) {
      if (blank(v.get<std::string>())) return s.null();
      object = Json::parse(v.get<std::string>(), nullptr, false);
    }
    if (!object.is_object()) return false;  // the store took something that is not an object
    if (object.empty()) return s.null();
    if (known_big_unsigned(object)) return true;
    return !s.null() && Json::parse(s.text(), nullptr, false) == object;
  }
  const Field* f = k.field(key);
  if (!f) return false;  // an unknown member must have refused the whole file
  if (v.is_null() || (v.is_string() && blank(v.get<std::string>())))
    return f->default_value.empty() ? s.null() : !s.null();
  if (s.null()) return false;  // a value given and taken must not be lost ("nan" is refused, not missing)
  switch (f->type) {
    case FieldType::Text:
      if (!f->choices.empty() && std::find(f->choices.begin(), f->choices.end(), s.text()) == f->choices.end())
        return false;
      if (v.is_string()) return s.text() == v.get<std::string>();
      if (v.is_structured()) return known_big_unsigned(v) || Json::parse(s.text(), nullptr, false) == v;
      return true;
    case FieldType::Real: {
      std::optional<double> expected;
      if (v.is_number()) expected = v.get<double>();
      else if (v.is_string()) expected = decimal<double>(v.get<std::string>());
      if (!expected) return known_number_text(v);
      if (f->min < f->max && (s.real() < f->min || s.real() > f->max)) return false;
      return s.real() == *expected;
    }
    case FieldType::Integer:
    case FieldType::Ref:
    case FieldType::AnyRef: {
      std::optional<int64_t> expected;
      if (v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= INT64_MAX))
        expected = v.get<int64_t>();
      else if (v.is_number_float() && v.get<double>() == std::floor(v.get<double>()) && std::fabs(v.get<double>()) < 9.2e18)
        expected = static_cast<int64_t>(v.get<double>());
      else if (v.is_string())
        expected = decimal<int64_t>(v.get<std::string>());
      if (!expected) return known_number_text(v);
      if (s.integer() != *expected) return false;
      if (f->min < f->max && (s.integer() < f->min || s.integer() > f->max)) return false;
      if (f->type == FieldType::Ref && s.store.kind_of(s.integer()) != f->ref_kind) return false;
      return true;
    }
    case FieldType::Time:
      if (v.is_number_integer()) return s.integer() == v.get<int64_t>();  // nanoseconds, as pandas keeps them
      if (v.is_string()) return parse_time(v.get<std::string>()) == s.integer();
      return false;
    case FieldType::Bool: {
      std::optional<int64_t> expected;
      if (v.is_boolean()) expected = v.get<bool>() ? 1 : 0;
      else if (v.is_string()) expected = flag(v.get<std::string>());
      else if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) expected = v.get<int64_t>();
      return expected && s.integer() == *expected;
    }
  }
  return false;
}

// Every stored column of one accepted record against the record in the file.
void check_record(const Store& store, const Kind& k, const Members& members, const Table& read, size_t row) {
  for (const auto& col : read.columns) {
    if (col.name == "id" || col.name == kCreatedColumn || col.name == kUpdatedColumn) continue;
    const Stored s{store, col, row};
    // A repeated key may have been read as any of its values, but as one of them.
    bool given = false, matched = false;
    for (const auto& [key, value] : members) {
      if (key != col.name) continue;
      given = true;
      matched = matched || stored_as(k, key, value, s);
    }
    if (!given) {
      const Field* f = k.field(col.name);
      matched = (f && !f->default_value.empty()) || s.null();
    }
    if (!matched) {
      std::string got = s.null() ? "null"
                        : col.storage == Column::Storage::Text ? shown(s.text())
                        : col.storage == Column::Storage::Int  ? std::to_string(s.integer())
                                                               : std::to_string(s.real());
      std::string file;
      for (const auto& [key, value] : members)
        if (key == col.name) file += (file.empty() ? "" : " or ") + value.dump(-1, ' ', false, Json::error_handler_t::replace);
      finding(k.name + " record " + std::to_string(row) + " field '" + col.name + "': the file says " +
              (given ? file : "nothing") + ", the store read back " + got);
    }
    // A phone or e-mail the store took must find its record again.
    const Field* f = k.field(col.name);
    if (f && f->lookup != Lookup::None && !s.null()) {
      const int64_t id = read.columns.front().ints[row];
      for (const auto& part : split_values(s.text())) {
        const auto ids = store.find(k.name, col.name, part);
        if (std::find(ids.begin(), ids.end(), id) == ids.end())
          finding(k.name + " id " + std::to_string(id) + ": find(" + col.name + "=" + shown(part) + ") misses it");
      }
    }
  }
}

void check_import(Store& store, const std::string& path, const std::string& text, const char* kind_name) {
  const Kind& k = kind(kind_name);
  const Reference ref = read_reference(text, kind_name);
  const int64_t before = store.count(kind_name);
  WriteResult result;
  const bool refused = crmcore::fuzz::refused([&] { result = import_json(store, kind_name, path, OnError::Skip); });
  if (refused) {
    if (store.count(kind_name) != before) finding(std::string("a refused import of ") + kind_name + " wrote records");
    return;
  }
  if (!ref.valid_json) finding(std::string("import_json(") + kind_name + ") took text that is not JSON");
  if (!ref.has_list || !ref.only_objects)
    finding(std::string("import_json(") + kind_name + ") took a file without a list of objects");
  if (result.ids.size() != ref.records.size()) {
    if (keeps_no_field(ref.records) && known("json-empty-records")) return;
    finding("import_json(" + k.name + ") returned " + std::to_string(result.ids.size()) + " ids for " +
            std::to_string(ref.records.size()) + " records");
  }
  std::vector<int64_t> accepted;
  std::vector<size_t> rows;
  for (size_t r = 0; r < result.ids.size(); ++r)
    if (result.ids[r] >= 0) accepted.push_back(result.ids[r]), rows.push_back(r);
  if (result.errors.size() + accepted.size() != result.ids.size())
    finding("import_json(" + k.name + "): skipped rows and errors do not match");
  for (const auto& e : result.errors)
    if (e.row < 0 || static_cast<size_t>(e.row) >= result.ids.size() || result.ids[static_cast<size_t>(e.row)] != -1)
      finding("import_json(" + k.name + "): an error names row " + std::to_string(e.row) + ", which was not skipped");
  if (store.count(kind_name) != before + static_cast<int64_t>(accepted.size()))
    finding("import_json(" + k.name + "): the count does not grow by the records accepted");
  if (accepted.empty()) return;
  // A repeated key shifts the values of the records after it, whichever they are.
  if (std::any_of(ref.records.begin(), ref.records.end(), repeats_a_key) && known("json-repeated-keys")) return;
  const Table read = store.select(kind_name, &accepted);
  for (size_t i = 0; i < accepted.size(); ++i) check_record(store, k, ref.records[rows[i]], read, i);
}

// Records the files may refer to: customers 1 and 2, staff 3, contact 4.
Store& seeded_store() {
  static Store store(":memory:");
  static const bool seeded = [] {
    auto names = [](std::vector<std::string> values) {
      Table t;
      t.columns.emplace_back("name", Column::Storage::Text);
      t.columns.back().texts = std::move(values);
      return t;
    };
    store.insert("customers", names({"上海星海科技有限公司", "Li Lei"}));
    store.insert("staff", names({"王芳"}));
    store.insert("contacts", names({"Zhang Wei"}));
    return true;
  }();
  (void)seeded;
  return store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static crmcore::fuzz::InputFile file;
  Store& store = seeded_store();
  const std::string& path = file.write(data, size);
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Each input's records are rolled back: the next input meets the same store.
  store.begin();
  for (const char* k : kKinds) check_import(store, path, text, k);
  store.rollback();
  return 0;
}
