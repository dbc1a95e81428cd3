// The store's statements on an engine other than SQLite (sql::Statement's
// other side, see sqlite.hpp): binds and steps go to the backend boundary,
// and a batch read as crm_batch(?1) reaches PostgreSQL as one JSON parameter
// turned back into rows by json_to_recordset.
#include <nlohmann/json.hpp>
#include <regex>

#include "batch.hpp"
#include "sqlite.hpp"

namespace crmcore::records::sql {

namespace {

const std::string kBatchCall = "crm_batch(?1)";

// The statement's SQL with crm_batch(?1) [AS alias] as a row source of the
// batch's shape (one letter per column: i int8, r float8, t text). Its rows
// are numbered in `rowid`, as SQLite's crm_batch numbers them, so a read
// that must keep the batch's order can say so. The store's only CROSS JOINs
// are SQLite's way of making the batch the outer loop ("crm_batch(?1) AS b
// CROSS JOIN t AS r ON ..."); PostgreSQL takes no ON there, and plans the
// join itself.
std::string batch_sql(const std::string& text, const std::string& shape) {
  std::string defs, names;
  for (size_t c = 0; c < shape.size(); ++c) {
    const std::string name = "c" + std::to_string(c);
    defs += (c ? ", " : "") + name + (shape[c] == 't' ? " text" : shape[c] == 'r' ? " float8" : " int8");
    names += name + ", ";
  }
  static const std::regex call(R"(crm_batch\(\?1\)(\s+AS\s+([A-Za-z_][A-Za-z0-9_]*))?)");
  std::string out;
  auto begin = text.cbegin();
  std::smatch m;
  while (std::regex_search(begin, text.cend(), m, call)) {
    const std::string alias = m[2].matched ? m[2].str() : std::string("crm_batch");
    out.append(begin, m[0].first);
    out += "ROWS FROM (json_to_recordset(?1::json) AS (" + defs + ")) WITH ORDINALITY AS " + alias + "(" + names +
           "rowid)";
    begin = m[0].second;
  }
  out.append(begin, text.cend());
  static const std::regex cross(R"(\bCROSS JOIN\b)");
  return std::regex_replace(out, cross, "JOIN");
}

}  // namespace

void Statement::prepare_other(const std::string& text) {
  backend::number_placeholders(text, &parameters_);
  if (text.find(kBatchCall) != std::string::npos) {
    template_ = text;  // prepared once its batch's shape is known
    return;
  }
  owned_ = db_.conn->prepare(text);
  other_ = owned_.get();
}

void Statement::bind_other(int pos, Param type, int64_t i, double r, const std::string& text) {
  if (!other_) {
    pending_.push_back({pos, type, i, r, text});
    return;
  }
  switch (type) {
    case Param::Null: other_->bind_null(pos); break;
    case Param::Int: other_->bind_int64(pos, i); break;
    case Param::Real: other_->bind_double(pos, r); break;
    case Param::Text: other_->bind_text(pos, text); break;
  }
}

backend::Statement* Statement::running() {
  if (!other_) throw StorageError("a statement over a batch of rows ran before its batch was bound");
  return other_;
}

void Statement::reset_other() {
  if (other_) other_->reset();
  pending_.clear();
  if (!template_.empty()) other_ = nullptr;  // the next batch chooses again
}

void Statement::bind_batch_other(const Batch& batch) {
  std::string shape(batch.columns(), 'i');
  for (size_t c = 0; c < shape.size(); ++c)
    if (batch.declared(c) == Cell::Type::Text) shape[c] = 't';
    else if (batch.declared(c) == Cell::Type::Real) shape[c] = 'r';
  for (size_t r = 0; r < batch.rows(); ++r) {
    const Cell* row = batch.row(r);
    for (size_t c = 0; c < shape.size(); ++c) {
      if (row[c].type == Cell::Type::Text) shape[c] = 't';
      else if (row[c].type == Cell::Type::Real && shape[c] != 't') shape[c] = 'r';
    }
  }
  auto& prepared = by_shape_[shape];
  if (!prepared) prepared = db_.conn->prepare(batch_sql(template_, shape));
  other_ = prepared.get();
  other_->reset();
  nlohmann::json rows = nlohmann::json::array();
  for (size_t r = 0; r < batch.rows(); ++r) {
    const Cell* row = batch.row(r);
    nlohmann::json one = nlohmann::json::object();
    for (size_t c = 0; c < shape.size(); ++c) {
      const std::string key = "c" + std::to_string(c);
      switch (row[c].type) {
        case Cell::Type::Null: break;
        case Cell::Type::Int:
          if (shape[c] == 't') one[key] = std::to_string(row[c].i);  // a text column: as SQLite would compare it
          else one[key] = row[c].i;
          break;
        case Cell::Type::Real:
          if (shape[c] == 't') one[key] = std::to_string(row[c].r);
          else one[key] = row[c].r;
          break;
        case Cell::Type::Text: one[key] = *row[c].text; break;
      }
    }
    rows.push_back(std::move(one));
  }
  other_->bind_text(1, rows.dump());
  for (const auto& p : pending_) bind_other(p.pos, p.type, p.i, p.r, p.text);
  pending_.clear();
}

}  // namespace crmcore::records::sql
