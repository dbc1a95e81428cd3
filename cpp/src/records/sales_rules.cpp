// The ledger's part of the write path: invoices, their lines, payments,
// targets and projects. As for deal stages (stage_rules.cpp), SQLite
// triggers note what a write touched while it runs, and before its
// transaction ends these rules:
// - make an invoice with lines carry their total (quantity x unit price,
//   tax included) and refuse an amount given against its lines;
// - keep what a payment brings beyond its invoice's open balance as the
//   customer's credit when the payment says so (overpayment = "credit"),
//   and refuse payments beyond what an invoice or an order asks otherwise
//   (1e9 against an order of 10), a payment or credit to a void or draft
//   invoice or to another customer's invoice, and voiding an invoice that
//   has payments;
// - refuse spending more credit (credit_applications) than a customer has;
// - mark an issued invoice paid when its payments reach its amount, and
//   issued again when they no longer do;
// - check that a target names one person, team or region (or a product
//   line, on bookings or margin) and a period crmcore can read (2024,
//   2024-Q1, 2024-03), that a project's deal is won, and that an invoice is
//   not due before it is issued nor a contract ends before it starts.
// A refusal names the record and undoes the whole write (with OnError::Skip,
// one naming a row drops that row alone: row_verdicts.hpp). The touched
// invoices' sums are gathered once per write into a temporary table, which
// the credit, the checks and the status then read: an import of a million
// payments costs one index range per touched invoice, not a query per rule
// and invoice.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>
#include <utility>
#include <vector>

#include "crmcore/errors.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

// Sums of money in doubles drift by a few units in the last place; a real
// overpayment is a cent or more.
std::string tolerance(const Dialect& d, const std::string& of) {
  return "1e-9 * " + d.greatest("1.0", "abs(" + std::string(d.ifnull()) + "(" + of + ", 0))");
}

std::string money(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.15g", v);
  return text;
}

// The row of the caller's table that wrote record `id` (-1 for an update of
// one record, or when no row of the write did).
int64_t row_of(const WriteRequest& req, const WriteResult& result, int64_t id) {
  if (req.op == WriteOp::Update) return -1;
  for (size_t r = 0; r < result.ids.size(); ++r)
    if (result.ids[r] == id) return static_cast<int64_t>(r);
  return -1;
}

// The record a refusal names: a record of this write's kind when the write
// caused the trouble (a payment over the balance), else the record the
// trouble is on (the invoice whose lines changed).
struct Culprit {
  std::string kind;
  int64_t row;
  int64_t id;
};


// The first row of a prepared statement, reset when the checker is done
// with it (a prepared statement is kept for the next write).
struct FirstRow {
  explicit FirstRow(sql::Statement& statement) : st(statement), found(statement.step()) {}
  ~FirstRow() { st.reset(); }
  FirstRow(const FirstRow&) = delete;
  FirstRow& operator=(const FirstRow&) = delete;
  sql::Statement& st;
  const bool found;
};

// The invoices whose balance this write may have changed (touched
// directly, by their lines, a payment or a credit application) with their
// sums: payments, the part of them kept as credit, credit applied, and
// the first payment or application from another customer. The joins are
// CROSS JOINs so that the touched ids drive them: SQLite's planner, which
// has no statistics here, otherwise scans every invoice or payment of the
// file to meet a handful of touched ones.
void gather_invoice_sums(Store::Impl& impl, bool applications) {
  const Dialect d(impl.db);
  impl.prepared(d.insert_or_ignore(
          std::string("crm_ledger_touched(id) SELECT id FROM crm_ledger_notes WHERE what IN ('invoice', 'lines')"
                      " AND id IS NOT NULL UNION ALL SELECT p.invoice_id FROM crm_ledger_notes AS n") + d.cross_join() + "payments AS p ON p.id = n.id"
          " WHERE n.what = 'payment' AND p.invoice_id IS NOT NULL"
          " UNION ALL SELECT a.invoice_id FROM crm_ledger_notes AS n" + d.cross_join() + "credit_applications AS a"
          " ON a.id = n.id WHERE n.what = 'application'"))
      .run();
  impl.prepared(
          "INSERT INTO crm_ledger_sums(id, amount, status, customer_id, paid, credited, crediting, stranger)"
          " SELECT i.id, " + std::string(d.ifnull()) + "(i.amount, 0), i.status, i.customer_id, " + d.total("p.amount") + ", " +
          d.total("p.credit") + ", count(CASE WHEN p.overpayment = 'credit' THEN 1 END),"
          " min(CASE WHEN p.customer_id" + d.is_not() + "i.customer_id THEN p.id END)"
          " FROM crm_ledger_touched AS t" + d.cross_join() + "invoices AS i ON i.id = t.id"
          // (PostgreSQL reads the invoice's columns only grouped by its own key.)
          " LEFT JOIN payments AS p ON p.invoice_id = i.id GROUP BY " + (d.sqlite() ? "t.id" : "i.id"))
      .run();
  if (applications)  // most files have none: then the column stays 0
    impl.prepared(
            "UPDATE crm_ledger_sums SET applied = (SELECT " + d.total("amount") + " FROM credit_applications"
            " WHERE invoice_id = crm_ledger_sums.id), stranger_application = (SELECT min(a.id) FROM"
            " credit_applications AS a WHERE a.invoice_id = crm_ledger_sums.id"
            " AND a.customer_id" + d.is_not() + "crm_ledger_sums.customer_id)")
        .run();
}

// The credit a payment keeps. On account (no invoice, no order) a payment
// marked "credit" is credit whole; on an invoice, what the invoice's
// payments and applied credit bring beyond its amount is kept by its
// payments marked "credit", the latest paid first (a later payment is the
// one that overshot); anything else keeps none, whatever a caller wrote.
void allocate_credit(Store::Impl& impl, const WriteRequest& req) {
  const Dialect d(impl.db);
  // An insert that gives neither overpayment nor credit has nothing to
  // settle here: its payments keep no credit, which is what they hold.
  const bool given = !(req.op == WriteOp::Insert && req.table && req.kind->name == "payments") ||
                     req.table->find("overpayment") || req.table->find("credit");
  if (given)
    impl.prepared(
          std::string("UPDATE payments SET credit = CASE WHEN overpayment = 'credit' AND order_id IS NULL THEN amount"
                      " END WHERE id IN (SELECT id FROM crm_ledger_notes WHERE what = 'payment')"
                      " AND NOT (overpayment") + d.is() + "'credit' AND invoice_id IS NOT NULL)"
          " AND credit" + d.is_not() + "(CASE WHEN overpayment = 'credit' AND order_id IS NULL THEN amount END)")
      .run();
  impl.prepared(
          "UPDATE payments SET credit = x.credit FROM (SELECT id, " +
          d.round(d.greatest("0.0", d.least("amount", "excess - before")), 6) +
          " AS credit FROM (SELECT p.id, p.amount, s.paid + s.applied - s.amount AS excess, " +
          d.total("p.amount", " OVER (PARTITION BY p.invoice_id ORDER BY p.paid_at DESC, p.id DESC"
                              " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)") + " AS before"
          " FROM crm_ledger_sums AS s" + d.cross_join() + "payments AS p ON p.invoice_id = s.id"
          " WHERE s.crediting > 0 AND p.overpayment = 'credit') AS w) AS x"
          " WHERE payments.id = x.id AND payments.credit" + d.is_not() + "x.credit")
      .run();
  impl.prepared(
          "UPDATE crm_ledger_sums SET credited = (SELECT " + d.total("credit") + " FROM payments"
          " WHERE invoice_id = crm_ledger_sums.id) WHERE crediting > 0")
      .run();
}

// This write's payments on an invoice or order (`column` invoice_id or
// order_id): their total, and each, in the order they were paid.
struct Written {
  double total = 0;
  int64_t last = -1;
  std::vector<std::pair<int64_t, double>> paid;  // id, amount; by paid_at, then id
};

Written written_payments(Store::Impl& impl, const std::string& column, int64_t id,
                         const std::string& table = "payments", const std::string& what = "payment") {
  Written w;
  // Payments in the order they were paid, applications in the order applied:
  // the first past the limit is the one a refusal names.
  const std::string when = table == "payments" ? "paid_at" : "applied_at";
  sql::Statement& p = impl.prepared("SELECT id, amount FROM " + table + " WHERE " + column + " = ?1 AND id IN"
                                    " (SELECT id FROM crm_ledger_notes WHERE what = '" + what + "')"
                                    " ORDER BY " + when + ", id");
  p.bind(1, id);
  while (p.step()) {
    w.total += p.real(1), w.last = std::max(w.last, p.int64(0));
    w.paid.emplace_back(p.int64(0), p.real(1));
  }
  p.reset();
  return w;
}

// The payment a refusal names: the first of the write's, in the order paid,
// that takes the total past `amount` (those before it fit, and with
// OnError::Skip they land: row_verdicts.hpp), else the last written.
int64_t first_past(const Written& w, double amount, double paid) {
  double running = paid - w.total;  // what was paid before this write
  for (const auto& [id, value] : w.paid)
    if ((running += value) > amount + 1e-9 * std::max(1.0, std::abs(amount))) return id;  // kTolerance
  return w.last;
}

// Payments beyond `amount` on `kind` record `id`: the write's first payment
// past it is refused if a payment write caused it, else the record whose
// amount fell.
[[noreturn]] void refuse_overpaid(const WriteRequest& req, const WriteResult& result, const std::string& kind,
                                  const std::string& name, int64_t id, double amount, double paid, const Written& w) {
  if (req.kind->name == "payments" && w.last >= 0) {
    const int64_t culprit = first_past(w, amount, paid);
    throw ValidationError("payments", row_of(req, result, culprit), "amount",
                          "payments totalling " + money(w.total) + " exceed what is open on " + name + ": " +
                              money(amount - (paid - w.total)) + " of its amount " + money(amount) +
                              (kind == "invoices" ? " (an overpayment is refused unless the payment keeps it as the"
                                                    " customer's credit, overpayment=\"credit\")"
                                                  : " (an overpayment is refused)"),
                          culprit);
  }
  throw ValidationError(kind, row_of(req, result, id), "amount",
                        name + " would ask " + money(amount) + " but has payments totalling " + money(paid) +
                            "; refund or move a payment first",
                        id);
}

// The lines of the invoices this write changed whose total (tax included)
// passes what a number holds: the invoice would take an infinite amount
// (SQLite) or the update would fail (PostgreSQL: "value out of range").
// Below 1e150 a quantity and price cannot get near it, so only invoices with
// a larger one are summed here, in C++, before the SQL sums them.
void check_line_totals(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  sql::Statement& st = impl.prepared(
      "SELECT l.invoice_id, l.id, l.quantity, l.unit_price, l.tax_rate FROM invoice_lines AS l"
      " WHERE l.invoice_id IN (SELECT big.invoice_id FROM invoice_lines AS big WHERE big.invoice_id IN"
      " (SELECT id FROM crm_ledger_notes WHERE what = 'lines') AND (big.quantity > 1e150 OR big.unit_price > 1e150))"
      " ORDER BY l.invoice_id, l.id");
  int64_t invoice = -1, culprit = -1;
  double total = 0;
  while (st.step()) {
    if (st.int64(0) != invoice) invoice = st.int64(0), total = 0;
    const double tax = st.is_null(4) ? 0.0 : st.real(4);
    total += (st.is_null(2) ? 0.0 : st.real(2)) * (st.is_null(3) ? 0.0 : st.real(3)) * (1 + tax);
    if (!std::isfinite(total)) {
      culprit = st.int64(1);
      break;
    }
  }
  st.reset();
  if (culprit >= 0)
    throw ValidationError("invoice_lines", req.kind->name == "invoice_lines" ? row_of(req, result, culprit) : -1,
                          "quantity",
                          "the lines of invoice " + std::to_string(invoice) +
                              " total more than a number holds (quantity x unit_price, tax included, past 1.8e308)",
                          culprit);
}

void check_invoices(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  const Dialect d(impl.db);
  // An amount given against the invoice's lines.
  {
    sql::Statement& st = impl.prepared(
        "SELECT i.id, i.amount, l.total FROM invoices AS i JOIN (SELECT invoice_id, " +
        d.round(d.total("quantity * unit_price * (1 + " + std::string(d.ifnull()) + "(tax_rate, 0))"), 6) +
        " AS total FROM invoice_lines"
        " WHERE invoice_id IN (SELECT id FROM crm_ledger_notes WHERE what = 'invoice') GROUP BY invoice_id)"
        " AS l ON l.invoice_id = i.id WHERE abs(" + d.ifnull() + "(i.amount, 0) - l.total) > " +
        tolerance(d, "l.total") +
        " ORDER BY i.id LIMIT 1");
    int64_t id = -1;
    std::string given;
    double lines = 0;
    if (FirstRow row(st); row.found) {
      id = st.int64(0);
      given = st.is_null(1) ? "none" : money(st.real(1));
      lines = st.real(2);
    }
    if (id >= 0)
      throw ValidationError("invoices", row_of(req, result, id), "amount",
                            "amount " + given + " differs from the total of the invoice's lines, " + money(lines) +
                                " (tax included); an invoice with lines carries their total",
                            id);
  }
  // Payments and credit beyond the amount, to a void or draft invoice, or
  // from another customer (read from the sums gather_invoice_sums made).
  sql::Statement& st = impl.prepared(
      // (A column's name, not its alias, in WHERE: PostgreSQL reads no aliases there.)
      "SELECT * FROM (SELECT id, amount, status, paid - credited + applied AS settled, stranger,"
      " stranger_application FROM crm_ledger_sums) AS s WHERE settled > amount + " + tolerance(d, "amount") +
      " OR (settled > 0 AND status IN ('void', 'draft')) OR stranger IS NOT NULL"
      " OR stranger_application IS NOT NULL ORDER BY id LIMIT 1");
  int64_t invoice, stranger, stranger_application;
  double amount, paid;
  std::string status;
  {
    FirstRow row(st);
    if (!row.found) return;
    invoice = st.int64(0), amount = st.real(1), paid = st.real(3), status = st.text(2);
    stranger = st.is_null(4) ? -1 : st.int64(4);
    stranger_application = st.is_null(5) ? -1 : st.int64(5);
  }
  const bool applying = req.kind->name == "credit_applications";
  const Written w = applying ? written_payments(impl, "invoice_id", invoice, "credit_applications", "application")
                             : written_payments(impl, "invoice_id", invoice);
  const bool by_write = (req.kind->name == "payments" || applying) && w.last >= 0;
  Culprit who = by_write ? Culprit{req.kind->name, row_of(req, result, w.last), w.last}
                         : Culprit{"invoices", row_of(req, result, invoice), invoice};
  const std::string name = "invoice " + std::to_string(invoice);
  if (stranger >= 0 || stranger_application >= 0) {
    const bool payment = stranger >= 0;
    const int64_t other = payment ? stranger : stranger_application;
    if (req.kind->name == (payment ? "payments" : "credit_applications"))
      who = {req.kind->name, row_of(req, result, other), other};
    throw ValidationError(who.kind, who.row, "invoice_id",
                          std::string(payment ? "payment " : "credit application ") + std::to_string(other) +
                              " is from another customer than " + name + "'s; " +
                              (payment ? "a payment is allocated" : "credit is applied") +
                              " to its own customer's invoices",
                          who.id);
  }
  if (status == "void" || status == "draft")
    throw ValidationError(who.kind, who.row, by_write ? "invoice_id" : "status",
                          name + " is " + status + " and has payments or credit totalling " + money(paid) +
                              "; payments and credit are allocated to issued invoices",
                          who.id);
  if (applying && w.last >= 0)
    throw ValidationError("credit_applications", who.row, "amount",
                          "credit applied totalling " + money(w.total) + " exceeds what is open on " + name + ": " +
                              money(amount - (paid - w.total)) + " of its amount " + money(amount),
                          w.last);
  refuse_overpaid(req, result, "invoices", name, invoice, amount, paid, w);
}

// A customer cannot spend more credit than their payments kept. Only the
// customers this write may have left short are asked: those with credit
// applied whose payments or applications the write touched.
void check_credit_balances(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  const Dialect d(impl.db);
  sql::Statement& st = impl.prepared(
      "WITH touched(id) AS (SELECT id FROM crm_ledger_notes WHERE what = 'customer'"
      " UNION SELECT p.customer_id FROM crm_ledger_notes AS n JOIN payments AS p ON p.id = n.id"
      " WHERE n.what = 'payment' UNION SELECT a.customer_id FROM crm_ledger_notes AS n"
      " JOIN credit_applications AS a ON a.id = n.id WHERE n.what = 'application'"
      " UNION SELECT customer_id FROM crm_ledger_sums WHERE crediting > 0)"
      " SELECT * FROM (SELECT t.id, (SELECT " + d.total("credit") + " FROM payments WHERE customer_id = t.id) AS kept,"
      " (SELECT " + d.total("amount") + " FROM credit_applications WHERE customer_id = t.id) AS used FROM touched AS t)"
      " AS c WHERE used > 0 AND used > kept + " + tolerance(d, "used") + " ORDER BY id LIMIT 1");
  int64_t customer;
  double kept, used;
  {
    FirstRow row(st);
    if (!row.found) return;
    customer = st.int64(0), kept = st.real(1), used = st.real(2);
  }
  const std::string why = "customer " + std::to_string(customer) + " has credit " + money(kept) +
                          " from overpayments but would have " + money(used) + " of it applied";
  if (req.kind->name == "credit_applications") {
    const Written w = written_payments(impl, "customer_id", customer, "credit_applications", "application");
    if (w.last >= 0)
      throw ValidationError("credit_applications", row_of(req, result, w.last), "amount",
                            why + " (an application spends credit the customer has)", w.last);
  }
  // Otherwise a payment or invoice changed under credit already spent (an
  // update or a delete, which name their record).
  throw ValidationError(req.kind->name, -1, req.kind->name == "invoices" ? "amount" : "credit",
                        why + "; take the applications back first (nothing was written)",
                        req.ids.empty() ? -1 : req.ids.front());
}

// The same limit for payments that name an order: they cannot exceed it.
void check_orders(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  const Dialect d(impl.db);
  sql::Statement& st = impl.prepared(
      "WITH touched(id) AS (SELECT id FROM crm_ledger_notes WHERE what = 'order'"
      " UNION SELECT p.order_id FROM payments AS p WHERE p.order_id IS NOT NULL"
      " AND p.id IN (SELECT id FROM crm_ledger_notes WHERE what = 'payment'))"
      " SELECT * FROM (SELECT o.id, o.amount, (SELECT " + d.total("amount") + " FROM payments WHERE order_id = o.id)"
      " AS paid FROM orders AS o WHERE o.id IN (SELECT id FROM touched)) AS o WHERE paid > o.amount + " +
      tolerance(d, "o.amount") + " ORDER BY o.id LIMIT 1");
  int64_t order;
  double amount, paid;
  {
    FirstRow row(st);
    if (!row.found) return;
    order = st.int64(0), amount = st.real(1), paid = st.real(2);
  }
  refuse_overpaid(req, result, "orders", "order " + std::to_string(order), order, amount, paid,
                  written_payments(impl, "order_id", order));
}

// A target's period: a year, a quarter or a month.
bool readable_period(const std::string& p) {
  static const std::regex forms("[0-9]{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?");
  return std::regex_match(p, forms);
}

void check_targets(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  sql::Statement& st = impl.prepared(
      "SELECT id, staff_id, team, period, region, product_category, metric FROM targets WHERE id IN"
      " (SELECT id FROM crm_ledger_notes WHERE what = 'target') ORDER BY id");
  std::string field, reason;
  int64_t id = -1;
  while (st.step()) {
    const bool person = !st.is_null(1), team = !st.is_null(2) && !st.text(2).empty();
    const bool region = !st.is_null(4) && !st.text(4).empty();
    // A product line's target may be the whole line's (no person, team or region).
    const bool line = !st.is_null(5) && !st.text(5).empty();
    const std::string period = st.text(3), metric = st.is_null(6) ? "" : st.text(6);
    const int whose = int(person) + int(team) + int(region);
    if (whose > 1 || (whose == 0 && !line)) {
      field = region && (person || team) ? "region" : person ? "team" : "staff_id";
      reason = whose > 1 ? "a target is for one person (staff_id), one team or one region, not several"
                         : "a target needs the person (staff_id), the team, the region or the product line "
                           "(product_category) it is for";
    } else if (!readable_period(period)) {
      field = "period";
      reason = quote(period) + " is not a period (a year 2024, a quarter 2024-Q1 or a month 2024-03)";
    } else if (line && metric != "bookings" && metric != "margin") {
      // Only order lines name a product: deals, invoices and calls do not.
      field = "metric";
      reason = "a product line's target measures what its order lines bring: bookings or margin, not " +
               quote(metric);
    } else {
      continue;
    }
    id = st.int64(0);
    break;
  }
  st.reset();
  if (id >= 0) throw ValidationError("targets", row_of(req, result, id), field, reason, id);
}

// A period that ends before it starts: an invoice due before it was
// issued, a contract that ends before it starts.
void check_date_order(Store::Impl& impl, const WriteRequest& req, const WriteResult& result, const std::string& kind,
                      const std::string& what, const std::string& first, const std::string& second) {
  sql::Statement& st = impl.prepared("SELECT id FROM " + kind + " WHERE id IN (SELECT id FROM crm_ledger_notes"
                                     " WHERE what = '" + what + "') AND " + second + " < " + first +
                                     " ORDER BY id LIMIT 1");
  int64_t id;
  {
    FirstRow row(st);
    if (!row.found) return;
    id = st.int64(0);
  }
  throw ValidationError(kind, row_of(req, result, id), second, "is before " + first, id);
}

// A project follows a won deal: delivery starts once the deal is won.
void check_projects(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  sql::Statement& st = impl.prepared(
      "SELECT p.id, p.deal_id, d.stage FROM projects AS p JOIN deals AS d ON d.id = p.deal_id"
      " WHERE p.id IN (SELECT id FROM crm_ledger_notes WHERE what = 'project') AND NOT EXISTS"
      " (SELECT 1 FROM pipeline_stages AS s WHERE s.pipeline_id = d.pipeline_id AND s.name = d.stage"
      "  AND s.category = 'won') ORDER BY p.id LIMIT 1");
  int64_t id, deal;
  std::string stage;
  {
    FirstRow row(st);
    if (!row.found) return;
    id = st.int64(0), deal = st.int64(1), stage = st.text(2);
  }
  throw ValidationError("projects", row_of(req, result, id), "deal_id",
                        "deal " + std::to_string(deal) + " is in stage " + quote(stage) +
                            "; a project follows a won deal",
                        id);
}

}  // namespace

std::string ledger_capture_sql() {
  std::string s = "CREATE TEMP TABLE IF NOT EXISTS crm_ledger_notes(seq INTEGER PRIMARY KEY, what TEXT NOT NULL,"
                  " id INTEGER);"
                  // No index on `what`: keeping one up costs a big import more per
                  // noted row than the rules' few scans of the notes save.
                  "CREATE TEMP TABLE IF NOT EXISTS crm_ledger_touched(id INTEGER PRIMARY KEY);"
                  "CREATE TEMP TABLE IF NOT EXISTS crm_ledger_sums(id INTEGER PRIMARY KEY, amount REAL, status TEXT,"
                  " customer_id INTEGER, paid REAL, credited REAL, crediting INTEGER, stranger INTEGER,"
                  " applied REAL NOT NULL DEFAULT 0, stranger_application INTEGER);";
  // name, event, what is noted, the id noted
  static const char* const kTriggers[][4] = {
      {"payment_added", "AFTER INSERT ON main.payments", "payment", "NEW.id"},
      {"payment_changed",
       "AFTER UPDATE OF amount, invoice_id, order_id, customer_id, overpayment, credit ON main.payments", "payment",
       "NEW.id"},
      // the customer a payment (and its credit) leaves
      {"payment_left", "AFTER UPDATE OF customer_id ON main.payments", "customer", "OLD.customer_id"},
      {"payment_gone", "AFTER DELETE ON main.payments", "customer", "OLD.customer_id"},
      // the invoice a payment leaves gets its status again
      {"payment_moved", "AFTER UPDATE OF amount, invoice_id ON main.payments", "invoice", "OLD.invoice_id"},
      {"payment_deleted", "AFTER DELETE ON main.payments", "invoice", "OLD.invoice_id"},
      {"line_added", "AFTER INSERT ON main.invoice_lines", "lines", "NEW.invoice_id"},
      {"line_changed", "AFTER UPDATE ON main.invoice_lines", "lines", "NEW.invoice_id"},
      {"line_moved", "AFTER UPDATE OF invoice_id ON main.invoice_lines", "lines", "OLD.invoice_id"},
      {"line_deleted", "AFTER DELETE ON main.invoice_lines", "lines", "OLD.invoice_id"},
      {"invoice_added", "AFTER INSERT ON main.invoices", "invoice", "NEW.id"},
      {"application_added", "AFTER INSERT ON main.credit_applications", "application", "NEW.id"},
      {"application_changed", "AFTER UPDATE OF customer_id, invoice_id, amount ON main.credit_applications",
       "application", "NEW.id"},
      {"application_moved", "AFTER UPDATE OF invoice_id, amount ON main.credit_applications", "invoice",
       "OLD.invoice_id"},
      {"application_deleted", "AFTER DELETE ON main.credit_applications", "invoice", "OLD.invoice_id"},
      {"invoice_changed", "AFTER UPDATE OF amount, status, customer_id, issued_at, due_at ON main.invoices",
       "invoice", "NEW.id"},
      {"contract_added", "AFTER INSERT ON main.contracts", "contract", "NEW.id"},
      {"contract_changed", "AFTER UPDATE OF started_at, ends_at ON main.contracts", "contract", "NEW.id"},
      {"order_changed", "AFTER UPDATE OF amount ON main.orders", "order", "NEW.id"},
      {"target_added", "AFTER INSERT ON main.targets", "target", "NEW.id"},
      {"target_changed", "AFTER UPDATE ON main.targets", "target", "NEW.id"},
      {"project_added", "AFTER INSERT ON main.projects", "project", "NEW.id"},
      {"project_changed", "AFTER UPDATE OF deal_id ON main.projects", "project", "NEW.id"},
  };
  for (const auto& t : kTriggers)
    s += std::string("CREATE TEMP TRIGGER IF NOT EXISTS crm_ledger_") + t[0] + " " + t[1] +
         " BEGIN INSERT INTO crm_ledger_notes(what, id) VALUES('" + t[2] + "', " + t[3] + "); END;";
  return s;
}

void install_ledger_capture(sqlite3* db) { sql::exec(db, ledger_capture_sql()); }

void apply_ledger_rules(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  const Dialect d(impl.db);
  {
    sql::Statement& any = impl.prepared("SELECT EXISTS(SELECT 1 FROM crm_ledger_notes)");
    const bool noted = any.step() && any.int64(0) != 0;
    any.reset();
    if (!noted) return;
  }
  auto forget = [&impl] {
    impl.prepared("DELETE FROM crm_ledger_notes").run();
    impl.prepared("DELETE FROM crm_ledger_touched").run();
    impl.prepared("DELETE FROM crm_ledger_sums").run();
  };
  try {
    check_line_totals(impl, req, result);
    // Lines first: the invoices they changed take their total (and are
    // noted again as changed invoices by that update).
    // Rounded to a millionth: 2 x 50 with 10% tax is 110, not 110.00000000000001,
    // and no currency counts below that.
    impl.prepared(
            "UPDATE invoices SET amount = " +
            d.round("(SELECT " + d.total("quantity * unit_price * (1 + " + std::string(d.ifnull()) + "(tax_rate, 0))") +
                        " FROM invoice_lines AS l WHERE l.invoice_id = invoices.id)", 6) +
            " WHERE id IN (SELECT id FROM crm_ledger_notes WHERE what = 'lines')"
            " AND EXISTS (SELECT 1 FROM invoice_lines AS l WHERE l.invoice_id = invoices.id)")
        .run();
    // Credit is rare: files without any applied skip those sums and checks.
    sql::Statement& any = impl.prepared("SELECT EXISTS(SELECT 1 FROM credit_applications)");
    const bool applications = any.step() && any.int64(0) != 0;
    any.reset();
    gather_invoice_sums(impl, applications);
    allocate_credit(impl, req);
    check_invoices(impl, req, result);
    if (applications) check_credit_balances(impl, req, result);
    check_orders(impl, req, result);
    check_targets(impl, req, result);
    check_projects(impl, req, result);
    check_date_order(impl, req, result, "invoices", "invoice", "issued_at", "due_at");
    check_date_order(impl, req, result, "contracts", "contract", "started_at", "ends_at");
    // Only the invoices whose status changes are written (and audited).
    impl.prepared(
            "UPDATE invoices SET status = s.now FROM (SELECT id, CASE WHEN amount > 0 AND paid - credited + applied"
            " >= amount - " + tolerance(d, "amount") + " THEN 'paid' ELSE 'issued' END AS now"
            " FROM crm_ledger_sums WHERE status IN ('issued', 'paid')) AS s"
            " WHERE invoices.id = s.id AND invoices.status" + d.is_not() + "s.now")
        .run();
  } catch (...) {
    // (On PostgreSQL a failed statement left the transaction to be rolled
    // back, which takes the notes with it; nothing more runs there.)
    if (d.sqlite()) forget();
    throw;
  }
  forget();
}

}  // namespace crmcore::records
