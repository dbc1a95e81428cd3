// Kept balances: the monthly net changes of each (product, location), the
// part of the stock rules that writes them and the read of stock on a date
// that uses them (crmcore/stock/balances.hpp).
#include "crmcore/stock/balances.hpp"

#include <algorithm>
#include <limits>
#include <tuple>
#include <vector>

#include "../records/batch.hpp"
#include "../records/store_impl.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"
#include "crmcore/stock/rules.hpp"

namespace crmcore::stock {

namespace {

constexpr int64_t kNsPerDay = 86'400'000'000'000;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// A movement's signed quantity at its own location, in SQL (as signed_quantity in ledger.hpp).
constexpr const char* kSignedSql = "CASE WHEN type IN ('shipment', 'transfer') THEN -quantity ELSE quantity END";

// balance_period in SQL: the whole seconds are floored (SQLite's % keeps the
// sign of the dividend, as PostgreSQL's does), so that an instant before
// 1970 or a nanosecond before midnight stays in its own month. PostgreSQL
// reads the calendar from the same seconds through to_timestamp, in UTC.
std::string period_sql(const std::string& ns, bool postgres) {
  const std::string seconds = "((" + ns + " - ((" + ns + " % 1000000000) + 1000000000) % 1000000000) / 1000000000)";
  if (postgres) {
    const std::string utc = "to_timestamp(" + seconds + ") AT TIME ZONE 'UTC'";
    return "(CAST(extract(year FROM " + utc + ") AS bigint) * 12 + CAST(extract(month FROM " + utc +
           ") AS bigint) - 1)";
  }
  return "(CAST(strftime('%Y', " + seconds + ", 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', " + seconds +
         ", 'unixepoch') AS INTEGER) - 1)";
}

}  // namespace

int64_t balance_period(int64_t ns) {
  int64_t year = 0;
  unsigned month = 0, day = 0;
  records::civil_from_days(floor_div(ns, kNsPerDay), year, month, day);
  return year * 12 + static_cast<int64_t>(month) - 1;
}

int64_t period_start(int64_t period) {
  const int64_t year = floor_div(period, 12);
  const int64_t days = records::days_from_civil(year, static_cast<unsigned>(period - year * 12 + 1), 1);
  if (days < floor_div(std::numeric_limits<int64_t>::min(), kNsPerDay) + 1) return std::numeric_limits<int64_t>::min();
  return days * kNsPerDay;
}

std::string balances_schema_sql() {
  // WITHOUT ROWID: the rows live in the key's order, so a pair's months are
  // neighbours and a read grouped by pair needs no sort.
  return "CREATE TABLE IF NOT EXISTS stock_balances(product_id INTEGER NOT NULL, location_id INTEGER NOT NULL,"
         " period INTEGER NOT NULL, quantity REAL NOT NULL, PRIMARY KEY(product_id, location_id, period))"
         " WITHOUT ROWID;"
         "CREATE INDEX IF NOT EXISTS stock_movements_moved_at ON stock_movements(moved_at);";
}

std::string rebuild_balances_sql(bool postgres) {
  const std::string period = period_sql("moved_at", postgres);
  return "DELETE FROM stock_balances;"
         "INSERT INTO stock_balances(product_id, location_id, period, quantity)"
         " SELECT product_id, location_id, period, sum(q) FROM ("
         " SELECT product_id, location_id, " + period + " AS period, " + kSignedSql + " AS q FROM stock_movements"
         " UNION ALL SELECT product_id, to_location_id, " + period + ", quantity FROM stock_movements"
         " WHERE type = 'transfer' AND to_location_id IS NOT NULL) AS moves"  // (PostgreSQL names every subquery)
         " GROUP BY product_id, location_id, period;";
}

}  // namespace crmcore::stock

namespace crmcore::records {

void add_to_balances(Store::Impl& impl, std::vector<BalanceChange> changes) {
  if (changes.empty()) return;
  // One row per pair and month: an import's many movements of a month become one upsert.
  std::sort(changes.begin(), changes.end(), [](const BalanceChange& a, const BalanceChange& b) {
    return std::tie(a.product, a.location, a.period) < std::tie(b.product, b.location, b.period);
  });
  sql::Batch rows(4);
  for (size_t i = 0; i < changes.size();) {
    const BalanceChange& first = changes[i];
    double sum = 0;
    for (; i < changes.size() && changes[i].product == first.product && changes[i].location == first.location &&
           changes[i].period == first.period;
         ++i)
      sum += changes[i].quantity;
    sql::Cell* c = rows.add_row();
    c[0].set_int(first.product), c[1].set_int(first.location), c[2].set_int(first.period), c[3].set_real(sum);
  }
  sql::Statement& st = impl.prepared(
      "INSERT INTO stock_balances(product_id, location_id, period, quantity) SELECT c0, c1, c2, c3"
      " FROM crm_batch(?1) WHERE true ON CONFLICT(product_id, location_id, period)"
      " DO UPDATE SET quantity = stock_balances.quantity + excluded.quantity");  // (PostgreSQL: named, or ambiguous)
  sql::bind_batch(st, rows);
  st.run();
}

void rebuild_balances(Store::Impl& impl) { sql::exec(impl.db, stock::rebuild_balances_sql(!impl.db.is_sqlite())); }

Store::StockLevels Store::stock_levels(int64_t as_of, int64_t since, const Cancel* cancel) const {
  std::lock_guard<std::mutex> lock(mutex_);
  // The balances and the month's movements from one snapshot, even while
  // another process writes (a transaction of the caller's already is one;
  // on PostgreSQL a snapshot is a REPEATABLE READ transaction).
  const bool own = transaction_depth_ == 0;
  if (own) sql::exec(impl_->db, impl_->db.is_sqlite() ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ");
  struct EndRead {
    const sql::Db& db;
    bool own;
    ~EndRead() {
      if (own) undo_write(db, "COMMIT");  // (a read: its end is not reported, as a ROLLBACK's is not)
    }
  } end_read{impl_->db, own};
  constexpr int64_t kLatest = std::numeric_limits<int64_t>::max();
  // Everything before as_of's month comes from the balances; that month's
  // movements up to as_of from the ledger, by its index on moved_at.
  const int64_t period = as_of == kLatest ? kLatest : stock::balance_period(as_of);
  StockLevels out;
  {
    sql::Statement& st = impl_->prepared(
        "SELECT product_id, location_id, sum(quantity) FROM stock_balances WHERE period < ?1"
        " GROUP BY product_id, location_id ORDER BY product_id, location_id");
    st.bind(1, period);
    while (st.step()) {
      out.product.push_back(st.int64(0));
      out.location.push_back(st.int64(1));
      out.on_hand.push_back(st.real(2));
      if (cancel) const_cast<Cancel*>(cancel)->tick();
    }
    st.reset();
  }
  // The pair's row among the sorted ones, or a new one (sorted in at the end).
  struct Extra {
    int64_t product, location;
    double q;
  };
  std::vector<Extra> extra;
  const size_t sorted = out.product.size();
  auto add = [&](int64_t product, int64_t location, double q, std::vector<double>& into) {
    size_t lo = 0, hi = sorted;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (std::tie(out.product[mid], out.location[mid]) < std::tie(product, location)) lo = mid + 1;
      else hi = mid;
    }
    if (lo < sorted && out.product[lo] == product && out.location[lo] == location) into[lo] += q;
    else extra.push_back({product, location, q});
  };
  if (period != kLatest) {
    sql::Statement& st = impl_->prepared(
        std::string("SELECT product_id, location_id, ") + "CASE WHEN type IN ('shipment', 'transfer') THEN -quantity"
        " ELSE quantity END, CASE WHEN type = 'transfer' THEN to_location_id END FROM stock_movements"
        " WHERE moved_at >= ?1 AND moved_at <= ?2");
    st.bind(1, stock::period_start(period));
    st.bind(2, as_of);
    while (st.step()) {
      const int64_t product = st.int64(0);
      const double q = st.real(2);
      add(product, st.int64(1), q, out.on_hand);
      if (!st.is_null(3)) add(product, st.int64(3), -q, out.on_hand);
      if (cancel) const_cast<Cancel*>(cancel)->tick();
    }
    st.reset();
  }
  if (!extra.empty()) {
    std::sort(extra.begin(), extra.end(),
              [](const Extra& a, const Extra& b) { return std::tie(a.product, a.location) < std::tie(b.product, b.location); });
    StockLevels merged;
    const size_t n = sorted + extra.size();
    merged.product.reserve(n), merged.location.reserve(n), merged.on_hand.reserve(n);
    size_t i = 0, j = 0;
    while (i < sorted || j < extra.size()) {
      const bool take_extra = i == sorted || (j < extra.size() && std::tie(extra[j].product, extra[j].location) <
                                                                      std::tie(out.product[i], out.location[i]));
      if (!take_extra) {
        merged.product.push_back(out.product[i]), merged.location.push_back(out.location[i]);
        merged.on_hand.push_back(out.on_hand[i++]);
        continue;
      }
      const int64_t product = extra[j].product, location = extra[j].location;
      double q = 0;
      for (; j < extra.size() && extra[j].product == product && extra[j].location == location; ++j) q += extra[j].q;
      merged.product.push_back(product), merged.location.push_back(location), merged.on_hand.push_back(q);
    }
    out = std::move(merged);
  }
  out.shipped.assign(out.product.size(), 0.0);
  if (since < as_of) {
    sql::Statement& st = impl_->prepared(
        "SELECT product_id, location_id, quantity FROM stock_movements"
        " WHERE moved_at > ?1 AND moved_at <= ?2 AND type = 'shipment'");
    st.bind(1, since);
    st.bind(2, as_of);
    extra.clear();
    const size_t all = out.product.size();
    while (st.step()) {
      const int64_t product = st.int64(0), location = st.int64(1);
      const auto at = std::lower_bound(
          out.product.begin(), out.product.end(), product);  // first row of the product
      size_t k = static_cast<size_t>(at - out.product.begin());
      while (k < all && out.product[k] == product && out.location[k] != location) ++k;
      if (k < all && out.product[k] == product) out.shipped[k] += st.real(2);  // (a shipment up to as_of: its pair is there)
      if (cancel) const_cast<Cancel*>(cancel)->tick();
    }
    st.reset();
  }
  return out;
}

Store::StockBalances Store::stock_balances() const {
  std::lock_guard<std::mutex> lock(mutex_);
  StockBalances out;
  sql::Statement& st = impl_->prepared(
      "SELECT product_id, location_id, period, quantity FROM stock_balances ORDER BY product_id, location_id, period");
  while (st.step()) {
    out.product.push_back(st.int64(0));
    out.location.push_back(st.int64(1));
    out.period.push_back(st.int64(2));
    out.change.push_back(st.real(3));
  }
  st.reset();
  return out;
}

}  // namespace crmcore::records
