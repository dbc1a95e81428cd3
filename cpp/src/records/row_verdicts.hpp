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
#include <vector>

#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::records {

class DroppedRows {
 public:
  explicit DroppedRows(const WriteRequest& request) : original_(request) {}

  // The request as the next attempt writes it: the caller's, less the rows dropped so far.
  const WriteRequest& request() const { return narrowed_ ? *narrowed_ : original_; }

  // Takes `refusal` as the verdict on one row and drops that row; false when
  // it is no such verdict (no Skip, no row of this write named, a refusal
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
