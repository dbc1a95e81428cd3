#pragma once
// The record store: typed records of every kind in one SQLite file (or in
// memory), with one write path through which every insert, update and delete
// passes, so that validation, the audit log and access rules attach in one
// place.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crmcore/cancel.hpp"
#include "crmcore/records/query.hpp"
#include "crmcore/records/schema.hpp"
#include "crmcore/records/table.hpp"

struct sqlite3;

namespace crmcore::records {

enum class OnError { Raise, Skip };

struct RowError {
  int64_t row;
  std::string field;
  std::string reason;
};

struct WriteResult {
  std::vector<int64_t> ids;      // one per input row; -1 where a row was skipped
  std::vector<RowError> errors;  // the skipped rows (OnError::Skip only)
  std::vector<uint8_t> updated;  // upserts: 1 where the row updated an existing record
};

using Progress = std::function<void(size_t done, size_t total)>;

// Upsert: rows whose key names a record update it, the others are inserted;
// Update: every row must name a record.
// Merge: records folded into one; Unmerge: a merge undone.
// Tags: tags added to and removed from records (Store::retag).
enum class WriteOp { Insert, Update, Delete, Upsert, UpdateRows, Merge, Unmerge, Tags };

// What a write is about to do; hooks see it before anything is written.
struct WriteRequest {
  WriteOp op;
  const Kind* kind;
  const Table* table;        // the values (insert, update); null for delete
  std::vector<int64_t> ids;  // the records (update, delete)
  OnError on_error = OnError::Raise;
  const Progress* progress = nullptr;
  std::vector<std::string> key = {};  // Upsert, UpdateRows: the fields ("id" among them) that name a row's record
  bool cascade = false;          // Delete: also delete the records that refer to these, instead of refusing
  std::vector<std::string> tags_added = {}, tags_removed = {};  // Tags
  // Merge (ids: the kept record, then the others): fields whose value is
  // taken from a given record rather than by the default rule.
  std::vector<std::pair<std::string, int64_t>> prefer = {};
  int64_t merge_id = -1;  // Unmerge: the merge to undo
  // Checks the write as it would happen, with the bad rows collected as with
  // OnError::Skip, and then undoes it whole (its audit entry too).
  bool dry_run = false;
};

// A hook throws (ValidationError, Error) to refuse a write; nothing is written then.
using WriteHook = std::function<void(const WriteRequest&)>;

// How a store file is opened.
struct OpenOptions {
  // Reads only: every write is refused with an Error and the file is left
  // exactly as it was (a store that needs migrating cannot be opened so).
  bool readonly = false;
  // A file that carries triggers or views crmcore did not create is refused
  // (they could change or copy records behind the write path's back); with
  // this, it opens and Store::foreign_objects() lists them.
  bool allow_foreign = false;
  // Whether a missing store is made (a new file, or tables in a new or
  // empty PostgreSQL schema). Without it, a file or schema that holds no
  // store is refused with "no store at ..." and nothing is made: what opens
  // a store that must exist already (the command line) asks so.
  bool create = true;
};

// An audit entry that fails the hash chain's check, and why.
struct AuditProblem {
  int64_t seq;
  std::string reason;
};

// What Store::erase_person did.
struct ErasureReport {
  int64_t records = 0;  // the person, each record about them, and each (record, field, form) their phone or e-mail
                        // was blanked in elsewhere: matches, not records (kept as it was)
  int64_t records_changed = 0;  // distinct records whose values changed: theirs, those about them it cleared
                                // or blanked text in, and others their phone or e-mail was blanked in
  int64_t audit_entries = 0;  // audit entries whose values were taken out
  bool wal_truncated = false;  // false when another connection kept the WAL from being emptied
  bool vacuumed = false;  // PostgreSQL: VACUUM (ANALYZE) of the changed tables ran after the commit
};

// What every committed write changes (Store::data_mark): the newest audit
// entry (its number and hash: a rolled-back write's number comes again with
// another hash) and, on SQLite, the file's data_version (commits by other
// connections, even those of programs that leave no audit entry).
struct DataMark {
  int64_t seq = -1;
  std::string hash;
  int64_t version = -1;
  bool operator==(const DataMark& o) const { return seq == o.seq && version == o.version && hash == o.hash; }
  bool operator!=(const DataMark& o) const { return !(*this == o); }
};

class ColumnCache;  // column_cache.hpp
struct StoredValues;  // upsert.cpp
struct ColumnSnapshot;

// What Store::copy did.
struct CopyReport {
  int64_t tables = 0;  // tables that held rows
  int64_t rows = 0;    // rows written to the destination
};

class Store {
 public:
  // ":memory:" or a file path; creates the file and schema when missing and
  // migrates an older schema.
  explicit Store(const std::string& path, const OpenOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inserts the rows of `table` as new records of `kind`, all or nothing
  // (OnError::Raise throws ValidationError naming the first bad row, column
  // and reason; the store is unchanged), or the good rows only (Skip). A
  // `dry_run` reports every bad row, as Skip does, and writes nothing.
  WriteResult insert(const std::string& kind, const Table& table, OnError on_error = OnError::Raise,
                     const Progress& progress = {}, bool dry_run = false);
  // Writes each row of `table` to the record its `key` names (fields of the
  // kind, or "id"): rows naming none are inserted when `insert_missing`,
  // and are errors otherwise. Only the given columns of an existing record
  // change (a missing value clears its field). Rows whose key names several
  // records, or the same record as an earlier row, are errors. All or
  // nothing, or the good rows only, or a dry run, as insert.
  WriteResult upsert(const std::string& kind, const Table& table, const std::vector<std::string>& key,
                     bool insert_missing, OnError on_error = OnError::Raise, const Progress& progress = {},
                     bool dry_run = false);
  // Folds the records `others` of `kind` into `keep`, in one transaction:
  // every reference to them, in every kind, moves to `keep` (link records
  // that would repeat one of keep's, or join keep to itself, go); keep's
  // empty fields take the others' values (the first that has one), phones,
  // e-mails, tags and custom fields are united, and `prefer` names fields
  // whose value comes from a given record; then the others are deleted.
  // Everything needed to undo it is kept; returns the merge's number.
  int64_t merge(const std::string& kind, int64_t keep, const std::vector<int64_t>& others,
                const std::vector<std::pair<std::string, int64_t>>& prefer = {});
  // Undoes a merge: the merged records come back with their ids, references
  // that still point at the kept record return to them, and the kept
  // record's fields are as they were before.
  void unmerge(int64_t merge_id);
  // The merges: merge, at, kind, keep_id, merged_ids (text), undone_at.
  Table merges() const;
  // Sets the given fields of one record.
  void update(const std::string& kind, int64_t id, const Table& fields);
  // Deletes one record (and the links that end at it).
  void remove(const std::string& kind, int64_t id);
  // Deletes records in one transaction. A record that others refer to is
  // refused, or with `cascade` deleted together with them (recursively);
  // every removed row has its audit entry.
  void remove_many(const std::string& kind, const std::vector<int64_t>& ids, bool cascade);
  // Adds tags to and removes tags from the records `ids` of `kind` without
  // rewriting their lists: each keeps its other tags in their order, new
  // ones come last. A record whose list does not change is not written.
  // All or nothing: an id that names no record of `kind` is NotFound.
  // Returns the ids of the records that changed (each has its audit entry).
  std::vector<int64_t> retag(const std::string& kind, const std::vector<int64_t>& ids,
                             const std::vector<std::string>& add, const std::vector<std::string>& remove);

  // -- the store's schema (catalog.cpp) --
  // A kind as this store has it: the kind table's fields with the values and
  // labels the file added, and the custom fields it declared.
  Kind describe(const std::string& kind) const;
  // Declares (or declares again) the custom field `name` of `kind`: its
  // values in the custom object are checked on every write and kept in
  // canonical form, those of the records already stored among them (a record
  // that does not fit is refused, naming it, and nothing changes). Type
  // Text, Integer, Real, Time or Bool; `choices` (Text only) close the list
  // of values; `index` makes an index on the key (as create_index does).
  void declare_custom(const std::string& kind, const std::string& name, FieldType type,
                      const std::vector<std::string>& choices, bool required, bool index);
  // Adds `value` to the allowed values of a text field ("custom.<key>" for a
  // custom one) and gives it `labels`, other spellings accepted on input and
  // stored as the value. A field with a closed list accepts the value from
  // now on; an open one (a status) lists it among its known values. With
  // `add_value` false the value must be allowed already (labels only).
  void allow(const std::string& kind, const std::string& field, const std::string& value,
             const std::vector<Label>& labels, bool add_value = true);

  // All records of a kind (or those with the given ids, in that order) as
  // columns: id, the kind's fields, tags, custom, created_at, updated_at.
  // `columns` (by name: fields, tags, custom, created_at, updated_at) limits
  // what is read; id always comes first. Unknown names throw NotFound.
  // Reads (select, find, match) stop with Interrupted when `cancel` asks.
  Table select(const std::string& kind, const std::vector<int64_t>* ids = nullptr,
               const std::vector<std::string>* columns = nullptr, const Cancel* cancel = nullptr) const;
  // Ids of the records whose `field` matches `value`: phone and e-mail fields
  // after normalization, "name" by case-insensitive substring, "tag" exactly,
  // any other field by equality (keyword_condition in query.cpp).
  std::vector<int64_t> find(const std::string& kind, const std::string& field, const std::string& value,
                            const Cancel* cancel = nullptr) const;
  // Ids of customers/contacts/staff with this phone number, any formatting.
  std::vector<int64_t> find_phone(const std::string& kind, const std::string& phone) const;

  // For each value, the record of `kind` whose phone or e-mail `field` it
  // names (the lowest id when several do, -1 when none) and how many do.
  struct Matches {
    std::vector<int64_t> ids;
    std::vector<int64_t> counts;
  };
  Matches match(const std::string& kind, const std::string& field, const std::vector<std::string>& values,
                const Cancel* cancel = nullptr) const;
  // The kind of the record with this id ("" when there is none).
  std::string kind_of(int64_t id) const;
  int64_t count(const std::string& kind) const;

  // -- stock (cpp/src/stock/balances.cpp; SQLite) --
  // Per (product, location) that moved at or before `as_of`, ascending: the
  // stock on hand then (the kept monthly balances up to the month boundary
  // nearest as_of, and the movements between that boundary and as_of; as_of
  // INT64_MAX: the balances alone) and the quantity shipped in (since, as_of]
  // (the same way at both ends).
  struct StockLevels {
    std::vector<int64_t> product, location;
    std::vector<double> on_hand, shipped;
  };
  StockLevels stock_levels(int64_t as_of, int64_t since, const Cancel* cancel = nullptr) const;
  // The kept balances as stored: per product, location and month (year * 12
  // + month - 1, UTC) the net change of its movements, what it shipped and
  // how many movements touched it.
  struct StockBalances {
    std::vector<int64_t> product, location, period, moves;
    std::vector<double> change, shipped;
  };
  StockBalances stock_balances() const;

  int schema_version() const;
  // The store's data as of now, in a value that changes on every committed
  // write by any connection (one indexed read; column_cache.cpp). Equal
  // marks mean equal data, so anything computed from the data can be kept
  // until the mark moves.
  DataMark data_mark() const;
  // Columns kept until the data mark moves (column_cache.hpp); dropped with the store.
  ColumnCache& column_cache() const;
  // The ids and the columns `fields` of `kind` in one pass over its rows,
  // coded as the column cache keeps them (column_cache.cpp); no mark set.
  std::shared_ptr<ColumnSnapshot> read_columns(const std::string& kind, const std::vector<std::string>& fields,
                                               const Cancel* cancel = nullptr) const;
  // "ok" when SQLite's integrity and foreign-key checks find nothing wrong.
  std::string integrity_check() const;
  // The newest audit entries: seq, at, first_id, last_id, rows, cause_id,
  // op, kind, actor, changes (JSON: {field: [old, new]} for an update,
  // {"removed": {...}} for a delete). With `about`, only the entries whose
  // ids cover one of those records or name one as their cause (audit.cpp).
  Table audit_log(int64_t limit, const std::vector<int64_t>* about = nullptr) const;
  // Walks the audit log's hash chain; empty when no entry was added, changed
  // or removed outside crmcore since it was written.
  std::vector<AuditProblem> audit_check() const;
  // Who the following writes are by (a staff id as "staff:<id>", or a
  // script's own name); recorded in each audit entry. Empty: no one named.
  void set_actor(const std::string& actor);
  std::string actor() const;
  bool readonly() const { return readonly_; }
  // Triggers and views in the file that crmcore did not create ("trigger
  // name", "view name"); only a store opened with allow_foreign has any.
  const std::vector<std::string>& foreign_objects() const { return foreign_objects_; }

  // -- personal data (privacy.cpp) --
  // Removes one person (a customer of kind person, or a contact) from the
  // store in one transaction: their record keeps its id and references but
  // loses every value that says who they were; their contact points, tags
  // and custom fields go; the free text of the records about them
  // (interactions, tickets, surveys, ...) is cleared, and any mention of
  // their phone or e-mail elsewhere is blanked; the audit entries' old and
  // new values about them are taken out. One audit entry says that an
  // erasure happened, without the data. Freed bytes are zeroed (secure
  // delete) and the WAL is checkpointed and emptied afterwards. On
  // PostgreSQL the changed tables are vacuumed (and analyzed) after the
  // commit instead: no row holds the data, though vacuumed pages' free space,
  // the WAL and backups may until reused (docs/backends.md).
  ErasureReport erase_person(int64_t id);
  // Copies the whole store at `from` (a file or a postgresql:// URL) into
  // `to`, as it is (copy.cpp, docs/backends.md). `progress` is told the
  // tables copied and the tables in all, after each table (a backup or a
  // restore on a server shows it).
  static CopyReport copy(const std::string& from, const std::string& to, const Progress& progress = {});

  // Groups several writes into one transaction: they commit together or not
  // at all. Not nested; each write inside still lands whole or not at all.
  void begin();
  void commit();
  void rollback();
  // Whether begin() has opened a transaction that is still open.
  bool in_transaction() const;

  void add_write_hook(WriteHook hook);
  const std::string& path() const { return path_; }

  // Ids of the records of `kind` that satisfy `filter` (query.hpp), ordered
  // by `order_by` (missing values last, ties by id; by id when empty), from
  // `offset` on, at most `limit` of them (negative: all). Unknown fields,
  // operators that do not apply to a field and values that do not convert
  // throw ValidationError naming the field.
  std::vector<int64_t> query(const std::string& kind, const AnyOf& filter, const std::vector<OrderBy>& order_by = {},
                             int64_t limit = -1, int64_t offset = 0, const Cancel* cancel = nullptr) const;
  // The records query() gives, in its order, read as select() reads them
  // (`columns` likewise), in one statement over the matching ids.
  Table select_query(const std::string& kind, const AnyOf& filter, const std::vector<OrderBy>& order_by = {},
                     int64_t limit = -1, int64_t offset = 0, const std::vector<std::string>* columns = nullptr,
                     const Cancel* cancel = nullptr) const;
  // How the engine would run that query (SQLite's EXPLAIN QUERY PLAN, one
  // step a line; PostgreSQL's EXPLAIN, one line of it a line): shows
  // whether an index serves a condition.
  std::string query_plan(const std::string& kind, const AnyOf& filter, const std::vector<OrderBy>& order_by = {},
                         int64_t limit = -1, int64_t offset = 0) const;
  // Adds an index on one field of a kind (crm_idx_<kind>_<field>), or on a
  // declared custom field ("custom.<key>", see declare_custom), so that a
  // selective condition on it reads only the matching records. False when
  // the field has one already: references, unique fields, phone and e-mail
  // (through their normalized forms) and tags are indexed from the start.
  bool create_index(const std::string& kind, const std::string& field);
  // Removes an index made by create_index; false when there was none.
  bool drop_index(const std::string& kind, const std::string& field);
  // The fields of a kind that conditions can look up by an index.
  std::vector<std::string> indexes(const std::string& kind) const;

  // -- automation (cpp/src/automation/rules.cpp) --
  // Runs the actions of rule `rule_id` (an automation_rules record) on those
  // of the records `ids` of its kind that meet its condition, in one
  // transaction with the write-triggered rules they set off; notes each run
  // (rule, record, `occasions[i]`, `values[i]`) in automation_runs and sets
  // the rule's last_run_at to `now`. With `act` false only the runs are
  // noted. Returns the ids acted on. For time-triggered rules (run_due).
  std::vector<int64_t> run_rule(int64_t rule_id, const std::vector<int64_t>& ids,
                                const std::vector<int64_t>& occasions, const std::vector<double>& values,
                                int64_t now, bool act = true);

  struct Impl;  // the SQLite connection and its prepared statements
  struct AutomationRule;   // an active rule as read (rules.cpp)
  struct AutomationRound;  // what one round of rules reacts to (rules.cpp)

 private:
  std::string kind_of_locked(int64_t id) const;
  std::vector<int64_t> find_contact_locked(const Kind& kind, Lookup how, const std::string& typed) const;
  // find_contact_locked for one kind, as queries look phone and e-mail values up.
  std::function<std::vector<int64_t>(Lookup, const std::string&)> contact_lookup(const Kind& kind) const;
  int64_t count_locked(const std::string& table) const;
  WriteResult write(const WriteRequest& request);
  // Inserts the rows of the request's table (those listed in `only`, if given).
  void insert_rows(const WriteRequest& request, WriteResult& result, const std::vector<size_t>* only = nullptr);
  void upsert_rows(const WriteRequest& request, WriteResult& result);
  // Writes the given columns of `rows` of the request's table to the records
  // `target[row]` (their stored values already read, if `stored_before`: upsert.cpp).
  void update_existing(const WriteRequest& request, const std::vector<const Column*>& columns,
                       const std::vector<size_t>& rows, const std::vector<int64_t>& target, WriteResult& result,
                       const StoredValues* stored_before = nullptr);
  void update_row(const WriteRequest& request);
  // The records one call deletes, while it runs: the ids it names (a
  // record they refer to is not kept for them) and the ids on the way out,
  // deeper in the recursion (so that a reference cycle ends). Ids are unique
  // across kinds.
  struct Deleting {
    std::vector<int64_t> asked;      // sorted
    std::vector<int64_t> under_way;  // a stack
  };
  void delete_record(const Kind& kind, int64_t id, bool cascade, int64_t cause_id, Deleting* deleting = nullptr);
  int64_t merge_records(const WriteRequest& request);
  void unmerge_records(const WriteRequest& request);
  void end_transaction(const char* how);
  // Automation (rules.cpp): before a write, the capture of the field changes
  // that rules wait for; after it, the rules those changes and the created
  // records set off, round after round, inside the write's transaction.
  void prepare_automation();
  void apply_automation(const WriteRequest& request, WriteResult& result);
  void run_automation_rounds(const std::vector<AutomationRule>& rules, AutomationRound& first);
  // The records of `ids` that meet the rule's condition.
  std::vector<int64_t> rule_matches(const AutomationRule& rule, std::vector<int64_t> ids) const;
  void act_on(const AutomationRule& rule, const std::vector<int64_t>& ids, AutomationRound& next);
  // Ids of the records of `kind` meeting `filter`; the caller holds the lock.
  std::vector<int64_t> query_locked(const Kind& kind, const AnyOf& filter) const;
  // For each filter, the ids of the records selected by `among` that meet
  // it, in one pass over those records (several rules on one write).
  std::vector<std::vector<int64_t>> query_each_locked(const Kind& kind, const std::vector<const AnyOf*>& filters,
                                                      const Condition& among) const;
  // The stage rules (stage_rules.cpp): checks and completes the deals whose
  // stage the write changed, and writes their stage history.
  void apply_stage_rules(const WriteRequest& request, WriteResult& result);
  // The ticket rules (ticket_rules.cpp): the same for a ticket's status and
  // its ticket_events history.
  void apply_ticket_rules(const WriteRequest& request, WriteResult& result);  // "COMMIT" or "ROLLBACK"
  // The task rules (task_rules.cpp): done times, the series' anchor and the
  // next occurrence of a completed recurring task.
  void apply_task_rules(const WriteRequest& request, WriteResult& result);
  void delete_row(const WriteRequest& request);
  // One row of the audit log: the write touched `rows` records, ids
  // first_id..last_id; `cause_id`, when given, is the record whose deletion
  // removed them.
  void audit(const WriteRequest& request, int64_t rows, int64_t first_id, int64_t last_id, int64_t cause_id = -1);
  // Throws when the store was opened read-only. (Every write runs on both
  // engines now: none is refused for being on PostgreSQL.)
  void refuse_if_readonly() const;
  void retag_rows(const WriteRequest& request, WriteResult& result);
  // Runs `change` of the catalog of `kind` in a transaction of its own (a
  // savepoint inside the caller's) with its audit entry; the catalog is read
  // again afterwards.
  void change_catalog(const std::string& kind, const std::function<void()>& change);

  std::unique_ptr<Impl> impl_;
  std::string path_;
  mutable std::mutex mutex_;
  std::vector<WriteHook> hooks_;
  int transaction_depth_ = 0;
  std::string actor_;
  bool readonly_ = false;
  std::vector<std::string> foreign_objects_;

  // -- the whole file: backup and compaction (backup.cpp) --
 public:
  // Copies the store as it stands when the call begins (every transaction
  // committed by then, none after) to `dest`, while this and other
  // connections go on writing. The copy is written beside `dest` and renamed
  // over it when whole, so `dest` is never half a file. `progress` hears
  // (pages done, pages in all) after each step of `pages_per_step` pages and
  // may throw (Interrupted) to stop; nothing is left behind then.
  void backup(const std::string& dest, const Progress& progress = {}, int pages_per_step = 1024) const;
  struct VacuumReport {
    int64_t bytes_before;
    int64_t bytes_after;
  };
  // Rebuilds the file without its free pages (SQLite's VACUUM). On
  // PostgreSQL: VACUUM (ANALYZE) of the store's tables, sized by
  // pg_total_relation_size; a backup there is a store file made by copy()
  // from one snapshot (no progress is reported), restore() onto a server a
  // copy back into an empty schema.
  VacuumReport vacuum();
};

inline constexpr int kSchemaVersion = 22;

}  // namespace crmcore::records
