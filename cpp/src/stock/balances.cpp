// Kept balances: the monthly net changes, shipments and movement counts of
// each (product, location), the
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
         " period INTEGER NOT NULL, quantity REAL NOT NULL, shipped REAL NOT NULL, moves INTEGER NOT NULL,"
         " PRIMARY KEY(product_id, location_id, period)) WITHOUT ROWID;"
         "CREATE INDEX IF NOT EXISTS stock_movements_moved_at ON stock_movements(moved_at);";
}

std::string rebuild_balances_sql(bool postgres) {
  const std::string period = period_sql("moved_at", postgres);
  return "DELETE FROM stock_balances;"
         "INSERT INTO stock_balances(product_id, location_id, period, quantity, shipped, moves)"
         " SELECT product_id, location_id, period, sum(q), sum(s), count(*) FROM ("
         " SELECT product_id, location_id, " + period + " AS period, " + kSignedSql + " AS q,"
         " CASE WHEN type = 'shipment' THEN quantity ELSE 0.0 END AS s FROM stock_movements"
         " UNION ALL SELECT product_id, to_location_id, " + period + ", quantity, 0.0 FROM stock_movements"
         " WHERE type = 'transfer' AND to_location_id IS NOT NULL) AS ledger"  // (PostgreSQL names every subquery)
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
  sql::Batch rows(6);
  for (size_t i = 0; i < changes.size();) {
    const BalanceChange& first = changes[i];
    double sum = 0, shipped = 0;
    int64_t moves = 0;
    for (; i < changes.size() && changes[i].product == first.product && changes[i].location == first.location &&
           changes[i].period == first.period;
         ++i)
      sum += changes[i].quantity, shipped += changes[i].shipped, ++moves;
    sql::Cell* c = rows.add_row();
    c[0].set_int(first.product), c[1].set_int(first.location), c[2].set_int(first.period), c[3].set_real(sum);
    c[4].set_real(shipped), c[5].set_int(moves);
  }
  sql::Statement& st = impl.prepared(
      "INSERT INTO stock_balances(product_id, location_id, period, quantity, shipped, moves)"
      " SELECT c0, c1, c2, c3, c4, c5 FROM crm_batch(?1) WHERE true ON CONFLICT(product_id, location_id, period)"
      " DO UPDATE SET quantity = stock_balances.quantity + excluded.quantity,"
      " shipped = stock_balances.shipped + excluded.shipped, moves = stock_balances.moves + excluded.moves");
      // (PostgreSQL: the table's columns named, or ambiguous)
  sql::bind_batch(st, rows);
  st.run();
}

void rebuild_balances(Store::Impl& impl) { sql::exec(impl.db, stock::rebuild_balances_sql(!impl.db.is_sqlite())); }

namespace {

constexpr int64_t kLatest = std::numeric_limits<int64_t>::max();
// Sums of quantities differ from exact ones by rounding: this close to zero is zero.
constexpr double kTolerance = 1e-9;

// The first instant after a period (INT64_MAX when it lies beyond what int64 ns can say).
int64_t period_end(int64_t period) {
  const int64_t next = period + 1, year = stock::floor_div(next, 12);
  const int64_t days = days_from_civil(year, static_cast<unsigned>(next - year * 12 + 1), 1);
  return days > kLatest / stock::kNsPerDay ? kLatest : days * stock::kNsPerDay;
}

// How a read reaches the instant t: the kept months before `months` whole,
// then the movements in [from, to], added; or, when t is nearer its month's
// end than its start, the months up to and with t's and the movements after t
// to the month's end taken off (`back`). The ledger's rows spread over a
// month, so this reads at most about half a month of them.
struct Cut {
  int64_t months;
  bool back;
  int64_t from, to;
};

Cut cut_at(int64_t t) {
  if (t == kLatest) return {kLatest, false, 0, -1};  // every month, no movement
  const int64_t p = stock::balance_period(t), start = stock::period_start(p), end = period_end(p);
  // (Unsigned differences: start may be INT64_MIN.)
  const uint64_t into = static_cast<uint64_t>(t) - static_cast<uint64_t>(start);
  if (end != kLatest && static_cast<uint64_t>(end) - static_cast<uint64_t>(t) < into) return {p + 1, true, t + 1, end - 1};
  return {p, false, start, t};
}

// The row of a (product, location) among the sorted rows of a read: a table
// over the product ids' span gives the product's first row (one look-up per
// movement read instead of a binary search over 300k ids), then its few
// locations in turn; ids too scattered for a table are searched.
class PairIndex {
 public:
  explicit PairIndex(const Store::StockLevels& rows) : rows_(rows) {
    if (rows.product.empty()) return;
    lo_ = rows.product.front();
    const uint64_t span = static_cast<uint64_t>(rows.product.back()) - static_cast<uint64_t>(lo_) + 1;
    if (span > 4 * rows.product.size() + 1024) return;
    first_.assign(span, -1);
    for (size_t k = rows.product.size(); k-- > 0;) first_[static_cast<size_t>(rows.product[k] - lo_)] = static_cast<int64_t>(k);
  }

  ptrdiff_t find(int64_t product, int64_t location) const {
    const std::vector<int64_t>& ids = rows_.product;
    size_t k = 0;
    if (!first_.empty()) {
      const uint64_t at = static_cast<uint64_t>(product) - static_cast<uint64_t>(lo_);
      if (at >= first_.size() || first_[at] < 0) return -1;
      k = static_cast<size_t>(first_[at]);
    } else {
      k = static_cast<size_t>(std::lower_bound(ids.begin(), ids.end(), product) - ids.begin());
    }
    for (; k < ids.size() && ids[k] == product; ++k)
      if (rows_.location[k] == location) return static_cast<ptrdiff_t>(k);
    return -1;
  }

 private:
  const Store::StockLevels& rows_;
  int64_t lo_ = 0;
  std::vector<int64_t> first_;
};

}  // namespace

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
  auto tick = [cancel] {
    if (cancel) const_cast<Cancel*>(cancel)->tick();
  };
  const Cut at = cut_at(as_of);
  // The window's shipments are the months from since's cut up to as_of's,
  // with since's movements taken off (or added) the other way round.
  const Cut from = since < as_of ? cut_at(since) : at;
  StockLevels out;
  // For a pair whose first kept month is as_of's and which is read `back`:
  // its movements that month; it moved by as_of only if not all of them
  // come after as_of (0: the pair moved in an earlier month, it is in).
  std::vector<int64_t> unsure, after;
  {
    sql::Statement& st = impl_->prepared(
        "SELECT product_id, location_id, period, quantity, shipped, moves FROM stock_balances WHERE period < ?1"
        " ORDER BY product_id, location_id, period");
    st.bind(1, at.months);
    while (st.step()) {
      const int64_t product = st.int64(0), location = st.int64(1), period = st.int64(2);
      if (out.product.empty() || out.product.back() != product || out.location.back() != location) {
        out.product.push_back(product), out.location.push_back(location);
        out.on_hand.push_back(0.0), out.shipped.push_back(0.0);
        unsure.push_back(at.back && period == at.months - 1 ? st.int64(5) : 0);
      }
      out.on_hand.back() += st.real(3);
      if (period >= from.months) out.shipped.back() += st.real(4);  // (a column not asked for is not decoded)
      tick();
    }
    st.reset();
  }
  after.assign(out.product.size(), 0);
  // Pairs that first move in as_of's month, read forward: sorted in after.
  struct Extra {
    int64_t product, location;
    double q, shipped;
  };
  std::vector<Extra> extra;
  if (at.from <= at.to) {
    sql::Statement& st = impl_->prepared(
        "SELECT product_id, location_id, quantity, CASE type WHEN 'shipment' THEN 1 WHEN 'transfer' THEN 2 ELSE 0"
        " END, to_location_id FROM stock_movements WHERE moved_at >= ?1 AND moved_at <= ?2");
    st.bind(1, at.from);
    st.bind(2, at.to);
    const double sign = at.back ? -1.0 : 1.0;
    const PairIndex index(out);
    auto add = [&](int64_t product, int64_t location, double q, double shipped) {
      const ptrdiff_t k = index.find(product, location);
      if (k >= 0) {
        out.on_hand[k] += sign * q, out.shipped[k] += sign * shipped, ++after[k];
      } else if (!at.back) {
        extra.push_back({product, location, q, shipped});
      } else {  // (a month read back is kept for every pair that moved in it)
        throw Error("the kept stock balances lack product " + std::to_string(product) + " at location " +
                    std::to_string(location) + ", which moved in the month read; rebuild them");
      }
    };
    while (st.step()) {
      const int64_t product = st.int64(0), code = st.int64(3);
      const double q = st.real(2);
      add(product, st.int64(1), code == 0 ? q : -q, code == 1 ? q : 0.0);
      if (code == 2) add(product, st.int64(4), q, 0.0);
      tick();
    }
    st.reset();
  }
  if (!extra.empty()) {
    std::sort(extra.begin(), extra.end(),
              [](const Extra& a, const Extra& b) { return std::tie(a.product, a.location) < std::tie(b.product, b.location); });
    StockLevels merged;
    const size_t sorted = out.product.size(), n = sorted + extra.size();
    merged.product.reserve(n), merged.location.reserve(n), merged.on_hand.reserve(n), merged.shipped.reserve(n);
    size_t i = 0, j = 0;
    while (i < sorted || j < extra.size()) {
      const bool take_extra = i == sorted || (j < extra.size() && std::tie(extra[j].product, extra[j].location) <
                                                                      std::tie(out.product[i], out.location[i]));
      if (!take_extra) {
        merged.product.push_back(out.product[i]), merged.location.push_back(out.location[i]);
        merged.on_hand.push_back(out.on_hand[i]), merged.shipped.push_back(out.shipped[i++]);
        continue;
      }
      const int64_t product = extra[j].product, location = extra[j].location;
      double q = 0, shipped = 0;
      for (; j < extra.size() && extra[j].product == product && extra[j].location == location; ++j)
        q += extra[j].q, shipped += extra[j].shipped;
      merged.product.push_back(product), merged.location.push_back(location);
      merged.on_hand.push_back(q), merged.shipped.push_back(shipped);
    }
    out = std::move(merged);  // (read forward: no pair is unsure)
    unsure.clear();
  }
  // Drop the pairs all of whose movements came after as_of.
  size_t kept = 0;
  for (size_t k = 0; k < out.product.size(); ++k) {
    if (k < unsure.size() && unsure[k] > 0 && after[k] == unsure[k]) continue;
    out.product[kept] = out.product[k], out.location[kept] = out.location[k];
    out.on_hand[kept] = out.on_hand[k], out.shipped[kept] = out.shipped[k];
    ++kept;
  }
  out.product.resize(kept), out.location.resize(kept), out.on_hand.resize(kept), out.shipped.resize(kept);
  if (since < as_of && from.from <= from.to) {
    // Read forward, since's month counted whole: its shipments up to since
    // come off; read back, the months start after it: those after since come in.
    sql::Statement& st = impl_->prepared(
        "SELECT product_id, location_id, quantity FROM stock_movements"
        " WHERE moved_at >= ?1 AND moved_at <= ?2 AND type = 'shipment'");
    st.bind(1, from.from);
    st.bind(2, from.to);
    const double sign = from.back ? 1.0 : -1.0;
    const PairIndex index(out);
    while (st.step()) {
      // (A pair not found moved only after as_of: what it shipped was taken off with as_of's month.)
      const ptrdiff_t k = index.find(st.int64(0), st.int64(1));
      if (k >= 0) out.shipped[k] += sign * st.real(2);
      tick();
    }
    st.reset();
  } else if (since >= as_of) {
    std::fill(out.shipped.begin(), out.shipped.end(), 0.0);
  }
  // Sums taken off differ from the exact ones by rounding: this close to zero is zero.
  for (double& v : out.on_hand)
    if (std::abs(v) <= kTolerance) v = 0.0;
  for (double& v : out.shipped)
    if (std::abs(v) <= kTolerance) v = 0.0;
  return out;
}

Store::StockBalances Store::stock_balances() const {
  std::lock_guard<std::mutex> lock(mutex_);
  StockBalances out;
  sql::Statement& st = impl_->prepared(
      "SELECT product_id, location_id, period, quantity, shipped, moves FROM stock_balances"
      " ORDER BY product_id, location_id, period");
  while (st.step()) {
    out.product.push_back(st.int64(0));
    out.location.push_back(st.int64(1));
    out.period.push_back(st.int64(2));
    out.change.push_back(st.real(3));
    out.shipped.push_back(st.real(4));
    out.moves.push_back(st.int64(5));
  }
  st.reset();
  return out;
}

}  // namespace crmcore::records
