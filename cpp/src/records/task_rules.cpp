// Task rules, the tasks' part of the write path (beside ticket_rules.cpp).
// Whatever writes a task (an add, an update, an import, an upsert), SQLite
// triggers note what a write did to a task's schedule; before the write's
// transaction ends these rules:
// - refuse a recurring task without a due time (its first occurrence);
// - keep the series' anchor: series_start is the due time of the first
//   occurrence, or the one a write moves a recurring task to, whose day of
//   the month (and time of day) every occurrence keeps;
// - stamp done_at when a task is completed (unless the write gave it), and
//   clear it when the task is opened again;
// - make the next occurrence when a recurring task is completed: the first
//   one after its due time on the series' rule (every `recur_every` days,
//   weeks, months or years from series_start; a day the month lacks is the
//   month's last day, so a series on the 31st falls on Feb 28 or 29 and on
//   Mar 31 again), unless it lies after recur_until. It is inserted as any
//   record is, and the completed task's next_task_id names it, so that
//   completing it again (after reopening) makes none. It carries the task's
//   tags and custom fields too: they describe the series (a "billing" tag,
//   a contract number), not the one occurrence.
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

constexpr int64_t kNsPerDay = 86'400'000'000'000;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The time `months` calendar months after month 0 of year 0 (a count of
// months), on day `day` of that month or its last day if it is shorter, at
// `time_of_day` nanoseconds.
int64_t on_month(int64_t months, unsigned day, int64_t time_of_day) {
  const int64_t year = floor_div(months, 12);
  const unsigned month = static_cast<unsigned>(months - year * 12) + 1;
  const int64_t first = days_from_civil(year, month, 1);
  const int64_t next = month == 12 ? days_from_civil(year + 1, 1, 1) : days_from_civil(year, month + 1, 1);
  const int64_t last_day = next - first;
  return (first + std::min<int64_t>(day, last_day) - 1) * kNsPerDay + time_of_day;
}

}  // namespace

int64_t next_occurrence(const std::string& rule, int64_t every, int64_t anchor, int64_t after) {
  if (every < 1) every = 1;
  if (rule == "daily" || rule == "weekly") {
    const int64_t step = every * kNsPerDay * (rule == "weekly" ? 7 : 1);
    if (after < anchor) return anchor;
    return anchor + (floor_div(after - anchor, step) + 1) * step;
  }
  if (rule != "monthly" && rule != "yearly") throw Error("unknown recurrence '" + rule + "'");
  const int64_t step = every * (rule == "yearly" ? 12 : 1);
  if (after < anchor) return anchor;
  const int64_t anchor_days = floor_div(anchor, kNsPerDay);
  const int64_t time_of_day = anchor - anchor_days * kNsPerDay;
  int64_t y;
  unsigned m, day;
  civil_from_days(anchor_days, y, m, day);
  const int64_t start = y * 12 + (m - 1);
  unsigned after_m, after_d;
  civil_from_days(floor_div(after, kNsPerDay), y, after_m, after_d);
  // From a step before the month of `after` (a clamped day may fall before
  // it), step on until past it: two or three steps.
  for (int64_t k = std::max<int64_t>(0, (y * 12 + (after_m - 1) - start) / step - 1);; ++k) {
    const int64_t t = on_month(start + k * step, day, time_of_day);
    if (t > after) return t;
  }
}

std::string task_capture_sql() {
  return
            "CREATE TEMP TABLE IF NOT EXISTS crm_task_notes(seq INTEGER PRIMARY KEY, what TEXT NOT NULL,"
            " id INTEGER NOT NULL);"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_task_added AFTER INSERT ON main.tasks"
            " WHEN NEW.recurrence IS NOT NULL BEGIN"
            " INSERT INTO crm_task_notes(what, id) VALUES('anchor', NEW.id); END;"
            // A recurring task moved by hand (not by a write of its anchor) is anchored anew.
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_task_moved AFTER UPDATE OF due_at, recurrence ON main.tasks"
            " WHEN NEW.recurrence IS NOT NULL AND (NEW.due_at IS NOT OLD.due_at OR OLD.recurrence IS NULL)"
            " AND NEW.series_start IS OLD.series_start BEGIN"
            " INSERT INTO crm_task_notes(what, id) VALUES('moved', NEW.id); END;"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_task_done AFTER UPDATE OF done ON main.tasks"
            " WHEN NEW.done = 1 AND OLD.done IS NOT 1 BEGIN"
            " INSERT INTO crm_task_notes(what, id) VALUES('done', NEW.id); END;"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_task_reopened AFTER UPDATE OF done ON main.tasks"
            " WHEN NEW.done IS NOT 1 AND OLD.done = 1 AND NEW.done_at IS OLD.done_at BEGIN"
            " INSERT INTO crm_task_notes(what, id) VALUES('reopened', NEW.id); END;";
}

void install_task_capture(sqlite3* db) { sql::exec(db, task_capture_sql()); }

void Store::apply_task_rules(const WriteRequest& req, WriteResult& result) {
  Impl& impl = *impl_;
  {
    sql::Statement& any = impl.prepared("SELECT EXISTS(SELECT 1 FROM crm_task_notes)");
    const bool noted = any.step() && any.int64(0) != 0;
    any.reset();
    if (!noted) return;
  }
  const Dialect d(impl.db);
  auto forget = [&impl] { impl.prepared("DELETE FROM crm_task_notes").run(); };
  try {
    {
      sql::Statement& st = impl.prepared(
          "SELECT id FROM tasks WHERE id IN (SELECT id FROM crm_task_notes WHERE what IN ('anchor', 'moved'))"
          " AND recurrence IS NOT NULL AND due_at IS NULL ORDER BY id LIMIT 1");
      const bool found = st.step();
      const int64_t id = found ? st.int64(0) : -1;
      st.reset();
      if (found) {
        const auto rows = written_rows(req, result);
        const auto row = rows.find(id);
        throw ValidationError("tasks", row == rows.end() || req.op == WriteOp::Update ? -1 : row->second, "due_at",
                              "a recurring task needs its due_at (the first occurrence)", id);
      }
    }
    impl.prepared(
            "UPDATE tasks SET series_start = due_at WHERE id IN (SELECT id FROM crm_task_notes WHERE"
            " what = 'moved' OR (what = 'anchor' AND tasks.series_start IS NULL))")
        .run();
    sql::Statement& stamp = impl.prepared(
        "UPDATE tasks SET done_at = ?1 WHERE done_at IS NULL AND id IN"
        " (SELECT id FROM crm_task_notes WHERE what = 'done')");
    stamp.bind(1, now_ns());
    stamp.run();
    impl.prepared(
            "UPDATE tasks SET done_at = NULL WHERE id IN (SELECT id FROM crm_task_notes WHERE what = 'reopened')")
        .run();

    // The next occurrence of each completed recurring task that has none yet.
    Table next;
    for (const char* name : {"due_at", "remind_at", "recur_until", "series_start"}) {
      next.columns.emplace_back(name, Column::Storage::Int);
      next.columns.back().origin = Column::Origin::Time;
    }
    for (const char* name : {"assignee_id", "customer_id", "contact_id", "recur_every"})
      next.columns.emplace_back(name, Column::Storage::Int);
    for (const char* name : {"subject", "recurrence", kTagsColumn, kCustomColumn})
      next.columns.emplace_back(name, Column::Storage::Text);
    std::vector<int64_t> from;
    {
      sql::Statement& st = impl.prepared(
          "SELECT id, due_at, remind_at, recur_until, " + std::string(d.ifnull()) + "(series_start, due_at),"
          " assignee_id, customer_id, contact_id, " + d.ifnull() + "(recur_every, 1), subject, recurrence, tags, custom"
          " FROM tasks WHERE id IN"
          " (SELECT id FROM crm_task_notes WHERE what = 'done') AND recurrence IS NOT NULL"
          " AND due_at IS NOT NULL AND next_task_id IS NULL ORDER BY id");
      auto put = [&](size_t c, bool has, int64_t v) {
        next.columns[c].ints.push_back(has ? v : 0);
        next.columns[c].valid.push_back(has);
      };
      while (st.step()) {
        const int64_t due = st.int64(1);
        const int64_t at = next_occurrence(st.text(10), st.int64(8), st.int64(4), due);
        if (!st.is_null(3) && at > st.int64(3)) continue;  // the series has ended
        from.push_back(st.int64(0));
        put(0, true, at);
        put(1, !st.is_null(2), at - (due - (st.is_null(2) ? due : st.int64(2))));  // as long before as it was
        put(2, !st.is_null(3), st.is_null(3) ? 0 : st.int64(3));
        put(3, true, st.int64(4));
        for (int c = 5; c <= 8; ++c) put(static_cast<size_t>(c) - 1, !st.is_null(c), st.is_null(c) ? 0 : st.int64(c));
        next.columns[8].texts.push_back(st.text(9)), next.columns[8].valid.push_back(1);
        next.columns[9].texts.push_back(st.text(10)), next.columns[9].valid.push_back(1);
        for (int c = 11; c <= 12; ++c) {  // the stored tags and custom object, read back as given
          next.columns[static_cast<size_t>(c) - 1].texts.push_back(st.is_null(c) ? std::string() : st.text(c));
          next.columns[static_cast<size_t>(c) - 1].valid.push_back(!st.is_null(c));
        }
      }
      st.reset();
    }
    if (!from.empty()) {
      WriteResult written;
      insert_rows(WriteRequest{WriteOp::Insert, &impl.catalog.kind("tasks"), &next, {}}, written);
      sql::Statement& link = impl.prepared("UPDATE tasks SET next_task_id = ?1 WHERE id = ?2");
      for (size_t i = 0; i < from.size(); ++i) {  // as many as tasks completed in this write
        link.bind(1, written.ids.at(i));
        link.bind(2, from[i]);
        link.run();
      }
    }
  } catch (...) {
    // (On PostgreSQL a failed statement left the transaction to be rolled
    // back, which takes the notes with it; nothing more runs there.)
    if (d.sqlite()) forget();
    throw;
  }
  forget();
}

}  // namespace crmcore::records
