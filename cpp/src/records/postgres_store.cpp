// A store on a PostgreSQL server (crm.open("postgresql://...")): the URL,
// the store's own schema on the server, and its tables made from the kind
// table in PostgreSQL's types. See docs/backends.md for what runs there yet.
#include <string>
#include <utility>

#include "catalog.hpp"
#include "crmcore/backend/backend.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/stock/balances.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

std::string pg_type(FieldType t) {
  switch (t) {
    // Byte order, as SQLite compares text: order_by and ranges give the
    // same rows on both engines, whatever the server's locale.
    case FieldType::Text: return "text COLLATE \"C\"";
    case FieldType::Real: return "double precision";
    default: return "bigint";  // integers, times in ns, booleans as 0/1, ids
  }
}

// A kind's table at the current version. References are added after every
// table exists (`foreign_keys`): unlike SQLite, PostgreSQL checks that the
// referenced table is there when the reference is made.
std::string pg_create_table(const Kind& k, std::string& foreign_keys) {
  std::string s = "CREATE TABLE " + k.name + "(id bigint PRIMARY KEY";
  for (const auto& f : k.fields) {
    s += ", " + f.name + " " + pg_type(f.type);
    if (f.required) s += " NOT NULL";
    if (f.type == FieldType::Ref)
      foreign_keys += "ALTER TABLE " + k.name + " ADD FOREIGN KEY (" + f.name + ") REFERENCES " + f.ref_kind +
                      "(id)" + (k.cascade_on_delete ? " ON DELETE CASCADE" : "") + ";";
  }
  s += ", tags text, custom text, created_at bigint NOT NULL, updated_at bigint NOT NULL);";
  for (const auto& f : k.fields)
    if (f.type == FieldType::Ref || f.type == FieldType::AnyRef || f.unique)
      s += std::string("CREATE ") + (f.unique ? "UNIQUE " : "") + "INDEX " + k.name + "_" + f.name + " ON " +
           k.name + "(" + f.name + ");";
  s += "CREATE UNIQUE INDEX " + k.name + "_external_key ON " + k.name + "(coalesce(" + kExternalSource + ", ''), " +
       kExternalId + ") WHERE " + kExternalId + " IS NOT NULL;";
  for (const auto& rule : k.unique_rules) {
    std::string columns;
    for (const auto& f : rule.fields) columns += (columns.empty() ? "" : ", ") + f;
    s += "CREATE UNIQUE INDEX " + k.name + "_" + rule.name + " ON " + k.name + "(" + columns + ")" +
         (rule.when.empty() ? "" : " WHERE " + rule.when + " = 1") + ";";
  }
  return s;
}

// The default pipeline every store starts with (SQLite's migration 6 seeds
// the same rows): ids 1 to 7, taken from the sequence.
std::string pg_default_pipeline(int64_t now) {
  const std::string t = std::to_string(now);
  return "INSERT INTO pipelines(id, name, is_default, description, created_at, updated_at)"
         " VALUES(1, 'new business', 1, 'The default pipeline: lead to won or lost.', " + t + ", " + t + ");"
         "INSERT INTO pipeline_stages(id, pipeline_id, name, position, probability, category, labels, created_at,"
         " updated_at) SELECT 1 + position, 1, name, position, probability, category, labels, " + t + ", " + t +
         " FROM (VALUES"
         " (1, 'lead', 0.1, 'open', '{\"zh\":\"线索\"}'),"
         " (2, 'qualified', 0.25, 'open', '{\"zh\":\"合格\"}'),"
         " (3, 'proposal', 0.5, 'open', '{\"zh\":\"方案\"}'),"
         " (4, 'negotiation', 0.75, 'open', '{\"zh\":\"谈判\"}'),"
         " (5, 'won', 1.0, 'won', '{\"zh\":\"赢单\"}'),"
         " (6, 'lost', 0.0, 'lost', '{\"zh\":\"输单\"}')) AS v(position, name, probability, category, labels);"
         "SELECT setval('crm_ids', 7);";
}

// The kept stock balances' table in PostgreSQL's types (SQLite's is
// stock::balances_schema_sql()).
std::string pg_stock_balances_table() {
  return "CREATE TABLE stock_balances(product_id bigint NOT NULL, location_id bigint NOT NULL, period bigint NOT NULL,"
         " quantity double precision NOT NULL, shipped double precision NOT NULL, moves bigint NOT NULL,"
         " PRIMARY KEY(product_id, location_id, period));";
}

// Tables and columns that schema `version` adds, for a PostgreSQL store made
// before it (the kind table says what: Kind/Field::since_version).
std::string pg_add_version(int version) {
  std::string s, foreign_keys;
  // The balances gained each month's shipments and movement count: made
  // again in the new shape (a store from before had none) and filled from
  // the ledger, as on SQLite (schema_sql.cpp).
  if (version == kStockBalancesShippedVersion)
    s += "DROP TABLE IF EXISTS stock_balances;" + pg_stock_balances_table() + stock::rebuild_balances_sql(true);
  for (const auto& k : kinds()) {
    if (k.since_version == version) {
      s += pg_create_table(k, foreign_keys);
      continue;
    }
    if (k.since_version > version) continue;
    for (const auto& f : k.fields) {
      if (f.since_version != version) continue;
      s += "ALTER TABLE " + k.name + " ADD COLUMN " + f.name + " " + pg_type(f.type) + ";";
      if (f.type == FieldType::Ref)
        foreign_keys += "ALTER TABLE " + k.name + " ADD FOREIGN KEY (" + f.name + ") REFERENCES " + f.ref_kind +
                        "(id)" + (k.cascade_on_delete ? " ON DELETE CASCADE" : "") + ";" + "CREATE INDEX " +
                        k.name + "_" + f.name + " ON " + k.name + "(" + f.name + ");";
    }
  }
  return s + foreign_keys;
}

// What the audit notes of each update and delete, made by the server: one
// trigger function for every kind, writing what SQLite's per-kind TEMP
// triggers write (audit.cpp) into the session's temporary table, so that
// seal_audit reads, combines and hashes the changes by one code path on
// both engines. PostgreSQL has no temporary triggers: the function is
// permanent, and a session without the table (another program's) is not
// noted, as SQLite notes only crmcore's own connections.
//  update: {column: [old, new], ...} for the columns that changed ('{}' if none)
//  delete: {"removed": {column: value, ...}}
// in the table's column order, without id, created_at and updated_at.
constexpr int kCaptureVersion = 3;  // 2: with the rules' triggers (pg_rules.cpp); 3: the stock balances' index
const char* const kCaptureFunction = R"(
CREATE OR REPLACE FUNCTION crm_audit_capture() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  IF to_regclass('pg_temp.crm_audit_changes') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO pg_temp.crm_audit_changes(record_id, removed, changes, kind)
    SELECT OLD.id, 1, json_build_object('removed', json_object_agg(e.key, e.value ORDER BY e.n))::text, TG_TABLE_NAME
    FROM json_each(to_json(OLD)) WITH ORDINALITY AS e(key, value, n)
    WHERE e.key NOT IN ('id', 'created_at', 'updated_at');
  ELSE
    INSERT INTO pg_temp.crm_audit_changes(record_id, removed, changes, kind)
    SELECT OLD.id, 0, coalesce(json_object_agg(o.key, json_build_array(o.value, n.value) ORDER BY o.n)::text, '{}'),
           TG_TABLE_NAME
    FROM json_each(to_json(OLD)) WITH ORDINALITY AS o(key, value, n)
    JOIN json_each(to_json(NEW)) AS n(key, value) ON n.key = o.key
    WHERE o.key NOT IN ('id', 'created_at', 'updated_at') AND o.value::text IS DISTINCT FROM n.value::text;
  END IF;
  RETURN NULL;
END
$body$;
)";

bool captured(backend::Connection& c) {
  auto st = c.prepare("SELECT 1 FROM meta WHERE key = 'pg_capture' AND value = ?");
  st->bind_text(1, std::to_string(kCaptureVersion));
  return st->step();
}

// The capture's function and triggers, made once per store (and again when
// kCaptureVersion changes), under the same lock as the schema.
void install_capture(backend::Connection& c) {
  if (!captured(c)) {
    std::string s = kCaptureFunction;
    for (const auto& k : kinds())
      s += "CREATE OR REPLACE TRIGGER crm_audit AFTER UPDATE OR DELETE ON " + k.name +
           " FOR EACH ROW EXECUTE FUNCTION crm_audit_capture();";
    c.exec(s + pg_rule_triggers());
    auto set = c.prepare(
        "INSERT INTO meta(key, value) VALUES('pg_capture', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    set->bind_text(1, std::to_string(kCaptureVersion));
    set->run();
  }
}

}  // namespace

// The value of `name=` in a URL's query, removed from the URL.
std::string take_parameter(std::string& url, const std::string& name) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return "";
  std::string kept, value;
  size_t start = q + 1;
  while (start <= url.size()) {
    size_t end = url.find('&', start);
    if (end == std::string::npos) end = url.size();
    const std::string part = url.substr(start, end - start);
    if (part.rfind(name + "=", 0) == 0)
      value = part.substr(name.size() + 1);
    else if (!part.empty())
      kept += (kept.empty() ? "" : "&") + part;
    start = end + 1;
  }
  url = url.substr(0, q) + (kept.empty() ? "" : "?" + kept);
  return value;
}

bool is_postgres_url(const std::string& path) {
  return path.rfind("postgresql://", 0) == 0 || path.rfind("postgres://", 0) == 0;
}

// The whole layout at the current version: a PostgreSQL store has no older
// versions to come from (it begins at the version that brought PostgreSQL).
std::string postgres_schema(int64_t now) {
  std::string s =
      "CREATE TABLE meta(key text PRIMARY KEY, value text);"
      // Ids unique across kinds: a real sequence, so that several writers
      // never hand out the same id (SQLite's id_sequence row is read, then written).
      "CREATE SEQUENCE crm_ids;"
      "CREATE TABLE contact_points(value text NOT NULL, record_id bigint NOT NULL, field text NOT NULL,"
      " kind text NOT NULL, PRIMARY KEY(value, record_id, field));"
      "CREATE INDEX contact_points_record ON contact_points(record_id);"
      "CREATE TABLE record_tags(tag text NOT NULL, record_id bigint NOT NULL, PRIMARY KEY(tag, record_id));"
      "CREATE INDEX record_tags_record ON record_tags(record_id);"
      "CREATE TABLE audit_log(seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at bigint NOT NULL,"
      " op text NOT NULL, kind text NOT NULL, first_id bigint, rows bigint NOT NULL, last_id bigint, cause_id bigint,"
      " actor text, changes text, salt text, changes_hash text, hash text);"
      // The catalog reads these in the order written, by SQLite's rowid: here a
      // column of that name numbers the rows, so the same reads work.
      "CREATE TABLE custom_fields(kind text NOT NULL, name text NOT NULL, type text NOT NULL,"
      " required bigint NOT NULL, closed bigint NOT NULL, rowid bigint GENERATED BY DEFAULT AS IDENTITY,"
      " PRIMARY KEY(kind, name));"
      "CREATE TABLE allowed_values(kind text NOT NULL, field text NOT NULL, value text NOT NULL,"
      " rowid bigint GENERATED BY DEFAULT AS IDENTITY, PRIMARY KEY(kind, field, value));"
      "CREATE TABLE value_labels(kind text NOT NULL, field text NOT NULL, label text NOT NULL,"
      " value text NOT NULL, lang text NOT NULL, PRIMARY KEY(kind, field, label));"
      // Kept stock balances (stock/balances.hpp), written by the stock rules as on SQLite; the
      // index on stock_movements(moved_at) their reads need comes with the rules' triggers (pg_rules.cpp).
      + pg_stock_balances_table() +
      "INSERT INTO meta(key, value) VALUES('catalog_stamp', '0'), ('engine', 'crmcore');"
      "INSERT INTO value_labels VALUES " + seed_label_values() + " ON CONFLICT DO NOTHING;";
  std::string foreign_keys;
  for (const auto& k : kinds()) s += pg_create_table(k, foreign_keys);
  s += foreign_keys;
  s += "CREATE INDEX links_type ON links(type);";
  return s + pg_default_pipeline(now);
}

void open_postgres_store(Store::Impl& impl, const std::string& path, bool readonly, bool create) {
  std::string url = path;
  std::string schema = take_parameter(url, "schema");
  if (schema.empty()) schema = "public";
  backend::check_identifier(schema);
  // As the server names it: an unquoted identifier is folded to lower case,
  // and the catalog, where an existing store is looked for, holds that name
  // (crm_A's second open found no store in 'crm_A' and made one again).
  for (char& ch : schema) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  impl.conn = backend::open_postgres(url);
  impl.db = sql::Db(nullptr, impl.conn.get());
  backend::Connection& c = *impl.conn;
  // Named in messages without its query or a password ("user:secret@").
  std::string shown = url.substr(0, url.find('?'));
  const size_t at = shown.find('@'), colon = shown.find(':', shown.find("://") + 3);
  if (at != std::string::npos && colon < at) shown = shown.substr(0, colon + 1) + "***" + shown.substr(at);
  const std::string where = "schema '" + schema + "' of " + shown;
  auto read_version = [&] {
    auto has_meta = c.prepare("SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = 'meta'");
    has_meta->bind_text(1, schema);
    if (!has_meta->step()) {
      auto tables = c.prepare("SELECT count(*) FROM information_schema.tables WHERE table_schema = ?");
      tables->bind_text(1, schema);
      tables->step();
      if (tables->int64(0) > 0)
        throw StorageError(where + " holds tables but is not a crmcore store; it was left as it was");
      return 0;
    }
    auto st = c.prepare("SELECT value FROM meta WHERE key = 'schema_version'");
    if (!st->step()) throw StorageError(where + " has a table meta but is not a crmcore store; it was left as it was");
    const int version = std::stoi(st->text(0));
    if (version > kSchemaVersion)
      throw StorageError(where + " has schema version " + std::to_string(version) +
                         ", newer than this crmcore understands (" + std::to_string(kSchemaVersion) + ")");
    return version;
  };
  if (!readonly && create) {
    // Every session of this store works in its schema; temporary tables stay per session.
    c.exec("CREATE SCHEMA IF NOT EXISTS " + schema);
  }
  c.exec("SET search_path TO " + schema);
  if (!create && read_version() == 0)
    throw StorageError("no store at " + where + ": the schema is missing or empty; nothing was made");
  // The look-ups of phones and e-mails that finds make (Store::find_contact_locked).
  impl.find_contact_point =
      sql::Statement(impl.db, "SELECT DISTINCT record_id FROM contact_points WHERE value=? AND kind=? ORDER BY record_id");
  impl.find_contact_points_among = sql::Statement(
      impl.db, "SELECT DISTINCT record_id FROM contact_points WHERE value IN (SELECT c0 FROM crm_batch(?1)) AND kind=?2"
               " ORDER BY record_id");
  if (!readonly)  // the session's notes for the audit (see install_capture) and the rules (pg_rules.cpp)
    c.exec("CREATE TEMP TABLE IF NOT EXISTS crm_audit_changes(seq bigserial PRIMARY KEY, record_id bigint NOT NULL,"
           " removed bigint NOT NULL, changes text NOT NULL, kind text NOT NULL);" + pg_rule_session_tables());
  int version = read_version();
  if (version == kSchemaVersion && (readonly || captured(c))) return;
  if (readonly)
    throw StorageError(where + " is " + (version == 0 ? "empty" : "an older crmcore store") +
                       "; a read-only open cannot create or migrate it (open it once for writing)");
  c.begin();
  try {
    // Two processes opening a new store at once: the second waits here, then
    // finds the tables made.
    auto lock = c.prepare("SELECT pg_advisory_xact_lock(hashtext(?))");
    lock->bind_text(1, "crmcore schema " + schema);
    lock->run();
    version = read_version();
    if (version == 0) {
      c.exec(postgres_schema(now_ns()));
      version = kSchemaVersion;
    }
    for (; version < kSchemaVersion; ++version) c.exec(pg_add_version(version + 1));
    install_capture(c);
    auto set = c.prepare(
        "INSERT INTO meta(key, value) VALUES('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = "
        "excluded.value");
    set->bind_text(1, std::to_string(version));
    set->run();
    c.commit();
  } catch (...) {
    try {
      c.rollback();
    } catch (...) {  // the first failure is the one to report
    }
    throw;
  }
}

std::string postgres_reference_check(Store::Impl& impl) {
  std::string report;
  for (const auto& k : kinds())
    for (const auto& f : k.fields) {
      if (f.type != FieldType::Ref) continue;
      sql::Statement st(impl.db, "SELECT r.id FROM " + k.name + " AS r WHERE r." + f.name + " IS NOT NULL AND NOT EXISTS"
                                 " (SELECT 1 FROM " + f.ref_kind + " AS x WHERE x.id = r." + f.name + ") ORDER BY r.id");
      while (st.step())
        report += (report.empty() ? "" : "\n") + std::string("foreign key broken in ") + k.name + " row " +
                  std::to_string(st.int64(0));
    }
  return report.empty() ? "ok" : report;
}

}  // namespace crmcore::records
