#pragma once
// Records as JSON files: one list of objects, one object per record, each
// field typed as the store keeps it (times as ISO 8601 text, tags as a list
// of strings, custom fields as an object).
#include <cstddef>
#include <string>

#include "crmcore/records/store.hpp"

namespace crmcore::records {

// Writes every record of `kind` to `path`, one object per line inside one
// list, and returns how many were written.
size_t export_json(const Store& store, const std::string& kind, const std::string& path);

// Imports the records in `path` (a list of objects, or an object whose
// member `kind` is that list) through Store::insert, so that they are
// checked and written like any other import. "id", "created_at" and
// "updated_at" in the file are ignored: the store gives its own. Rows in
// errors count from 0 in the file's list. A `dry_run` reports every bad
// row and writes nothing (Store::insert).
WriteResult import_json(Store& store, const std::string& kind, const std::string& path, OnError on_error,
                        const Progress& progress = {}, bool dry_run = false);

// The two halves of those: the rows of `table` (columns as select gives
// them) written to `path`, and the records in `path` read as the table
// import_json inserts (a scoped store checks it first).
size_t write_json(const std::string& kind, const Table& table, const std::string& path);
Table read_json(const std::string& kind, const std::string& path);

}  // namespace crmcore::records
