// Conditions on records (query.hpp) made into one SELECT over the kind's
// table; the keyword finds built on them; the optional per-field indexes.
//
// The SQL text is made only of names from the kind table (checked before
// use) and of operators chosen here; every value a caller gives is a bound
// parameter, and long lists of values reach SQL as one staged batch.
#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <cmath>
#include <functional>

#include "batch.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/query.hpp"
#include "crmcore/records/store.hpp"
#include "custom_fields.hpp"
#include "query_values.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

struct OpSpelling {
  const char* text;
  Op op;
};
// The first spelling of each operator is its canonical one.
constexpr OpSpelling kSpellings[] = {
    {"==", Op::Eq},           {"=", Op::Eq},
    {"!=", Op::Ne},           {"<", Op::Lt},
    {"<=", Op::Le},           {">", Op::Gt},
    {">=", Op::Ge},           {"between", Op::Between},
    {"in", Op::In},           {"not in", Op::NotIn},
    {"is null", Op::Missing}, {"not null", Op::NotMissing},
    {"is not null", Op::NotMissing}, {"contains", Op::Contains},
    {"icontains", Op::IContains},    {"startswith", Op::StartsWith},
    {"istartswith", Op::IStartsWith}, {"any", Op::AnyTag},
    {"all", Op::AllTags},     {"none", Op::NoTag},
};

bool is_ordering(Op op) { return op == Op::Lt || op == Op::Le || op == Op::Gt || op == Op::Ge || op == Op::Between; }
bool is_substring(Op op) {
  return op == Op::Contains || op == Op::IContains || op == Op::StartsWith || op == Op::IStartsWith;
}
bool is_tag_op(Op op) { return op == Op::AnyTag || op == Op::AllTags || op == Op::NoTag; }

// A value to bind, owning its text (a Value may point into the caller's column).
struct Param {
  Value::Type type = Value::Type::Null;
  int64_t i = 0;
  double r = 0;
  std::string text;

  bool null() const { return type == Value::Type::Null; }
  bool number() const { return type == Value::Type::Int || type == Value::Type::Real; }
};

Param param_of(const Value& v) {
  Param p;
  p.type = v.type;
  p.i = v.i;
  p.r = v.r;
  if (v.type == Value::Type::Text) p.text = *v.text;
  return p;
}

Param text_param(std::string s) {
  Param p;
  p.type = Value::Type::Text;
  p.text = std::move(s);
  return p;
}

Param int_param(int64_t v) {
  Param p;
  p.type = Value::Type::Int;
  p.i = v;
  return p;
}

// Lists up to this long are written as parameters (which lets SQLite's
// planner count them); longer ones are staged in the statement's batch.
constexpr size_t kInlineValues = 32;

// A SELECT being made, with its parameters. ?1 is kept for the batch that
// holds long lists, each under its own number in column c0.
class Sql {
 public:
  std::string text;
  bool sorted_after = false;  // the statement has no ORDER BY: sort the ids it gives
  bool postgres = false;      // the statement is for PostgreSQL

  std::string bind(Param p) {
    params_.push_back(std::move(p));
    return "?" + std::to_string(params_.size() + 1);
  }

  // A parenthesized list of values for IN: parameters, or a batch subquery.
  std::string list(const std::vector<Param>& values) {
    std::string out;
    if (values.size() <= kInlineValues) {
      for (const auto& v : values) out += (out.empty() ? "" : ", ") + bind(v);
      return "(" + out + ")";
    }
    const int64_t number = lists_++;
    for (const auto& v : values) {
      sql::Cell* row = batch_.add_row();
      row[0].set_int(number);
      switch (v.type) {
        case Value::Type::Null: break;
        case Value::Type::Int: row[1].set_int(v.i); break;
        case Value::Type::Real: row[1].set_real(v.r); break;
        case Value::Type::Text: row[1].set_text(batch_.keep(v.text)); break;
      }
    }
    // PostgreSQL: the batch's value column is text as soon as one list in
    // it is; a list of numbers reads its values back as numbers.
    std::string cast;
    const bool numbers = std::all_of(values.begin(), values.end(), [](const Param& p) { return p.number(); });
    if (postgres && numbers)
      cast = std::any_of(values.begin(), values.end(), [](const Param& p) { return p.type == Value::Type::Real; })
                 ? "::float8"
                 : "::int8";
    return "(SELECT c1" + cast + " FROM crm_batch(?1) WHERE c0 = " + std::to_string(number) + ")";
  }

  // The statement with every parameter bound; it reads this Sql's values,
  // which must outlive its steps.
  sql::Statement prepare(const sql::Db& db, const std::string& prefix = "") const {
    sql::Statement st(db, prefix + text);
    if (lists_ > 0) sql::bind_batch(st, batch_);
    // ?1 is the batch's even when no list needed one; PostgreSQL must know
    // the type of every parameter up to the last, used or not.
    else if (!st.on_sqlite() && st.parameter_count() > 0) st.bind(1, int64_t{0});
    // A value made for an expression that a condition then did not need
    // (x IN () is false whatever x is) may have no place in the text.
    const int count = st.parameter_count();
    int index = 2;
    for (const auto& p : params_) {
      if (index > count) break;
      switch (p.type) {
        case Value::Type::Null: st.bind_null(index); break;
        case Value::Type::Int: st.bind(index, p.i); break;
        case Value::Type::Real: st.bind(index, p.r); break;
        case Value::Type::Text: st.bind(index, p.text); break;
      }
      ++index;
    }
    return st;
  }

 private:
  std::vector<Param> params_;
  sql::Batch batch_{2};
  int64_t lists_ = 0;
};

// What a condition's field names.
struct Target {
  enum class Where { Column, Tags, Custom } where = Where::Column;
  const Field* field = nullptr;  // Column: the field (id, created_at and updated_at included)
  std::string path;              // Custom: the JSON path of the key
  // Custom, a key at the top level that can name a custom field: spelled by
  // custom_key_sql, so that the index on a declared field serves it.
  std::string key;
  std::vector<std::string> keys;  // Custom: the keys of the path, in order
};

Field plain_field(std::string name, FieldType type) {
  Field f;
  f.name = std::move(name);
  f.type = type;
  return f;
}

const Field* record_column(const std::string& name) {
  static const Field id = plain_field("id", FieldType::Integer);
  static const Field created = plain_field(kCreatedColumn, FieldType::Time);
  static const Field updated = plain_field(kUpdatedColumn, FieldType::Time);
  for (const Field* f : {&id, &created, &updated})
    if (f->name == name) return f;
  return nullptr;
}

Target resolve(const Kind& k, const std::string& name) {
  Target t;
  if ((t.field = k.field(name)) || (t.field = record_column(name))) return t;
  if (name == kTagsColumn) {
    t.where = Target::Where::Tags;
    return t;
  }
  const std::string prefix = kCustomPrefix;
  if (name.compare(0, prefix.size(), prefix) == 0) {
    // "custom.a.b" is the key b of the object under key a: the JSON path
    // $."a"."b" (a bound parameter; quoting each key keeps '[' or '*' in a
    // key from being read as path syntax).
    t.where = Target::Where::Custom;
    t.path = "$";
    size_t start = prefix.size();
    while (true) {
      const size_t dot = std::min(name.find('.', start), name.size());
      const std::string key = name.substr(start, dot - start);
      if (key.empty())
        throw ValidationError(k.name, -1, name, "names no custom key: write custom.<key>, or custom.<key>.<key> for a nested one");
      if (key.find('"') != std::string::npos)
        throw ValidationError(k.name, -1, name, "a custom key holding '\"' cannot be queried");
      t.path += ".\"" + key + "\"";
      t.keys.push_back(key);
      if (dot == name.size()) {
        if (start == prefix.size() && custom_name_problem(key).empty()) t.key = key;
        break;
      }
      start = dot + 1;
    }
    return t;
  }
  std::string known;
  for (const auto& f : k.fields) known += f.name + ", ";
  throw ValidationError(k.name, -1, name,
                        "is not a field of " + k.name + " (fields: " + known +
                            "id, created_at, updated_at, tags, custom.<key>)");
}

// The pieces of one query's SQL for one kind.
class Builder {
 public:
  // The ids of the records of the kind whose phone or e-mail field has this
  // typed value (Store::find's rule: normalized, other forms of a phone).
  using ContactLookup = std::function<std::vector<int64_t>(Lookup, const std::string&)>;

  // `postgres`: the SQL is for PostgreSQL (substring tests differ there).
  Builder(const Kind& k, ContactLookup lookup, bool postgres = false)
      : k_(k), lookup_(std::move(lookup)), postgres_(postgres) {
    q_.postgres = postgres;
  }

  Sql make(const AnyOf& filter, const std::vector<OrderBy>& order_by, int64_t limit, int64_t offset) {
    if (offset < 0) throw ValidationError(k_.name, -1, "", "offset must be 0 or more, not " + std::to_string(offset));
    q_.text = "SELECT r.id FROM " + k_.name + " AS r";
    if (!filter.empty()) q_.text += " WHERE " + where(filter);
    // Without an order or a slice, the ids are sorted afterwards (sorted_after):
    // an ORDER BY id would lead SQLite's planner, which knows nothing of
    // how selective a condition is, to read the table in id order rather
    // than take the few records an index on a ranged field names.
    q_.sorted_after = order_by.empty() && limit < 0 && offset == 0;
    if (q_.sorted_after) return std::move(q_);
    std::string order;
    for (const auto& o : order_by) {
      const Target t = resolve(k_, o.field);
      if (t.where == Target::Where::Tags)
        throw ValidationError(k_.name, -1, o.field, "records cannot be ordered by their tags");
      // Missing values last either way, as pandas' sort_values puts them.
      if (postgres_ && t.where == Target::Where::Custom && !declared_custom(t)) {
        // SQLite's order of an untyped value: numbers, then text.
        const std::string j = pg_json(t), number = pg_number(j) + (o.descending ? " DESC" : "") + " NULLS LAST, ",
                          text = pg_text(t, j) + (o.descending ? " DESC" : "") + " NULLS LAST, ";
        order += o.descending ? text + number : number + text;
        continue;
      }
      order += expression(t) + (o.descending ? " DESC" : "") + " NULLS LAST, ";
    }
    q_.text += " ORDER BY " + order + "r.id";  // ties in id order
    // No limit: the largest one, which both engines take (SQLite's -1 is
    // an error on PostgreSQL).
    q_.text += " LIMIT " + q_.bind(int_param(limit < 0 ? std::numeric_limits<int64_t>::max() : limit)) + " OFFSET " + q_.bind(int_param(offset));
    return std::move(q_);
  }

  // The filter as one expression over the record r (TRUE for no filter;
  // PostgreSQL takes no 1 for a truth).
  std::string where(const AnyOf& filter) {
    std::string out;
    for (const auto& group : filter) {
      std::string all;
      for (const auto& c : group) all += (all.empty() ? "" : " AND ") + condition(c);
      out += (out.empty() ? "(" : " OR (") + (all.empty() ? std::string("TRUE") : all) + ")";
    }
    return out.empty() ? "TRUE" : out;
  }

  // A condition's values as the SQL would bind them (query_values.hpp).
  std::vector<Param> values_of(const Condition& c) {
    check_count(c);
    const Target t = resolve(k_, c.field);
    if (t.where == Target::Where::Tags) {
      std::vector<Param> out;
      if (c.op == Op::Missing || c.op == Op::NotMissing) return out;
      for (auto& v : text_values(c)) out.push_back(text_param(std::move(v)));
      return out;
    }
    if (t.where == Target::Where::Custom) refuse(c, "names a custom key, which has no converted values");
    if (c.op == Op::Missing || c.op == Op::NotMissing) return {};
    return field_values(c, *t.field);
  }

  // One statement for several filters over the records `among` selects:
  // each row gives the id, then for each filter whether the record meets it.
  Sql make_each(const std::vector<const AnyOf*>& filters, const Condition& among) {
    // Only the records meeting one filter at least come out: most meet none.
    q_.text = "SELECT r.id";
    std::string any;
    for (const AnyOf* f : filters) {
      const std::string e = where(*f);
      q_.text += ", (" + e + ")";
      any += (any.empty() ? "(" : " OR (") + e + ")";
    }
    q_.text += " FROM " + k_.name + " AS r WHERE " + condition(among) + " AND (" + any + ")";
    return std::move(q_);
  }

 private:
  std::string expression(const Target& t) {
    if (t.where == Target::Where::Custom && postgres_)  // (an undeclared key is read by pg_json)
      return pg_custom_key_sql(t.key, declared_custom(t)->type, "r.");
    if (t.where == Target::Where::Custom)
      return t.key.empty() ? "json_extract(r.custom, " + q_.bind(text_param(t.path)) + ")" : custom_key_sql(t.key, "r.");
    return "r." + t.field->name;
  }

  [[noreturn]] void refuse(const Condition& c, const std::string& why) const {
    throw ValidationError(k_.name, -1, c.field, std::string("'") + to_string(c.op) + "' " + why);
  }

  void check_count(const Condition& c) const {
    const size_t n = c.values.size();
    switch (c.op) {
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
        if (n != 1) refuse(c, "takes one value, not " + std::to_string(n));
        break;
      case Op::Between:
        if (n != 2) refuse(c, "takes two values (low, high), not " + std::to_string(n));
        break;
      case Op::Missing: case Op::NotMissing:
        if (n > 1 || (n == 1 && c.values.present(0) && !(c.values.storage == Column::Storage::Real &&
                                                          std::isnan(c.values.reals[0]))))
          refuse(c, "takes no value");
        break;
      default: break;
    }
  }

  // The values of a condition on a field of the table, converted as an
  // import converts them (coerce), without the rules that are about records
  // rather than values: defaults, required fields and ranges (amount < 1e9
  // is a fair question of a field whose values stay below 1e6). Allowed
  // values are checked where a typo would silently match nothing.
  std::vector<Param> field_values(const Condition& c, const Field& f) const {
    Field probe = f;
    probe.required = false;
    probe.default_value.clear();
    probe.min = probe.max = 0;
    if (!(c.op == Op::Eq || c.op == Op::Ne || c.op == Op::In || c.op == Op::NotIn)) probe.choices.clear();
    const bool whole = f.type == FieldType::Integer || f.type == FieldType::Ref || f.type == FieldType::AnyRef;
    std::vector<Param> out;
    for (size_t r = 0; r < c.values.size(); ++r) {
      Value v;
      try {
        coerce(probe, &c.values, r, v);
      } catch (const RowFailure& failure) {
        // nps > 6.5 is a fair question of a whole-number field.
        bool fraction = false;
        if (whole && is_ordering(c.op)) {
          Field real = probe;
          real.type = FieldType::Real;
          try {
            coerce(real, &c.values, r, v);
            fraction = true;
          } catch (const RowFailure&) {
          }
        }
        if (!fraction) refuse(c, "cannot use this value: " + failure.reason);
      }
      out.push_back(param_of(v));
    }
    return out;
  }

  // Text values (substrings, prefixes, tags): a blank value is kept as it
  // is, and a missing one refused.
  std::vector<std::string> text_values(const Condition& c) const {
    static const Field probe = plain_field("", FieldType::Text);
    std::vector<std::string> out;
    for (size_t r = 0; r < c.values.size(); ++r) {
      Value v;
      try {
        coerce(probe, &c.values, r, v);
      } catch (const RowFailure& failure) {
        refuse(c, "cannot use this value: " + failure.reason);
      }
      if (v.type == Value::Type::Text) out.push_back(*v.text);
      else if (c.values.present(r) && c.values.storage == Column::Storage::Text) out.push_back(c.values.texts[r]);
      else refuse(c, "needs text, not a missing value");
    }
    return out;
  }

  // The declared custom field a top-level key names (db.declare_custom), or null.
  const Field* declared_custom(const Target& t) const {
    if (t.key.empty()) return nullptr;
    const std::string name = kCustomPrefix + t.key;
    for (const auto& f : k_.custom)
      if (f.name == name) return &f;
    return nullptr;
  }

  // A declared custom key compares like a field of its type: the values are
  // converted as a write converts them (a text '9' for a whole number is 9,
  // 'x' is refused), where an undeclared key would compare the text '9' with
  // the stored number and silently match nothing. Times are kept as text
  // (custom_time_text), so a time value is compared as that text.
  std::string declared_condition(const Condition& c, const Field& f, const std::string& e) {
    std::vector<Param> values = field_values(c, f);
    if (f.type == FieldType::Time)
      for (auto& v : values)
        if (v.type == Value::Type::Int) v = text_param(custom_time_text(v.i));
    return compare(c, e, values);
  }

  // Undeclared custom keys have no type: a value keeps the type it is given.
  std::vector<Param> custom_values(const Condition& c) const {
    std::vector<Param> out;
    const Column& col = c.values;
    for (size_t r = 0; r < col.size(); ++r) {
      Param p;
      if (const std::string* problem = col.problem(r)) refuse(c, "cannot use this value: " + *problem);
      if (col.present(r)) {
        switch (col.storage) {
          case Column::Storage::Text: {
            Condition one{c.field, c.op, Column("", Column::Storage::Text)};
            one.values.texts = {col.texts[r]};
            p = text_param(text_values(one).front());
            break;
          }
          case Column::Storage::Int:
            if (col.origin == Column::Origin::Time)
              refuse(c, "cannot compare a custom value with a date: custom values are kept as they were given, "
                        "so compare with the text, e.g. '2025-01-05'");
            p = int_param(col.origin == Column::Origin::Flag ? (col.ints[r] != 0) : col.ints[r]);
            break;
          case Column::Storage::Real:
            if (!std::isnan(col.reals[r])) p.type = Value::Type::Real, p.r = col.reals[r];
            break;
        }
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  std::string condition(const Condition& c) {
    check_count(c);
    const Target t = resolve(k_, c.field);
    if (t.where == Target::Where::Tags) return tags(c);
    if (is_tag_op(c.op)) refuse(c, "applies to tags only");
    if (postgres_ && t.where == Target::Where::Custom && !declared_custom(t)) return pg_undeclared(c, t);
    const std::string e = expression(t);
    if (c.op == Op::Missing) return e + " IS NULL";
    if (c.op == Op::NotMissing) return e + " IS NOT NULL";
    if (t.where == Target::Where::Custom) {
      const Field* declared = declared_custom(t);
      // A custom value may be a number or text: a text guard keeps numbers
      // out of substring tests (instr reads 123 as '123'), and an ordering
      // compares like with like (SQLite orders every number before any text).
      if (is_substring(c.op)) {
        if (declared && declared->type != FieldType::Text)
          refuse(c, "applies to text fields, and " + declared->name + " is " + to_string(declared->type));
        if (postgres_) return substring(c, e);  // a declared text field: text there
        return "(typeof(" + e + ") = 'text' AND " + substring(c, e) + ")";
      }
      if (declared) return declared_condition(c, *declared, e);
      std::vector<Param> values = custom_values(c);
      std::string sql = compare(c, e, values);
      if (is_ordering(c.op)) {
        for (const auto& v : values)
          if (v.number() != values.front().number())
            refuse(c, "compares like with like: give numbers, or text, not both");
        sql = "(typeof(" + e + ") " + (values.front().number() ? "IN ('integer', 'real')" : "= 'text'") + " AND " +
              sql + ")";
      }
      return sql;
    }
    const Field& f = *t.field;
    if (is_substring(c.op)) {
      if (f.type != FieldType::Text) refuse(c, "applies to text fields, and " + f.name + " is " + to_string(f.type));
      return substring(c, e);
    }
    if (f.lookup != Lookup::None) return contact_point(c, f, e);
    std::vector<Param> values = field_values(c, f);
    return compare(c, e, values);
  }

  // -- PostgreSQL: an undeclared custom key --
  // Its value as JSON (a key at the top level, or a path bound as an array):
  // as jsonb, or as json, which keeps the value's text as stored.
  std::string pg_json(const Target& t, const char* type = "jsonb") {
    const std::string custom = "(r." + std::string(kCustomColumn) + "::" + type;
    if (!t.key.empty()) return custom + " -> '" + t.key + "')";
    std::string path;  // a text[] literal: each key quoted, its backslashes doubled
    for (const auto& key : t.keys) {
      path += path.empty() ? "{\"" : ",\"";
      for (char ch : key) path += ch == '\\' ? std::string("\\\\") : std::string(1, ch);
      path += "\"";
    }
    return custom + " #> " + q_.bind(text_param(path + "}")) + "::text[])";
  }
  // The value as SQLite's json_extract gives it, split by type: a number
  // (true and false are 1 and 0), or text in byte order (an object or a
  // list is its JSON text, as stored: compact, its keys in their order);
  // NULL otherwise.
  static std::string pg_number(const std::string& j) {
    return "(CASE jsonb_typeof(" + j + ") WHEN 'number' THEN (" + j + " #>> '{}')::numeric WHEN 'boolean' THEN (" + j +
           ")::boolean::int::numeric END)";
  }
  std::string pg_text(const Target& t, const std::string& j) {
    const std::string stored = "(" + pg_json(t, "json") + ")::text";
    return "((CASE jsonb_typeof(" + j + ") WHEN 'string' THEN " + j + " #>> '{}' WHEN 'object' THEN " + stored +
           " WHEN 'array' THEN " + stored + " END) COLLATE \"C\")";
  }

  // A condition on an undeclared key, meaning what it means on SQLite: a
  // value compares with values of its own type only (a number is never
  // equal to text, so != holds between them), and missing is absent or null.
  std::string pg_undeclared(const Condition& c, const Target& t) {
    const std::string j = pg_json(t);
    const std::string present = "(jsonb_typeof(" + j + ") <> 'null')";
    const std::string missing = "(coalesce(jsonb_typeof(" + j + "), 'null') = 'null')";
    if (c.op == Op::Missing) return missing;
    if (c.op == Op::NotMissing) return present;
    if (is_substring(c.op)) return substring(c, pg_text(t, j));
    std::vector<Param> values = custom_values(c);
    auto typed = [&](bool number) {
      std::vector<Param> out;
      for (const auto& v : values)
        if (!v.null() && v.number() == number) out.push_back(v);
      return out;
    };
    switch (c.op) {
      case Op::Eq:
      case Op::Ne: {
        const Param& v = values.front();
        if (v.null()) return c.op == Op::Eq ? missing : present;
        const std::string eq = "coalesce(" + (v.number() ? pg_number(j) : pg_text(t, j)) + " = " + q_.bind(v) + ", FALSE)";
        return c.op == Op::Eq ? eq : "(" + present + " AND NOT " + eq + ")";
      }
      case Op::In:
      case Op::NotIn: {
        std::string any;
        for (const bool number : {true, false}) {
          const std::vector<Param> some = typed(number);
          if (!some.empty())
            any += (any.empty() ? "" : " OR ") + std::string("coalesce(") + (number ? pg_number(j) : pg_text(t, j)) +
                   " IN " + q_.list(some) + ", FALSE)";
        }
        if (c.op == Op::NotIn) return "(" + present + (any.empty() ? "" : " AND NOT (" + any + ")") + ")";
        if (std::any_of(values.begin(), values.end(), [](const Param& p) { return p.null(); }))
          any += (any.empty() ? "" : " OR ") + missing;
        return any.empty() ? "FALSE" : "(" + any + ")";
      }
      default:  // an ordering: like with like, as on SQLite
        for (const auto& v : values)
          if (v.number() != values.front().number())
            refuse(c, "compares like with like: give numbers, or text, not both");
        return compare(c, values.front().number() ? pg_number(j) : pg_text(t, j), values);
    }
  }

  // ==, !=, <, <=, >, >=, between, in and not in of an expression and values.
  std::string compare(const Condition& c, const std::string& e, std::vector<Param>& values) {
    static const char* const symbols[] = {"=", "<>", "<", "<=", ">", ">="};
    switch (c.op) {
      case Op::Eq:
      case Op::Ne:
        if (values.front().null()) return e + (c.op == Op::Eq ? " IS NULL" : " IS NOT NULL");
        [[fallthrough]];
      case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
        if (values.front().null()) refuse(c, "cannot compare with a missing value (use 'is null' or 'not null')");
        return e + " " + symbols[static_cast<int>(c.op)] + " " + q_.bind(values.front());
      case Op::Between:
        if (values[0].null() || values[1].null()) refuse(c, "takes two values that are not missing");
        return e + " BETWEEN " + q_.bind(values[0]) + " AND " + q_.bind(values[1]);
      case Op::In:
      case Op::NotIn: {
        // A missing value in the list is a test for missing (as pandas'
        // isin matches NaN with NaN); x NOT IN (..., NULL) would be unknown
        // for every x, so missing values are kept out of the list.
        const bool missing = std::any_of(values.begin(), values.end(), [](const Param& p) { return p.null(); });
        values.erase(std::remove_if(values.begin(), values.end(), [](const Param& p) { return p.null(); }),
                     values.end());
        if (c.op == Op::NotIn) return values.empty() ? e + " IS NOT NULL" : e + " NOT IN " + q_.list(values);
        if (values.empty()) return missing ? e + " IS NULL" : "FALSE";
        const std::string in = e + " IN " + q_.list(values);
        return missing ? "(" + in + " OR " + e + " IS NULL)" : in;
      }
      default: refuse(c, "does not apply here");
    }
  }

  // Phone and e-mail fields compare after normalization, through the index
  // of normalized values (contact_points), exactly as Store::find does.
  std::string contact_point(const Condition& c, const Field& f, const std::string& e) {
    if (c.op != Op::Eq && c.op != Op::Ne && c.op != Op::In && c.op != Op::NotIn)
      refuse(c, "does not apply to " + f.name + ": it compares only with ==, !=, in and not in (after normalization),"
                " contains and startswith (the text as written), or is null");
    std::vector<Param> typed = field_values(c, f);
    bool missing = false;
    std::vector<int64_t> ids;
    for (const auto& p : typed) {
      if (p.null()) {
        missing = true;
        continue;
      }
      for (int64_t id : lookup_(f.lookup, p.text)) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<Param> found;
    for (int64_t id : ids) found.push_back(int_param(id));
    const bool negated = c.op == Op::Ne || c.op == Op::NotIn;
    if (negated) return "(" + e + " IS NOT NULL" + (found.empty() ? "" : " AND r.id NOT IN " + q_.list(found)) + ")";
    std::string in = found.empty() ? "FALSE" : "r.id IN " + q_.list(found);
    return missing ? "(" + in + " OR " + e + " IS NULL)" : in;
  }

  std::string substring(const Condition& c, const std::string& e) {
    std::string any;
    for (const auto& v : text_values(c)) {
      std::string one;
      switch (c.op) {
        case Op::Contains:
          one = std::string(postgres_ ? "strpos(" : "instr(") + e + ", " + q_.bind(text_param(v)) + ") > 0";
          break;
        case Op::StartsWith:
          // (PostgreSQL refuses the invalid UTF-8 of the bound; its
          // starts_with does the same.)
          if (postgres_) {
            one = "starts_with(" + e + ", " + q_.bind(text_param(v)) + ")";
            break;
          }
          // A range, which an index on the field serves: in valid UTF-8 no
          // byte after a prefix exceeds 0xF4, so exactly the texts that
          // begin with v lie in [v, v + 0xF5).
          one = "(" + e + " >= " + q_.bind(text_param(v)) + " AND " + e + " < " + q_.bind(text_param(v + "\xF5")) + ")";
          break;
        default:
          // SQLite's LIKE refuses patterns past 50,000 bytes as "too complex":
          // say so as the caller's mistake, not as a storage failure.
          if (v.size() > 49000)
            throw ValidationError(k_.name, -1, c.field,
                                  "a case-blind search takes at most 49,000 bytes of text, not " + std::to_string(v.size()));
          // LIKE ignores the case of ASCII letters only, and compares other
          // scripts exactly; the caller's % and _ are escaped.
          // (PostgreSQL's LIKE heeds case; its ILIKE under the columns' "C"
          // collation folds ASCII letters only, as SQLite's LIKE does.)
          one = e + (postgres_ ? " ILIKE " : " LIKE ") +
                q_.bind(text_param((c.op == Op::IContains ? "%" : "") + like_escaped(v) + "%")) +
                " ESCAPE '\\'";
      }
      any += (any.empty() ? "" : " OR ") + one;
    }
    return any.empty() ? "FALSE" : "(" + any + ")";
  }

  std::string tags(const Condition& c) {
    const std::string has_tags = "EXISTS (SELECT 1 FROM record_tags AS t WHERE t.record_id = r.id)";
    if (c.op == Op::Missing) return "NOT " + has_tags;
    if (c.op == Op::NotMissing) return has_tags;
    if (!is_tag_op(c.op)) refuse(c, "does not apply to tags: they take 'any', 'all', 'none', 'is null' and 'not null'");
    std::vector<std::string> wanted = text_values(c);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (wanted.empty()) return c.op == Op::AnyTag ? "FALSE" : "TRUE";  // no tag is had; all of none are
    std::vector<Param> values;
    for (auto& w : wanted) values.push_back(text_param(std::move(w)));
    const std::string tagged = "SELECT t.record_id FROM record_tags AS t WHERE t.tag IN " + q_.list(values);
    switch (c.op) {
      case Op::AnyTag: return "r.id IN (" + tagged + ")";
      case Op::NoTag: return "r.id NOT IN (" + tagged + ")";
      default:
        return "r.id IN (" + tagged + " GROUP BY t.record_id HAVING count(*) = " +
               q_.bind(int_param(static_cast<int64_t>(values.size()))) + ")";
    }
  }

  static std::string like_escaped(const std::string& v) {
    std::string out;
    for (char ch : v) {
      if (ch == '%' || ch == '_' || ch == '\\') out += '\\';
      out += ch;
    }
    return out;
  }

  const Kind& k_;
  ContactLookup lookup_;
  bool postgres_ = false;
  Sql q_;
};

}  // namespace

Op parse_op(const std::string& kind, const std::string& field, const std::string& text) {
  for (const auto& s : kSpellings)
    if (text == s.text) return s.op;
  std::string known;
  for (const auto& s : kSpellings) known += (known.empty() ? "'" : ", '") + std::string(s.text) + "'";
  throw ValidationError(kind, -1, field, "has no operator " + quote(text) + " (operators: " + known + ")");
}

const char* to_string(Op op) {
  for (const auto& s : kSpellings)
    if (s.op == op) return s.text;
  return "?";
}

namespace {

// The kind as this store has it (its added values and their labels, so that
// 企业 asks for what an import stores as organization, and its declared
// custom fields); the store's lock held.
const Kind& queried_kind(Store::Impl& impl, const std::string& kind_name) {
  impl.catalog.refresh(impl);
  return impl.catalog.kind(kind_name);
}

}  // namespace

std::vector<QueryValue> query_values(const Kind& k, const Condition& c) {
  std::vector<QueryValue> out;
  for (auto& p : Builder(k, {}).values_of(c)) out.push_back({p.type, p.i, p.r, std::move(p.text)});
  return out;
}

Condition keyword_condition(const std::string& kind_name, const std::string& field, Column values) {
  const Kind& k = kind(kind_name);
  const bool one_missing = values.size() == 1 && !values.present(0) && values.problems.empty();
  Condition c{field, values.size() == 1 ? Op::Eq : Op::In, std::move(values)};
  if (field == "tag") {
    c.field = kTagsColumn;
    c.op = one_missing ? Op::Missing : Op::AnyTag;
    if (one_missing) c.values = Column();
  } else if (field == "name" && k.field(field) && !one_missing) {
    c.op = Op::IContains;
  } else if (field == "role" && !k.field(field)) {
    // A role is a flag of the record (customers.is_supplier, is_partner):
    // role="supplier" finds the records that have it.
    std::string roles;
    for (const auto& f : k.fields)
      if (f.type == FieldType::Bool && f.name.rfind("is_", 0) == 0) roles += (roles.empty() ? "" : ", ") + f.name.substr(3);
    const Column& given = c.values;  // (values moved into c above)
    const bool one_text = given.size() == 1 && given.present(0) && given.storage == Column::Storage::Text;
    const Field* flag = one_text ? k.field("is_" + given.texts[0]) : nullptr;
    if (!flag || flag->type != FieldType::Bool || given.texts[0].empty())
      throw ValidationError(kind_name, -1, "role",
                            roles.empty() ? "records of this kind have no roles"
                                          : "role is one of " + roles + (one_text ? ", not " + quote(given.texts[0]) : ""));
    c.field = flag->name;
    Column yes("value", Column::Storage::Int);
    yes.ints = {1};
    yes.origin = Column::Origin::Flag;
    c.values = std::move(yes);
  }
  return c;
}

std::vector<int64_t> Store::find(const std::string& kind_name, const std::string& field_name,
                                 const std::string& value, const Cancel* cancel) const {
  Column typed("value", Column::Storage::Text);
  typed.texts = {value};
  return query(kind_name, {{keyword_condition(kind_name, field_name, std::move(typed))}}, {}, -1, 0, cancel);
}

namespace {

// The ids of a query; the caller holds the store's lock.
std::vector<int64_t> query_ids(const sql::Db& db, Builder& builder, const AnyOf& filter, const std::vector<OrderBy>& order_by,
                               int64_t limit, int64_t offset) {
  const Sql q = builder.make(filter, order_by, limit, offset);
  sql::Statement st = q.prepare(db);
  std::vector<int64_t> ids;
  while (st.step()) ids.push_back(st.int64(0));
  if (q.sorted_after) std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

std::function<std::vector<int64_t>(Lookup, const std::string&)> Store::contact_lookup(const Kind& k) const {
  return [this, &k](Lookup how, const std::string& typed) { return find_contact_locked(k, how, typed); };
}

std::vector<int64_t> Store::query_locked(const Kind& k, const AnyOf& filter) const {
  Builder builder(k, contact_lookup(k), !impl_->db.is_sqlite());
  return query_ids(impl_->db, builder, filter, {}, -1, 0);
}

std::vector<std::vector<int64_t>> Store::query_each_locked(const Kind& k, const std::vector<const AnyOf*>& filters,
                                                           const Condition& among) const {
  Builder builder(k, contact_lookup(k), !impl_->db.is_sqlite());
  const Sql q = builder.make_each(filters, among);
  sql::Statement st = q.prepare(impl_->db);
  std::vector<std::vector<int64_t>> out(filters.size());
  while (st.step())
    for (size_t i = 0; i < filters.size(); ++i)
      if (!st.is_null(static_cast<int>(i) + 1) && st.int64(static_cast<int>(i) + 1) != 0) out[i].push_back(st.int64(0));
  for (auto& ids : out) std::sort(ids.begin(), ids.end());
  return out;
}

std::vector<int64_t> Store::query(const std::string& kind_name, const AnyOf& filter,
                                  const std::vector<OrderBy>& order_by, int64_t limit, int64_t offset,
                                  const Cancel* cancel) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Kind& k = queried_kind(*impl_, kind_name);
  Builder builder(k, contact_lookup(k), !impl_->db.is_sqlite());
  StopWhenAsked stop(impl_->db, cancel);
  return query_ids(impl_->db, builder, filter, order_by, limit, offset);
}

Table Store::select_query(const std::string& kind_name, const AnyOf& filter, const std::vector<OrderBy>& order_by,
                          int64_t limit, int64_t offset, const std::vector<std::string>* columns,
                          const Cancel* cancel) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Kind& k = queried_kind(*impl_, kind_name);
  Table t = record_table(k, columns);
  Builder builder(k, contact_lookup(k), !impl_->db.is_sqlite());
  StopWhenAsked stop(impl_->db, cancel);
  const std::vector<int64_t> ids = query_ids(impl_->db, builder, filter, order_by, limit, offset);
  // The rows in the ids' order, each found by its id within one statement:
  // stepping a statement per id from here cost about as much again.
  sql::Batch batch(1);
  for (const int64_t& id : ids) batch.add_row()[0].set_int(id);
  // (SQLite walks the batch in order; PostgreSQL is told to keep it.)
  sql::Statement st(impl_->db, "SELECT " + record_columns_sql(t, "r.") + " FROM crm_batch(?1) AS b CROSS JOIN " +
                                   k.name + " AS r ON r.id = b.c0" + (impl_->db.is_sqlite() ? "" : " ORDER BY b.rowid"));
  sql::bind_batch(st, batch);
  while (st.step()) read_record(st, t);
  return t;
}

std::string Store::query_plan(const std::string& kind_name, const AnyOf& filter,
                              const std::vector<OrderBy>& order_by, int64_t limit, int64_t offset) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Kind& k = queried_kind(*impl_, kind_name);
  Builder builder(k, contact_lookup(k), !impl_->db.is_sqlite());
  const Sql q = builder.make(filter, order_by, limit, offset);
  // (PostgreSQL's EXPLAIN: one line of its plan a row.)
  const bool sqlite = impl_->db.is_sqlite();
  sql::Statement st = q.prepare(impl_->db, sqlite ? "EXPLAIN QUERY PLAN " : "EXPLAIN ");
  std::string plan;
  while (st.step()) plan += (plan.empty() ? "" : "\n") + st.text(sqlite ? 3 : 0);
  return plan;
}

}  // namespace crmcore::records
