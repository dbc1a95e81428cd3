#pragma once
// The stock rules in the store's write path (cpp/src/stock/stock_rules.cpp):
// movements are a ledger that only grows, each one checked, and no location
// that takes no backorders ever holds less than nothing.
#include <sqlite3.h>

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

}  // namespace crmcore::records
