// Whether the records still hold what the audit log says crmcore wrote: the
// hash chain proves the log was not altered, this proves the records were
// not altered behind it (a program writing to the file with plain SQL).
#include "audit_records.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "crmcore/records/schema.hpp"
#include "sqlite.hpp"

namespace crmcore::records {

namespace {

using nlohmann::json;

// What the log says of one record: each field's last written value and the
// entry that wrote it.
struct Written {
  std::map<std::string, std::pair<json, int64_t>> fields;
  int64_t at = 0;  // when the newest of those entries was written
};

std::string shown(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

// The records an entry lists one by one ("records": {id: {field: [before,
// after]}}): an insert's rows as rules changed them, a large upsert's updates.
void note_listed_records(const json& changes, int64_t seq, int64_t at,
                         std::unordered_map<int64_t, Written>& known) {
  if (!changes.is_object() || !changes.contains("records") || !changes["records"].is_object()) return;
  for (const auto& [id, fields] : changes["records"].items()) {
    if (!fields.is_object() || id.empty() || id.find_first_not_of("0123456789") != std::string::npos) continue;
    Written& w = known[std::stoll(id)];
    w.at = at;
    for (const auto& [field, values] : fields.items())
      if (values.is_array() && values.size() == 2) w.fields[field] = {values[1], seq};
  }
}

}  // namespace

void check_records_against_log(const sql::Db& db, std::vector<AuditProblem>& problems) {
  // By kind, then record id, in the order the log was written.
  std::map<std::string, std::unordered_map<int64_t, Written>> written;
  std::map<std::string, std::map<int64_t, int64_t>> deleted;  // kind -> id -> the delete's seq
  sql::Statement st(db,
                    "SELECT seq, op, kind, first_id, last_id, changes, at FROM audit_log"
                    " WHERE first_id IS NOT NULL ORDER BY seq");
  while (st.step()) {
    const int64_t seq = st.int64(0);
    const std::string op = st.text(1), kind = st.text(2);
    const int64_t first = st.int64(3), last = st.is_null(4) ? first : st.int64(4);
    if (op == "erase") {
      // An erasure rewrites the person's records and the text about them
      // without an entry per field: nothing known before it still holds.
      written.clear();
      continue;
    }
    if (op == "insert") {
      // New records (or, undoing a merge, the same ids back): values unknown.
      auto& gone = deleted[kind];
      for (auto it = gone.lower_bound(first); it != gone.end() && it->first <= last;) it = gone.erase(it);
      auto& known = written[kind];
      for (int64_t id = first; id <= last && id - first < 1'000'000'000; ++id) known.erase(id);
      // The values automation rules gave some of the rows before they
      // landed ("records": {id: {field: [as given, as written]}}) are known.
      if (!st.is_null(5)) note_listed_records(json::parse(st.text(5), nullptr, false), seq, st.int64(6), known);
      continue;
    }
    if (op == "delete") {
      for (int64_t id = first; id <= last && id - first < 1'000'000'000; ++id) {
        deleted[kind][id] = seq;
        written[kind].erase(id);
      }
      continue;
    }
    if (st.is_null(5)) continue;
    if (first != last) {
      // A large upsert's entry: {"records": {id: {column: [old, new]}}} (audit.cpp).
      if (op == "update") note_listed_records(json::parse(st.text(5), nullptr, false), seq, st.int64(6), written[kind]);
      continue;
    }
    const json changes = json::parse(st.text(5), nullptr, false);
    if (!changes.is_object()) continue;
    Written& w = written[kind][first];
    w.at = st.int64(6);
    for (auto it = changes.begin(); it != changes.end(); ++it)
      if (it.value().is_array() && it.value().size() == 2) w.fields[it.key()] = {it.value()[1], seq};
  }
  st.reset();

  for (const auto& [kind_name, records] : written) {
    if (records.empty()) continue;
    const Kind* k = nullptr;
    for (const auto& candidate : kinds())
      if (candidate.name == kind_name) k = &candidate;
    if (!k) continue;
    // Every column the log captures, read as SQLite renders it in the log.
    std::vector<std::string> names;
    std::string list;
    for (const auto& f : k->fields) names.push_back(f.name);
    names.push_back(kTagsColumn);
    names.push_back(kCustomColumn);
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    const std::string array = db.is_sqlite() ? "json_array(" : "json_build_array(";
    sql::Statement row(db, "SELECT " + array + list + "), " + kUpdatedColumn + " FROM " + kind_name + " WHERE id = ?1");
    std::vector<int64_t> ids;
    for (const auto& [id, w] : records)
      if (!w.fields.empty()) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (int64_t id : ids) {
      const Written& w = records.at(id);
      row.bind(1, id);
      if (!row.step()) {
        row.reset();
        problems.push_back({w.fields.begin()->second.second,
                            kind_name + " " + std::to_string(id) +
                                " is missing, but the audit log has no delete of it: deleted outside crmcore"});
        continue;
      }
      const json now = json::parse(row.text(0), nullptr, false);
      // The write path's rules change records besides the one a write is
      // about (an invoice's paid amount, a ticket's status) with no entry of
      // their own, stamping updated_at: such a record the log cannot vouch for.
      const bool later = row.int64(1) > w.at;
      row.reset();
      if (later) continue;
      for (const auto& [field, value] : w.fields) {
        const auto at = std::find(names.begin(), names.end(), field);
        if (at == names.end() || !now.is_array()) continue;
        const json& held = now[static_cast<size_t>(at - names.begin())];
        if (held == value.first) continue;
        problems.push_back({value.second, kind_name + " " + std::to_string(id) + ", field '" + field +
                                              "': the file holds " + shown(held) + " but this entry wrote " +
                                              shown(value.first) + " and no later one changed it: changed outside crmcore"});
      }
    }
  }
  for (const auto& [kind_name, gone] : deleted) {
    if (gone.empty()) continue;
    sql::Statement there(db, "SELECT 1 FROM " + kind_name + " WHERE id = ?1");
    for (const auto& [id, seq] : gone) {
      there.bind(1, id);
      if (there.step())
        problems.push_back({seq, kind_name + " " + std::to_string(id) +
                                     " was deleted by this entry but is in the file again: restored outside crmcore"});
      there.reset();
    }
  }
}

}  // namespace crmcore::records
