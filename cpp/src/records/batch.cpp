#include "batch.hpp"

#include <memory>
#include <string>

#include "sqlite.hpp"

namespace crmcore::records::sql {

namespace {

// The pointer type name SQLite checks when the batch crosses as a parameter,
// so that no other pointer (or an integer) can pass for a batch.
constexpr const char* kPointerType = "crmcore.Batch";

struct BatchTable {
  sqlite3_vtab base{};
  int columns = 0;  // c0..c{columns-1}; the hidden batch argument comes after
};

struct BatchCursor {
  sqlite3_vtab_cursor base{};
  const Batch* batch = nullptr;
  size_t row = 0;
};

int connect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
  const int columns = *static_cast<int*>(aux);
  std::string schema = "CREATE TABLE x(";
  for (int c = 0; c < columns; ++c) schema += "c" + std::to_string(c) + ", ";
  schema += "batch HIDDEN)";
  int rc = sqlite3_declare_vtab(db, schema.c_str());
  if (rc != SQLITE_OK) return rc;
  auto* table = new BatchTable;
  table->columns = columns;
  *out = &table->base;
  return SQLITE_OK;
}

int disconnect(sqlite3_vtab* vtab) {
  delete reinterpret_cast<BatchTable*>(vtab);
  return SQLITE_OK;
}

// The only usable plan is the one that is given the batch.
int best_index(sqlite3_vtab* vtab, sqlite3_index_info* info) {
  const int batch_column = reinterpret_cast<BatchTable*>(vtab)->columns;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.iColumn == batch_column && c.op == SQLITE_INDEX_CONSTRAINT_EQ && c.usable) {
      info->aConstraintUsage[i].argvIndex = 1;
      info->aConstraintUsage[i].omit = 1;
      info->estimatedCost = 1;
      return SQLITE_OK;
    }
  }
  return SQLITE_CONSTRAINT;
}

int open(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  *out = &(new BatchCursor)->base;
  return SQLITE_OK;
}

int close(sqlite3_vtab_cursor* cursor) {
  delete reinterpret_cast<BatchCursor*>(cursor);
  return SQLITE_OK;
}

int filter(sqlite3_vtab_cursor* cursor, int, const char*, int argc, sqlite3_value** argv) {
  auto* c = reinterpret_cast<BatchCursor*>(cursor);
  c->batch = argc > 0 ? static_cast<const Batch*>(sqlite3_value_pointer(argv[0], kPointerType)) : nullptr;
  c->row = 0;
  return SQLITE_OK;
}

int next(sqlite3_vtab_cursor* cursor) {
  ++reinterpret_cast<BatchCursor*>(cursor)->row;
  return SQLITE_OK;
}

int eof(sqlite3_vtab_cursor* cursor) {
  auto* c = reinterpret_cast<BatchCursor*>(cursor);
  return c->batch == nullptr || c->row >= c->batch->rows();
}

int column(sqlite3_vtab_cursor* cursor, sqlite3_context* ctx, int col) {
  auto* c = reinterpret_cast<BatchCursor*>(cursor);
  if (static_cast<size_t>(col) >= c->batch->columns()) {  // a column this batch does not fill
    sqlite3_result_null(ctx);
    return SQLITE_OK;
  }
  const Cell& cell = c->batch->row(c->row)[col];
  switch (cell.type) {
    case Cell::Type::Null: sqlite3_result_null(ctx); break;
    case Cell::Type::Int: sqlite3_result_int64(ctx, cell.i); break;
    case Cell::Type::Real: sqlite3_result_double(ctx, cell.r); break;
    // The batch outlives the statement, so SQLite need not copy the text.
    case Cell::Type::Text:
      sqlite3_result_text(ctx, cell.text->data(), static_cast<int>(cell.text->size()), SQLITE_STATIC);
      break;
  }
  return SQLITE_OK;
}

int rowid(sqlite3_vtab_cursor* cursor, sqlite3_int64* out) {
  *out = static_cast<sqlite3_int64>(reinterpret_cast<BatchCursor*>(cursor)->row);
  return SQLITE_OK;
}

sqlite3_module make_module() {
  sqlite3_module m{};
  m.iVersion = 0;
  m.xCreate = nullptr;  // eponymous only: it exists on every connection, in no schema
  m.xConnect = connect;
  m.xBestIndex = best_index;
  m.xDisconnect = disconnect;
  m.xOpen = open;
  m.xClose = close;
  m.xFilter = filter;
  m.xNext = next;
  m.xEof = eof;
  m.xColumn = column;
  m.xRowid = rowid;
  return m;
}

}  // namespace

void register_batch_table(sqlite3* db, int max_columns) {
  static const sqlite3_module module = make_module();
  auto* columns = new int(max_columns);
  int rc = sqlite3_create_module_v2(db, "crm_batch", &module, columns,
                                    [](void* p) { delete static_cast<int*>(p); });
  if (rc != SQLITE_OK) fail(db, "cannot register crm_batch");
}

void bind_batch(Statement& st, const Batch& batch) {
  if (!st.on_sqlite()) return st.bind_batch_other(batch);
  // SQLite only reads the batch; the pointer interface wants it non-const.
  if (sqlite3_bind_pointer(st.get(), 1, const_cast<Batch*>(&batch), kPointerType, nullptr) != SQLITE_OK)
    fail(sqlite3_db_handle(st.get()), "cannot bind a batch of rows");
}

int run_over_batch(Statement& st, const Batch& batch) {
  if (!st.on_sqlite()) {  // a failure throws there, rather than returning a code
    st.bind_batch_other(batch);
    st.run();
    return SQLITE_DONE;
  }
  bind_batch(st, batch);
  int rc = sqlite3_step(st.get());
  sqlite3_reset(st.get());
  sqlite3_clear_bindings(st.get());
  return rc;
}

}  // namespace crmcore::records::sql
