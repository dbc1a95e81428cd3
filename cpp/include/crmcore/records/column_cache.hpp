#pragma once
// A kind's columns read once from the store and kept, typed, until the data
// changes: repeated analyses over an unchanged store (a segment evaluated
// again, a report refreshed) then read no SQLite at all.
//
// Use:
//
//   auto snap = store.column_cache().columns(store, "orders", {"customer_id", "status"});
//   const CachedColumn& status = snap->at("status");   // codes + dictionary
//   for (size_t r = 0; r < snap->ids->size(); ++r) ... status.codes[r] ...
//
// - Validity: every snapshot is taken at one Store::data_mark() (the newest
//   audit entry's number and hash, and on SQLite the file's data_version),
//   which every committed write by any connection changes, and a rolled-back
//   write gives back. A kind's entry is dropped and read again when the
//   mark differs; all columns of one snapshot come from the same mark (a
//   write that lands during a read makes the read start over).
// - Memory: bounded by budget() bytes (default kDefaultBudget, 1 GiB) over
//   all kinds; the least recently used kinds are dropped first, and a kind
//   larger than the whole budget is read for the caller but not kept. A
//   snapshot handed out stays valid (shared ownership) after the cache
//   drops it. The cache belongs to its Store and goes when it is closed.
// - Access rules: the cache reads through Store::select, as the store
//   itself sees the rows. Scoped handles (access::ScopedStore) do NOT use
//   it: they read through their own rules every time, so a cached column
//   can never show a row or field to someone who may not read it.
// - Thread safety: calls may come from several threads; one at a time reads.
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crmcore/cancel.hpp"
#include "crmcore/records/query.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::records {

// One column of a kind, aligned with its snapshot's ids.
struct CachedColumn {
  // Int: whole numbers, references, flags and times (ns since 1970);
  // Real: reals (NaN where missing); Text: one code per row into
  // `dictionary` (-1 where missing); Tags: the tags of row r are
  // codes[offsets[r] .. offsets[r + 1]).
  enum class Type { Int, Real, Text, Tags };
  Type type = Type::Int;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<uint8_t> valid;  // Int and Real: 1 where present; empty when every row is
  std::vector<int32_t> codes;
  std::vector<int64_t> offsets;
  std::vector<std::string> dictionary;  // distinct values in order of first appearance

  bool present(size_t row) const { return valid.empty() || valid[row] != 0; }
  size_t bytes() const;
};

// Columns of one kind at one data mark.
struct ColumnSnapshot {
  DataMark mark;
  std::shared_ptr<const std::vector<int64_t>> ids;  // ascending
  std::map<std::string, std::shared_ptr<const CachedColumn>> columns;

  // The column `name`; std::out_of_range when it was not asked for.
  const CachedColumn& at(const std::string& name) const;
};

class ColumnCache {
 public:
  static constexpr size_t kDefaultBudget = size_t{1} << 30;

  // The columns `fields` of `kind` (names as Store::select takes them:
  // fields, tags, created_at, updated_at; "custom" is refused) with the ids,
  // read from `store` unless kept at its current data mark. Throws as
  // Store::select does (NotFound for an unknown name, Interrupted).
  std::shared_ptr<const ColumnSnapshot> columns(const Store& store, const std::string& kind,
                                                const std::vector<std::string>& fields,
                                                const Cancel* cancel = nullptr);

  // Whether reading `fields` of `kind` through columns() pays off now: true
  // when they are kept at the store's current data mark, or were asked
  // about here at that mark before (a second use: reading whole columns
  // once is then cheaper than a narrower read per use). Otherwise notes the
  // ask and returns false, and the caller reads what it needs from the
  // store: the first use after a write costs no more than it did before
  // the cache, and the next use fills it.
  bool ready(const Store& store, const std::string& kind, const std::vector<std::string>& fields);

  void set_budget(size_t bytes);
  size_t budget() const;
  size_t bytes() const;  // what is kept now
  // How many times a column was read from the store (not from the cache):
  // lets a test see that a second use read nothing.
  int64_t reads() const;
  void clear();

 private:
  struct Entry {
    DataMark mark;
    std::shared_ptr<const std::vector<int64_t>> ids;
    std::map<std::string, std::shared_ptr<const CachedColumn>> columns;
    size_t bytes = 0;
  };
  void evict_for(const std::string& keep);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> kinds_;
  std::list<std::string> recent_;  // most recently used first
  std::map<std::string, DataMark> asked_;  // kind -> the mark ready() last said no at
  size_t budget_ = kDefaultBudget;
  size_t bytes_ = 0;
  int64_t reads_ = 0;
};

// The ids (ascending) of the records of `kind` meeting `filter`, exactly as
// Store::query(kind, filter) gives them, evaluated on cached columns; nullopt
// when a condition needs what the cache does not hold (custom keys, phone and
// e-mail look-ups, substrings), so the caller asks the store instead. Values
// are converted and checked as Store::query converts them (ValidationError
// for the same mistakes).
std::optional<std::vector<int64_t>> cached_query(const Store& store, const std::string& kind, const AnyOf& filter,
                                                 const Cancel* cancel = nullptr);

}  // namespace crmcore::records
