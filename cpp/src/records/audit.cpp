// The audit log's content and its hash chain. Each write's entries are
// completed ("sealed") inside the write's own transaction: the acting user,
// what changed (captured by per-connection triggers, so that every path that
// updates or deletes rows is seen without each one reporting), and a hash
// over the entry and the hash before it. Anything changed in the file by
// another program then breaks the chain where it was changed.
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <utility>

#include "crmcore/errors.hpp"
#include "audit_records.hpp"
#include "batch.hpp"
#include "crmcore/records/sha256.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

using nlohmann::json;

// The columns a capture records for `k`: its fields, tags and custom.
std::vector<std::string> captured_columns(const Kind& k) {
  std::vector<std::string> names;
  for (const auto& f : k.fields) names.push_back(f.name);
  names.push_back(kTagsColumn);
  names.push_back(kCustomColumn);
  return names;
}

// A removed row's values: {"removed": {column: value, ...}}.
std::string removed_sql(const Kind& k) {
  std::string args;
  for (const auto& name : captured_columns(k)) args += (args.empty() ? "'" : ", '") + name + "', OLD." + name;
  return "json_object('removed', json_object(" + args + "))";
}

// An update's changed columns only: {column: [old, new], ...} ("{}" when
// none), made by SQLite in the trigger so that a bulk update's entries need
// no parsing here.
std::string changed_sql(const Kind& k) {
  std::string rows;
  for (const auto& name : captured_columns(k))
    rows += (rows.empty() ? "" : " UNION ALL ") + std::string("SELECT '") + name + "' AS k, json_array(OLD." + name +
            ", NEW." + name + ") AS v WHERE OLD." + name + " IS NOT NEW." + name;
  return "(SELECT json_group_object(k, json(v)) FROM (" + rows + "))";
}

// An entry's hashed columns as text (SQLite's text of an integer is its
// decimal form); nullopt for NULL.
using Cells = std::vector<std::optional<std::string>>;

// The hashed text: each field length-prefixed, so that NULL and "" differ
// and no value can pass for two.
void append_hashed(std::string& text, const std::string* cell) {
  if (!cell) {
    text += "~;";
    return;
  }
  text += std::to_string(cell->size());
  text += ':';
  text += *cell;
  text += ';';
}

// The same for a whole number, as SQLite's text of it (its decimal form).
void append_hashed(std::string& text, int64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  text += std::to_string(end - digits);
  text += ':';
  text.append(digits, end);
  text += ';';
}

std::string entry_hash(const Cells& cells, const std::string& previous) {
  std::string text;
  for (const auto& cell : cells) append_hashed(text, cell ? &*cell : nullptr);
  return sha256_hex(text + previous);
}

Cells read_cells(const sql::Statement& st, int count) {
  Cells cells;
  for (int c = 0; c < count; ++c) cells.push_back(st.is_null(c) ? std::nullopt : std::optional(st.text(c)));
  return cells;
}

// Salts for a write's entries, drawn from SQLite's generator a few thousand
// at a time: asked for one by one, the generator's lock and set-up cost more
// than the 16 bytes themselves.
class Salts {
 public:
  std::string next() {
    if (used_ == bytes_.size()) {
      sqlite3_randomness(static_cast<int>(bytes_.size()), bytes_.data());
      used_ = 0;
    }
    static const char digits[] = "0123456789abcdef";
    std::string hex(32, '0');
    for (size_t i = 0; i < 16; ++i) {
      hex[2 * i] = digits[bytes_[used_ + i] >> 4];
      hex[2 * i + 1] = digits[bytes_[used_ + i] & 15];
    }
    used_ += 16;
    return hex;
  }

 private:
  std::vector<unsigned char> bytes_ = std::vector<unsigned char>(16 * 4096);
  size_t used_ = 16 * 4096;
};

// The entry columns the chain covers, in their hashed order.
constexpr const char* kHashedColumns = "seq, at, op, kind, first_id, last_id, rows, cause_id, actor, changes_hash";
constexpr int kHashed = 10;

// Positions among them.
constexpr int kActorColumn = 8, kChangesHashColumn = 9;

// What one record's captures say changed: the first capture's text, or,
// when a write touched the record more than once, the captures combined
// (the first old value and the last new one of each column).
struct Captured {
  std::string first;
  json combined;  // filled from the second capture on
  bool removed = false;
  // On a removal after other captures: those captures' changes, and the
  // row as the removal found it, for a write whose entries name the update
  // and the removal apart (split_update_and_removal).
  std::string updated_before_removal, removal;

  void add(std::string text, bool is_removal) {
    if (is_removal) {
      if (!first.empty() || !combined.is_null()) {
        updated_before_removal = this->text();
        removal = text;
      }
      // A row updated and then removed in one write: what was removed is
      // the row as it stood before the write, so the updates' old values win.
      json row = json::parse(text)["removed"];
      const json before = changes();
      for (auto it = before.begin(); it != before.end(); ++it) row[it.key()] = it.value()[0];
      first = json{{"removed", row}}.dump();
      combined = json();
      removed = true;
      return;
    }
    if (first.empty() && combined.is_null()) {
      first = std::move(text);
      return;
    }
    json next = json::parse(text), merged = changes();
    for (auto it = next.begin(); it != next.end(); ++it) {
      if (merged.contains(it.key())) merged[it.key()][1] = it.value()[1];
      else merged[it.key()] = it.value();
    }
    combined = std::move(merged);
  }
  json changes() const { return combined.is_null() ? (first.empty() ? json::object() : json::parse(first)) : combined; }
  std::string text() const { return combined.is_null() ? first : combined.dump(); }
};

// A record the write updated and then removed, each with an entry of its
// own (a merge moves a merged record's reference to another merged record,
// then deletes it): the update's entry takes the captures before the
// removal, the delete's the row as the removal found it, rather than the
// update's entry all of them combined and the delete's none. Returns the
// removals by record id; their records' captures become the updates alone.
// A record with no update entry of its own (a delete whose rules touched the
// row first) keeps the combined capture: the row before the write.
std::unordered_map<int64_t, std::string> split_update_and_removal(Store::Impl& impl,
                                                                  std::unordered_map<int64_t, Captured>& captured) {
  std::unordered_map<int64_t, std::string> removal_of;
  std::set<int64_t> candidates;
  for (const auto& [id, c] : captured)
    if (c.removed && !c.removal.empty() && !c.updated_before_removal.empty() && c.updated_before_removal != "{}")
      candidates.insert(id);
  if (candidates.empty()) return removal_of;
  auto& st = impl.prepared(
      "SELECT first_id FROM audit_log WHERE seq > ?1 AND hash IS NULL AND op = 'update' AND first_id = last_id");
  st.bind(1, impl.audit_mark);
  while (st.step()) {
    const int64_t id = st.int64(0);
    if (!candidates.erase(id)) continue;
    Captured& c = captured.at(id);
    removal_of.emplace(id, std::move(c.removal));
    Captured updates;
    updates.add(std::move(c.updated_before_removal), false);
    c = std::move(updates);
  }
  st.reset();
  return removal_of;
}

// The write path's rules change records besides those a write names (a
// payment marks its invoice paid, a receipt fills its purchase line): each
// such record gets an entry of its own, an update (or a delete), so that the
// log holds every change and audit_check can hold the records to it. The
// rows a write inserted are not among them: the rules' touches of those are
// part of the insert. Returned for seal_audit to append with the write's own
// entries: written here and read back there, a payments import that marked
// 50,000 invoices paid inserted, read, deleted and inserted again each entry.
struct SideEntry {
  bool removed;
  const std::string* kind;  // kind_of's, which outlives the entry
  int64_t id;
};

std::vector<SideEntry> side_changes(Store::Impl& impl, const std::unordered_map<int64_t, Captured>& captured,
                                    const std::map<int64_t, std::string>& kind_of, const std::vector<AuditUpdate>& kept) {
  std::vector<SideEntry> side;
  std::set<int64_t> named;
  for (const AuditUpdate& e : kept) named.insert(e.id);
  std::vector<std::pair<int64_t, int64_t>> inserted;
  {
    auto& st = impl.prepared(
        "SELECT op, first_id, last_id FROM audit_log WHERE seq > ?1 AND hash IS NULL AND first_id IS NOT NULL");
    st.bind(1, impl.audit_mark);
    while (st.step()) {
      const int64_t first = st.int64(1), last = st.is_null(2) ? first : st.int64(2);
      if (st.text(0) == "erase") {  // an erasure's changes are what must not be kept
        st.reset();
        return side;
      }
      if (st.text(0) == "insert") inserted.emplace_back(first, last);
      else if (first == last) named.insert(first);
    }
    st.reset();
  }
  for (const auto& [record, kind] : kind_of) {
    const int64_t id = record;  // a structured binding cannot be captured in C++17
    if (named.count(id)) continue;
    if (std::any_of(inserted.begin(), inserted.end(), [id](const auto& r) { return id >= r.first && id <= r.second; }))
      continue;
    const Captured& c = captured.at(id);
    if (!c.removed && (c.text().empty() || c.text() == "{}")) continue;  // touched, not changed
    side.push_back({c.removed, &kind, id});
  }
  return side;
}

// A large upsert's update entries: one entry per run of up to
// kRecordsPerEntryMax changed records (ids ascending), rather than one per
// record. An entry per record (its own salt, digest and hash in hex) was
// larger than the row it described, and writing and checkpointing 500,000
// of them cost about as much as the upsert's inserts. The entry names the
// range of its ids (first_id, last_id), how many records it holds (rows),
// and in its changes each record's {column: [old, new], ...} as the capture
// trigger writes it: {"records": {id: {...}, ...}}, the form an insert's
// entry gives what rules did to its rows. Every reader of the log takes
// both forms (audit_records.cpp, privacy.cpp, crmcore/audit.py, _preview.py).
constexpr size_t kRecordsPerEntryMin = 256, kRecordsPerEntryMax = 4096;

std::string update_records_entry(std::vector<AuditUpdate>::const_iterator from,
                                 std::vector<AuditUpdate>::const_iterator to) {
  size_t size = 16;
  for (auto it = from; it != to; ++it) size += it->changes.size() + 24;
  std::string out;
  out.reserve(size);
  out += "{\"records\":{";
  char digits[24];
  for (auto it = from; it != to; ++it) {
    if (it != from) out += ',';
    out += '"';
    out.append(digits, std::to_chars(digits, digits + sizeof digits, it->id).ptr);
    out += "\":";
    out += it->changes;
  }
  out += "}}";
  return out;
}

}  // namespace

namespace {

// The trigger that captures an update of `k`'s records.
std::string update_trigger_sql(const Kind& k) {
  return "CREATE TEMP TRIGGER IF NOT EXISTS crm_audit_" + k.name + "_updated AFTER UPDATE ON main." + k.name +
         " WHEN crm_audit_capturing() BEGIN INSERT INTO crm_audit_changes(record_id, removed, changes, kind) VALUES(OLD.id, 0, " +
         changed_sql(k) + ", '" + k.name + "'); END;";
}

// Whether this thread's bulk update captures its changes itself (audit_memory.hpp).
thread_local bool capture_paused = false;

void capturing(sqlite3_context* context, int, sqlite3_value**) { sqlite3_result_int(context, capture_paused ? 0 : 1); }

}  // namespace

CapturePaused::CapturePaused(bool on, sqlite3* db, const Kind* kind)
    : on_(on), db_(on ? db : nullptr), kind_(on ? kind : nullptr) {
  if (!on_) return;
  capture_paused = true;
  // A DDL change to the temp schema: the statements prepared with the
  // trigger are prepared again (by SQLite, on their next step) without it.
  if (db_ && kind_) sql::exec(db_, "DROP TRIGGER IF EXISTS temp.crm_audit_" + kind_->name + "_updated");
}

CapturePaused::~CapturePaused() {
  if (!on_) return;
  capture_paused = false;
  // Put back whatever happens; if this fails the write fails at its next
  // statement's check of the schema rather than here, in a destructor.
  if (db_ && kind_) sqlite3_exec(db_, update_trigger_sql(*kind_).c_str(), nullptr, nullptr, nullptr);
}

void install_audit_capture(sqlite3* db) {
  // Not deterministic: asked per row, as the flag may change between statements.
  if (sqlite3_create_function_v2(db, "crm_audit_capturing", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS, nullptr, capturing,
                                 nullptr, nullptr, nullptr) != SQLITE_OK)
    sql::fail(db, "cannot install the audit capture");
  std::string s =
      "CREATE TEMP TABLE IF NOT EXISTS crm_audit_changes(seq INTEGER PRIMARY KEY, record_id INTEGER NOT NULL,"
      " removed INTEGER NOT NULL, changes TEXT NOT NULL, kind TEXT NOT NULL);";
  for (const auto& k : kinds()) {
    s += update_trigger_sql(k);
    s += "CREATE TEMP TRIGGER IF NOT EXISTS crm_audit_" + k.name + "_deleted AFTER DELETE ON main." + k.name +
         " BEGIN INSERT INTO crm_audit_changes(record_id, removed, changes, kind) VALUES(OLD.id, 1, " +
         removed_sql(k) + ", '" + k.name + "'); END;";
  }
  sql::exec(db, s);
}

void forget_captured_changes(Store::Impl& impl) {
  impl.prepared("DELETE FROM " + Dialect(impl.db).temp("crm_audit_changes")).run();
}

void mark_audit(Store::Impl& impl) {
  auto& st = impl.prepared("SELECT coalesce(max(seq), 0) FROM audit_log");
  st.step();
  impl.audit_mark = st.int64(0);
  st.reset();
  impl.audit_memory.entries.clear();  // a write rolled back before its seal leaves its own
}

void commit_write(Store::Impl& impl, const std::string& actor, const char* savepoint) {
  seal_audit(impl, actor);
  sql::exec(impl.db, savepoint ? std::string("RELEASE ") + savepoint : std::string("COMMIT"));
}

void seal_audit(Store::Impl& impl, const std::string& actor) {
  // The update entries an upsert kept in memory (audit_memory.hpp): their
  // changes are the first captures of their records, as the trigger's were.
  std::vector<AuditUpdate> kept = std::move(impl.audit_memory.entries);
  impl.audit_memory.entries.clear();
  // By record id: ids are unique across kinds.
  std::unordered_map<int64_t, Captured> captured;
  std::map<int64_t, std::string> kind_of;  // of each captured record, by id (in order)
  auto keep_captures_apart = [&] {
    // Kept entries that name their records once, and no capture of the
    // triggers names, are their own changes (the usual upsert); otherwise
    // they are their records' first captures, combined as the triggers'.
    std::vector<int64_t> ids;
    ids.reserve(kept.size());
    for (const auto& e : kept) ids.push_back(e.id);
    std::sort(ids.begin(), ids.end());
    return std::adjacent_find(ids.begin(), ids.end()) == ids.end();
  };
  const bool apart = !kept.empty() && keep_captures_apart();
  if (!apart) {
    for (auto& e : kept) {
      captured[e.id].add(std::move(e.changes), false);
      kind_of.emplace(e.id, e.kind);
    }
  }
  {
    const Dialect dialect(impl.db);
    auto& st = impl.prepared("SELECT record_id, removed, changes, kind FROM " + dialect.temp("crm_audit_changes") +
                             " ORDER BY seq");
    while (st.step()) {
      // PostgreSQL's json spaces its text: the same content written as SQLite writes it, in the columns' order.
      captured[st.int64(0)].add(dialect.sqlite() ? st.text(2) : nlohmann::ordered_json::parse(st.text(2)).dump(),
                                st.int64(1) != 0);
      kind_of.emplace(st.int64(0), st.text(3));
    }
    st.reset();
  }
  if (apart) {
    for (auto& e : kept) {
      auto it = captured.find(e.id);
      if (it == captured.end()) continue;
      // A rule changed the record after the upsert did: one capture, the upsert's first.
      Captured both;
      both.add(std::move(e.changes), false);
      both.add(it->second.text(), it->second.removed);
      it->second = std::move(both);
      e.changes.clear();
    }
  }
  std::unordered_map<int64_t, std::string> removal_of =
      captured.empty() ? std::unordered_map<int64_t, std::string>() : split_update_and_removal(impl, captured);
  const std::vector<SideEntry> side =
      captured.empty() ? std::vector<SideEntry>() : side_changes(impl, captured, kind_of, kept);
  std::string previous;
  {
    auto& st = impl.prepared("SELECT hash FROM audit_log WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1");
    if (st.step()) previous = st.text(0);
    st.reset();
  }
  // The write's entries are read, completed and hashed in memory, then
  // written back whole: deleted and appended again with the same seq. An
  // UPDATE that grows each row in place (a bulk update has an entry per
  // record) cost SQLite a B-tree rebalance per row; appending whole rows in
  // order fills pages from the end. The entries kept in memory join them in
  // the order they were made; the write's entries are then numbered again
  // from the mark on.
  // On PostgreSQL the write's entries are always numbered here, from the
  // mark on (under the write's lock, Dialect::begin_write): the chain hashes
  // each entry's seq, so the number must be known before the row is written,
  // and the identity column's sequence is not transactional, so the numbers
  // it gave a write that rolled back (a dry run, a refusal) would be gaps
  // audit_check reports as deleted entries. The sequence is then set to the
  // last number in the same transaction (below), so that the next write's
  // unsealed entries, numbered by it, never meet one this seal wrote (the
  // rules' side entries and an upsert's kept ones are written with their
  // numbers). SQLite numbers a new row after the largest seq by itself.
  const bool on_postgres = !impl.db.is_sqlite();
  enum : size_t { kSeq, kAt, kOp, kKind, kFirst, kLast, kRows, kCause, kActor, kChanges, kSalt, kChangesHash, kHash,
                  kWidth };
  sql::Batch sealed(kWidth);
  const bool renumber = !kept.empty() || on_postgres;
  int64_t last_seq = renumber ? impl.audit_mark : 0;
  Salts salts;
  // An update's entry without changes of its own takes what its record's
  // captures say (the rules' touches of the rows an insert added, a new
  // deal's probability, are part of the insert, not changes).
  auto described = [&](int64_t id) -> std::optional<std::string> {
    auto it = captured.find(id);
    if (it == captured.end()) return std::nullopt;
    std::string text = it->second.text();
    captured.erase(it);
    if (text.empty() || text == "{}") return std::nullopt;
    return text;
  };
  // The actor, the changes with their salt and digest, and the hash.
  auto complete = [&](sql::Cell* row, Cells& cells, std::optional<std::string> changes) {
    if (!cells[kActorColumn] && !actor.empty()) cells[kActorColumn] = actor;
    if (cells[kActorColumn]) row[kActor].set_text(sealed.keep(*cells[kActorColumn]));
    if (changes) {
      // A salt of its own keeps the digest of a short value (a phone number)
      // from being guessed once the value is erased.
      const std::string salt = salts.next();
      cells[kChangesHashColumn] = sha256_hex(salt + *changes);
      row[kChanges].set_text(sealed.keep(std::move(*changes)));
      row[kSalt].set_text(sealed.keep(salt));
    }
    if (cells[kChangesHashColumn]) row[kChangesHash].set_text(sealed.keep(*cells[kChangesHashColumn]));
    previous = entry_hash(cells, previous);
    row[kHash].set_text(sealed.keep(previous));
  };
  size_t next_kept = 0;
  // An upsert's entries are most of a large write's: each is hashed from
  // one reused buffer (the text entry_hash would make of its cells) rather
  // than through a vector of cells and a dozen strings per entry.
  static const std::string kUpdateOp = "update";
  const std::string* actor_text = nullptr;
  std::string text;
  auto seal_update = [&](int64_t at, const std::string& kind, int64_t first, int64_t last, int64_t rows,
                         std::optional<std::string> changes) {
    sql::Cell* row = sealed.add_row();
    row[kSeq].set_int(++last_seq);
    row[kAt].set_int(at);
    row[kOp].set_text(&kUpdateOp);
    row[kKind].set_text(&kind);
    row[kFirst].set_int(first);
    row[kLast].set_int(last);
    row[kRows].set_int(rows);
    if (!actor.empty()) {
      if (!actor_text) actor_text = sealed.keep(actor);
      row[kActor].set_text(actor_text);
    }
    const std::string* changes_hash = nullptr;
    if (changes) {
      std::string salt = salts.next();
      changes_hash = sealed.keep(sha256_hex(salt + *changes));
      row[kChanges].set_text(sealed.keep(std::move(*changes)));
      row[kSalt].set_text(sealed.keep(std::move(salt)));
      row[kChangesHash].set_text(changes_hash);
    }
    text.clear();
    append_hashed(text, last_seq);
    append_hashed(text, at);
    append_hashed(text, &kUpdateOp);
    append_hashed(text, &kind);
    append_hashed(text, first);
    append_hashed(text, last);
    append_hashed(text, rows);
    append_hashed(text, nullptr);  // cause_id
    append_hashed(text, actor_text);
    append_hashed(text, changes_hash);
    text += previous;
    const std::string* hash = sealed.keep(sha256_hex(text));
    previous = *hash;
    row[kHash].set_text(hash);
  };
  // A large upsert's entries of one call (same kind and time) with changes
  // of their own are sealed as update_records_entry's entries; those of its
  // records a rule changed too (their changes combined with the rule's,
  // above) after them, an entry each.
  auto seal_kept_before = [&](int64_t seq) {
    while (next_kept < kept.size() && kept[next_kept].after_seq < seq) {
      const AuditUpdate& head = kept[next_kept];
      size_t end = next_kept;
      while (end < kept.size() && kept[end].after_seq == head.after_seq && kept[end].at == head.at &&
             kept[end].kind == head.kind)
        ++end;
      const auto first = kept.begin() + static_cast<std::ptrdiff_t>(next_kept),
                 last = kept.begin() + static_cast<std::ptrdiff_t>(end);
      auto has_own = [](const AuditUpdate& e) { return !e.changes.empty(); };
      const auto count = apart ? static_cast<size_t>(std::count_if(first, last, has_own)) : 0;
      if (count >= kRecordsPerEntryMin) {
        std::stable_partition(first, last, has_own);
        const size_t pieces = (count + kRecordsPerEntryMax - 1) / kRecordsPerEntryMax;
        for (size_t p = 0; p < pieces; ++p) {
          const auto from = first + static_cast<std::ptrdiff_t>(count * p / pieces);
          const auto to = first + static_cast<std::ptrdiff_t>(count * (p + 1) / pieces);
          std::sort(from, to, [](const AuditUpdate& a, const AuditUpdate& b) { return a.id < b.id; });
          seal_update(from->at, from->kind, from->id, (to - 1)->id, static_cast<int64_t>(to - from),
                      update_records_entry(from, to));
        }
        next_kept += count;
      }
      // The rest of the call's entries (all of them when few), an entry each.
      for (; next_kept < end; ++next_kept) {
        AuditUpdate& e = kept[next_kept];
        seal_update(e.at, e.kind, e.id, e.id, 1,
                    apart && !e.changes.empty() ? std::optional(std::move(e.changes)) : described(e.id));
      }
    }
  };
  auto& st = impl.prepared(std::string("SELECT ") + kHashedColumns +
                           ", changes, salt FROM audit_log WHERE seq > ?1 AND hash IS NULL ORDER BY seq");
  st.bind(1, impl.audit_mark);
  auto copy_int = [&](sql::Cell& cell, int column) {
    if (!st.is_null(column)) cell.set_int(st.int64(column));
  };
  while (st.step()) {
    Cells cells = read_cells(st, kHashed);
    int64_t seq = st.int64(0);
    seal_kept_before(seq);
    if (renumber) cells[0] = std::to_string(seq = ++last_seq);
    last_seq = seq;
    const bool single = !st.is_null(4) && st.int64(4) == st.int64(5);
    std::optional<std::string> changes;
    if (!st.is_null(kHashed)) changes = st.text(kHashed);
    if (!changes && single && *cells[2] == "delete") {
      const auto removal = removal_of.find(st.int64(4));
      if (removal != removal_of.end()) {
        changes = std::move(removal->second);
        removal_of.erase(removal);
      }
    }
    if (!changes && single && *cells[2] != "insert") changes = described(st.int64(4));
    sql::Cell* row = sealed.add_row();
    row[kSeq].set_int(seq);
    copy_int(row[kAt], 1);
    row[kOp].set_text(sealed.keep(*cells[2]));
    row[kKind].set_text(sealed.keep(*cells[3]));
    copy_int(row[kFirst], 4);
    copy_int(row[kLast], 5);
    copy_int(row[kRows], 6);
    copy_int(row[kCause], 7);
    if (!st.is_null(kHashed + 1)) row[kSalt].set_text(sealed.keep(st.text(kHashed + 1)));
    complete(row, cells, std::move(changes));
  }
  st.reset();
  seal_kept_before(std::numeric_limits<int64_t>::max());
  if (!side.empty() && last_seq == 0) {  // no entry of the write's own: after the log's last
    auto& top = impl.prepared("SELECT ifnull(max(seq), 0) FROM audit_log");
    top.step();
    last_seq = top.int64(0);
    top.reset();
  }
  // The rules' changes to other records, one entry each, after the write's
  // own, as if each had been written to the log and read back above.
  const int64_t now = now_ns();
  const std::string at = std::to_string(now);
  for (const SideEntry& e : side) {
    const std::string id = std::to_string(e.id);
    Cells cells = {std::to_string(++last_seq), at, std::string(e.removed ? "delete" : "update"), *e.kind, id, id,
                   std::string("1"), std::nullopt, std::nullopt, std::nullopt};
    sql::Cell* row = sealed.add_row();
    row[kSeq].set_int(last_seq);
    row[kAt].set_int(now);
    row[kOp].set_text(sealed.keep(*cells[2]));
    row[kKind].set_text(e.kind);
    row[kFirst].set_int(e.id);
    row[kLast].set_int(e.id);
    row[kRows].set_int(1);
    const auto found = captured.find(e.id);
    std::string changes = found == captured.end() ? std::string() : found->second.text();
    complete(row, cells, changes.empty() || changes == "{}" ? std::nullopt : std::optional(std::move(changes)));
  }
  forget_captured_changes(impl);
  if (sealed.rows() == 0) return;
  auto& unsealed = impl.prepared("DELETE FROM audit_log WHERE seq > ?1 AND hash IS NULL");
  unsealed.bind(1, impl.audit_mark).run();
  auto& write = impl.prepared(
      "INSERT INTO audit_log(seq, at, op, kind, first_id, last_id, rows, cause_id, actor, changes, salt, changes_hash,"
      " hash) SELECT c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12 FROM crm_batch(?1)");
  if (sql::run_over_batch(write, sealed) != SQLITE_DONE) sql::fail(impl.db, "cannot seal the audit log");
  if (on_postgres)  // (is_called: the next entry the identity numbers is last_seq + 1)
    impl.prepared("SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), ?1)").bind(1, last_seq).run();
  auto& head = impl.prepared(Dialect(impl.db).set_meta("audit_head"));
  const std::string value = std::to_string(last_seq) + ":" + previous;
  head.bind(1, value).run();
}

std::vector<AuditProblem> Store::audit_check() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const sql::Db& db = impl_->db;
  std::vector<AuditProblem> problems;
  // Entries whose changes an erasure took out, or narrowed to the other
  // records' part (with that part's digest), as the chained erasure entries say.
  std::set<int64_t> redacted;
  std::map<int64_t, std::string> narrowed;
  {
    sql::Statement st(db, "SELECT changes FROM audit_log WHERE op = 'erase' AND changes IS NOT NULL ORDER BY seq");
    while (st.step()) {
      const json j = json::parse(st.text(0), nullptr, false);
      if (j.is_object() && j.contains("redacted") && j["redacted"].is_array())
        for (const auto& seq : j["redacted"])
          if (seq.is_number_integer()) redacted.insert(seq.get<int64_t>());
      if (j.is_object() && j.contains("narrowed") && j["narrowed"].is_object())
        for (const auto& [seq, digest] : j["narrowed"].items())
          if (digest.is_string() && !seq.empty() && seq.find_first_not_of("0123456789") == std::string::npos)
            narrowed[std::stoll(seq)] = digest.get<std::string>();
    }
  }
  sql::Statement st(db, std::string("SELECT ") + kHashedColumns +
                            ", hash, changes, salt FROM audit_log ORDER BY seq");
  std::string previous;
  int64_t expected_seq = -1, last_seq = 0;
  while (st.step()) {
    const int64_t seq = st.int64(0);
    last_seq = seq;
    if (expected_seq >= 0 && seq != expected_seq)
      problems.push_back({expected_seq, "entries " + std::to_string(expected_seq) + " to " + std::to_string(seq - 1) +
                                            " are missing (deleted outside crmcore)"});
    expected_seq = seq + 1;
    if (st.is_null(kHashed)) {
      problems.push_back({seq, "has no hash: it was added outside crmcore"});
      previous.clear();
      continue;
    }
    const std::string stored = st.text(kHashed);
    if (!st.is_null(kHashed + 1)) {
      const auto narrow = narrowed.find(seq);
      const std::string digest = narrow != narrowed.end() ? narrow->second
                                 : st.is_null(kChangesHashColumn) ? std::string() : st.text(kChangesHashColumn);
      if (digest.empty() || sha256_hex(st.text(kHashed + 2) + st.text(kHashed + 1)) != digest)
        problems.push_back({seq, "its changes were altered outside crmcore"});
    } else if (!st.is_null(kChangesHashColumn) && !redacted.count(seq)) {
      problems.push_back({seq, "its changes were removed outside crmcore"});
    }
    if (entry_hash(read_cells(st, kHashed), previous) != stored)
      problems.push_back({seq, "its content, or the entry before it, was altered outside crmcore"});
    previous = stored;
  }
  sql::Statement head(db, "SELECT value FROM meta WHERE key = 'audit_head'");
  if (head.step()) {
    const std::string value = head.text(0);
    const auto colon = value.find(':');
    const int64_t head_seq = std::stoll(value.substr(0, colon));
    if (head_seq > last_seq)
      problems.push_back({last_seq + 1, "entries after " + std::to_string(last_seq) + " (to " +
                                            std::to_string(head_seq) + ") were deleted outside crmcore"});
    else if (head_seq == last_seq && value.substr(colon + 1) != previous)
      problems.push_back({last_seq, "the newest entry does not match the recorded head of the chain"});
  }
  check_records_against_log(db, problems);
  return problems;
}

void Store::set_actor(const std::string& actor) {
  std::lock_guard<std::mutex> lock(mutex_);
  actor_ = actor;
}

std::string Store::actor() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return actor_;
}

Table Store::audit_log(int64_t limit, const std::vector<int64_t>* about) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Table t;
  constexpr int kInts = 6;
  for (const char* name : {"seq", "at", "first_id", "last_id", "rows", "cause_id"})
    t.columns.push_back(Column{name, Column::Storage::Int});
  for (const char* name : {"op", "kind", "actor", "changes"}) t.columns.push_back(Column{name, Column::Storage::Text});
  const std::string columns = "SELECT seq, at, first_id, last_id, rows, cause_id, op, kind, actor, changes FROM audit_log";
  auto read_rows = [&](sql::Statement& st) {
    while (st.step()) {
      for (int i = 0; i < kInts + 4; ++i) {
        Column& c = t.columns[static_cast<size_t>(i)];
        const bool null = st.is_null(i);
        c.valid.push_back(null ? 0 : 1);
        if (i < kInts) c.ints.push_back(null ? 0 : st.int64(i));  // (PostgreSQL has no 0 for a NULL)
        else c.texts.push_back(null ? std::string() : st.text(i));
      }
    }
  };
  // A negative limit asks for every entry: SQLite reads it so, PostgreSQL
  // refuses a negative LIMIT, so both get the largest one instead.
  if (limit < 0) limit = std::numeric_limits<int64_t>::max();
  if (!about) {
    sql::Statement st(impl_->db, columns + " ORDER BY seq DESC LIMIT ?");
    st.bind(1, limit);
    read_rows(st);
    return t;
  }
  // The entries whose ids cover one of `about`, or that name one as their
  // cause. A large upsert's entry ({"records": {id: ...}}, audit_memory.hpp)
  // spans ids it did not change: it is about those it holds, so that the
  // limit counts only entries about the records (one query, exact).
  const Dialect dialect(impl_->db);
  sql::Batch ids(1);
  for (const int64_t& id : *about) ids.add_row()[0].set_int(id);
  sql::Statement st(impl_->db, columns +
                                   " WHERE EXISTS (SELECT 1 FROM crm_batch(?1) AS b WHERE b.c0 = cause_id OR"
                                   " (b.c0 BETWEEN first_id AND last_id AND (op <> 'update' OR first_id = last_id OR"
                                   " NOT " + dialect.json_has_object("changes", "records") + " OR " +
                                   dialect.json_object_has_key("changes", "records", "b.c0") +
                                   "))) ORDER BY seq DESC LIMIT ?2");
  sql::bind_batch(st, ids);
  st.bind(2, limit);
  read_rows(st);
  return t;
}

}  // namespace crmcore::records
