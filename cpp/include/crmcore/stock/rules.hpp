#pragma once
// The stock rules in the store's write path (cpp/src/stock/stock_rules.cpp):
// movements are a ledger that only grows, each one checked, and no location
// that takes no backorders ever holds less than nothing.
#include <sqlite3.h>

#include <cstdint>
#include <vector>

#include "crmcore/records/store.hpp"

namespace crmcore::records {

// The connection's triggers that note every movement and purchase line a
// write touches, for apply_stock_rules.
void install_stock_capture(sqlite3* db);
// Its SQLite script (TEMP table and triggers), translated for PostgreSQL by pg_rules.cpp.
std::string stock_capture_sql();
// Checks and completes what the write did to movements and purchase lines;
// throws ValidationError (naming the row, record, product and location) to
// refuse it, before the write's transaction ends.
void apply_stock_rules(Store::Impl& impl, const WriteRequest& request, const WriteResult& result);
// Throws ValidationError when two commission rules of the same partner and
// category are in force on one day, or a rule ends before it begins
// (cpp/src/stock/commission_rules.cpp).
void check_commission_rules(Store::Impl& impl);

// One movement's change to a (product, location) in a month (stock/balances.hpp):
// the signed quantity, what it shipped (a shipment's quantity, else 0) and
// that it is one movement touching the pair.
struct BalanceChange {
  int64_t product, location, period;
  double quantity, shipped;
};
// Adds the changes to the kept balances, in the write's transaction
// (cpp/src/stock/balances.cpp).
void add_to_balances(Store::Impl& impl, std::vector<BalanceChange> changes);
// Makes the kept balances again from the whole ledger.
void rebuild_balances(Store::Impl& impl);

}  // namespace crmcore::records
