// A person's right to be forgotten (Store::erase_person): everything that
// says who they were leaves the store in one transaction, and the bytes
// leave the file too (secure delete zeroes what SQLite frees; the WAL,
// which still holds old pages, is emptied after the commit). On PostgreSQL
// the same statements run through the boundary, and the touched tables are
// vacuumed after the commit: see erase_person's note on what that reaches.
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "batch.hpp"
#include "contact_points.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/sha256.hpp"
#include "dialect.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

// What an erased required text field holds instead.
const std::string kErased = "(erased)";
// Shorter values are not looked for inside other records' text: "Li" would
// blank half the store.
constexpr size_t kMinMention = 6;

// The fields of `k` that hold free text a person could be described in:
// text without a fixed list of values, other than the kind's codes.
bool is_free_text(const Field& f) {
  return f.type == FieldType::Text && f.choices.empty() && f.name != kExternalSource && f.name != kExternalId;
}

// The fields of a person's record that say who they are, and whose values
// are looked for in the text of other records.
bool identifies(const Field& f) { return f.lookup != Lookup::None || f.name == "name" || f.name == "address"; }

// Fields of the records about a person where what was said to or about them
// is written down (an interaction's summary, a ticket's resolution, an
// order's delivery location): cleared whole, not only where they are named.
bool is_narrative(const Field& f) {
  static const char* const kNarrative[] = {"summary", "outcome", "next_step", "resolution", "comment", "response",
                                           "subject", "stage_reason", "reason", "location", "description"};
  for (const char* name : kNarrative)
    if (f.name == name) return f.type == FieldType::Text;
  return false;
}

// Clears the person's own record: every free text to NULL (a required one
// to "(erased)"), its times (a birthday), tags and custom fields to NULL.
// Fixed choices (a customer's kind) stay.
void blank_person(const sql::Db& db, const Kind& k, int64_t id) {
  // (?3 last: PostgreSQL cannot prepare a statement skipping a parameter number.)
  std::string sets;
  for (const auto& f : k.fields) {
    if (is_free_text(f) || f.name == kExternalId || f.name == kExternalSource)
      sets += f.name + (f.required ? " = ?3, " : " = NULL, ");
    else if (f.type == FieldType::Time && !f.required)
      sets += f.name + " = NULL, ";
  }
  sql::Statement st(db, "UPDATE " + k.name + " SET " + sets + "tags = NULL, custom = NULL, updated_at = ?2 WHERE id = ?1");
  st.bind(1, id).bind(2, now_ns());
  if (sets.find("?3") != std::string::npos) st.bind(3, kErased);
  st.run();
}

// Clears the narrative fields of a record about the person; the rest of it
// (amounts, dates, status) is the business's and stays. True when one of
// them held something (a record with nothing to clear is not written).
bool blank_narrative(const sql::Db& db, const Kind& k, int64_t id) {
  std::string sets, held;
  for (const auto& f : k.fields)
    if (is_narrative(f)) {
      sets += f.name + (f.required ? " = ?3, " : " = NULL, ");
      held += (held.empty() ? "" : " OR ") + f.name + (f.required ? " <> ?3" : " IS NOT NULL");
    }
  if (sets.empty()) return false;
  sql::Statement st(db, "UPDATE " + k.name + " SET " + sets + "updated_at = ?2 WHERE id = ?1 AND (" + held +
                            ") RETURNING id");
  st.bind(1, id).bind(2, now_ns());
  if (sets.find("?3") != std::string::npos) st.bind(3, kErased);
  const bool cleared = st.step();
  st.reset();
  return cleared;
}

// Those of `values` that hold none of the others: every one of `values`
// holds at least one of them, so a text holding none of them holds none of
// `values`. (A number's national form is inside its forms with a country
// code: the ~200 forms of a number come down to one or two.)
std::vector<std::string> innermost(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    const bool holds_another = std::any_of(values.begin(), values.end(), [&](const std::string& w) {
      return w.size() < v.size() && v.find(w) != std::string::npos;
    });
    if (!holds_another && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

// `text` with every occurrence of `value` replaced by `by`, left to right,
// none overlapping: what SQLite's and PostgreSQL's replace() give.
std::string replaced(std::string_view text, std::string_view value, std::string_view by) {
  std::string out;
  size_t from = 0;
  for (size_t at = text.find(value); at != std::string_view::npos; at = text.find(value, from)) {
    out.append(text, from, at - from).append(by);
    from = at + value.size();
  }
  return out.append(text, from, std::string_view::npos);
}

// The columns of `k` whose text blank_mentions looks through: tags, custom
// fields and free text, and, in the records about the person (`about`),
// their names, phones and e-mails too.
std::vector<std::string> mention_columns(const Kind& k, bool about) {
  std::vector<std::string> columns = {kTagsColumn, kCustomColumn};
  for (const auto& f : k.fields)
    if (f.type == FieldType::Text && f.lookup == Lookup::None && f.name != "name") columns.push_back(f.name);
  if (about)
    for (const auto& f : k.fields)
      if (f.type == FieldType::Text && (f.lookup != Lookup::None || f.name == "name")) columns.push_back(f.name);
  return columns;
}

// SQLite: crm_holds_any(n, needle_1 .. needle_n, text...) is 1 when one of
// the texts holds one of the needles. A table's rows are looked through by
// SQLite itself, one call per row: only the few that hold one come back
// (returning every row to be looked at here costs a step and a read per
// column each; instr() per column and needle, a plain search each, more).
void holds_any(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  const int needles = sqlite3_value_int(argv[0]);
  for (int t = 1 + needles; t < argc; ++t) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[t]));
    if (!p) continue;
    const std::string_view text(p, static_cast<size_t>(sqlite3_value_bytes(argv[t])));
    for (int n = 1; n <= needles; ++n) {
      const std::string_view needle(reinterpret_cast<const char*>(sqlite3_value_text(argv[n])),
                                    static_cast<size_t>(sqlite3_value_bytes(argv[n])));
      if (text.find(needle) != std::string_view::npos) return sqlite3_result_int(ctx, 1);
    }
  }
  sqlite3_result_int(ctx, 0);
}

// What blank_mentions found: how many (record, column, value) held the value
// at its turn (what one UPDATE per column and value would count), and the
// records it changed.
struct Blanked {
  int64_t mentions = 0;
  std::vector<int64_t> records;
};

// Replaces each of `values` (longest first) in turn inside the text fields,
// tags and custom fields of `k`'s records (those in `ids`, or all) with
// "[erased]".
//
// One pass over the table: the records to change are read once (all of
// `ids`, or those whose text holds one of `values`' innermost forms, the
// only rows that can hold any of them), the replacements are made here in
// the same order replace() would make them, and each changed record is
// written once, its changed columns only.
Blanked blank_mentions(const sql::Db& db, const Kind& k, const std::vector<std::string>& values,
                       const std::vector<int64_t>* ids) {
  const std::vector<std::string> columns = mention_columns(k, ids != nullptr);
  const Dialect dialect(db);
  std::string select = "SELECT id";
  for (const auto& column : columns) select += ", " + column;
  select += " FROM " + k.name + " WHERE ";
  sql::Batch only(1);
  // Parameter i + 1 is the i-th innermost value (only their number is in the text).
  const std::vector<std::string> inner = ids ? std::vector<std::string>() : innermost(values);
  if (ids) {
    for (const int64_t& id : *ids) only.add_row()[0].set_int(id);
    select += "id IN (SELECT c0 FROM crm_batch(?1))";
  } else if (dialect.sqlite()) {
    select += "crm_holds_any(" + std::to_string(inner.size());
    for (size_t i = 0; i < inner.size(); ++i) select += ", ?" + std::to_string(i + 1);
    for (const auto& column : columns) select += ", " + column;
    select += ")";
  } else {
    std::string any;  // (the server picks the rows: the others are not sent)
    for (const auto& column : columns)
      for (size_t i = 0; i < inner.size(); ++i)
        any += (any.empty() ? "" : " OR ") + dialect.instr(column, "?" + std::to_string(i + 1)) + " > 0";
    select += any;
  }
  struct Changed {
    int64_t id;
    std::vector<std::optional<std::string>> texts;  // per column: its new text, when it changed
  };
  std::vector<Changed> changes;
  Blanked blanked;
  {
    sql::Statement st(db, select);
    if (ids) sql::bind_batch(st, only);
    for (size_t i = 0; i < inner.size(); ++i) st.bind(static_cast<int>(i + 1), inner[i]);
    std::string scratch;
    while (st.step()) {
      Changed row{st.int64(0), std::vector<std::optional<std::string>>(columns.size())};
      bool any = false;
      for (size_t c = 0; c < columns.size(); ++c) {
        const int at = static_cast<int>(c + 1);
        if (st.is_null(at)) continue;
        std::string text(st.text_view(at, scratch));
        bool changed = false;
        for (const auto& v : values)
          if (text.find(v) != std::string::npos) {
            text = replaced(text, v, "[erased]");
            ++blanked.mentions;
            changed = true;
          }
        if (changed) row.texts[c] = std::move(text), any = true;
      }
      if (any) changes.push_back(std::move(row));
    }
  }
  // One statement per set of changed columns (most records: the same one).
  std::map<std::vector<bool>, sql::Statement> updates;
  for (const auto& row : changes) {
    std::vector<bool> which(columns.size());
    std::string sets;
    int n = 1;
    for (size_t c = 0; c < columns.size(); ++c)
      if (row.texts[c]) {
        which[c] = true;
        sets += (sets.empty() ? "" : ", ") + columns[c] + " = ?" + std::to_string(++n);
      }
    auto it = updates.find(which);
    if (it == updates.end())
      it = updates.emplace(which, sql::Statement(db, "UPDATE " + k.name + " SET " + sets + " WHERE id = ?1")).first;
    blanked.records.push_back(row.id);
    sql::Statement& st = it->second;
    st.bind(1, row.id);
    n = 1;
    for (size_t c = 0; c < columns.size(); ++c)
      if (row.texts[c]) st.bind(++n, *row.texts[c]);
    st.run();
  }
  return blanked;
}

// The part of an entry that lists records one by one (an import's rules:
// {"rules": {rule: {"ids", ...}}, "records": {id: {...}}}; a large upsert's
// updates: {"records": {id: {...}}}) about records other than `theirs`, less
// any record's part that mentions one of `contacts` (their phone or e-mail
// in another record's text); none when the entry is of another form,
// nothing else is left, or what is left still mentions one of `contacts`.
// Each record's part is judged as an entry of its own would be: their name
// in another record's part (a namesake's) stays. `untouched` tells an
// upsert's entry that holds nothing of theirs (its range of ids only spans
// theirs; of an import's entry, its rules did nothing to their rows): it
// stays as it is.
std::optional<std::string> others_part(const std::string& text, const std::set<int64_t>& theirs,
                                       const std::set<std::string>& contacts, bool& untouched) {
  using nlohmann::json;
  untouched = false;
  json changes = json::parse(text, nullptr, false);
  const bool listed = changes.is_object() && changes.contains("records") && changes["records"].is_object();
  const bool of_rules = listed && changes.size() == 2 && changes.contains("rules") && changes["rules"].is_object();
  if (!listed || !(of_rules || changes.size() == 1)) return std::nullopt;
  auto mentions = [&](const json& part) {
    const std::string dumped = part.dump(-1, ' ', false, json::error_handler_t::replace);
    return std::any_of(contacts.begin(), contacts.end(),
                       [&](const std::string& v) { return v.size() >= 3 && dumped.find(v) != std::string::npos; });
  };
  json rules = json::object(), records = json::object();
  size_t dropped = 0;  // their ids taken out of the rules' lists, and the records' parts dropped
  if (of_rules) {
    for (auto& [rule, acted] : changes["rules"].items()) {
      if (!acted.is_object() || !acted.contains("ids") || !acted["ids"].is_array()) return std::nullopt;
      json ids = json::array();
      for (const auto& id : acted["ids"])
        if (!id.is_number_integer() || !theirs.count(id.get<int64_t>())) ids.push_back(id);
      dropped += acted["ids"].size() - ids.size();
      if (ids.empty()) continue;
      acted["ids"] = std::move(ids);
      rules[rule] = std::move(acted);
    }
  }
  for (auto& [id, fields] : changes["records"].items()) {
    int64_t number = -1;
    try {
      number = std::stoll(id);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (!theirs.count(number) && !mentions(fields)) records[id] = std::move(fields);
    else ++dropped;
  }
  // An entry whose range of ids only spans theirs (a run of updates, or an
  // import whose rules did nothing to their row) holds nothing of theirs:
  // it keeps its text, salt and digest. (Rewriting it under a new salt
  // counted it as narrowed, and changed an entry the erasure had no reason
  // to touch.)
  if (dropped == 0 && !mentions(rules)) {
    untouched = true;
    return text;
  }
  if (rules.empty() && records.empty()) return std::nullopt;
  json rest_of = of_rules ? json{{"rules", std::move(rules)}, {"records", std::move(records)}}
                          : json{{"records", std::move(records)}};
  std::string rest = rest_of.dump(-1, ' ', false, json::error_handler_t::replace);
  for (const auto& v : contacts)
    if (v.size() >= 3 && rest.find(v) != std::string::npos) return std::nullopt;
  return rest;
}

// The audit entries holding values about the person: those whose records
// span one of `about` or were caused by one, and those holding one of
// `contacts` (their phone and e-mail forms, 3 bytes or more; found by the
// innermost of them, which every one holds). Not those merely holding
// their name or address: as in the records' scan, another person may share
// it, and a namesake's entries keep their values. Sorted, each once. One
// pass over the log on SQLite, the entries judged here; on PostgreSQL the
// server picks them (sparing the transfer).
std::vector<int64_t> entries_about(const sql::Db& db, std::vector<int64_t> about,
                                   const std::set<std::string>& contacts) {
  std::vector<std::string> named;
  for (const auto& v : contacts)
    if (v.size() >= 3) named.push_back(v);
  named = innermost(named);
  std::vector<int64_t> out;
  const Dialect dialect(db);
  if (dialect.sqlite()) {
    std::sort(about.begin(), about.end());
    sql::Statement st(db, "SELECT seq, first_id, last_id, cause_id, changes FROM audit_log WHERE changes IS NOT NULL");
    std::string scratch;
    while (st.step()) {
      bool holds = false;
      if (!st.is_null(1) && !st.is_null(2)) {  // (first_id BETWEEN ... is false on a NULL end)
        const auto at = std::lower_bound(about.begin(), about.end(), st.int64(1));
        holds = at != about.end() && *at <= st.int64(2);
      }
      if (!holds && !st.is_null(3)) holds = std::binary_search(about.begin(), about.end(), st.int64(3));
      if (!holds) {
        const std::string_view changes = st.text_view(4, scratch);
        holds = std::any_of(named.begin(), named.end(),
                            [&](const std::string& v) { return changes.find(v) != std::string_view::npos; });
      }
      if (holds) out.push_back(st.int64(0));
    }
    return out;
  }
  sql::Batch ids(1);
  for (const int64_t& record : about) ids.add_row()[0].set_int(record);
  sql::Statement spanning(db,
                          "SELECT seq FROM audit_log WHERE changes IS NOT NULL AND (EXISTS (SELECT 1 FROM "
                          "crm_batch(?1) AS b WHERE b.c0 BETWEEN first_id AND last_id OR b.c0 = cause_id))");
  sql::bind_batch(spanning, ids);
  while (spanning.step()) out.push_back(spanning.int64(0));
  if (!named.empty()) {
    // Parameter i + 1 is the i-th innermost value.
    std::string any;
    for (size_t i = 0; i < named.size(); ++i)
      any += (any.empty() ? "" : " OR ") + dialect.instr("changes", "?" + std::to_string(i + 1)) + " > 0";
    sql::Statement mention(db, "SELECT seq FROM audit_log WHERE changes IS NOT NULL AND (" + any + ")");
    for (size_t i = 0; i < named.size(); ++i) mention.bind(static_cast<int>(i + 1), named[i]);
    while (mention.step()) out.push_back(mention.int64(0));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A salt for a rewritten entry's digest, as the audit log's own salts are.
std::string fresh_salt() {
  unsigned char bytes[16];
  sqlite3_randomness(static_cast<int>(sizeof bytes), bytes);
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : bytes) hex += digits[b >> 4], hex += digits[b & 15];
  return hex;
}

// PostgreSQL, after an erasure's commit: the old versions of the rows it
// changed are dead tuples, readable in the tables' pages until VACUUM
// removes them (once no open transaction can still see them), and ANALYZE
// replaces the statistics' sampled values (pg_statistic may hold a common
// name). VACUUM cannot run inside a transaction block, so it runs after
// COMMIT, one statement for all the tables. False when the server refused;
// the erasure itself stands either way.
bool vacuum_after_erasure(const sql::Db& db, const std::set<std::string>& tables) {
  std::string list;
  for (const auto& t : tables) list += (list.empty() ? "" : ", ") + t;
  try {
    sql::exec(db, "VACUUM (ANALYZE) " + list);
    return true;
  } catch (const StorageError&) {
    return false;
  }
}

}  // namespace

void install_erasure_search(sqlite3* db) {
  if (sqlite3_create_function_v2(db, "crm_holds_any", -1, SQLITE_UTF8 | SQLITE_INNOCUOUS, nullptr, holds_any, nullptr,
                                 nullptr, nullptr) != SQLITE_OK)
    sql::fail(db, "cannot install crm_holds_any");
}

ErasureReport Store::erase_person(int64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_if_readonly();  // (runs on PostgreSQL too)
  if (transaction_depth_ > 0)
    throw Error("erase_person runs in a transaction of its own (its bytes must leave the file when it ends); "
                "commit or roll back first");
  Impl& impl = *impl_;
  const sql::Db& db = impl.db;
  const Dialect dialect(db);
  const Kind* person = nullptr;
  for (const char* name : {"customers", "contacts"})
    if (impl.has(name, id)) person = &kind(name);
  if (!person) throw NotFound("no customer or contact with id " + std::to_string(id));
  if (person->name == "customers") {
    sql::Statement st(db, "SELECT kind FROM customers WHERE id = ?");
    st.bind(1, id).step();
    if (st.text(0) == "organization")
      throw ValidationError("customers", -1, "kind", "is an organization, not a person: erase_person erases people",
                            id);
  }
  ErasureReport report;
  // The tables whose old row versions hold what is erased (PostgreSQL
  // vacuums them after the commit).
  std::set<std::string> touched = {person->name, "contact_points", "record_tags", "audit_log"};
  sql::exec(db, dialect.begin_write());
  try {
    mark_audit(impl);
    // 1. What identifies them: the record's text and the stored forms of
    // their phone numbers and e-mail addresses.
    std::set<std::string> said, contacts;  // contacts: their phone numbers and e-mail addresses, in every stored form
    {
      std::vector<const Field*> fields;
      std::string columns;
      for (const auto& f : person->fields)
        if (identifies(f)) {
          fields.push_back(&f);
          columns += (columns.empty() ? "" : ", ") + f.name;
        }
      sql::Statement st(db, "SELECT " + columns + " FROM " + person->name + " WHERE id = ?");
      st.bind(1, id).step();
      for (size_t i = 0; i < fields.size(); ++i) {
        const int c = static_cast<int>(i);
        const Field* f = fields[i];
        if (st.is_null(c)) continue;
        said.insert(st.text(c));
        if (f->lookup != Lookup::None) {
          contacts.insert(st.text(c));
          // The forms its lookup rows hold (contact_points.hpp).
          for (auto& value : stored_lookup_values(*f, st.text(c))) contacts.insert(std::move(value));
        }
        if (f->lookup == Lookup::Phone) {
          const std::string normalized = normalize_phone(st.text(c));
          if (!normalized.empty()) contacts.insert(normalized);
          for (const auto& form : phone_alternatives(normalized)) contacts.insert(form);
        }
      }
    }
    said.insert(contacts.begin(), contacts.end());
    std::vector<std::string> values, contact_forms;
    for (const auto& v : said)
      if (v.size() >= kMinMention) values.push_back(v);
    for (const auto& v : contacts)
      if (v.size() >= kMinMention) contact_forms.push_back(v);
    // Longest first: a number's national form is inside its international one.
    const auto longest_first = [](const std::string& a, const std::string& b) { return a.size() > b.size(); };
    std::sort(values.begin(), values.end(), longest_first);
    std::sort(contact_forms.begin(), contact_forms.end(), longest_first);

    // 2. The person's own record, contact points and tags.
    forget_all_lookups(impl, *person, id);
    blank_person(db, *person, id);
    report.records = report.records_changed = 1;

    // 3. The records about them (their orders, interactions, tickets, roles,
    // links): free text cleared, mentions blanked; the records themselves,
    // and the numbers in them, stay.
    std::vector<int64_t> about = {id};
    for (const auto& k : kinds()) {
      std::vector<int64_t> ids;
      for (const auto& f : k.fields) {
        if (!((f.type == FieldType::Ref && f.ref_kind == person->name) || f.type == FieldType::AnyRef)) continue;
        sql::Statement st(db, "SELECT id FROM " + k.name + " WHERE " + f.name + " = ?");
        st.bind(1, id);
        while (st.step()) ids.push_back(st.int64(0));
      }
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      if (ids.empty()) continue;
      const bool link_kind = k.cascade_on_delete || k.name == "links";
      std::set<int64_t> changed;
      for (int64_t record : ids)
        if (!link_kind && blank_narrative(db, k, record)) changed.insert(record);
      report.records += static_cast<int64_t>(ids.size());
      touched.insert(k.name);
      if (!values.empty())
        for (int64_t record : blank_mentions(db, k, values, &ids).records) changed.insert(record);
      report.records_changed += static_cast<int64_t>(changed.size());
      about.insert(about.end(), ids.begin(), ids.end());
    }
    // 4. Their phone or e-mail, as stored, mentioned anywhere else (their
    // name is not looked for there: another person may share it).
    if (!contact_forms.empty())
      for (const auto& k : kinds())
        if (const Blanked blanked = blank_mentions(db, k, contact_forms, nullptr); blanked.mentions) {
          report.records += blanked.mentions;  // (matches: see ErasureReport)
          report.records_changed += static_cast<int64_t>(blanked.records.size());
          touched.insert(k.name);
        }

    // 5. Merges they took part in keep their records' old values to undo them.
    {
      sql::Statement has(db, dialect.table_exists("merge_log"));
      if (has.step()) {
        sql::Statement st(db, "DELETE FROM merge_log WHERE kind = ?2 AND (keep_id = ?1 OR " +
                                  dialect.instr("',' || merged_ids || ','", "',' || ?1 || ','") + " > 0)");
        st.bind(1, id).bind(2, person->name).run();
        touched.insert("merge_log");
      }
    }

    // 6. The audit log's old and new values about them; the entries stay
    // (the chain needs them), their values go: every entry about one of
    // their records (the records in `about`; of a run's entry, their
    // records' part), and every entry holding their phone or e-mail. Their
    // name alone marks no entry about another record (as in step 4). The
    // erasure's own changes were noted by the triggers and are dropped unread.
    forget_captured_changes(impl);
    const std::vector<int64_t> redacted = entries_about(db, about, contacts);
    // An import's entry that lists what rules did to its rows keeps the
    // other records' part: only the person's ids leave it. Its digest then
    // no longer matches, so the erasure's own (chained) entry carries the
    // new one, under a new salt: the old salt would let the removed part be
    // guessed against the old digest.
    std::vector<int64_t> whole;
    nlohmann::json narrowed = nlohmann::json::object();
    {
      const std::set<int64_t> theirs(about.begin(), about.end());
      sql::Statement read(db, "SELECT changes FROM audit_log WHERE seq = ?");
      sql::Statement keep(db, "UPDATE audit_log SET changes = ?2, salt = ?3 WHERE seq = ?1");
      sql::Statement blank(db, "UPDATE audit_log SET changes = NULL, salt = NULL WHERE seq = ?");
      for (int64_t seq : redacted) {
        read.bind(1, seq).step();
        bool untouched = false;
        const std::optional<std::string> rest = others_part(read.text(0), theirs, contacts, untouched);
        read.reset();
        if (untouched) continue;
        if (!rest) {
          blank.bind(1, seq).run();
          whole.push_back(seq);
          continue;
        }
        const std::string salt = fresh_salt();
        keep.bind(1, seq).bind(2, *rest).bind(3, salt).run();
        narrowed[std::to_string(seq)] = sha256_hex(salt + *rest);
      }
    }
    report.audit_entries = static_cast<int64_t>(whole.size() + narrowed.size());  // (not the untouched)
    {
      nlohmann::json said_of = {{"redacted", whole}};
      if (!narrowed.empty()) said_of["narrowed"] = std::move(narrowed);
      const std::string changes = said_of.dump();
      sql::Statement st(db,
                        "INSERT INTO audit_log(at, op, kind, first_id, last_id, rows, changes)"
                        " VALUES(?1, 'erase', ?2, ?3, ?3, ?4, ?5)");
      st.bind(1, now_ns()).bind(2, person->name).bind(3, id).bind(4, report.records).bind(5, changes).run();
    }
    commit_write(impl, actor_, nullptr);
  } catch (...) {
    undo_write(db, "ROLLBACK");
    throw;
  }
  if (!db.is_sqlite()) {
    report.vacuumed = vacuum_after_erasure(db, touched);
    return report;
  }
  // The WAL still holds the pages as they were before; copied into the file
  // and truncated, it no longer does. A reader elsewhere can hold it open.
  int frames = 0, copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, &frames, &copied);
  report.wal_truncated = rc == SQLITE_OK;
  return report;
}

}  // namespace crmcore::records
