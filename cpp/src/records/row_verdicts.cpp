#include "row_verdicts.hpp"

#include <algorithm>
#include <numeric>

namespace crmcore::records {

namespace {

template <typename T>
void erase_at(std::vector<T>& values, size_t row) {
  if (row < values.size()) values.erase(values.begin() + static_cast<std::ptrdiff_t>(row));
}

void erase_row(Table& t, size_t row) {
  for (Column& c : t.columns) {
    erase_at(c.ints, row);
    erase_at(c.reals, row);
    erase_at(c.texts, row);
    erase_at(c.valid, row);
    // The unreadable values keep naming their rows.
    std::vector<std::pair<size_t, std::string>> kept;
    for (auto& [r, reason] : c.problems)
      if (r != row) kept.emplace_back(r > row ? r - 1 : r, std::move(reason));
    c.problems = std::move(kept);
  }
}

}  // namespace

bool DroppedRows::drop(const ValidationError& refusal) {
  const WriteRequest& req = request();
  const bool rows_of_a_table =
      req.op == WriteOp::Insert || req.op == WriteOp::Upsert || req.op == WriteOp::UpdateRows;
  if (req.on_error != OnError::Skip || !rows_of_a_table || !req.table || refusal.kind() != req.kind->name)
    return false;
  const auto* several = dynamic_cast<const RowsRefused*>(&refusal);
  std::vector<RowError> rows =
      several ? several->rows() : std::vector<RowError>{{refusal.row(), refusal.field(), refusal.reason()}};
  for (const RowError& r : rows)
    if (r.row < 0 || static_cast<size_t>(r.row) >= req.table->rows()) return false;
  if (!table_) {  // the first drop: the caller's table is copied once
    table_ = *original_.table;
    source_.resize(table_->rows());
    std::iota(source_.begin(), source_.end(), size_t{0});
    narrowed_.emplace(original_);
    narrowed_->table = &*table_;
  }
  // From the last row back, so that each row's number still holds when it goes.
  std::sort(rows.begin(), rows.end(), [](const RowError& a, const RowError& b) { return a.row > b.row; });
  for (RowError& r : rows) {
    const auto row = static_cast<size_t>(r.row);
    erase_row(*table_, row);
    r.row = static_cast<int64_t>(source_[row]);
    source_.erase(source_.begin() + static_cast<std::ptrdiff_t>(row));
    refused_.push_back(std::move(r));
  }
  return true;
}

WriteResult DroppedRows::restore(WriteResult result) const {
  if (!table_) return result;
  WriteResult out;
  out.ids.assign(original_.table->rows(), -1);
  for (size_t r = 0; r < result.ids.size() && r < source_.size(); ++r) out.ids[source_[r]] = result.ids[r];
  if (!result.updated.empty()) {
    out.updated.assign(original_.table->rows(), 0);
    for (size_t r = 0; r < result.updated.size() && r < source_.size(); ++r) out.updated[source_[r]] = result.updated[r];
  }
  out.errors = refused_;
  for (RowError e : result.errors) {
    if (e.row >= 0 && static_cast<size_t>(e.row) < source_.size()) e.row = static_cast<int64_t>(source_[e.row]);
    out.errors.push_back(std::move(e));
  }
  std::stable_sort(out.errors.begin(), out.errors.end(), [](const RowError& a, const RowError& b) { return a.row < b.row; });
  return out;
}

}  // namespace crmcore::records
