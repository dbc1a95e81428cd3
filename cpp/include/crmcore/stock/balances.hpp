#pragma once
// Kept balances (cpp/src/stock/balances.cpp): per product, location and
// calendar month (UTC), the net change of that pair's stock by the month's
// movements, a transfer counting at both ends. The stock rules add each
// write's movements to it inside the write's transaction (rules.hpp), so it
// always equals the sum of the ledger; it is derived data, rebuilt whole from
// the movements by the migration that brought it and after anything that
// moves or removes movements (a merge of products, a deleted location).
// Stock on a date is then the sum of the pair's months before the date's
// month plus the movements of that month up to the date: a read of a few
// rows per pair and one month of the ledger, not of the whole ledger.
#include <cstdint>
#include <string>

namespace crmcore::stock {

// The month an instant (ns since the epoch, UTC) falls in: year * 12 + month - 1.
int64_t balance_period(int64_t ns);
// The first instant of a period (INT64_MIN when it lies before what int64 ns can say).
int64_t period_start(int64_t period);
// The table and the index on moved_at that the reads need (schema version kBalancesVersion).
std::string balances_schema_sql();
// Empties the table and fills it again from stock_movements: one statement
// list, the same month rule as balance_period (tested against it at the
// month's edges and before 1970); in PostgreSQL's terms with `postgres`.
std::string rebuild_balances_sql(bool postgres = false);

}  // namespace crmcore::stock
