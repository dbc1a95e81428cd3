// Fuzzes the text columns Store::insert takes as they come: the input is one
// customer's custom fields, another's tags and a third's name, inserted with
// OnError::Skip. The store must take exactly the custom text that is a JSON
// object it may keep (or blank), the tags and names that are valid text, and
// what it took must read back (select) equal and be found again.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"
#include "fuzz_support.hpp"

namespace {

// Ordered: custom fields keep their members' order, and equality says so.
using Json = nlohmann::ordered_json;
using crmcore::fuzz::blank;
using crmcore::fuzz::finding;
using crmcore::fuzz::shown;
using crmcore::fuzz::valid_utf8;
using namespace crmcore::records;

Column text_column(const char* name, std::vector<std::string> texts, std::vector<uint8_t> valid) {
  Column c(name, Column::Storage::Text);
  c.texts = std::move(texts);
  c.valid = std::move(valid);
  return c;
}

bool finds(const Store& store, const char* field, const std::string& value, int64_t id) {
  const auto ids = store.find("customers", field, value);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string shown_stored(const Column& stored) { return stored.present(0) ? shown(stored.texts[0]) : "null"; }

// The store keeps no NUL in text: a custom value whose key or text holds one is refused.
bool holds_nul(const Json& j) {
  if (j.is_string()) return j.get_ref<const std::string&>().find('\0') != std::string::npos;
  if (j.is_object()) {
    for (const auto& [key, value] : j.items())
      if (key.find('\0') != std::string::npos || holds_nul(value)) return true;
  } else if (j.is_array()) {
    for (const auto& value : j)
      if (holds_nul(value)) return true;
  }
  return false;
}

void check_custom(const std::string& input, int64_t id, const Column& stored) {
  crmcore::fuzz::JsonShape shape;
  const Json given = Json::parse(
      input, [&shape](int, Json::parse_event_t e, Json& parsed) { return shape.event(e, parsed), true; }, false);
  const bool keeps = !given.is_discarded() && given.is_object() && crmcore::fuzz::opens_object(input) &&
                     !shape.repeated_key() && shape.depth() <= kMaxCustomDepth && !holds_nul(given);
  if ((id >= 0) != (blank(input) || keeps))
    finding(std::string(id >= 0 ? "took" : "refused") + " the custom fields " + shown(input));
  if (id < 0) return;
  if (blank(input) || given.empty()) {
    if (stored.present(0)) finding("custom fields " + shown(input) + " read back as " + shown_stored(stored));
    return;
  }
  if (!stored.present(0) || Json::parse(stored.texts[0], nullptr, false) != given)
    finding("custom fields " + shown(input) + " read back as " + shown_stored(stored));
}

void check_tags(const Store& store, const std::string& input, int64_t id, const Column& stored) {
  std::vector<std::string> tags;  // a tag given twice is one tag
  bool valid = true;
  for (auto& tag : crmcore::fuzz::documented_tags(input)) {
    valid = valid && valid_utf8(tag) && !crmcore::fuzz::has_control(tag);
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(std::move(tag));
  }
  if ((id >= 0) != valid) finding(std::string(id >= 0 ? "took" : "refused") + " the tags " + shown(input));
  if (id < 0) return;
  if (tags.empty() ? stored.present(0) : !stored.present(0) || stored.texts[0] != join_tags(tags))
    finding("tags " + shown(input) + " read back as " + shown_stored(stored));
  for (const auto& tag : tags)
    if (!finds(store, "tag", tag, id)) finding("find(tag=" + shown(tag) + ") misses the record tagged so");
}

void check_name(const Store& store, const std::string& input, int64_t id, const Column& stored) {
  const bool valid = !blank(input) && valid_utf8(input) && input.find('\0') == std::string::npos;
  if ((id >= 0) != valid) finding(std::string(id >= 0 ? "took" : "refused") + " the name " + shown(input));
  if (id < 0) return;
  if (!stored.present(0) || stored.texts[0] != input)
    finding("name " + shown(input) + " read back as " + shown_stored(stored));
  if (!finds(store, "name", input, id)) finding("find(name=" + shown(input) + ") misses the record named so");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Store store(":memory:");
  const std::string input(reinterpret_cast<const char*>(data), size);
  // Three customers: the input as custom fields, as tags, as the name.
  Table t;
  t.columns.push_back(text_column("name", {"custom", "tags", input}, {}));
  t.columns.push_back(text_column(kCustomColumn, {input, "", ""}, {1, 0, 0}));
  t.columns.push_back(text_column(kTagsColumn, {"", input, ""}, {0, 1, 0}));
  store.begin();  // rolled back below: every input meets an empty store
  WriteResult result;
  if (crmcore::fuzz::refused([&] { result = store.insert("customers", t, OnError::Skip); }))
    finding("insert with OnError::Skip threw for " + shown(input));
  if (result.ids.size() != 3) finding("insert returned " + std::to_string(result.ids.size()) + " ids for 3 rows");
  auto read = [&](size_t row, const char* column) {
    if (result.ids[row] < 0) return Column();
    const std::vector<int64_t> ids{result.ids[row]};
    const std::vector<std::string> columns{column};
    return store.select("customers", &ids, &columns).columns.at(1);
  };
  check_custom(input, result.ids[0], read(0, kCustomColumn));
  check_tags(store, input, result.ids[1], read(1, kTagsColumn));
  check_name(store, input, result.ids[2], read(2, "name"));
  store.rollback();
  return 0;
}
