// Fuzzes the JSON record reader: the input is a file given to
// records::import_json for several kinds (OnError::Skip). A refusal must be a
// crmcore::Error; a record the store accepts must be one it may take, and
// read back (select) as the file said, judged against nlohmann's DOM parser
// (the reader under test reads with SAX) and the documented readers of typed
// text in normalize.hpp (themselves checked by fuzz_normalize).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crmcore/records/json_io.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"
#include "fuzz_support.hpp"

namespace {

// Ordered: custom fields keep their members' order, and equality says so.
using Json = nlohmann::ordered_json;
using crmcore::fuzz::blank;
using crmcore::fuzz::finding;
using crmcore::fuzz::has_control;
using crmcore::fuzz::JsonShape;
using crmcore::fuzz::known;
using crmcore::fuzz::shown;
using crmcore::fuzz::trimmed;
using namespace crmcore::records;

// Kinds that between them have every field type: text, choices, phone and
// e-mail lookups (customers), references, times and amounts (orders),
// ranged integers and reals (tickets), flags and optional references (tasks).
constexpr const char* kKinds[] = {"customers", "orders", "tickets", "tasks"};

// ---- the reference reading of the file ----------------------------------

// One member of a record as the file spells it, with the shape of its value.
struct Member {
  std::string key;
  Json value;
  JsonShape shape;
};
// A record: every member in order, repeated keys kept (the DOM alone would
// keep the last).
using Members = std::vector<Member>;

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
  std::string member;
  JsonShape shape;
  std::string key;
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
    } else if (depth > list_depth && record_open) {
      if (depth == list_depth + 1 && event == E::key) {
        key = parsed.get<std::string>();
        shape.reset();
        return true;
      }
      shape.event(event, parsed);
      if (depth == list_depth + 1 && (event == E::value || event == E::object_end || event == E::array_end))
        ref.records.back().push_back({key, std::move(parsed), shape});  // the DOM itself is not needed
    }
    return true;
  };
  ref.valid_json = !Json::parse(text, callback, /*allow_exceptions=*/false).is_discarded();
  return ref;
}

// Records with nothing the reader keeps ({}, only nulls, only "id"): when no
// record has more, the reader's table has no column and so no rows.
bool keeps_no_field(const std::vector<Members>& records) {
  return std::all_of(records.begin(), records.end(), [](const Members& members) {
    return std::all_of(members.begin(), members.end(), [](const Member& m) {
      return m.value.is_null() || m.key == "id" || m.key == kCreatedColumn || m.key == kUpdatedColumn;
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

// The tags a member's value stands for, or nullopt when the store must
// refuse them: list items that are not text or whole numbers, or a tag
// holding a control character (the separator 0x1F among them). A list's
// items are tags as they are, ';' and ',' included; a text is a person's list.
std::optional<std::vector<std::string>> expected_tags(const Json& v) {
  std::vector<std::string> tags;
  if (v.is_string()) {
    tags = crmcore::fuzz::documented_tags(v.get_ref<const std::string&>());
  } else if (v.is_array()) {
    for (const auto& item : v) {
      if (!item.is_string() && !item.is_number_integer()) return std::nullopt;
      const std::string text = item.is_string() ? item.get<std::string>() : item.dump();
      if (!blank(text)) tags.emplace_back(trimmed(text));
    }
  } else {
    return std::nullopt;
  }
  std::vector<std::string> unique;  // a tag given twice is one tag
  for (auto& tag : tags) {
    if (has_control(tag)) return std::nullopt;
    if (std::find(unique.begin(), unique.end(), tag) == unique.end()) unique.push_back(std::move(tag));
  }
  return unique;
}

// A list of tags one of which holds the separator 0x1F: the store splits it.
bool known_separator_in_tag(const Json& v) {
  return std::any_of(v.begin(), v.end(), [](const Json& item) {
           return item.is_string() && item.get_ref<const std::string&>().find('\x1f') != std::string::npos;
         }) &&
         known("tags-separator-in-tag");
}

// Whether the stored value is what member `m` of the file should have
// become, when the store took its record. A value the store may write in
// more than one way (a number in a text field) only has to be there.
bool stored_as(const Kind& k, const Member& m, const Stored& s) {
  const Json& v = m.value;
  if (m.key == kTagsColumn) {
    const auto tags = expected_tags(v);
    if (!tags && v.is_array() && known_separator_in_tag(v)) return true;
    if (!tags) return v.is_null() && s.null();
    return tags->empty() ? s.null() : !s.null() && s.text() == join_tags(*tags);
  }
  if (m.key == kCustomColumn) {
    if (v.is_null()) return s.null();
    Json object = v;
    JsonShape shape = m.shape;
    if (v.is_string()) {  // custom fields given as JSON text
      if (blank(v.get<std::string>())) return s.null();
      if (!crmcore::fuzz::opens_object(v.get_ref<const std::string&>())) return false;
      shape.reset();
      object = Json::parse(
          v.get<std::string>(), [&shape](int, Json::parse_event_t e, Json& parsed) { return shape.event(e, parsed), true; },
          false);
    }
    if (!object.is_object() || shape.repeated_key() || shape.depth() > kMaxCustomDepth) return false;
    if (object.empty()) return s.null();
    return !s.null() && Json::parse(s.text(), nullptr, false) == object;
  }
  const Field* f = k.field(m.key);
  if (!f || v.is_structured()) return false;  // an unknown member, an object or a list: not to be taken
  if (v.is_null() || (v.is_string() && blank(v.get<std::string>())))
    return f->default_value.empty() ? s.null() : !s.null();
  if (s.null()) return false;  // a value given and taken must not be lost
  const std::optional<std::string> text = v.is_string() ? std::optional(v.get<std::string>()) : std::nullopt;
  switch (f->type) {
    case FieldType::Text:
      if (!f->choices.empty() && std::find(f->choices.begin(), f->choices.end(), s.text()) == f->choices.end())
        return false;
      if (text) return text->find('\0') == std::string::npos && s.text() == *text;
      return true;
    case FieldType::Real: {
      std::optional<double> expected;
      if (v.is_number()) expected = v.get<double>();
      else if (text) expected = parse_amount(*text);
      if (!expected || (f->min < f->max && (s.real() < f->min || s.real() > f->max))) return false;
      return s.real() == *expected;
    }
    case FieldType::Integer:
    case FieldType::Ref:
    case FieldType::AnyRef: {
      std::optional<int64_t> expected;
      if (v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= INT64_MAX)) {
        expected = v.get<int64_t>();
      } else if (v.is_number_float() && v.get<double>() == std::floor(v.get<double>()) &&
                 std::fabs(v.get<double>()) <= 9.0e15) {
        expected = static_cast<int64_t>(v.get<double>());
      } else if (text) {
        expected = parse_whole_number(*text);
        const auto amount = f->type == FieldType::Integer ? parse_amount(*text) : std::nullopt;  // "1,200" counts
        if (!expected && amount && *amount == std::floor(*amount) && std::fabs(*amount) <= 9.0e15)
          expected = static_cast<int64_t>(*amount);
      }
      if (!expected || s.integer() != *expected) return false;
      if (f->min < f->max && (s.integer() < f->min || s.integer() > f->max)) return false;
      return f->type != FieldType::Ref || s.store.kind_of(s.integer()) == f->ref_kind;
    }
    case FieldType::Time:  // text only: a plain number could be seconds or nanoseconds
      return text && parse_time(*text) == s.integer();
    case FieldType::Bool: {
      std::optional<int64_t> expected;
      if (v.is_boolean()) expected = v.get<bool>() ? 1 : 0;
      else if (text) expected = parse_bool(*text);
      else if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) expected = v.get<int64_t>();
      return expected && s.integer() == *expected;
    }
  }
  return false;
}

// Every stored column of one accepted record against the record in the file.
void check_record(const Store& store, const Kind& k, const Members& members, const Table& read, size_t row) {
  for (size_t i = 0; i < members.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (members[i].key == members[j].key && members[i].key != "id" && members[i].key != kCreatedColumn &&
          members[i].key != kUpdatedColumn)
        finding(k.name + " record " + std::to_string(row) + ": taken with the key " + shown(members[i].key) + " twice");
  for (const auto& col : read.columns) {
    if (col.name == "id" || col.name == kCreatedColumn || col.name == kUpdatedColumn) continue;
    const Stored s{store, col, row};
    const auto given = std::find_if(members.begin(), members.end(), [&](const Member& m) { return m.key == col.name; });
    const Field* f = k.field(col.name);
    const bool matched = given != members.end()
                             ? stored_as(k, *given, s)
                             : (f && !f->default_value.empty()) || s.null() ||
                                   // the write path's rules fill it (a ticket's status times): theirs, not
                                   // a field shifted from elsewhere
                                   (f && f->written_by_store);
    if (!matched) {
      std::string got = s.null() ? "null"
                        : col.storage == Column::Storage::Text ? shown(s.text())
                        : col.storage == Column::Storage::Int  ? std::to_string(s.integer())
                                                               : std::to_string(s.real());
      finding(k.name + " record " + std::to_string(row) + " field '" + col.name + "': the file says " +
              (given != members.end() ? given->value.dump(-1, ' ', false, Json::error_handler_t::replace) : "nothing") +
              ", the store read back " + got);
    }
    // A phone or e-mail the store took must find its record again.
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
  const Table read = store.select(kind_name, &accepted);
  for (size_t i = 0; i < accepted.size(); ++i) check_record(store, k, ref.records[rows[i]], read, i);
}

// Records the seed files refer to: customers 8 and 9, staff 10, contact 11
// (a new store gives ids 1 to 7 to its own pipeline and stages). If the
// store starts elsewhere, the seeds' references no longer name these
// records and their orders, tickets and tasks would all be refused: say so.
Store& seeded_store() {
  static Store store(":memory:");
  static const bool seeded = [] {
    auto add = [](const char* kind, std::vector<std::string> names) {
      Table t;
      t.columns.emplace_back("name", Column::Storage::Text);
      t.columns.back().texts = std::move(names);
      return store.insert(kind, t).ids;
    };
    const std::vector<int64_t> ids[] = {add("customers", {"上海星海科技有限公司", "Li Lei"}), add("staff", {"王芳"}),
                                        add("contacts", {"Zhang Wei"})};
    if (ids[0] != std::vector<int64_t>{8, 9} || ids[1] != std::vector<int64_t>{10} || ids[2] != std::vector<int64_t>{11}) {
      std::fprintf(stderr, "fuzz_json_import: the seeded records got other ids than 8..11; update the ids in "
                           "tests/fuzz/corpus/json_import/ and here\n");
      std::abort();
    }
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
