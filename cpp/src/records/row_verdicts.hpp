#pragma once
// Rows the domain rules refuse, under OnError::Skip. The rules (stage,
// ticket, ledger, stock) judge a write once its rows are written, since a
// row's fate can hang on the others (a shipment on the receipt before it, a
// payment on the ones already made). A refusal that names one row of the
// caller's table is that row's verdict: with OnError::Skip the write is
// undone, the row dropped and reported like any other skipped row, and the
// rest written again, until the rules take what is left.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::records {

// Several rows refused at once, by a rule that judges each row on its own
// (a movement's sign, reason, destination), so that a file with many such
// rows is not written again once per row. To a caller that does not skip it
// is the first row's refusal.
class RowsRefused : public ValidationError {
 public:
  RowsRefused(const std::string& kind, std::vector<RowError> rows)
      : ValidationError(kind, rows.at(0).row, rows.at(0).field, rows.at(0).reason), rows_(std::move(rows)) {}
  const std::vector<RowError>& rows() const { return rows_; }

 private:
  std::vector<RowError> rows_;
};

class DroppedRows {
 public:
  explicit DroppedRows(const WriteRequest& request) : original_(request) {}

  // The request as the next attempt writes it: the caller's, less the rows dropped so far.
  const WriteRequest& request() const { return narrowed_ ? *narrowed_ : original_; }

  // Takes `refusal` as the verdict on one row (or on each of RowsRefused's)
  // and drops it; false when it is no such verdict (no Skip, no row of this write named, a refusal
  // about another kind), so that the write fails whole as before.
  bool drop(const ValidationError& refusal);

  // The last attempt's result in the caller's rows: ids, errors and updated
  // flags, with the dropped rows among the skipped ones.
  WriteResult restore(WriteResult result) const;

 private:
  const WriteRequest& original_;
  std::optional<Table> table_;             // the caller's table less the dropped rows
  std::optional<WriteRequest> narrowed_;   // the request over table_
  std::vector<size_t> source_;             // the caller's row of each row of table_
  std::vector<RowError> refused_;          // in the caller's rows
};

}  // namespace crmcore::records
