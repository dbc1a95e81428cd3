// Ticket rules, the tickets' part of the write path (the twin of
// stage_rules.cpp). Whatever writes a ticket's status (an add, an update, an
// import, an upsert), SQLite triggers note the change while the write runs;
// before the write's transaction ends, the rules read those notes and, for
// each ticket:
// - refuse a move the workflow does not allow, naming the allowed ones (a new
//   ticket may start in any status: history is imported as it was);
// - refuse "assigned" for a ticket without an assignee;
// - on the first move to work (in_progress, waiting, resolved, closed) set
//   first_response_at when it is empty; on resolved (or closed without a
//   resolution) set resolved_at; on reopened clear resolved_at and count the
//   reopening;
// - write the ticket_events row: from, to, when, by whom and why.
// A refusal undoes the whole write, so a bad move changes nothing (with
// OnError::Skip, one naming a row drops that row alone: row_verdicts.hpp).
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <unordered_map>

#include "batch.hpp"
#include "crmcore/errors.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

// The workflow: from each status, the statuses a ticket may move to.
// resolved and closed are left only by reopening, so every reopening counts.
struct Step {
  const char* from;
  std::array<const char*, 4> to;
};
constexpr Step kWorkflow[] = {
    {"new", {"assigned", "in_progress", "resolved"}},
    {"assigned", {"in_progress", "waiting", "resolved"}},
    {"in_progress", {"assigned", "waiting", "resolved"}},
    {"waiting", {"assigned", "in_progress", "resolved"}},
    {"resolved", {"closed", "reopened"}},
    {"closed", {"reopened"}},
    {"reopened", {"assigned", "in_progress", "waiting", "resolved"}},
};

const Step* step_from(const std::string& status) {
  for (const Step& s : kWorkflow)
    if (status == s.from) return &s;
  return nullptr;
}

bool allowed(const Step& s, const std::string& to) {
  return std::any_of(s.to.begin(), s.to.end(), [&](const char* t) { return t && to == t; });
}

std::string allowed_list(const Step& s) {
  std::string out;
  for (const char* t : s.to)
    if (t) out += (out.empty() ? "" : ", ") + std::string(t);
  return out;
}

bool is_work(const std::string& status) {
  return status == "in_progress" || status == "waiting" || status == "resolved" || status == "closed";
}

Value int_or_null(const sql::Statement& st, int column) {
  Value v;
  if (!st.is_null(column)) v.set_int(st.int64(column));
  return v;
}

}  // namespace

std::string ticket_capture_sql() {
  return
            "CREATE TEMP TABLE IF NOT EXISTS crm_ticket_moves(seq INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL,"
            " from_status TEXT, to_status TEXT, added INTEGER NOT NULL);"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_ticket_added AFTER INSERT ON main.tickets"
            " WHEN NEW.status IS NOT NULL BEGIN"
            " INSERT INTO crm_ticket_moves(ticket_id, from_status, to_status, added)"
            " VALUES(NEW.id, NULL, NEW.status, 1); END;"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_ticket_moved AFTER UPDATE OF status ON main.tickets"
            " WHEN OLD.status IS NOT NEW.status AND NEW.status IS NOT NULL BEGIN"
            " INSERT INTO crm_ticket_moves(ticket_id, from_status, to_status, added)"
            " VALUES(NEW.id, OLD.status, NEW.status, 0); END;";
}

void install_ticket_capture(sqlite3* db) { sql::exec(db, ticket_capture_sql()); }

void Store::apply_ticket_rules(const WriteRequest& req, WriteResult& result) {
  Impl& impl = *impl_;
  struct Move {
    int64_t ticket;
    std::string from;
    bool had_from;
    std::string to;
    bool added;
    Value assignee, opened, first_response, resolved;
    int64_t reopened;
  };
  std::vector<Move> moves;
  {
    sql::Statement& st = impl.prepared(
        "SELECT m.ticket_id, m.from_status, m.to_status, m.added, t.assignee_id, t.opened_at, t.first_response_at,"
        " t.resolved_at, t.reopened FROM crm_ticket_moves AS m JOIN tickets AS t ON t.id = m.ticket_id"
        " ORDER BY m.seq");
    while (st.step())
      moves.push_back({st.int64(0), st.is_null(1) ? "" : st.text(1), !st.is_null(1), st.text(2), st.int64(3) != 0,
                       int_or_null(st, 4), int_or_null(st, 5), int_or_null(st, 6), int_or_null(st, 7),
                       st.is_null(8) ? 0 : st.int64(8)});
    st.reset();
  }
  impl.prepared("DELETE FROM crm_ticket_moves").run();
  // A merge keeps or restores statuses as they were; they are no move.
  if (moves.empty() || req.op == WriteOp::Merge || req.op == WriteOp::Unmerge) return;

  const Kind& tickets = impl.catalog.kind("tickets");
  const bool is_tickets = req.kind->name == "tickets";
  const std::unordered_map<int64_t, int64_t> row_of =
      is_tickets ? written_rows(req, result) : std::unordered_map<int64_t, int64_t>{};
  const Table* t = is_tickets ? req.table : nullptr;
  const int64_t now = now_ns();

  // Where each ticket stands after its moves so far: several moves of one
  // ticket in one write (an import of its history) apply in order.
  struct State {
    std::string status;
    int64_t at = 0;
    Value by, first_response, resolved;
    std::string reason;
    bool has_reason = false;
    int64_t reopened = 0;
  };
  std::unordered_map<int64_t, State> state;
  std::vector<int64_t> order;  // tickets in the order of their first move
  Table history;
  for (const char* name : {"ticket_id", "changed_at", "by_id"}) history.columns.emplace_back(name, Column::Storage::Int);
  history.columns[1].origin = Column::Origin::Time;
  for (const char* name : {"status", "from_status", "reason"})
    history.columns.emplace_back(name, Column::Storage::Text);

  for (const Move& m : moves) {
    const auto found = row_of.find(m.ticket);
    const int64_t row = found == row_of.end() ? -1 : found->second;
    const int64_t shown_row = req.op == WriteOp::Update ? -1 : row;
    if (m.had_from) {
      const Step* step = step_from(m.from);
      if (step && !allowed(*step, m.to))
        throw ValidationError(tickets.name, shown_row, "status",
                              "a ticket cannot move from " + quote(m.from) + " to " + quote(m.to) +
                                  " (from " + quote(m.from) + ": " + allowed_list(*step) + ")",
                              m.ticket);
    }
    // A new ticket written without a status (an export from a system that
    // had none) takes the one its times say, as a migrated store's tickets do.
    std::string to = m.to;
    const Column* status_column = t && row >= 0 ? t->find("status") : nullptr;
    if (m.added && !(status_column && status_column->present(static_cast<size_t>(row)))) {
      if (m.resolved.type == Value::Type::Int) to = "resolved";
      else if (m.first_response.type == Value::Type::Int) to = "in_progress";
    }
    if (to == "assigned" && m.assignee.type != Value::Type::Int)
      throw ValidationError(tickets.name, shown_row, "assignee_id",
                            "an assigned ticket needs an assignee_id (a staff id)", m.ticket);
    auto [it, first_move] = state.try_emplace(m.ticket);
    State& s = it->second;
    if (first_move) {
      order.push_back(m.ticket);
      s.first_response = m.first_response, s.resolved = m.resolved, s.reopened = m.reopened;
    }

    // When the move happened: as given; else, for a resolution, the
    // resolved_at given with it; else, for a new ticket, when it was opened.
    Value at = given(tickets, t, row, "status_changed_at");
    const Value resolved_given = given(tickets, t, row, "resolved_at");
    const bool resolving = to == "resolved" || to == "closed";
    if (at.type == Value::Type::Null && resolving && resolved_given.type == Value::Type::Int) at = resolved_given;
    if (at.type == Value::Type::Null && m.added && m.opened.type == Value::Type::Int) at = m.opened;
    if (at.type == Value::Type::Null) at.set_int(now);
    s.status = to;
    s.at = at.i;
    s.by = given(tickets, t, row, "status_changed_by");  // an id: no text to outlive
    const Value reason = given(tickets, t, row, "status_reason");
    s.has_reason = reason.type == Value::Type::Text;
    s.reason = s.has_reason ? *reason.text : std::string();

    // Only a move sets the first response: history written as a new ticket keeps its own times.
    if (s.first_response.type == Value::Type::Null && is_work(to) && !m.added) s.first_response = at;
    if (to == "resolved") s.resolved = resolved_given.type == Value::Type::Int ? resolved_given : at;
    if (to == "closed" && s.resolved.type == Value::Type::Null) s.resolved = at;
    if (to == "reopened") {
      s.resolved = Value();
      ++s.reopened;
    }

    auto& c = history.columns;
    c[0].ints.push_back(m.ticket), c[0].valid.push_back(1);
    c[1].ints.push_back(at.i), c[1].valid.push_back(1);
    const bool has_by = s.by.type == Value::Type::Int;
    c[2].ints.push_back(has_by ? s.by.i : 0), c[2].valid.push_back(has_by);
    c[3].texts.push_back(to), c[3].valid.push_back(1);
    c[4].texts.push_back(m.from), c[4].valid.push_back(m.had_from);
    c[5].texts.push_back(s.reason), c[5].valid.push_back(s.has_reason);
  }
  // id, status_changed_at, status_changed_by, status_reason, first_response_at, resolved_at, reopened, status
  sql::Batch updates(8);
  for (int64_t ticket : order) {
    const State& s = state.at(ticket);
    sql::Cell* cells = updates.add_row();
    cells[0].set_int(ticket);
    cells[1].set_int(s.at);
    set_cell(cells[2], s.by, updates);
    if (s.has_reason) cells[3].set_text(updates.keep(s.reason));
    else cells[3].set_null();
    set_cell(cells[4], s.first_response, updates);
    set_cell(cells[5], s.resolved, updates);
    cells[6].set_int(s.reopened);
    cells[7].set_text(updates.keep(s.status));
  }
  if (updates.rows() > 0) {
    sql::Statement& st = impl.prepared(
        "UPDATE tickets SET status_changed_at = b.c1, status_changed_by = b.c2, status_reason = b.c3,"
        " first_response_at = b.c4, resolved_at = b.c5, reopened = b.c6, status = b.c7 FROM crm_batch(?1) AS b"
        " WHERE tickets.id = b.c0");
    sql::bind_batch(st, updates);
    st.run();
  }
  impl.prepared("DELETE FROM crm_ticket_moves").run();  // the rules' own writes are no moves
  if (history.rows() > 0) {
    WriteResult written;
    insert_rows(WriteRequest{WriteOp::Insert, &kind("ticket_events"), &history, {}}, written);
  }
}

void check_sla_policies(Store::Impl& impl) {
  const Dialect d(impl.db);
  sql::Statement& st = impl.prepared(
      "SELECT a.id, b.id, b.severity, b.tier FROM sla_policies AS a JOIN sla_policies AS b ON a.id < b.id"
      " AND a.severity = b.severity AND a.tier" + std::string(d.is()) + "b.tier ORDER BY b.id, a.id LIMIT 1");
  if (!st.step()) {
    st.reset();
    return;
  }
  const int64_t first = st.int64(0), second = st.int64(1);
  const std::string severity = st.text(2), tier = st.is_null(3) ? "" : st.text(3);
  st.reset();
  throw ValidationError("sla_policies", -1, "tier",
                        "policy " + std::to_string(first) + " is for " + severity + " tickets of " +
                            (tier.empty() ? std::string("any tier") : "tier " + quote(tier)) +
                            " already: one policy per severity and tier (update that one)",
                        second);
}

}  // namespace crmcore::records
