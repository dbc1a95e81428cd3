// Bulk inserts on PostgreSQL through binary COPY (pg_bulk.hpp). A chunk of
// staged rows sent as crm_batch's one JSON parameter costs the server a
// parse of every value as JSON text and then as its column's type; binary
// COPY hands it the values in their stored form. The rows land in a
// temporary table first, not the kind's own: a COPY stops at the first bad
// row without saying which one, while an INSERT ... SELECT from the staging
// table is one statement that the write path can undo (its savepoint) and
// then go through row by row, naming the row and the rule as on SQLite.
#include "pg_bulk.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "crmcore/backend/backend.hpp"
#include "crmcore/backend/column_buffer.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

using backend::ColumnType;

// The staged column's type on the server: what pg_type (postgres_store.cpp)
// makes the kind's column, so that COPY's binary values need no conversion.
ColumnType column_type(FieldType t) {
  switch (t) {
    case FieldType::Text: return ColumnType::Text;
    case FieldType::Real: return ColumnType::Double;
    default: return ColumnType::Int64;
  }
}

const char* type_name(ColumnType t) {
  switch (t) {
    case ColumnType::Text: return "text";
    case ColumnType::Double: return "float8";
    default: return "int8";
  }
}

// Takes one cell of a written column into its buffer; false when it is not
// of the column's type (then the chunk goes by crm_batch, which converts as
// it always has).
bool take(backend::ColumnBuffer& column, const sql::Cell& cell) {
  if (cell.type == sql::Cell::Type::Null) {
    column.add_null();
    return true;
  }
  switch (column.type) {
    case ColumnType::Int64:
      if (cell.type != sql::Cell::Type::Int) return false;
      column.add(cell.i);
      return true;
    case ColumnType::Double:
      if (cell.type != sql::Cell::Type::Real && cell.type != sql::Cell::Type::Int) return false;
      column.add(cell.type == sql::Cell::Type::Int ? static_cast<double>(cell.i) : cell.r);
      return true;
    case ColumnType::Text:
      if (cell.type != sql::Cell::Type::Text) return false;
      // PostgreSQL stores no NUL in text; crm_batch's path reports it.
      if (cell.text->find('\0') != std::string::npos) return false;
      column.add(*cell.text);
      return true;
  }
  return false;
}

}  // namespace

std::optional<Broken> pg_copy_insert(Store::Impl& impl, const Kind& k, const sql::Batch& rows) {
  // The written columns: id, the fields, tags, custom, created_at, updated_at.
  std::vector<std::string> names{"id"};
  std::vector<ColumnType> types{ColumnType::Int64};
  for (const auto& f : k.fields) names.push_back(f.name), types.push_back(column_type(f.type));
  for (const char* extra : {"tags", "custom"}) names.push_back(extra), types.push_back(ColumnType::Text);
  for (const char* extra : {"created_at", "updated_at"}) names.push_back(extra), types.push_back(ColumnType::Int64);
  if (names.size() != rows.columns()) return std::nullopt;  // not the layout this file knows

  std::vector<backend::ColumnBuffer> columns(types.begin(), types.end());
  for (size_t r = 0; r < rows.rows(); ++r) {
    const sql::Cell* cells = rows.row(r);
    for (size_t c = 0; c < columns.size(); ++c)
      if (!take(columns[c], cells[c])) return std::nullopt;
  }

  backend::Connection& conn = *impl.db.conn;
  // One staging table per kind and session, gone at the transaction's end
  // (a later import may meet a migrated layout); emptied before each chunk.
  const std::string stage = "crm_stage_" + k.name;
  std::string defs, list;
  for (size_t c = 0; c < names.size(); ++c) {
    defs += (c ? ", " : "") + names[c] + " " + type_name(types[c]);
    list += (c ? ", " : "") + names[c];
  }
  conn.exec("CREATE TEMP TABLE IF NOT EXISTS " + stage + " (" + defs + ") ON COMMIT DROP; TRUNCATE pg_temp." + stage);
  {
    auto loader = conn.bulk_loader(stage, names, types);  // crm.copy's encoder (backend/postgres.cpp)
    std::vector<backend::ColumnView> views;
    for (const auto& c : columns) views.push_back(c.view());
    loader->append(views, rows.rows());
    loader->finish();
  }
  sql::Statement& insert =
      impl.prepared("INSERT INTO " + k.name + "(" + list + ") SELECT " + list + " FROM pg_temp." + stage);
  return run_or_broken(impl.db, insert, "insert into " + k.name + " failed");
}

}  // namespace crmcore::records
