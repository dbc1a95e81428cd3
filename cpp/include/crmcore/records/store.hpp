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
// Update: every row must name a record. Tags: tags added to and removed
// from records (Store::retag).
enum class WriteOp { Insert, Update, Delete, Upsert, UpdateRows, Tags };

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
};

// A hook throws (ValidationError, Error) to refuse a write; nothing is written then.
using WriteHook = std::function<void(const WriteRequest&)>;

class Store {
 public:
  // ":memory:" or a file path; creates the file and schema when missing and
  // migrates an older schema.
  explicit Store(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inserts the rows of `table` as new records of `kind`, all or nothing
  // (OnError::Raise throws ValidationError naming the first bad row, column
  // and reason; the store is unchanged), or the good rows only (Skip).
  WriteResult insert(const std::string& kind, const Table& table, OnError on_error = OnError::Raise,
                     const Progress& progress = {});
  // Writes each row of `table` to the record its `key` names (fields of the
  // kind, or "id"): rows naming none are inserted when `insert_missing`,
  // and are errors otherwise. Only the given columns of an existing record
  // change (a missing value clears its field). Rows whose key names several
  // records, or the same record as an earlier row, are errors. All or
  // nothing, or the good rows only, as insert.
  WriteResult upsert(const std::string& kind, const Table& table, const std::vector<std::string>& key,
                     bool insert_missing, OnError on_error = OnError::Raise, const Progress& progress = {});
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
  // The fields of a kind that an index serves ("custom.<key>" for custom ones).
  std::vector<std::string> indexed(const std::string& kind) const;
  // Declares (or declares again) the custom field `name` of `kind`: its
  // values in the custom object are checked on every write and kept in
  // canonical form, those of the records already stored among them (a record
  // that does not fit is refused, naming it, and nothing changes). Type
  // Text, Integer, Real, Time or Bool; `choices` (Text only) close the list
  // of values; `index` makes an index on the key.
  void declare_custom(const std::string& kind, const std::string& name, FieldType type,
                      const std::vector<std::string>& choices, bool required, bool index);
  // Adds `value` to the allowed values of a text field ("custom.<key>" for a
  // custom one) and gives it `labels`, other spellings accepted on input and
  // stored as the value. A field with a closed list accepts the value from
  // now on; an open one (a status) lists it among its known values. With
  // `add_value` false the value must be allowed already (labels only).
  void allow(const std::string& kind, const std::string& field, const std::string& value,
             const std::vector<Label>& labels, bool add_value = true);
  // Makes an index on a field ("custom.<key>" for a declared custom field),
  // so that conditions on it find records without reading them all.
  void create_index(const std::string& kind, const std::string& field);

  // All records of a kind (or those with the given ids, in that order) as
  // columns: id, the kind's fields, tags, custom, created_at, updated_at.
  // `columns` (by name: fields, tags, custom, created_at, updated_at) limits
  // what is read; id always comes first. Unknown names throw NotFound.
  // Reads (select, find, match) stop with Interrupted when `cancel` asks.
  Table select(const std::string& kind, const std::vector<int64_t>* ids = nullptr,
               const std::vector<std::string>* columns = nullptr, const Cancel* cancel = nullptr) const;
  // Ids of the records whose `field` matches `value`: phone and e-mail fields
  // after normalization, "name" by case-insensitive substring, "tag" exactly,
  // any other field by equality.
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

  int schema_version() const;
  // "ok" when SQLite's integrity and foreign-key checks find nothing wrong.
  std::string integrity_check() const;
  // The newest audit entries: seq, at, op, kind, first_id, last_id, rows, cause_id.
  Table audit_log(int64_t limit) const;

  // Groups several writes into one transaction: they commit together or not
  // at all. Not nested; each write inside still lands whole or not at all.
  void begin();
  void commit();
  void rollback();
  // Whether begin() has opened a transaction that is still open.
  bool in_transaction() const;

  void add_write_hook(WriteHook hook);
  const std::string& path() const { return path_; }

  struct Impl;  // the SQLite connection and its prepared statements

 private:
  std::string kind_of_locked(int64_t id) const;
  std::vector<int64_t> find_contact_locked(const Kind& kind, Lookup how, const std::string& typed) const;
  int64_t count_locked(const std::string& table) const;
  WriteResult write(const WriteRequest& request);
  // Inserts the rows of the request's table (those listed in `only`, if given).
  void insert_rows(const WriteRequest& request, WriteResult& result, const std::vector<size_t>* only = nullptr);
  void upsert_rows(const WriteRequest& request, WriteResult& result);
  // Writes the given columns of `rows` of the request's table to the records
  // `target[row]`.
  void update_existing(const WriteRequest& request, const std::vector<const Column*>& columns,
                       const std::vector<size_t>& rows, const std::vector<int64_t>& target, WriteResult& result);
  void update_row(const WriteRequest& request);
  void delete_record(const Kind& kind, int64_t id, bool cascade, int64_t cause_id);
  void end_transaction(const char* how);  // "COMMIT" or "ROLLBACK"
  void delete_row(const WriteRequest& request);
  // One row of the audit log: the write touched `rows` records, ids
  // first_id..last_id; `cause_id`, when given, is the record whose deletion
  // removed them.
  void audit(const WriteRequest& request, int64_t rows, int64_t first_id, int64_t last_id, int64_t cause_id = -1);
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
};

inline constexpr int kSchemaVersion = 5;

}  // namespace crmcore::records
