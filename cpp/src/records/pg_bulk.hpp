#pragma once
// Bulk inserts on PostgreSQL through binary COPY (pg_bulk.cpp).
#include <optional>

#include "batch.hpp"
#include "crmcore/records/store.hpp"
#include "dialect.hpp"

namespace crmcore::records {

// On PostgreSQL: a chunk of staged rows of `k` (one cell per written column:
// id, the fields, tags, custom, created_at, updated_at) loaded by binary COPY
// into the session's staging table, then inserted into k's table by one
// INSERT ... SELECT, whose broken rule comes back as run_or_broken's does
// (the statement undone, the transaction usable). Nothing when a cell is not
// of its column's type: the caller then writes the chunk through crm_batch.
std::optional<Broken> pg_copy_insert(Store::Impl& impl, const Kind& k, const sql::Batch& rows);

}  // namespace crmcore::records
