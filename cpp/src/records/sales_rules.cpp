// The ledger's part of the write path: invoices, their lines, payments,
// targets and projects. As for deal stages (stage_rules.cpp), SQLite
// triggers note what a write touched while it runs, and before its
// transaction ends these rules:
// - make an invoice with lines carry their total (quantity x unit price,
//   tax included) and refuse an amount given against its lines;
// - refuse payments beyond what an invoice or an order asks (1e9 against an
//   order of 10), a payment to a void or draft invoice or to another
//   customer's invoice, and voiding an invoice that has payments;
// - mark an issued invoice paid when its payments reach its amount, and
//   issued again when they no longer do;
// - check that a target names one person or one team and a period crmcore
//   can read (2024, 2024-Q1, 2024-03), that a project's deal is won, and
//   that an invoice is not due before it is issued nor a contract ends
//   before it starts.
// A refusal names the record and undoes the whole write (with OnError::Skip,
// one naming a row drops that row alone: row_verdicts.hpp). Every check is a
// query over the touched ids, so an import of a million payments costs a
// few lookups per row, not a query per row.
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
constexpr const char* kTolerance = "1e-9 * max(1.0, abs(ifnull(%s, 0)))";

std::string tolerance(const std::string& of) {
  char text[128];
  std::snprintf(text, sizeof text, kTolerance, of.c_str());
  return text;
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

// Invoices whose balance this write may have changed: touched directly, by
// their lines, or by a payment.
const char* kTouchedInvoices =
    "WITH touched(id) AS (SELECT id FROM temp.crm_ledger_notes WHERE what IN ('invoice', 'lines')"
    " UNION SELECT p.invoice_id FROM payments AS p WHERE p.invoice_id IS NOT NULL"
    " AND p.id IN (SELECT id FROM temp.crm_ledger_notes WHERE what = 'payment')) ";

// This write's payments on an invoice or order (`column` invoice_id or
// order_id): their total, and each, in the order they were paid.
struct Written {
  double total = 0;
  int64_t last = -1;
  std::vector<std::pair<int64_t, double>> paid;  // id, amount; by paid_at, then id
};

Written written_payments(Store::Impl& impl, const std::string& column, int64_t id) {
  Written w;
  sql::Statement& p = impl.prepared("SELECT id, amount FROM payments WHERE " + column + " = ?1 AND id IN"
                                    " (SELECT id FROM temp.crm_ledger_notes WHERE what = 'payment')"
                                    " ORDER BY paid_at, id");
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
                              " (an overpayment is refused)",
                          culprit);
  }
  throw ValidationError(kind, row_of(req, result, id), "amount",
                        name + " would ask " + money(amount) + " but has payments totalling " + money(paid) +
                            "; refund or move a payment first",
                        id);
}

void check_invoices(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  // An amount given against the invoice's lines.
  {
    sql::Statement& st = impl.prepared(
        "SELECT i.id, i.amount, l.total FROM invoices AS i JOIN (SELECT invoice_id,"
        " round(total(quantity * unit_price * (1 + ifnull(tax_rate, 0))), 6) AS total FROM invoice_lines"
        " WHERE invoice_id IN (SELECT id FROM temp.crm_ledger_notes WHERE what = 'invoice') GROUP BY invoice_id)"
        " AS l ON l.invoice_id = i.id WHERE abs(ifnull(i.amount, 0) - l.total) > " + tolerance("l.total") +
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
  // Payments beyond the amount, to a void or draft invoice, or from another customer.
  sql::Statement& st = impl.prepared(
      std::string(kTouchedInvoices) +
      "SELECT i.id, ifnull(i.amount, 0), i.status,"
      " (SELECT total(amount) FROM payments WHERE invoice_id = i.id) AS paid,"
      " (SELECT p.id FROM payments AS p WHERE p.invoice_id = i.id AND p.customer_id IS NOT i.customer_id"
      "  ORDER BY p.id LIMIT 1) AS stranger"
      " FROM invoices AS i WHERE i.id IN (SELECT id FROM touched) AND (paid > ifnull(i.amount, 0) + " +
      tolerance("i.amount") + " OR (paid > 0 AND i.status IN ('void', 'draft')) OR stranger IS NOT NULL)"
      " ORDER BY i.id LIMIT 1");
  int64_t invoice, stranger;
  double amount, paid;
  std::string status;
  {
    FirstRow row(st);
    if (!row.found) return;
    invoice = st.int64(0), amount = st.real(1), paid = st.real(3), status = st.text(2);
    stranger = st.is_null(4) ? -1 : st.int64(4);
  }
  const Written w = written_payments(impl, "invoice_id", invoice);
  const bool by_payment = req.kind->name == "payments" && w.last >= 0;
  Culprit who = by_payment ? Culprit{"payments", row_of(req, result, w.last), w.last}
                           : Culprit{"invoices", row_of(req, result, invoice), invoice};
  const std::string name = "invoice " + std::to_string(invoice);
  if (stranger >= 0) {
    if (req.kind->name == "payments") who = {"payments", row_of(req, result, stranger), stranger};
    throw ValidationError(who.kind, who.row, "invoice_id",
                          "payment " + std::to_string(stranger) + " is from another customer than " + name +
                              "'s; a payment is allocated to its own customer's invoices",
                          who.id);
  }
  if (status == "void" || status == "draft")
    throw ValidationError(who.kind, who.row, by_payment ? "invoice_id" : "status",
                          name + " is " + status + " and has payments totalling " + money(paid) +
                              "; payments are allocated to issued invoices",
                          who.id);
  refuse_overpaid(req, result, "invoices", name, invoice, amount, paid, w);
}

// The same limit for payments that name an order: they cannot exceed it.
void check_orders(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  sql::Statement& st = impl.prepared(
      "WITH touched(id) AS (SELECT id FROM temp.crm_ledger_notes WHERE what = 'order'"
      " UNION SELECT p.order_id FROM payments AS p WHERE p.order_id IS NOT NULL"
      " AND p.id IN (SELECT id FROM temp.crm_ledger_notes WHERE what = 'payment'))"
      " SELECT o.id, o.amount, (SELECT total(amount) FROM payments WHERE order_id = o.id) AS paid"
      " FROM orders AS o WHERE o.id IN (SELECT id FROM touched) AND paid > o.amount + " + tolerance("o.amount") +
      " ORDER BY o.id LIMIT 1");
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
      "SELECT id, staff_id, team, period FROM targets WHERE id IN"
      " (SELECT id FROM temp.crm_ledger_notes WHERE what = 'target') ORDER BY id");
  std::string field, reason;
  int64_t id = -1;
  while (st.step()) {
    const bool person = !st.is_null(1), team = !st.is_null(2) && !st.text(2).empty();
    const std::string period = st.text(3);
    if (person == team) {
      field = person ? "team" : "staff_id";
      reason = person ? "a target is for one person (staff_id) or one team, not both"
                      : "a target needs the person (staff_id) or the team it is for";
    } else if (!readable_period(period)) {
      field = "period";
      reason = quote(period) + " is not a period (a year 2024, a quarter 2024-Q1 or a month 2024-03)";
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
  sql::Statement& st = impl.prepared("SELECT id FROM " + kind + " WHERE id IN (SELECT id FROM temp.crm_ledger_notes"
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
      " WHERE p.id IN (SELECT id FROM temp.crm_ledger_notes WHERE what = 'project') AND NOT EXISTS"
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

void install_ledger_capture(sqlite3* db) {
  std::string s = "CREATE TEMP TABLE IF NOT EXISTS crm_ledger_notes(seq INTEGER PRIMARY KEY, what TEXT NOT NULL,"
                  " id INTEGER);";
  // name, event, what is noted, the id noted
  static const char* const kTriggers[][4] = {
      {"payment_added", "AFTER INSERT ON main.payments", "payment", "NEW.id"},
      {"payment_changed", "AFTER UPDATE OF amount, invoice_id, order_id, customer_id ON main.payments", "payment",
       "NEW.id"},
      // the invoice a payment leaves gets its status again
      {"payment_moved", "AFTER UPDATE OF amount, invoice_id ON main.payments", "invoice", "OLD.invoice_id"},
      {"payment_deleted", "AFTER DELETE ON main.payments", "invoice", "OLD.invoice_id"},
      {"line_added", "AFTER INSERT ON main.invoice_lines", "lines", "NEW.invoice_id"},
      {"line_changed", "AFTER UPDATE ON main.invoice_lines", "lines", "NEW.invoice_id"},
      {"line_moved", "AFTER UPDATE OF invoice_id ON main.invoice_lines", "lines", "OLD.invoice_id"},
      {"line_deleted", "AFTER DELETE ON main.invoice_lines", "lines", "OLD.invoice_id"},
      {"invoice_added", "AFTER INSERT ON main.invoices", "invoice", "NEW.id"},
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
  sql::exec(db, s);
}

void apply_ledger_rules(Store::Impl& impl, const WriteRequest& req, const WriteResult& result) {
  {
    sql::Statement& any = impl.prepared("SELECT EXISTS(SELECT 1 FROM temp.crm_ledger_notes)");
    const bool noted = any.step() && any.int64(0) != 0;
    any.reset();
    if (!noted) return;
  }
  try {
    // Lines first: the invoices they changed take their total (and are
    // noted again as changed invoices by that update).
    // Rounded to a millionth: 2 x 50 with 10% tax is 110, not 110.00000000000001,
    // and no currency counts below that.
    impl.prepared(
            "UPDATE invoices SET amount = round((SELECT total(quantity * unit_price * (1 + ifnull(tax_rate, 0)))"
            " FROM invoice_lines AS l WHERE l.invoice_id = invoices.id), 6)"
            " WHERE id IN (SELECT id FROM temp.crm_ledger_notes WHERE what = 'lines')"
            " AND EXISTS (SELECT 1 FROM invoice_lines AS l WHERE l.invoice_id = invoices.id)")
        .run();
    check_invoices(impl, req, result);
    check_orders(impl, req, result);
    check_targets(impl, req, result);
    check_projects(impl, req, result);
    check_date_order(impl, req, result, "invoices", "invoice", "issued_at", "due_at");
    check_date_order(impl, req, result, "contracts", "contract", "started_at", "ends_at");
    impl.prepared(std::string(kTouchedInvoices) +
                  "UPDATE invoices SET status = CASE WHEN ifnull(amount, 0) > 0 AND"
                  " (SELECT total(amount) FROM payments WHERE invoice_id = invoices.id) >= amount - " +
                  tolerance("amount") +
                  " THEN 'paid' ELSE 'issued' END"
                  " WHERE id IN (SELECT id FROM touched) AND status IN ('issued', 'paid')")
        .run();
  } catch (...) {
    impl.prepared("DELETE FROM temp.crm_ledger_notes").run();
    throw;
  }
  impl.prepared("DELETE FROM temp.crm_ledger_notes").run();
}

}  // namespace crmcore::records
