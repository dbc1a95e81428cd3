// Stock rules, the stock's part of the write path. What is on hand at a
// location is the sum of its movements, so the ledger of movements is the
// only thing to guard; the kept monthly balances (stock/balances.hpp) are
// derived from it here, in the same transaction. Whatever writes a movement
// or a purchase line (an add, an import, an upsert), SQLite triggers note it
// in a temporary table while the write runs; before the write's transaction
// ends, the rules read those notes and
// - refuse a change of what a movement moves, where, when and at what cost,
//   and its deletion (the ledger is corrected by a new adjustment, so that
//   any past day's stock stays what it was); tags, notes and the sales order
//   it served may change;
// - check each new movement: a positive quantity (an adjustment's is the
//   signed change and needs a reason), a transfer's destination, a receipt's
//   purchase line of the same product (its cost when none is given);
// - keep each purchase line's received quantity and date the sum and the
//   last of its receipts, refusing receipts beyond the quantity ordered;
// - refuse a movement after which a location that takes no backorders would
//   hold less than nothing of a product, on the movement's date or later.
// A refusal undoes the whole write (stage_rules.cpp works the same way); one
// that names a movement of the caller's rows is that row's verdict, so that
// with OnError::Skip the row alone is dropped (records/row_verdicts.hpp).
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <cstdio>
#include <unordered_map>

#include "../records/batch.hpp"
#include "../records/row_verdicts.hpp"
#include "../records/store_impl.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/stock/balances.hpp"
#include "crmcore/stock/rules.hpp"

namespace crmcore::records {

namespace {

constexpr const char* kMovements = "stock_movements";
// Sums of quantities may differ from the exact sum by rounding; a balance
// this close to zero is zero.
constexpr double kTolerance = 1e-9;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// Products and locations named for people: "product 'TEA' (id 9)".
struct Names {
  Store::Impl& impl;
  std::string product(int64_t id) { return named("product", "SELECT sku FROM products WHERE id = ?1", id); }
  std::string location(int64_t id) { return named("location", "SELECT name FROM locations WHERE id = ?1", id); }

 private:
  std::string named(const char* what, const char* query, int64_t id) {
    auto& st = impl.prepared(query);
    st.bind(1, id);
    std::string out = std::string(what) + " " + (st.step() ? quote(st.text(0)) + " " : "");
    st.reset();
    return out + "(id " + std::to_string(id) + ")";
  }
};

// Ids as a one-column batch, for crm_batch(?1).
sql::Batch id_batch(const std::vector<int64_t>& ids) {
  sql::Batch out(1);
  for (int64_t id : ids) out.add_row()[0].set_int(id);
  return out;
}

// A new movement as the write left it.
struct Movement {
  int64_t id;
  std::string type;
  int64_t product, location, to_location;  // -1: none
  double quantity;
  bool has_cost, has_reason;
  int64_t line, line_product;  // -1: none
  int64_t moved_at;
};

}  // namespace

std::string stock_capture_sql() {
  return
            "CREATE TEMP TABLE IF NOT EXISTS crm_stock_notes(seq INTEGER PRIMARY KEY, what TEXT NOT NULL,"
            " id INTEGER NOT NULL);"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_movement_added AFTER INSERT ON main.stock_movements BEGIN"
            " INSERT INTO crm_stock_notes(what, id) VALUES('added', NEW.id); END;"
            // Only what the stock depends on: tags, notes and the order a
            // movement belongs to may change, and an import of the same rows
            // again changes nothing.
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_movement_changed AFTER UPDATE ON main.stock_movements"
            " WHEN OLD.type IS NOT NEW.type OR OLD.product_id IS NOT NEW.product_id"
            " OR OLD.location_id IS NOT NEW.location_id OR OLD.to_location_id IS NOT NEW.to_location_id"
            " OR OLD.quantity IS NOT NEW.quantity OR OLD.unit_cost IS NOT NEW.unit_cost"
            " OR OLD.moved_at IS NOT NEW.moved_at OR OLD.purchase_line_id IS NOT NEW.purchase_line_id BEGIN"
            " INSERT INTO crm_stock_notes(what, id) VALUES('changed', NEW.id); END;"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_movement_deleted AFTER DELETE ON main.stock_movements BEGIN"
            " INSERT INTO crm_stock_notes(what, id) VALUES('deleted', OLD.id); END;"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_line_added AFTER INSERT ON main.purchase_lines BEGIN"
            " INSERT INTO crm_stock_notes(what, id) VALUES('line', NEW.id); END;"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_line_changed AFTER UPDATE OF quantity, product_id,"
            " received_quantity, received_at ON main.purchase_lines BEGIN"
            " INSERT INTO crm_stock_notes(what, id) VALUES('line', NEW.id); END;";
}

void install_stock_capture(sqlite3* db) { sql::exec(db, stock_capture_sql()); }

void apply_stock_rules(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  if (req.kind->name == "commission_rules") check_commission_rules(impl);
  std::vector<int64_t> added, lines;
  int64_t changed = -1;
  {
    sql::Statement& st = impl.prepared("SELECT what, id FROM crm_stock_notes ORDER BY seq");
    while (st.step()) {
      const std::string what = st.text(0);
      if (what == "added") added.push_back(st.int64(1));
      else if (what == "line") lines.push_back(st.int64(1));
      else if (changed < 0) changed = st.int64(1);
    }
    st.reset();
  }
  if (added.empty() && lines.empty() && changed < 0) return;
  impl.prepared("DELETE FROM crm_stock_notes").run();
  const bool movements_written = req.kind->name == kMovements;
  // Merges move references (a product folded into another keeps its
  // movements), and deleting a product or a location takes its movements
  // with it; only a write of the movements themselves must leave them be.
  if (changed >= 0 && movements_written && req.op != WriteOp::Merge && req.op != WriteOp::Unmerge)
    throw ValidationError(kMovements, -1, "", "stock movements are a ledger and are not changed or deleted;"
                          " record an adjustment instead", changed);

  std::unordered_map<int64_t, int64_t> row_of;  // the caller's row that wrote each new movement
  if (movements_written)
    for (size_t r = 0; r < result.ids.size(); ++r)
      if (result.ids[r] >= 0) row_of[result.ids[r]] = static_cast<int64_t>(r);
  auto refuse = [&](const Movement& m, const std::string& field, const std::string& reason) {
    const auto found = row_of.find(m.id);
    throw ValidationError(kMovements, found == row_of.end() ? -1 : found->second, field, reason, m.id);
  };
  Names names{impl};

  std::vector<Movement> moves;
  moves.reserve(added.size());
  // The new movements, their ids bound as a batch.
  const sql::Batch ids = id_batch(added);
  if (!added.empty()) {
    sql::Statement& st = impl.prepared(
        // (The two tests as 0 or 1: PostgreSQL's are booleans.)
        "SELECT m.id, m.type, m.product_id, m.location_id, m.to_location_id, m.quantity,"
        " CASE WHEN m.unit_cost IS NOT NULL THEN 1 ELSE 0 END,"
        " CASE WHEN coalesce(trim(m.reason), '') <> '' THEN 1 ELSE 0 END, m.purchase_line_id, l.product_id, m.moved_at"
        " FROM crm_batch(?1) AS b JOIN stock_movements AS m ON m.id = b.c0"
        " LEFT JOIN purchase_lines AS l ON l.id = m.purchase_line_id ORDER BY m.id");
    sql::bind_batch(st, ids);
    while (st.step()) {
      auto opt = [&st](int c) { return st.is_null(c) ? int64_t{-1} : st.int64(c); };
      moves.push_back({st.int64(0), st.text(1), st.int64(2), st.int64(3), opt(4), st.real(5), st.int64(6) != 0,
                       st.int64(7) != 0, opt(8), opt(9), st.int64(10)});
    }
    st.reset();
  }

  sql::Batch costs(2);  // movement id, purchase line id: receipts that take the line's cost
  // Each movement's own checks judge it alone: with OnError::Skip, every
  // movement that fails them is refused at once (RowsRefused).
  const bool skipping = req.on_error == OnError::Skip && movements_written;
  std::vector<RowError> failed;
  for (const Movement& m : moves) try {
    const bool adjustment = m.type == "adjustment";
    if (!std::isfinite(m.quantity)) refuse(m, "quantity", "is not a number");
    if (adjustment && m.quantity == 0) refuse(m, "quantity", "an adjustment changes the stock (it is 0)");
    if (!adjustment && m.quantity <= 0)
      refuse(m, "quantity", "a " + m.type + " moves a positive quantity (" + number(m.quantity) +
                                " given; only an adjustment takes a signed change)");
    if (adjustment && !m.has_reason) refuse(m, "reason", "an adjustment needs a reason (a count, damage, theft...)");
    if (m.type == "transfer") {
      if (m.to_location < 0) refuse(m, "to_location_id", "a transfer needs the location it goes to");
      if (m.to_location == m.location) refuse(m, "to_location_id", "a transfer goes to another location");
    } else if (m.to_location >= 0) {
      refuse(m, "to_location_id", "only a transfer goes to another location (this is a " + m.type + ")");
    }
    if (m.line >= 0) {
      if (m.type != "receipt") refuse(m, "purchase_line_id", "only a receipt names a purchase line");
      if (m.line_product != m.product)
        refuse(m, "product_id", "purchase line " + std::to_string(m.line) + " orders " +
                                    names.product(m.line_product) + ", not " + names.product(m.product));
      lines.push_back(m.line);
      if (!m.has_cost) {
        sql::Cell* c = costs.add_row();
        c[0].set_int(m.id), c[1].set_int(m.line);
      }
    }
  } catch (const ValidationError& e) {
    if (!skipping || e.row() < 0) throw;
    failed.push_back({e.row(), e.field(), e.reason()});
  }
  if (!failed.empty()) throw RowsRefused(kMovements, std::move(failed));
  // The kept balances follow the ledger in this same transaction (a refusal
  // below undoes them with the rest). Movements moved or removed by a merge
  // or a deletion are few writes and rare: the balances are made again whole.
  if (changed >= 0) {
    rebuild_balances(impl);
  } else if (!moves.empty()) {
    std::vector<BalanceChange> changes;
    changes.reserve(moves.size());
    for (const Movement& m : moves) {
      const int64_t period = stock::balance_period(m.moved_at);
      const bool outgoing = m.type == "shipment" || m.type == "transfer";
      changes.push_back({m.product, m.location, period, outgoing ? -m.quantity : m.quantity});
      if (m.type == "transfer") changes.push_back({m.product, m.to_location, period, m.quantity});
    }
    add_to_balances(impl, std::move(changes));
  }
  if (costs.rows() > 0) {
    sql::Statement& st = impl.prepared(
        "UPDATE stock_movements SET unit_cost = (SELECT unit_cost FROM purchase_lines WHERE id = b.c1)"
        " FROM crm_batch(?1) AS b WHERE stock_movements.id = b.c0");
    sql::bind_batch(st, costs);
    st.run();
  }

  // Received quantities and dates follow the receipts.
  if (!lines.empty()) {
    const sql::Batch touched = id_batch(lines);
    sql::Statement& st = impl.prepared(
        "UPDATE purchase_lines SET received_quantity = r.q, received_at = r.at FROM"
        " (SELECT b.c0 AS line, sum(m.quantity) AS q, max(m.moved_at) AS at FROM (SELECT DISTINCT c0 FROM"
        " crm_batch(?1)) AS b LEFT JOIN stock_movements AS m ON m.purchase_line_id = b.c0 AND m.type = 'receipt'"
        " GROUP BY b.c0) AS r WHERE purchase_lines.id = r.line");
    sql::bind_batch(st, touched);
    st.run();
    sql::Statement& over = impl.prepared(
        "SELECT l.id, l.quantity, l.received_quantity FROM (SELECT DISTINCT c0 FROM crm_batch(?1)) AS b"
        " JOIN purchase_lines AS l ON l.id = b.c0 WHERE l.received_quantity > l.quantity + ?2 ORDER BY l.id LIMIT 1");
    sql::bind_batch(over, touched);
    over.bind(2, kTolerance);
    if (over.step()) {
      const int64_t line = over.int64(0);
      const std::string reason = "receipts of " + number(over.real(2)) + " exceed the " + number(over.real(1)) +
                                 " ordered on purchase line " + std::to_string(line);
      const double ordered = over.real(1), received = over.real(2);
      over.reset();
      // The receipt to refuse is the first of this write's, in time, that
      // takes the line past its quantity: the ones before it fit (with
      // OnError::Skip they land, see row_verdicts.hpp).
      std::vector<const Movement*> mine;
      double before = received;
      for (const Movement& m : moves)
        if (m.line == line) mine.push_back(&m), before -= m.quantity;
      std::sort(mine.begin(), mine.end(), [](const Movement* x, const Movement* y) {
        return std::tie(x->moved_at, x->id) < std::tie(y->moved_at, y->id);
      });
      for (const Movement* m : mine)
        if ((before += m->quantity) > ordered + kTolerance) refuse(*m, "quantity", reason);
      throw ValidationError("purchase_lines", -1, "quantity", reason, line);
    }
    over.reset();
  }
  impl.prepared("DELETE FROM crm_stock_notes").run();  // the rules' own writes are no notes

  // Stock never below zero where backorders are not taken: each pair of
  // product and location the write moved, from its earliest new movement on.
  if (moves.empty()) return;
  struct Pair {
    int64_t first_at, first_id;
  };
  std::unordered_map<int64_t, std::unordered_map<int64_t, Pair>> pairs;
  auto note = [&pairs](int64_t product, int64_t location, const Movement& m) {
    auto [it, fresh] = pairs[product].try_emplace(location, Pair{m.moved_at, m.id});
    if (!fresh && m.moved_at < it->second.first_at) it->second = {m.moved_at, m.id};
  };
  for (const Movement& m : moves) {
    note(m.product, m.location, m);
    if (m.to_location >= 0) note(m.product, m.to_location, m);
  }
  // Only locations that take no backorders need a look.
  {
    sql::Statement& st = impl.prepared("SELECT id FROM locations WHERE coalesce(allows_backorders, 0) <> 0");
    while (st.step()) {
      const int64_t open = st.int64(0);
      for (auto& [product, at] : pairs) at.erase(open);
    }
    st.reset();
  }
  sql::Batch products(1);
  for (const auto& [product, at] : pairs)
    if (!at.empty()) products.add_row()[0].set_int(product);
  if (products.rows() == 0) return;
  // The affected pairs' whole ledgers, each movement's effect on each of
  // them, in time order (ties by id, as the ledger orders them).
  struct Step {
    int64_t product, location, at, id;
    double q;
  };
  std::vector<Step> steps;
  {
    // A few products are looked up by their index; many (an import) are
    // found in one pass over the ledger, cheaper than a lookup per row.
    const bool few = products.rows() <= 256;
    sql::Statement& st = impl.prepared(
        few ? "SELECT m.id, m.type, m.product_id, m.location_id, m.to_location_id, m.quantity, m.moved_at"
              " FROM crm_batch(?1) AS b JOIN stock_movements AS m ON m.product_id = b.c0"
            : "SELECT id, type, product_id, location_id, to_location_id, quantity, moved_at FROM stock_movements");
    if (few) sql::bind_batch(st, products);
    while (st.step()) {
      const int64_t product = st.int64(2), location = st.int64(3);
      const auto found = pairs.find(product);
      if (found == pairs.end()) continue;
      const std::string type = st.text(1);
      const double q = st.real(5);
      const auto& at = found->second;
      const bool outgoing = type == "shipment" || type == "transfer";
      if (at.count(location)) steps.push_back({product, location, st.int64(6), st.int64(0), outgoing ? -q : q});
      if (type == "transfer" && !st.is_null(4) && at.count(st.int64(4)))
        steps.push_back({product, st.int64(4), st.int64(6), st.int64(0), q});
    }
    st.reset();
  }
  std::sort(steps.begin(), steps.end(), [](const Step& x, const Step& y) {
    return std::tie(x.product, x.location, x.at, x.id) < std::tie(y.product, y.location, y.at, y.id);
  });
  const Step* worst = nullptr;  // the earliest step that leaves a pair short, on or after its first new movement
  double balance = 0, worst_balance = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& x = steps[i];
    if (i == 0 || x.product != steps[i - 1].product || x.location != steps[i - 1].location) balance = 0;
    balance += x.q;
    if (balance >= -kTolerance || x.at < pairs.at(x.product).at(x.location).first_at) continue;
    if (!worst || std::tie(x.at, x.id) < std::tie(worst->at, worst->id)) worst = &x, worst_balance = balance;
  }
  if (!worst) return;
  const int64_t product = worst->product, location = worst->location, at = worst->at, at_id = worst->id;
  const int64_t first = pairs.at(product).at(location).first_id;
  const double balance_then = worst_balance;
  const Movement* m = nullptr;
  for (const Movement& x : moves)
    if (x.id == at_id || (m == nullptr && x.id == first)) m = &x;
  const std::string reason = "after this " + m->type + " of " + number(m->quantity) + ", " + names.location(location) +
                             " would hold " + number(balance_then) + " of " + names.product(product) + " on " +
                             format_time(at) + " (more than it has on hand, and it takes no backorders)";
  refuse(*m, "quantity", reason);
}

}  // namespace crmcore::records
