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
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

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
    text = select + " FROM crm_batch(?1) AS b" + Dialect(impl.db).cross_join() + k.name + " AS r ON r.id = b.c0";
  }
  // (PostgreSQL's rows in the ids' order, as SQLite gives them: the actions
  // take the matched ids in order.)
  if (!impl.db.is_sqlite()) text += range ? " ORDER BY r.id" : " ORDER BY b.rowid";
  sql::Statement& st = impl.prepared(text);
  if (range) st.bind(1, ids.front()).bind(2, ids.back());
  else sql::bind_batch(st, batch);
  std::vector<Held> row(columns.size()), mine;
  // PostgreSQL's columns hold one type each, the field's (schema_sql's
  // sql_type): read as such, a value is what SQLite would hold for it (a
  // REAL column's whole number included: SQLite's affinity makes it real).
  std::vector<int> declared(columns.size(), SQLITE_INTEGER);
  for (size_t c = 0; c < columns.size(); ++c) {
    const FieldType type = column_field(k, columns[c])->type;
    declared[c] = type == FieldType::Text ? SQLITE_TEXT : type == FieldType::Real ? SQLITE_FLOAT : SQLITE_INTEGER;
  }
  std::vector<std::string> scratch(st.on_sqlite() ? 0 : columns.size());
  sqlite3_stmt* s = st.on_sqlite() ? st.get() : nullptr;
  try {
    while (st.step()) {
      for (size_t c = 0; c < columns.size(); ++c) {
        Held& h = row[c];
        const int col = static_cast<int>(c) + 1;
        if (!s) {
          h.type = st.is_null(col) ? SQLITE_NULL : declared[c];
          if (h.type == SQLITE_INTEGER) h.i = st.int64(col);
          else if (h.type == SQLITE_FLOAT) h.r = st.real(col);
          else if (h.type == SQLITE_TEXT) h.text = st.text_view(col, scratch[c]);
          continue;
        }
        h.type = sqlite3_column_type(s, col);
        if (h.type == SQLITE_INTEGER) h.i = sqlite3_column_int64(s, col);
        else if (h.type == SQLITE_FLOAT) h.r = sqlite3_column_double(s, col);
        else if (h.type != SQLITE_NULL) {
          h.type = SQLITE_TEXT;  // (no field holds blobs)
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
          h.text = std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(s, col)));
        }
      }
      const int64_t id = st.int64(0);
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

namespace {

// Verdicts over a table's rows, one bit per row.
using Bits = std::vector<uint64_t>;

Held held_of(const Value& v) {
  Held h;
  switch (v.type) {
    case Value::Type::Null: break;
    case Value::Type::Int: h.type = SQLITE_INTEGER, h.i = v.i; break;
    case Value::Type::Real: h.type = SQLITE_FLOAT, h.r = v.r; break;
    case Value::Type::Text: h.type = SQLITE_TEXT, h.text = *v.text; break;
  }
  return h;
}

// A text field keeps text only (its affinity): a number given for it is
// stored as text, which a read would give; SQL judges that case.
bool as_stored(const Field& f, const Held& h) {
  return h.type == SQLITE_NULL || (h.type == SQLITE_TEXT) == (f.type == FieldType::Text);
}

// One field's values on the landed rows of a table, converted once as the
// insert converts them. Given text is coded: each distinct text is
// converted (and later each test judged) once, and a row holds its code;
// numbers are held per row, and also as plain doubles when every present
// one is a double, for tests that are then comparisons of two doubles.
struct FieldValues {
  bool coded = false;
  std::vector<uint32_t> code;     // coded: per row (0: a row that did not land)
  std::deque<Value> converted;    // coded: each distinct value (it owns or points at its text)
  std::vector<Held> distinct;     // coded: the same, as held
  std::vector<Held> held;         // not coded: per row
  std::deque<std::string> texts;  // not coded: texts the conversion made
  bool reals_only = false;        // not coded: every present value a double
  std::vector<double> reals;
  Bits present;

  // False when a landed row's value fails its conversion or would meet
  // SQLite's conversions: the caller then reads the records.
  bool convert(const Field& f, const Column* col, size_t n, const Bits& landed) {
    auto lands = [&landed](size_t r) { return (landed[r >> 6] >> (r & 63)) & 1; };
    coded = !col || col->storage == Column::Storage::Text;
    if (coded) {
      code.assign(n, 0);
      converted.emplace_back();
      distinct.emplace_back();
      std::unordered_map<std::string_view, uint32_t> codes;
      int64_t missing = -1;
      for (size_t r = 0; r < n; ++r) {
        if (!lands(r)) continue;
        if (col && !col->problems.empty() && col->problem(r)) return false;
        const bool given = col && col->present(r);
        uint32_t next = static_cast<uint32_t>(distinct.size());
        if (given) {
          auto [at, added] = codes.emplace(std::string_view(col->texts[r]), next);
          code[r] = at->second;
          if (!added) continue;
        } else if (missing >= 0) {
          code[r] = static_cast<uint32_t>(missing);
          continue;
        } else {
          missing = next;
          code[r] = next;
        }
        Value& v = converted.emplace_back();
        try {
          coerce(f, col, r, v);
        } catch (const RowFailure&) {
          return false;
        }
        distinct.push_back(held_of(v));
        if (!as_stored(f, distinct.back())) return false;
      }
      return true;
    }
    held.assign(n, Held{});
    reals.assign(n, 0.0);
    present.assign(landed.size(), 0);
    reals_only = true;
    Value v;
    for (size_t r = 0; r < n; ++r) {
      if (!lands(r)) continue;
      try {
        coerce(f, col, r, v);
      } catch (const RowFailure&) {
        return false;
      }
      Held h = held_of(v);
      if (!as_stored(f, h)) return false;
      if (h.type == SQLITE_TEXT) {
        texts.emplace_back(h.text);
        h.text = texts.back();
      }
      if (h.type == SQLITE_NULL) continue;
      present[r >> 6] |= uint64_t{1} << (r & 63);
      reals_only = reals_only && h.type == SQLITE_FLOAT;
      reals[r] = h.r;
      held[r] = h;
    }
    return true;
  }
};

// A test's values as doubles that compare with a double exactly as SQLite
// compares them (whole numbers up to 2**53 convert exactly); false when
// not every value does, or the test is not a plain comparison.
bool as_doubles(const CompiledCondition::Test& t, double& a, double& b) {
  if (!(t.op == Op::Eq || t.op == Op::Ne || t.op == Op::Lt || t.op == Op::Le || t.op == Op::Gt || t.op == Op::Ge ||
        t.op == Op::Between) || t.values.size() != (t.op == Op::Between ? 2u : 1u))
    return false;
  double out[2] = {0, 0};
  for (size_t i = 0; i < t.values.size(); ++i) {
    const Held& x = t.values[i];
    if (x.type == SQLITE_FLOAT) out[i] = x.r;
    else if (x.type == SQLITE_INTEGER && x.i >= -(int64_t{1} << 53) && x.i <= (int64_t{1} << 53)) out[i] = static_cast<double>(x.i);
    else return false;
  }
  a = out[0], b = out[1];
  return true;
}

template <class Holds>
void fill_bits(Bits& out, size_t n, Holds holds) {
  for (size_t w = 0; w < out.size(); ++w) {
    uint64_t bits = 0;
    const size_t base = w * 64, m = std::min<size_t>(64, n - base);
    for (size_t j = 0; j < m; ++j) bits |= static_cast<uint64_t>(holds(base + j)) << j;
    out[w] = bits;
  }
}

// The rows that meet one test: judged once per distinct text, as a
// comparison of doubles over a column of doubles, else value by value.
Bits judge_test(const CompiledCondition::Test& t, const FieldValues& c, size_t n, size_t words) {
  Bits out(words, 0);
  if (c.coded) {
    std::vector<uint8_t> verdict(c.distinct.size());
    for (size_t d = 0; d < verdict.size(); ++d) verdict[d] = CompiledCondition::meets(t, c.distinct[d]) ? 1 : 0;
    fill_bits(out, n, [&](size_t r) { return verdict[c.code[r]]; });
    return out;
  }
  double a = 0, b = 0;
  if (c.reals_only && as_doubles(t, a, b)) {
    const double* x = c.reals.data();
    switch (t.op) {
      case Op::Eq: fill_bits(out, n, [=](size_t r) { return x[r] == a; }); break;
      case Op::Ne: fill_bits(out, n, [=](size_t r) { return x[r] != a; }); break;
      case Op::Lt: fill_bits(out, n, [=](size_t r) { return x[r] < a; }); break;
      case Op::Le: fill_bits(out, n, [=](size_t r) { return x[r] <= a; }); break;
      case Op::Gt: fill_bits(out, n, [=](size_t r) { return x[r] > a; }); break;
      case Op::Ge: fill_bits(out, n, [=](size_t r) { return x[r] >= a; }); break;
      default: fill_bits(out, n, [=](size_t r) { return x[r] >= a && x[r] <= b; }); break;
    }
    for (size_t w = 0; w < words; ++w) out[w] &= c.present[w];  // missing meets none of these
    return out;
  }
  fill_bits(out, n, [&](size_t r) { return CompiledCondition::meets(t, c.held[r]); });
  return out;
}

// What identifies a test among all the rules' tests: its field, operator
// and values (many rules repeat "channel == web").
std::string test_key(size_t field, const CompiledCondition::Test& t) {
  std::string key = std::to_string(field) + ':' + std::to_string(static_cast<int>(t.op)) + (t.missing ? "m" : "");
  for (const Held& h : t.values) {
    key += '|' + std::to_string(h.type) + ':';
    key.append(reinterpret_cast<const char*>(&h.i), sizeof h.i).append(reinterpret_cast<const char*>(&h.r), sizeof h.r);
  }
  for (const std::string& text : t.texts) key += '|' + std::to_string(text.size()) + ':' + text;
  return key;
}

}  // namespace

std::optional<std::vector<std::vector<int64_t>>> judge_rows(const Kind& k,
                                                            const std::vector<const CompiledCondition*>& conditions,
                                                            const Table& t, const std::vector<int64_t>& row_ids) {
  // Judged column by column: each field's values converted once, each
  // distinct test judged once over a column into one bit per row, and a
  // condition is then the OR of its groups' ANDs of those bits. Row by row,
  // twenty conditions cost twenty calls per row with their values copied.
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
  const size_t n = std::min(row_ids.size(), t.rows()), words = (n + 63) / 64;
  Bits landed(words, 0);
  for (size_t r = 0; r < n; ++r)
    if (row_ids[r] >= 0) landed[r >> 6] |= uint64_t{1} << (r & 63);
  std::vector<FieldValues> values(fields.size());
  for (size_t c = 0; c < fields.size(); ++c)
    if (!values[c].convert(*fields[c], t.find(fields[c]->name), n, landed)) return std::nullopt;

  std::unordered_map<std::string, Bits> judged;
  std::vector<std::vector<int64_t>> out(conditions.size());
  Bits meets(words), group(words);
  for (size_t i = 0; i < conditions.size(); ++i) {
    const auto& any = conditions[i]->any;
    if (any.empty()) {
      meets = landed;
    } else {
      std::fill(meets.begin(), meets.end(), 0);
      for (const auto& tests : any) {
        group = landed;
        for (const auto& test : tests) {
          const size_t field = place[i][test.column];
          std::string key = test_key(field, test);
          auto at = judged.find(key);
          if (at == judged.end()) at = judged.emplace(std::move(key), judge_test(test, values[field], n, words)).first;
          for (size_t w = 0; w < words; ++w) group[w] &= at->second[w];
        }
        for (size_t w = 0; w < words; ++w) meets[w] |= group[w];
      }
    }
    for (size_t w = 0; w < words; ++w)
      for (uint64_t bits = meets[w]; bits; bits &= bits - 1)
        out[i].push_back(row_ids[w * 64 + static_cast<size_t>(__builtin_ctzll(bits))]);
    std::sort(out[i].begin(), out[i].end());
  }
  return out;
}

}  // namespace crmcore::records
