// Rule conditions judged in C++ (judge.hpp). An import of a million orders
// with twenty active rules asked SQLite to evaluate the twenty conditions
// for every imported row, and its bytecode did that at about a tenth of a
// microsecond per comparison: most of what the rules cost. Here the columns
// the conditions read come out of the file in one pass over the written
// ids, and each test is a comparison of two C++ values.
//
// The answers must be SQLite's, which the query path (query.cpp) gives for
// every other caller: values are converted exactly as a query converts
// them (coerce, with the query's relaxations), and stored values compare
// as SQLite compares them (missing matches nothing but "is null"; numbers,
// whole or not, by value; every number before any text; text byte by byte).
// Whatever this cannot say the same way (tags, custom keys, phone and
// e-mail lookups, case-blind searches, a value of the other type than the
// field's) is left to SQL: compile_condition gives null.
#include "judge.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <string_view>

#include "../records/batch.hpp"
#include "../records/values.hpp"

namespace crmcore::records {

namespace {

// A value as SQLite holds it, text pointing into the row or the condition.
struct Held {
  int type = SQLITE_NULL;  // SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT
  int64_t i = 0;
  double r = 0;
  std::string_view text;
};

// SQLite's order of a whole number and a double, exactly (no rounding of
// the whole number to a double).
int compare_int_real(int64_t i, double r) {
  if (r < -9223372036854775808.0) return 1;
  if (r >= 9223372036854775808.0) return -1;
  const auto whole = static_cast<int64_t>(r);  // r truncated, within range
  if (i != whole) return i < whole ? -1 : 1;
  const double rest = r - static_cast<double>(whole);
  return rest > 0 ? -1 : rest < 0 ? 1 : 0;
}

// SQLite's order of two values that are not missing: numbers before text.
int compare(const Held& a, const Held& b) {
  const bool a_text = a.type == SQLITE_TEXT, b_text = b.type == SQLITE_TEXT;
  if (a_text != b_text) return a_text ? 1 : -1;
  if (a_text) {
    const int c = a.text.compare(b.text);  // bytes, unsigned, as SQLite's BINARY collation
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.type == SQLITE_INTEGER && b.type == SQLITE_INTEGER) return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
  if (a.type == SQLITE_INTEGER) return compare_int_real(a.i, b.r);
  if (b.type == SQLITE_INTEGER) return -compare_int_real(b.i, a.r);
  return a.r < b.r ? -1 : a.r > b.r ? 1 : 0;
}

Field plain(std::string name, FieldType type) {
  Field f;
  f.name = std::move(name);
  f.type = type;
  return f;
}

const Field* column_field(const Kind& k, const std::string& name) {
  static const Field id = plain("id", FieldType::Integer);
  static const Field created = plain(kCreatedColumn, FieldType::Time);
  static const Field updated = plain(kUpdatedColumn, FieldType::Time);
  if (const Field* f = k.field(name)) return f;
  for (const Field* f : {&id, &created, &updated})
    if (f->name == name) return f;
  return nullptr;
}

bool is_ordering(Op op) { return op == Op::Lt || op == Op::Le || op == Op::Gt || op == Op::Ge || op == Op::Between; }

}  // namespace

struct CompiledCondition {
  struct Test {
    size_t column = 0;  // into `columns`
    Op op = Op::Eq;
    std::vector<std::string> texts;  // the values' text, which `values` point into
    std::vector<Held> values;        // present values only
    bool missing = false;            // in: a missing value in the list matches a missing field
  };
  std::vector<std::string> columns;     // the fields read, names from the kind table
  std::vector<std::vector<Test>> any;   // groups, any of which must hold wholly; none: every record

  bool holds(const Held* row) const {
    for (const auto& group : any) {
      bool all = true;
      for (const auto& t : group)
        if (!(all = meets(t, row[t.column]))) break;
      if (all) return true;
    }
    return any.empty();
  }

 private:
  static bool meets(const Test& t, const Held& v) {
    const bool null = v.type == SQLITE_NULL;
    switch (t.op) {
      case Op::Missing: return null;
      case Op::NotMissing: return !null;
      case Op::In:
        if (null) return t.missing;
        return std::any_of(t.values.begin(), t.values.end(), [&v](const Held& x) { return compare(v, x) == 0; });
      case Op::NotIn:
        return !null && std::none_of(t.values.begin(), t.values.end(), [&v](const Held& x) { return compare(v, x) == 0; });
      default: break;
    }
    if (null) return false;
    switch (t.op) {
      case Op::Eq: return compare(v, t.values[0]) == 0;
      case Op::Ne: return compare(v, t.values[0]) != 0;
      case Op::Lt: return compare(v, t.values[0]) < 0;
      case Op::Le: return compare(v, t.values[0]) <= 0;
      case Op::Gt: return compare(v, t.values[0]) > 0;
      case Op::Ge: return compare(v, t.values[0]) >= 0;
      case Op::Between: return compare(v, t.values[0]) >= 0 && compare(v, t.values[1]) <= 0;
      case Op::Contains:  // instr(e, v) > 0; a text field holds only text (its affinity)
        return std::any_of(t.texts.begin(), t.texts.end(),
                           [&v](const std::string& x) { return v.text.find(x) != std::string_view::npos; });
      case Op::StartsWith: {  // e >= v AND e < v || x'F5', as the query writes it
        if (v.type != SQLITE_TEXT) return false;
        return std::any_of(t.texts.begin(), t.texts.end(),
                           [&v](const std::string& x) { return v.text.substr(0, x.size()) == x; });
      }
      default: return false;
    }
  }
};

namespace {

using Test = CompiledCondition::Test;

// The test of one condition, or false when it is for SQL to judge.
bool compile_test(const Kind& k, const Condition& c, Test& t, std::string& column) {
  const Field* f = column_field(k, c.field);
  if (!f || f->lookup != Lookup::None) return false;
  column = f->name;
  const size_t n = c.values.size();
  const bool text_field = f->type == FieldType::Text;
  t.op = c.op;
  switch (c.op) {
    case Op::Missing:
    case Op::NotMissing:
      return n == 0;
    case Op::Contains:
    case Op::StartsWith: {
      if (!text_field) return false;
      // As the query's text_values: each value as text; a missing one is refused there.
      static const Field probe = plain("", FieldType::Text);
      for (size_t r = 0; r < n; ++r) {
        Value v;
        try {
          coerce(probe, &c.values, r, v);
        } catch (const RowFailure&) {
          return false;
        }
        if (v.type == Value::Type::Text) t.texts.push_back(*v.text);
        else if (c.values.present(r) && c.values.storage == Column::Storage::Text) t.texts.push_back(c.values.texts[r]);
        else return false;
      }
      return true;
    }
    case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      if (n != 1) return false;
      break;
    case Op::Between:
      if (n != 2) return false;
      break;
    case Op::In:
    case Op::NotIn:
      break;
    default:
      return false;
  }
  // As the query's field_values: the field's conversion without the rules
  // about records (default, required, range); choices only where a typo
  // would match nothing.
  Field probe = *f;
  probe.required = false;
  probe.default_value.clear();
  probe.min = probe.max = 0;
  if (!(c.op == Op::Eq || c.op == Op::Ne || c.op == Op::In || c.op == Op::NotIn)) probe.choices.clear();
  const bool whole = f->type == FieldType::Integer || f->type == FieldType::Ref || f->type == FieldType::AnyRef;
  std::vector<Value> values(n);
  for (size_t r = 0; r < n; ++r) {
    try {
      coerce(probe, &c.values, r, values[r]);
    } catch (const RowFailure&) {
      if (!whole || !is_ordering(c.op)) return false;
      Field real = probe;  // nps > 6.5 of a whole-number field
      real.type = FieldType::Real;
      try {
        coerce(real, &c.values, r, values[r]);
      } catch (const RowFailure&) {
        return false;
      }
    }
    const Value& v = values[r];
    // A value of the other type than the field's would meet SQLite's
    // affinity conversions: SQL judges it.
    if (v.type != Value::Type::Null && (v.type == Value::Type::Text) != text_field) return false;
  }
  t.texts.reserve(n);  // the Held values point into these
  for (const Value& v : values) {
    if (v.type == Value::Type::Null) {
      t.missing = true;
      continue;
    }
    Held h;
    h.type = v.type == Value::Type::Int ? SQLITE_INTEGER : v.type == Value::Type::Real ? SQLITE_FLOAT : SQLITE_TEXT;
    h.i = v.i;
    h.r = v.r;
    if (v.type == Value::Type::Text) {
      t.texts.push_back(*v.text);
      h.text = t.texts.back();
    }
    t.values.push_back(h);
  }
  if (c.op == Op::Eq || c.op == Op::Ne) {
    if (t.missing) t.op = c.op == Op::Eq ? Op::Missing : Op::NotMissing;  // == None is "is null"
  } else if (c.op != Op::In && c.op != Op::NotIn && t.missing) {
    return false;  // refused by the query: no ordering with a missing value
  }
  return true;
}

}  // namespace

std::shared_ptr<const CompiledCondition> compile_condition(const Kind& k, const AnyOf& condition) {
  auto out = std::make_shared<CompiledCondition>();
  for (const auto& group : condition) {
    std::vector<Test> tests;
    for (const auto& c : group) {
      Test t;
      std::string column;
      if (!compile_test(k, c, t, column)) return nullptr;
      auto at = std::find(out->columns.begin(), out->columns.end(), column);
      t.column = static_cast<size_t>(at - out->columns.begin());
      if (at == out->columns.end()) out->columns.push_back(column);
      tests.push_back(std::move(t));
    }
    out->any.push_back(std::move(tests));
  }
  // A group without tests holds for every record, as the query's "1".
  if (std::any_of(out->any.begin(), out->any.end(), [](const auto& g) { return g.empty(); })) out->any.clear();
  return out;
}

std::vector<std::vector<int64_t>> judge_each(Store::Impl& impl, const Kind& k,
                                             const std::vector<const CompiledCondition*>& conditions,
                                             const std::vector<int64_t>& ids) {
  std::vector<std::vector<int64_t>> out(conditions.size());
  if (ids.empty()) return out;
  // Every condition's columns, each read once; a test's column index is
  // mapped to its place in this row.
  std::vector<std::string> columns;
  std::vector<std::vector<size_t>> place(conditions.size());
  bool reads = false;
  for (size_t i = 0; i < conditions.size(); ++i) {
    if (conditions[i]->any.empty()) {
      out[i] = ids;  // every record: nothing to read
      continue;
    }
    reads = true;
    for (const auto& name : conditions[i]->columns) {
      auto at = std::find(columns.begin(), columns.end(), name);
      place[i].push_back(static_cast<size_t>(at - columns.begin()));
      if (at == columns.end()) columns.push_back(name);
    }
  }
  if (!reads) return out;
  std::string select = "SELECT r.id";
  for (const auto& name : columns) select += ", r." + name;
  const bool range = ids.back() - ids.front() + 1 == static_cast<int64_t>(ids.size());
  sql::Batch batch(1);
  std::string text;
  if (range) {
    text = select + " FROM " + k.name + " AS r WHERE r.id BETWEEN ?1 AND ?2";
  } else {
    for (int64_t id : ids) batch.add_row()[0].set_int(id);
    text = select + " FROM crm_batch(?1) AS b CROSS JOIN " + k.name + " AS r ON r.id = b.c0";
  }
  sql::Statement& st = impl.prepared(text);
  if (range) st.bind(1, ids.front()).bind(2, ids.back());
  else sql::bind_batch(st, batch);
  sqlite3_stmt* s = st.get();
  std::vector<Held> row(columns.size()), mine;
  try {
    while (st.step()) {
      for (size_t c = 0; c < columns.size(); ++c) {
        Held& h = row[c];
        const int col = static_cast<int>(c) + 1;
        h.type = sqlite3_column_type(s, col);
        if (h.type == SQLITE_INTEGER) h.i = sqlite3_column_int64(s, col);
        else if (h.type == SQLITE_FLOAT) h.r = sqlite3_column_double(s, col);
        else if (h.type != SQLITE_NULL) {
          h.type = SQLITE_TEXT;  // (no field holds blobs)
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
          h.text = std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(s, col)));
        }
      }
      const int64_t id = sqlite3_column_int64(s, 0);
      for (size_t i = 0; i < conditions.size(); ++i) {
        if (conditions[i]->any.empty()) continue;
        mine.resize(place[i].size());
        for (size_t c = 0; c < place[i].size(); ++c) mine[c] = row[place[i][c]];
        if (conditions[i]->holds(mine.data())) out[i].push_back(id);
      }
    }
  } catch (...) {
    st.reset();
    throw;
  }
  st.reset();
  return out;
}

bool reads_fields_only(const Kind& k, const CompiledCondition& condition) {
  return std::all_of(condition.columns.begin(), condition.columns.end(),
                     [&k](const std::string& name) { return k.field(name) != nullptr; });
}

std::optional<std::vector<std::vector<int64_t>>> judge_rows(const Kind& k,
                                                            const std::vector<const CompiledCondition*>& conditions,
                                                            const Table& t, const std::vector<int64_t>& row_ids) {
  // Every condition's columns once, each a field of the kind with the
  // caller's column for it (none: the field's default, as the insert wrote).
  std::vector<const Field*> fields;
  std::vector<std::vector<size_t>> place(conditions.size());
  for (size_t i = 0; i < conditions.size(); ++i) {
    for (const auto& name : conditions[i]->columns) {
      const Field* f = k.field(name);
      if (!f) return std::nullopt;  // id, created_at, updated_at: given by the store
      auto at = std::find(fields.begin(), fields.end(), f);
      place[i].push_back(static_cast<size_t>(at - fields.begin()));
      if (at == fields.end()) fields.push_back(f);
    }
  }
  std::vector<const Column*> columns;
  for (const Field* f : fields) columns.push_back(t.find(f->name));
  std::vector<std::vector<int64_t>> out(conditions.size());
  std::vector<Value> values(fields.size());
  std::vector<Held> row(fields.size()), mine;
  for (size_t r = 0; r < row_ids.size() && r < t.rows(); ++r) {
    if (row_ids[r] < 0) continue;
    for (size_t c = 0; c < fields.size(); ++c) {
      try {
        coerce(*fields[c], columns[c], r, values[c]);
      } catch (const RowFailure&) {
        return std::nullopt;  // (a landed row converted once already)
      }
      const Value& v = values[c];
      Held& h = row[c];
      switch (v.type) {
        case Value::Type::Null: h.type = SQLITE_NULL; break;
        case Value::Type::Int: h.type = SQLITE_INTEGER, h.i = v.i; break;
        case Value::Type::Real: h.type = SQLITE_FLOAT, h.r = v.r; break;
        case Value::Type::Text: h.type = SQLITE_TEXT, h.text = *v.text; break;
      }
      // A text field keeps text only (its affinity): a number given for it
      // is stored as text, which the read would give; SQL judges that case.
      if (h.type != SQLITE_NULL && (h.type == SQLITE_TEXT) != (fields[c]->type == FieldType::Text)) return std::nullopt;
    }
    for (size_t i = 0; i < conditions.size(); ++i) {
      mine.resize(place[i].size());
      for (size_t c = 0; c < place[i].size(); ++c) mine[c] = row[place[i][c]];
      if (conditions[i]->holds(mine.data())) out[i].push_back(row_ids[r]);
    }
  }
  for (auto& ids : out) std::sort(ids.begin(), ids.end());
  return out;
}

}  // namespace crmcore::records
