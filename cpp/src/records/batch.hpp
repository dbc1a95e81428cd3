#pragma once
// Rows staged in memory and served to SQLite as a table, private to the store.
//
// Stepping one prepared INSERT per row costs SQLite about a microsecond of
// statement start-up and teardown, several times the cost of writing the row
// itself. A Batch instead reaches SQL as the table-valued function
// `crm_batch(?)`, so that one `INSERT ... SELECT c0, c1, ... FROM crm_batch(?)`
// moves a whole batch inside a single statement.
#include <sqlite3.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace crmcore::records::sql {

class Statement;

// One value of a staged row. Text points at a string that outlives the
// statement reading the batch (the caller's column, or the batch's own copy).
struct Cell {
  enum class Type : uint8_t { Null, Int, Real, Text };
  Type type = Type::Null;
  union {
    int64_t i = 0;
    double r;
    const std::string* text;
  };

  void set_null() { type = Type::Null; }
  void set_int(int64_t v) { type = Type::Int, i = v; }
  void set_real(double v) { type = Type::Real, r = v; }
  void set_text(const std::string* s) { type = Type::Text, text = s; }
};

// Rows of cells, stored row after row.
class Batch {
 public:
  explicit Batch(size_t columns) : columns_(columns) {}

  size_t columns() const { return columns_; }
  size_t rows() const { return columns_ == 0 ? 0 : cells_.size() / columns_; }
  // Appends a row of nulls and returns its cells.
  Cell* add_row() {
    cells_.resize(cells_.size() + columns_);
    return &cells_[cells_.size() - columns_];
  }
  // Room for `rows` rows without moving the cells: a chunk of 65,536 rows
  // of an import's 28 columns is 29 MB, which growing by doublings copies
  // (and faults in fresh from the system) several times over.
  void reserve(size_t rows) { cells_.reserve(rows * columns_); }
  Cell* row(size_t r) { return &cells_[r * columns_]; }
  const Cell* row(size_t r) const { return &cells_[r * columns_]; }
  // Keeps a string the batch owns, at an address that stays put.
  const std::string* keep(std::string s) {
    owned_.push_back(std::move(s));
    return &owned_.back();
  }
  void clear() {
    cells_.clear();
    owned_.clear();
  }
  // The type a column's stored values have, for an engine that types a
  // batch's columns (PostgreSQL, other_engine.cpp): a column null in every
  // row is typed by this rather than as integers, which no text column
  // compares with. Undeclared columns are typed by their values. Kept by
  // clear().
  void declare(size_t column, Cell::Type type) {
    if (declared_.size() < columns_) declared_.resize(columns_, Cell::Type::Null);
    declared_.at(column) = type;
  }
  Cell::Type declared(size_t column) const { return column < declared_.size() ? declared_[column] : Cell::Type::Null; }

 private:
  size_t columns_;
  std::vector<Cell::Type> declared_;
  std::vector<Cell> cells_;
  std::deque<std::string> owned_;
};

// Makes crm_batch(batch) with columns c0..c{max_columns-1} known to `db`.
void register_batch_table(sqlite3* db, int max_columns);

// Binds `batch` to the first parameter of `st`, the one crm_batch(?1) reads.
// The batch must outlive the statement's steps.
void bind_batch(Statement& st, const Batch& batch);

// Binds the batch, steps `st` once through, and returns SQLite's result code
// (SQLITE_DONE on success).
int run_over_batch(Statement& st, const Batch& batch);

}  // namespace crmcore::records::sql
