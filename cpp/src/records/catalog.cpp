// The store's catalog (see catalog.hpp): its tables, how the write path
// reads them, and the Store operations that change them.
#include "catalog.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

#include "crmcore/errors.hpp"
#include "custom_fields.hpp"
#include "indexes.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

// Labels every store starts with: the Chinese names of the built-in choices,
// as exports from Chinese CRMs spell them.
struct SeedLabel {
  const char* kind;
  const char* field;
  const char* label;
  const char* value;
};
constexpr SeedLabel kSeedLabels[] = {
    {"customers", "kind", "企业", "organization"}, {"customers", "kind", "公司", "organization"},
    {"customers", "kind", "组织", "organization"}, {"customers", "kind", "个人", "person"},
    {"interactions", "channel", "电话", "call"},     {"interactions", "channel", "拜访", "visit"},
    {"interactions", "channel", "邮件", "email"},    {"interactions", "channel", "短信", "message"},
    {"interactions", "channel", "微信", "message"},  {"interactions", "channel", "会议", "meeting"},
    {"interactions", "channel", "备注", "note"},     {"interactions", "direction", "呼入", "inbound"},
    {"interactions", "direction", "呼出", "outbound"}, {"tickets", "severity", "低", "low"},
    {"tickets", "severity", "中", "medium"},         {"tickets", "severity", "高", "high"},
    {"tickets", "severity", "紧急", "critical"},
};

// A constant of the code as an SQL literal (never user input: that is bound).
std::string literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// The rows of `k` that break `rule` with an earlier row (a lower id).
std::string later_duplicates(const Kind& k, const UniqueRule& rule) {
  std::string same = "SELECT 1 FROM " + k.name + " AS e WHERE e.id < " + k.name + ".id";
  for (const auto& f : rule.fields) same += " AND e." + f + " = " + k.name + "." + f;
  if (!rule.when.empty()) same += " AND e." + rule.when + " = 1";
  return (rule.when.empty() ? "" : rule.when + " = 1 AND ") + "EXISTS (" + same + ")";
}

}  // namespace

std::string seed_label_values() {
  std::string s;
  for (const auto& seed : kSeedLabels)
    s += std::string(s.empty() ? "" : ", ") + "(" + literal(seed.kind) + ", " + literal(seed.field) + ", " +
         literal(seed.label) + ", " + literal(seed.value) + ", 'zh')";
  return s;
}

// It may run on a file that has its tables already (one made while version
// 5 was a placeholder, then brought back a version), so every step may repeat.
std::string migration_v5() {
  std::string s =
      "CREATE TABLE IF NOT EXISTS custom_fields(kind TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
      " required INTEGER NOT NULL, closed INTEGER NOT NULL, PRIMARY KEY(kind, name));"
      "CREATE TABLE IF NOT EXISTS allowed_values(kind TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,"
      " PRIMARY KEY(kind, field, value));"
      "CREATE TABLE IF NOT EXISTS value_labels(kind TEXT NOT NULL, field TEXT NOT NULL, label TEXT NOT NULL,"
      " value TEXT NOT NULL, lang TEXT NOT NULL, PRIMARY KEY(kind, field, label));"
      "INSERT OR REPLACE INTO meta(key, value) VALUES('catalog_stamp', '0');";
  s += "INSERT OR IGNORE INTO value_labels VALUES " + seed_label_values() + ";";
  // An older file may break a unique rule. The earliest row (lowest id)
  // keeps its place; a later duplicate pair is removed, a later primary
  // stops being primary; each change has its audit entry.
  const std::string now = "CAST(strftime('%s', 'now') AS INTEGER) * 1000000000";
  for (const auto& k : kinds()) {
    for (const auto& rule : k.unique_rules) {
      const std::string later = "SELECT id FROM " + k.name + " WHERE " + later_duplicates(k, rule);
      if (rule.when.empty()) {
        s += "INSERT INTO audit_log(at, op, kind, first_id, last_id, rows) SELECT " + now + ", 'delete', " +
             literal(k.name) + ", id, id, 1 FROM (" + later + ");";
        s += "DELETE FROM contact_points WHERE record_id IN (" + later + ");";
        s += "DELETE FROM record_tags WHERE record_id IN (" + later + ");";
        s += "DELETE FROM " + k.name + " WHERE " + later_duplicates(k, rule) + ";";
      } else {
        s += "INSERT INTO audit_log(at, op, kind, first_id, last_id, rows) SELECT " + now + ", 'update', " +
             literal(k.name) + ", id, id, 1 FROM (" + later + ");";
        s += "UPDATE " + k.name + " SET " + rule.when + " = 0, updated_at = " + now + " WHERE " +
             later_duplicates(k, rule) + ";";
      }
      std::string columns;
      for (const auto& f : rule.fields) columns += (columns.empty() ? "" : ", ") + f;
      s += "CREATE UNIQUE INDEX IF NOT EXISTS " + k.name + "_" + rule.name + " ON " + k.name + "(" + columns + ")" +
           (rule.when.empty() ? "" : " WHERE " + rule.when + " = 1") + ";";
    }
  }
  return s;
}

void Catalog::refresh(Store::Impl& impl) {
  auto& st = impl.prepared("SELECT value FROM meta WHERE key = 'catalog_stamp'");
  std::string stamp = st.step() ? st.text(0) : std::string();
  st.reset();
  if (loaded_ && stamp == stamp_) return;
  load(impl);
  stamp_ = std::move(stamp);
  loaded_ = true;
}

const Kind& Catalog::kind(const std::string& name) const {
  for (const auto& k : kinds_)
    if (k.name == name) return k;
  return records::kind(name);  // throws NotFound naming the kinds
}

void Catalog::load(Store::Impl& impl) {
  kinds_ = kinds();
  // A file made while schema version 5 was a placeholder has no catalog:
  // its kinds are the kind table's.
  sql::Statement has(impl.db, Dialect(impl.db).table_exists("value_labels"));
  if (!has.step()) return;
  auto kind_named = [this](const std::string& name) -> Kind* {
    for (auto& k : kinds_)
      if (k.name == name) return &k;
    return nullptr;  // a kind of a newer crmcore: ignored
  };
  auto field_named = [&](const std::string& kind, const std::string& name) -> Field* {
    Kind* k = kind_named(kind);
    if (!k) return nullptr;
    for (auto* fields : {&k->fields, &k->custom})
      for (auto& f : *fields)
        if (f.name == name) return &f;
    return nullptr;
  };
  sql::Statement custom(impl.db, "SELECT kind, name, type, required, closed FROM custom_fields ORDER BY rowid");
  while (custom.step()) {
    Kind* k = kind_named(custom.text(0));
    const auto type = parse_field_type(custom.text(2));
    if (!k || !type) continue;
    Field f{kCustomPrefix + custom.text(1), *type, custom.int64(3) != 0};
    f.open_choices = custom.int64(4) == 0;
    k->custom.push_back(std::move(f));
  }
  sql::Statement values(impl.db, "SELECT kind, field, value FROM allowed_values ORDER BY rowid");
  while (values.step()) {
    Field* f = field_named(values.text(0), values.text(1));
    if (!f) continue;
    // A built-in field without choices is open: the values it is given are
    // those known so far. A declared custom field says so itself.
    if (f->choices.empty() && f->name.rfind(kCustomPrefix, 0) != 0) f->open_choices = true;
    std::string value = values.text(2);
    if (std::find(f->choices.begin(), f->choices.end(), value) == f->choices.end()) f->choices.push_back(value);
  }
  sql::Statement labels(impl.db, "SELECT kind, field, label, value, lang FROM value_labels");
  while (labels.step())
    if (Field* f = field_named(labels.text(0), labels.text(1)))
      f->labels.push_back(Label{labels.text(2), labels.text(3), labels.text(4)});
  for (auto& k : kinds_)
    for (auto* fields : {&k.fields, &k.custom})
      for (auto& f : *fields)
        std::sort(f.labels.begin(), f.labels.end(), [](const Label& a, const Label& b) { return a.label < b.label; });
}

// -- the Store operations on the catalog ---------------------------------------

void Store::change_catalog(const std::string& kind_name, const std::function<void()>& change) {
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_if_readonly();  // (a PostgreSQL store's catalog changes as a SQLite file's)
  Impl& impl = *impl_;
  const bool nested = transaction_depth_ > 0;
  // One writer at a time on either engine (Dialect::begin_write), so that
  // the audit chain has the change in its place.
  sql::exec(impl.db, nested ? "SAVEPOINT crm_catalog" : Dialect(impl.db).begin_write());
  try {
    mark_audit(impl);
    impl.catalog.refresh(impl);
    change();
    // A new stamp tells every handle on the store to read the catalog again.
    static thread_local std::mt19937_64 random{std::random_device{}()};
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(random()));
    const std::string stamp = digits;  // bound without a copy: it must outlive the step
    sql::Statement restamp(impl.db, "UPDATE meta SET value = ? WHERE key = 'catalog_stamp'");
    restamp.bind(1, stamp).run();
    sql::Statement log(impl.db, "INSERT INTO audit_log(at, op, kind, rows) VALUES(?, 'schema', ?, 0)");
    log.bind(1, now_ns()).bind(2, kind_name).run();
    commit_write(impl, actor_, nested ? "crm_catalog" : nullptr);
  } catch (...) {
    undo_write(impl.db, nested ? "ROLLBACK TO crm_catalog; RELEASE crm_catalog" : "ROLLBACK");
    impl.catalog.invalidate();
    throw;
  }
  impl.catalog.invalidate();
}

Kind Store::describe(const std::string& kind_name) const {
  const std::string& name = kind(kind_name).name;
  std::lock_guard<std::mutex> lock(mutex_);
  impl_->catalog.refresh(*impl_);
  return impl_->catalog.kind(name);
}

namespace {

// Why `s` cannot be an allowed value or a label ("" when it can).
std::string value_problem(const std::string& s) {
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) return "is empty";
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return "holds a control character";
  return s.size() > 200 ? "is longer than 200 bytes" : "";
}

// The field `name` of the kind as the catalog has it ("custom.<key>" for a
// declared custom field); throws ValidationError.
const Field& catalog_field(const Kind& k, const std::string& name) {
  for (const auto* fields : {&k.fields, &k.custom})
    for (const auto& f : *fields)
      if (f.name == name) return f;
  if (name.rfind(kCustomPrefix, 0) == 0)
    throw ValidationError(k.name, -1, name, "is not a declared custom field of " + k.name +
                                                "; declare it first (db.declare_custom)");
  std::string known;
  for (const auto& f : k.fields) known += (known.empty() ? "" : ", ") + f.name;
  throw ValidationError(k.name, -1, name, "is not a field of " + k.name + " (fields: " + known + ")");
}

}  // namespace

void Store::declare_custom(const std::string& kind_name, const std::string& name, FieldType type,
                           const std::vector<std::string>& choices, bool required, bool index) {
  const Kind& k = kind(kind_name);
  const std::string field = kCustomPrefix + name;
  if (std::string why = custom_name_problem(name); !why.empty())
    throw ValidationError(k.name, -1, field, "cannot be declared: the name " + why);
  if (type == FieldType::Ref || type == FieldType::AnyRef)
    throw ValidationError(k.name, -1, field, "a custom field is text, integer, real, time or bool");
  if (!choices.empty() && type != FieldType::Text)
    throw ValidationError(k.name, -1, field, "only a text field has a list of allowed values");
  for (size_t i = 0; i < choices.size(); ++i) {
    if (std::string why = value_problem(choices[i]); !why.empty())
      throw ValidationError(k.name, -1, field, "the allowed value " + quote(choices[i]) + " " + why);
    if (std::find(choices.begin(), choices.begin() + static_cast<std::ptrdiff_t>(i), choices[i]) !=
        choices.begin() + static_cast<std::ptrdiff_t>(i))
      throw ValidationError(k.name, -1, field, "the allowed value " + quote(choices[i]) + " is given twice");
  }
  change_catalog(k.name, [&] {
    Impl& impl = *impl_;
    sql::Statement put(impl.db,
                       "INSERT INTO custom_fields(kind, name, type, required, closed) VALUES(?1, ?2, ?3, ?4, ?5)"
                       " ON CONFLICT(kind, name) DO UPDATE SET type = ?3, required = ?4, closed = ?5");
    const std::string type_name = to_string(type);  // bound without a copy: it must outlive the step
    put.bind(1, k.name).bind(2, name).bind(3, type_name);
    put.bind(4, int64_t{required}).bind(5, int64_t{!choices.empty()});
    put.run();
    if (!choices.empty()) {  // a closed list replaces the values before, and the labels of those it drops
      sql::Statement clear(impl.db, "DELETE FROM allowed_values WHERE kind = ? AND field = ?");
      clear.bind(1, k.name).bind(2, field).run();
      sql::Statement add(impl.db, "INSERT INTO allowed_values(kind, field, value) VALUES(?, ?, ?)");
      for (const auto& c : choices) add.bind(1, k.name).bind(2, field).bind(3, c).run();
      sql::Statement stale(impl.db, "DELETE FROM value_labels WHERE kind = ?1 AND field = ?2 AND value NOT IN"
                                    " (SELECT value FROM allowed_values WHERE kind = ?1 AND field = ?2)");
      stale.bind(1, k.name).bind(2, field).run();
    }
    impl.catalog.invalidate();
    impl.catalog.refresh(impl);
    const Kind& declared = impl.catalog.kind(k.name);

    // The records stored before: their values of the key in canonical form,
    // or the first that does not fit refuses the declaration.
    std::vector<std::pair<int64_t, std::string>> changed;
    const bool sqlite = impl.db.is_sqlite();
    const std::string has_key =  // (PostgreSQL: the value as text, whatever it was declared before)
        sqlite ? custom_key_sql(name) : pg_custom_key_sql(name, FieldType::Text);
    sql::Statement st(impl.db, "SELECT id, " + std::string(Dialect(impl.db).ifnull()) + "(custom, '') FROM " + k.name +
                                   (required ? std::string() : " WHERE " + has_key + " IS NOT NULL") + " ORDER BY id");
    while (st.step()) {
      const int64_t id = st.int64(0);
      std::string custom = st.text(1);
      const std::string before = custom;
      try {
        check_custom(declared, custom);
      } catch (const RowFailure& failure) {
        throw ValidationError(k.name, -1, failure.field,
                              failure.reason + " (in a record stored before: correct it, then declare the field)", id);
      }
      if (custom != before) changed.emplace_back(id, std::move(custom));
    }
    // PostgreSQL's index on the key holds its value in the type declared
    // before (pg_custom_key_sql): it goes before the values change type, and
    // comes back in the new one.
    const FieldIndex key_index = field_index(sqlite, declared, field);
    const bool reindex = !sqlite && index_exists(*impl.conn, key_index.name);
    if (reindex) sql::exec(impl.db, "DROP INDEX \"" + key_index.name + "\"");
    const int64_t now = now_ns();
    sql::Statement write(impl.db, "UPDATE " + k.name + " SET custom = ?, updated_at = ? WHERE id = ?");
    static const std::string update = "update";  // bound without a copy: it must outlive the step
    for (const auto& [id, custom] : changed) {
      write.bind(1, custom).bind(2, now).bind(3, id).run();
      impl.insert_audit.bind(1, now).bind(2, update).bind(3, k.name).bind(4, id).bind(5, id);
      impl.insert_audit.bind(6, int64_t{1}).bind_null(7).run();
    }
    if (index || reindex) sql::exec(impl.db, create_index_sql(k.name, key_index));
  });
}

void Store::allow(const std::string& kind_name, const std::string& field_name, const std::string& value,
                  const std::vector<Label>& labels, bool add_value) {
  const Kind& table_kind = kind(kind_name);
  if (std::string why = value_problem(value); !why.empty())
    throw ValidationError(table_kind.name, -1, field_name, "the value " + quote(value) + " " + why);
  // A label's language is named as its label is written ("" read as a language of its own).
  for (const auto& l : labels)
    if (std::string why = value_problem(l.lang); !why.empty())
      throw ValidationError(table_kind.name, -1, field_name,
                            "the language " + quote(l.lang) + " of the label " + quote(l.label) + " " + why);
  change_catalog(table_kind.name, [&] {
    Impl& impl = *impl_;
    const Kind& k = impl.catalog.kind(table_kind.name);
    const Field& f = catalog_field(k, field_name);
    if (f.type != FieldType::Text)
      throw ValidationError(k.name, -1, f.name, "is " + to_string(f.type) + ": only text fields have allowed values");
    const bool closed = !f.choices.empty() && !f.open_choices;
    const bool known = std::find(f.choices.begin(), f.choices.end(), value) != f.choices.end();
    for (const auto& l : f.labels)
      if (l.label == value && l.value != value)
        throw ValidationError(k.name, -1, f.name, quote(value) + " is a label of " + quote(l.value) +
                                                      " already; it cannot be a value of its own");
    if (!known) {
      if (closed && !add_value) {
        std::string list;
        for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
        throw ValidationError(k.name, -1, f.name, quote(value) + " is not an allowed value (" + list +
                                                      "); allow it first (db.allow)");
      }
      sql::Statement add(impl.db, "INSERT INTO allowed_values(kind, field, value) VALUES(?, ?, ?)");
      add.bind(1, k.name).bind(2, f.name).bind(3, value).run();
    }
    sql::Statement put(impl.db,
                       "INSERT INTO value_labels(kind, field, label, value, lang) VALUES(?1, ?2, ?3, ?4, ?5)"
                       " ON CONFLICT(kind, field, label) DO UPDATE SET lang = ?5");
    for (const auto& l : labels) {
      if (std::string why = value_problem(l.label); !why.empty())
        throw ValidationError(k.name, -1, f.name, "the label " + quote(l.label) + " " + why);
      if (l.label == value) continue;  // the value itself needs no label
      if (std::find(f.choices.begin(), f.choices.end(), l.label) != f.choices.end())
        throw ValidationError(k.name, -1, f.name, "the label " + quote(l.label) +
                                                      " is an allowed value itself; it cannot mean " + quote(value));
      for (const auto& other : f.labels)
        if (other.label == l.label && other.value != value)
          throw ValidationError(k.name, -1, f.name, "the label " + quote(l.label) + " already means " +
                                                        quote(other.value));
      put.bind(1, k.name).bind(2, f.name).bind(3, l.label).bind(4, value).bind(5, l.lang).run();
    }
  });
}

}  // namespace crmcore::records
