// Stage rules, the deals' part of the write path. Whatever writes a deal's
// stage (an add, an update, an import, an upsert), SQLite triggers note the
// change in a temporary table while the write runs; before the write's
// transaction ends, the rules read those notes and, for each deal:
// - accept the stage only if the deal's pipeline has it (a label in another
//   language, 赢单, names the stage and is stored as its name);
// - on won or lost set closed_at and probability 1 or 0; on an open stage
//   clear closed_at and take the stage's probability unless one was given;
// - write the deal_stages row: from, to, when, by whom and why.
// A refusal undoes the whole write, so a bad stage changes nothing (with
// OnError::Skip, one naming a row drops that row alone: row_verdicts.hpp).
// Each change of a deal's expected close is noted the same way and leaves a
// deal_close_dates row (the new date, the one before, when, by whom): an
// update replaces the date, so without it a slip could not be seen later.
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "batch.hpp"
#include "crmcore/errors.hpp"
#include "row_verdicts.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

struct Stage {
  std::string name;
  double probability = 0;
  std::string category;  // open, won or lost
  std::vector<std::string> labels;
};

struct Pipeline {
  int64_t id = -1;
  std::string name;
  std::vector<Stage> stages;  // by position

  const Stage* find(const std::string& given) const {
    for (const auto& s : stages)
      if (s.name == given) return &s;
    for (const auto& s : stages)
      for (const auto& label : s.labels)
        if (label == given) return &s;
    return nullptr;
  }
  std::string allowed() const {
    std::string out;
    for (const auto& s : stages) out += (out.empty() ? "" : ", ") + s.name;
    return out;
  }
};

// The texts of a labels object ({"zh": "赢单", ...}); anything else has none.
std::vector<std::string> label_texts(const std::string& text) {
  std::vector<std::string> out;
  const auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return out;
  for (const auto& [language, label] : doc.items())
    if (label.is_string()) out.push_back(label.get<std::string>());
  return out;
}

struct Pipelines {
  std::vector<Pipeline> all;
  int64_t default_id = -1;  // flagged is_default (the lowest such id), else the first pipeline

  explicit Pipelines(const sql::Db& db) {
    sql::Statement st(db, "SELECT id, name, is_default FROM pipelines ORDER BY id");
    while (st.step()) {
      all.push_back({st.int64(0), st.text(1), {}});
      if (default_id < 0 && !st.is_null(2) && st.int64(2) != 0) default_id = st.int64(0);
    }
    if (default_id < 0 && !all.empty()) default_id = all.front().id;
    sql::Statement stages(db,
                          "SELECT pipeline_id, name, probability, category, labels FROM pipeline_stages"
                          " ORDER BY pipeline_id, position, id");
    while (stages.step()) {
      Pipeline* p = get(stages.int64(0));
      if (!p) continue;
      p->stages.push_back({stages.text(1), stages.is_null(2) ? 0.0 : stages.real(2), stages.text(3),
                           stages.is_null(4) ? std::vector<std::string>{} : label_texts(stages.text(4))});
    }
  }
  Pipeline* get(int64_t id) {
    for (auto& p : all)
      if (p.id == id) return &p;
    return nullptr;
  }
};

}  // namespace

Value given(const Kind& k, const Table* t, int64_t row, const char* field) {
  Value v;
  const Column* c = t && row >= 0 ? t->find(field) : nullptr;
  if (c) coerce(*k.field(field), c, static_cast<size_t>(row), v);
  if (v.type == Value::Type::Text) v.own_text(*v.text);  // the write's own text, kept past it
  return v;
}

void set_cell(sql::Cell& cell, const Value& v, sql::Batch& batch) {
  switch (v.type) {
    case Value::Type::Null: cell.set_null(); break;
    case Value::Type::Int: cell.set_int(v.i); break;
    case Value::Type::Real: cell.set_real(v.r); break;
    case Value::Type::Text: cell.set_text(batch.keep(*v.text)); break;
  }
}

namespace {

struct CloseMove {
  int64_t deal;
  Value from, to;
};

// The expected-close changes the write made, in order, and forgets them.
std::vector<CloseMove> read_close_moves(Store::Impl& impl) {
  std::vector<CloseMove> out;
  sql::Statement& st = impl.prepared("SELECT deal_id, from_close, to_close FROM crm_close_moves ORDER BY seq");
  while (st.step()) {
    CloseMove m{st.int64(0), {}, {}};
    if (!st.is_null(1)) m.from.set_int(st.int64(1));
    if (!st.is_null(2)) m.to.set_int(st.int64(2));
    out.push_back(std::move(m));
  }
  st.reset();
  impl.prepared("DELETE FROM crm_close_moves").run();
  return out;
}

void push_int(Column& c, const Value& v) {
  c.ints.push_back(v.type == Value::Type::Int ? v.i : 0);
  c.valid.push_back(v.type == Value::Type::Int);
}

}  // namespace

std::unordered_map<int64_t, int64_t> written_rows(const WriteRequest& req, const WriteResult& result) {
  std::unordered_map<int64_t, int64_t> row_of;
  if (req.op == WriteOp::Update) {
    row_of[req.ids.front()] = 0;
  } else {
    row_of.reserve(result.ids.size());
    for (size_t r = 0; r < result.ids.size(); ++r)
      if (result.ids[r] >= 0) row_of[result.ids[r]] = static_cast<int64_t>(r);
  }
  return row_of;
}

std::string stage_capture_sql() {
  return
            "CREATE TEMP TABLE IF NOT EXISTS crm_stage_moves(seq INTEGER PRIMARY KEY, deal_id INTEGER NOT NULL,"
            " from_stage TEXT, to_stage TEXT);"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_deal_added AFTER INSERT ON main.deals BEGIN"
            " INSERT INTO crm_stage_moves(deal_id, from_stage, to_stage) VALUES(NEW.id, NULL, NEW.stage); END;"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_deal_moved AFTER UPDATE OF stage, pipeline_id ON main.deals"
            " WHEN OLD.stage IS NOT NEW.stage OR OLD.pipeline_id IS NOT NEW.pipeline_id BEGIN"
            " INSERT INTO crm_stage_moves(deal_id, from_stage, to_stage) VALUES(NEW.id, OLD.stage, NEW.stage); END;"
            "CREATE TEMP TABLE IF NOT EXISTS crm_close_moves(seq INTEGER PRIMARY KEY, deal_id INTEGER NOT NULL,"
            " from_close INTEGER, to_close INTEGER);"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_deal_close_added AFTER INSERT ON main.deals"
            " WHEN NEW.expected_close IS NOT NULL BEGIN"
            " INSERT INTO crm_close_moves(deal_id, from_close, to_close) VALUES(NEW.id, NULL, NEW.expected_close); END;"
            "CREATE TEMP TRIGGER IF NOT EXISTS crm_deal_close_moved AFTER UPDATE OF expected_close ON main.deals"
            " WHEN OLD.expected_close IS NOT NEW.expected_close BEGIN"
            " INSERT INTO crm_close_moves(deal_id, from_close, to_close)"
            " VALUES(NEW.id, OLD.expected_close, NEW.expected_close); END;";
}

void install_stage_capture(sqlite3* db) { sql::exec(db, stage_capture_sql()); }

void Store::apply_stage_rules(const WriteRequest& req, WriteResult& result) {
  Impl& impl = *impl_;
  struct Move {
    int64_t deal;
    std::string from;
    bool had_from;
    std::string to;
    int64_t pipeline;  // -1: none set
  };
  std::vector<Move> moves;
  {
    sql::Statement& st = impl.prepared(
        "SELECT m.deal_id, m.from_stage, m.to_stage, d.pipeline_id FROM crm_stage_moves AS m"
        " JOIN deals AS d ON d.id = m.deal_id ORDER BY m.seq");
    while (st.step())
      moves.push_back({st.int64(0), st.is_null(1) ? "" : st.text(1), !st.is_null(1), st.text(2),
                       st.is_null(3) ? -1 : st.int64(3)});
    st.reset();
  }
  impl.prepared("DELETE FROM crm_stage_moves").run();
  std::vector<CloseMove> close_moves = read_close_moves(impl);
  // A merge keeps or restores stages and dates as they were; they are no change.
  if (req.op == WriteOp::Merge || req.op == WriteOp::Unmerge) return;
  if (moves.empty() && close_moves.empty()) return;

  const Kind& deals = *req.kind;
  // The row of the caller's table that wrote each deal.
  const std::unordered_map<int64_t, int64_t> row_of = written_rows(req, result);
  const Table* t = req.table;
  const int64_t now = now_ns();
  // One deal_close_dates row per change of a deal's expected close: when
  // (the write's close_changed_at, else now) and by whom (close_changed_by);
  // the deal keeps both of its last change, as it does for its stage.
  if (!close_moves.empty()) {
    Table dates;
    for (const char* name : {"deal_id", "expected_close", "previous", "changed_at", "by_id"})
      dates.columns.emplace_back(name, Column::Storage::Int);
    for (size_t c : {1, 2, 3}) dates.columns[c].origin = Column::Origin::Time;
    sql::Batch stamps(3);  // id, close_changed_at, close_changed_by
    for (const CloseMove& m : close_moves) {
      const auto found = row_of.find(m.deal);
      Value at = given(deals, t, found == row_of.end() ? -1 : found->second, "close_changed_at");
      if (at.type != Value::Type::Int) at.set_int(now);
      const Value by = given(deals, t, found == row_of.end() ? -1 : found->second, "close_changed_by");
      auto& c = dates.columns;
      c[0].ints.push_back(m.deal), c[0].valid.push_back(1);
      push_int(c[1], m.to), push_int(c[2], m.from), push_int(c[3], at), push_int(c[4], by);
      sql::Cell* cells = stamps.add_row();
      cells[0].set_int(m.deal);
      cells[1].set_int(at.i);
      set_cell(cells[2], by, stamps);
    }
    sql::Statement& st = impl.prepared(
        "UPDATE deals SET close_changed_at = b.c1, close_changed_by = b.c2 FROM crm_batch(?1) AS b"
        " WHERE deals.id = b.c0");
    sql::bind_batch(st, stamps);
    st.run();
    WriteResult written;
    insert_rows(WriteRequest{WriteOp::Insert, &kind("deal_close_dates"), &dates, {}}, written);
  }
  if (moves.empty()) return;
  Pipelines pipelines(impl.db);

  sql::Batch updates(8);  // id, stage, pipeline_id, stage_changed_at, stage_changed_by, stage_reason, closed_at, probability
  sql::Batch renames(3);  // id, stage, pipeline_id: the same stage under its name, or a pipeline that also has it
  Table history;
  for (const char* name : {"deal_id", "changed_at", "by_id"}) history.columns.emplace_back(name, Column::Storage::Int);
  history.columns[1].origin = Column::Origin::Time;
  for (const char* name : {"stage", "from_stage", "reason"}) history.columns.emplace_back(name, Column::Storage::Text);
  auto add_history = [&history](int64_t deal, int64_t at, const Value& by, const std::string& stage,
                                const Move& m, const Value& reason) {
    auto& c = history.columns;
    c[0].ints.push_back(deal), c[0].valid.push_back(1);
    c[1].ints.push_back(at), c[1].valid.push_back(1);
    c[2].ints.push_back(by.type == Value::Type::Int ? by.i : 0), c[2].valid.push_back(by.type == Value::Type::Int);
    c[3].texts.push_back(stage), c[3].valid.push_back(1);
    c[4].texts.push_back(m.from), c[4].valid.push_back(m.had_from);
    const bool has_reason = reason.type == Value::Type::Text;
    c[5].texts.push_back(has_reason ? *reason.text : std::string()), c[5].valid.push_back(has_reason);
  };

  // Each deal's stage is judged alone: with OnError::Skip, every deal whose
  // stage is refused is refused at once (RowsRefused, row_verdicts.hpp).
  std::vector<RowError> failed;
  for (const Move& m : moves) try {
    const auto found = row_of.find(m.deal);
    const int64_t row = found == row_of.end() ? -1 : found->second;
    const int64_t shown_row = req.op == WriteOp::Update ? -1 : row;
    Pipeline* p = pipelines.get(m.pipeline >= 0 ? m.pipeline : pipelines.default_id);
    if (!p)
      throw ValidationError(deals.name, shown_row, "pipeline_id",
                            m.pipeline >= 0 ? "no pipeline with id " + std::to_string(m.pipeline)
                                            : "the store has no pipeline to check the stage against",
                            m.deal);
    const Stage* stage = p->find(m.to);
    if (!stage)
      throw ValidationError(deals.name, shown_row, "stage",
                            quote(m.to) + " is not a stage of pipeline " + quote(p->name) + " (stages: " +
                                p->allowed() + ")",
                            m.deal);
    if (m.had_from && m.from == stage->name) {
      sql::Cell* cells = renames.add_row();
      cells[0].set_int(m.deal);
      cells[1].set_text(renames.keep(stage->name));
      cells[2].set_int(p->id);
      continue;
    }
    const bool closed = stage->category != "open";
    Value at = given(deals, t, row, "stage_changed_at");
    const Value closed_at = given(deals, t, row, "closed_at");
    if (at.type == Value::Type::Null) {
      if (closed && closed_at.type == Value::Type::Int) at = closed_at;
      else at.set_int(now);
    }
    const Value by = given(deals, t, row, "stage_changed_by");
    const Value reason = given(deals, t, row, "stage_reason");
    Value probability;
    if (closed) probability.set_real(stage->category == "won" ? 1.0 : 0.0);
    else probability = given(deals, t, row, "probability");
    if (probability.type == Value::Type::Null) probability.set_real(stage->probability);

    sql::Cell* cells = updates.add_row();
    cells[0].set_int(m.deal);
    cells[1].set_text(updates.keep(stage->name));
    cells[2].set_int(p->id);
    cells[3].set_int(at.i);
    set_cell(cells[4], by, updates);
    set_cell(cells[5], reason, updates);
    if (closed) set_cell(cells[6], closed_at.type == Value::Type::Int ? closed_at : at, updates);
    set_cell(cells[7], probability, updates);
    add_history(m.deal, at.i, by, stage->name, m, reason);
  } catch (const ValidationError& e) {
    if (req.on_error != OnError::Skip || e.row() < 0) throw;
    failed.push_back({e.row(), e.field(), e.reason()});
  }
  if (!failed.empty()) throw RowsRefused(deals.name, std::move(failed));
  if (updates.rows() > 0) {
    sql::Statement& st = impl.prepared(
        "UPDATE deals SET stage = b.c1, pipeline_id = b.c2, stage_changed_at = b.c3, stage_changed_by = b.c4,"
        " stage_reason = b.c5, closed_at = b.c6, probability = b.c7 FROM crm_batch(?1) AS b WHERE deals.id = b.c0");
    sql::bind_batch(st, updates);
    st.run();
  }
  if (renames.rows() > 0) {
    sql::Statement& st = impl.prepared(
        "UPDATE deals SET stage = b.c1, pipeline_id = b.c2 FROM crm_batch(?1) AS b WHERE deals.id = b.c0");
    sql::bind_batch(st, renames);
    st.run();
  }
  impl.prepared("DELETE FROM crm_stage_moves").run();  // the rules' own writes are no moves
  if (history.rows() > 0) {
    WriteResult written;
    insert_rows(WriteRequest{WriteOp::Insert, &kind("deal_stages"), &history, {}}, written);
  }
}

}  // namespace crmcore::records
