// The file's tables, made from the kind table, and the migrations between
// versions of that layout.
#include <sqlite3.h>

#include "crmcore/errors.hpp"
#include "crmcore/records/owner_migration.hpp"
#include "contact_points.hpp"
#include "crmcore/stock/balances.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

std::string sql_type(FieldType t) {
  switch (t) {
    case FieldType::Text: return "TEXT";
    case FieldType::Real: return "REAL";
    default: return "INTEGER";
  }
}

std::string external_key_index(const Kind& k) {
  return "CREATE UNIQUE INDEX " + k.name + "_external_key ON " + k.name + "(ifnull(" + kExternalSource + ", ''), " +
         kExternalId + ") WHERE " + kExternalId + " IS NOT NULL;";
}

std::string column_sql(const Kind& k, const Field& f) {
  std::string s = f.name + " " + sql_type(f.type);
  if (f.required) s += " NOT NULL";
  if (f.type == FieldType::Ref) {
    s += " REFERENCES " + f.ref_kind + "(id)";
    if (k.cascade_on_delete) s += " ON DELETE CASCADE";
  }
  return s;
}

// A kind's table as it stands at schema `version`: the fields it had then,
// with their indexes (references and unique fields; the external key's from
// version 4).
std::string create_table_sql(const Kind& k, int version) {
  std::string s = "CREATE TABLE " + k.name + "(id INTEGER PRIMARY KEY";
  for (const auto& f : k.fields)
    if (f.since_version <= version) s += ", " + column_sql(k, f);
  s += ", tags TEXT, custom TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);";
  for (const auto& f : k.fields) {
    if (f.since_version > version) continue;
    if (f.type == FieldType::Ref || f.type == FieldType::AnyRef || f.unique)
      s += std::string("CREATE ") + (f.unique ? "UNIQUE " : "") + "INDEX " + k.name + "_" + f.name + " ON " +
           k.name + "(" + f.name + ");";
  }
  if (version >= 4) s += external_key_index(k);
  return s;
}

std::string migration_v3() {
  std::string s = "ALTER TABLE audit_log ADD COLUMN cause_id INTEGER;";
  for (const auto& k : kinds())
    if (k.since_version < 3)
      s += "UPDATE " + k.name + " SET tags = char(31) || replace(tags, ';', char(31)) WHERE tags <> '';";
  return s;
}

// The external key of each kind: its columns, and a unique index that also
// finds a record by its key (an absent source counts as '').
std::string migration_v4() {
  std::string s;
  for (const auto& k : kinds()) {
    if (k.since_version >= 4) continue;  // made whole by the migration that adds it
    for (const auto& f : k.fields)
      if (f.since_version == 4) s += "ALTER TABLE " + k.name + " ADD COLUMN " + column_sql(k, f) + ";";
    s += external_key_index(k);
  }
  return s;
}

// The tables and columns that schema version `version` adds.
std::string add_version(int version) {
  std::string s;
  for (const auto& k : kinds()) {
    if (k.since_version == version) {
      s += create_table_sql(k, version);
      continue;
    }
    if (k.since_version > version) continue;
    for (const auto& f : k.fields) {
      if (f.since_version != version) continue;
      s += "ALTER TABLE " + k.name + " ADD COLUMN " + column_sql(k, f) + ";";
      if (f.type == FieldType::Ref) s += "CREATE INDEX " + k.name + "_" + f.name + " ON " + k.name + "(" + f.name + ");";
    }
  }
  return s;
}

// 6: pipelines and their stages; deals know their pipeline. Every store
// gets the default pipeline, and the deals it already has join it (their
// stages are left as they are: the rules judge changes, not the past).
std::string migration_v6() {
  const std::string now = "(CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 1000000)";
  std::string s = add_version(6);
  s += "INSERT INTO pipelines(id, name, is_default, description, created_at, updated_at)"
       " SELECT next, 'new business', 1, 'The default pipeline: lead to won or lost.', " + now + ", " + now +
       " FROM id_sequence;";
  s += "WITH p(pid) AS (SELECT next FROM id_sequence),"
       " v(position, name, probability, category, labels) AS (VALUES"
       " (1, 'lead', 0.1, 'open', '{\"zh\":\"线索\"}'),"
       " (2, 'qualified', 0.25, 'open', '{\"zh\":\"合格\"}'),"
       " (3, 'proposal', 0.5, 'open', '{\"zh\":\"方案\"}'),"
       " (4, 'negotiation', 0.75, 'open', '{\"zh\":\"谈判\"}'),"
       " (5, 'won', 1.0, 'won', '{\"zh\":\"赢单\"}'),"
       " (6, 'lost', 0.0, 'lost', '{\"zh\":\"输单\"}'))"
       " INSERT INTO pipeline_stages(id, pipeline_id, name, position, probability, category, labels, created_at,"
       " updated_at) SELECT pid + position, pid, name, position, probability, category, labels, " + now + ", " + now +
       " FROM p, v;";
  s += "UPDATE deals SET pipeline_id = (SELECT next FROM id_sequence);";
  s += "UPDATE id_sequence SET next = next + 7;";
  return s;
}

// Sales operations: their kinds and fields, and a first deal_close_dates
// row for each deal that has an expected close (the one date known, taken
// as held since the deal was made), so that every later move has a before.
std::string migration_sales_ops() {
  const std::string now = "(CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 1000000)";
  std::string s = add_version(kSalesOpsVersion);
  s += "INSERT INTO deal_close_dates(id, deal_id, expected_close, changed_at, created_at, updated_at)"
       " SELECT (SELECT next FROM id_sequence) + row_number() OVER (ORDER BY id) - 1, id, expected_close,"
       " created_at, " + now + ", " + now + " FROM deals WHERE expected_close IS NOT NULL;";
  s += "UPDATE id_sequence SET next = next + (SELECT count(*) FROM deals WHERE expected_close IS NOT NULL);";
  return s;
}

}  // namespace

// Version 1 of the schema, made from the kind table's fields of version 1.
// A later change of the kind table adds a migration rather than changing
// what version 1 was.
std::string schema_v1() {
  std::string s =
      "CREATE TABLE id_sequence(next INTEGER NOT NULL);"
      "INSERT INTO id_sequence VALUES(1);"
      // Key columns first: SQLite 3.40 integrity_check misreads a NOT NULL column
      // placed between the key columns of a WITHOUT ROWID table.
      "CREATE TABLE contact_points(value TEXT NOT NULL, record_id INTEGER NOT NULL, field TEXT NOT NULL,"
      " kind TEXT NOT NULL, PRIMARY KEY(value, record_id, field)) WITHOUT ROWID;"
      "CREATE INDEX contact_points_record ON contact_points(record_id);"
      "CREATE TABLE record_tags(tag TEXT NOT NULL, record_id INTEGER NOT NULL, PRIMARY KEY(tag, record_id))"
      " WITHOUT ROWID;"
      "CREATE INDEX record_tags_record ON record_tags(record_id);"
      "CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, op TEXT NOT NULL, kind TEXT NOT NULL,"
      " record_id INTEGER, rows INTEGER NOT NULL);";
  for (const auto& k : kinds())
    if (k.since_version == 1) s += create_table_sql(k, 1);
  s += "CREATE INDEX links_type ON links(type);";
  return s;
}

// Opening must not change a file that is not a crmcore store: another
// program's database would otherwise get crmcore's tables and WAL mode.
void refuse_foreign_database(sqlite3* db, const std::string& path) {
  int64_t tables = 0, metas = 0, app = 0;
  try {
    sql::Statement st(db, "SELECT count(*), coalesce(sum(name='meta'), 0) FROM sqlite_master");
    st.step();
    tables = st.int64(0);
    metas = st.int64(1);
    sql::Statement id(db, "PRAGMA application_id");
    if (id.step()) app = id.int64(0);
  } catch (const StorageError&) {
    throw StorageError("'" + path + "' is not a crmcore store (" + sqlite3_errmsg(db) + ")");
  }
  if (tables == 0) return;  // a new or empty file becomes a store
  bool ours = metas == 1 && (app == 0 || app == kApplicationId);
  if (ours) {
    sql::Statement st(db, "SELECT 1 FROM meta WHERE key='schema_version'");
    ours = st.step();
  }
  if (!ours)
    throw StorageError("'" + path + "' is another program's SQLite database, not a crmcore store; it was left as it was");
}

// The migration that brings a store from `version - 1` to `version`. A
// version that only adds kinds or fields needs no case of its own: the kind
// table says what it adds (Kind::since_version, Field::since_version).
std::string migration_to(int version) {
  switch (version) {
    // 2: an audit entry names the range of ids a write gave or touched (an
    // import's rows get consecutive ids), not just a lone record.
    case 2:
      return "ALTER TABLE audit_log RENAME COLUMN record_id TO first_id;"
             "ALTER TABLE audit_log ADD COLUMN last_id INTEGER;"
             "UPDATE audit_log SET last_id = first_id;";
    // 3: tags are kept after a separator each, so that a tag may hold ';'
    // or ',' (before, they were joined with ';' and no tag held either); an
    // audit entry of a row removed with the record it belonged to names
    // that record.
    case 3: return migration_v3();
    // 4: every kind can carry an external key (see kExternalId).
    case 4: return migration_v4();
    // 5: the catalog (allowed values, labels, declared custom fields) and
    // the kinds' unique rules (see catalog.cpp).
    case 5: return migration_v5();
    // 6: pipelines and stage rules (see migration_v6).
    case 6: return migration_v6();
    // 8: audit entries say who acted and what changed, and carry a hash
    // chain (audit.cpp seals the entries already there in the same step).
    case kAuditVersion:
      return add_version(kAuditVersion) +
             "ALTER TABLE audit_log ADD COLUMN actor TEXT;"
             "ALTER TABLE audit_log ADD COLUMN changes TEXT;"
             "ALTER TABLE audit_log ADD COLUMN salt TEXT;"
             "ALTER TABLE audit_log ADD COLUMN changes_hash TEXT;"
             "ALTER TABLE audit_log ADD COLUMN hash TEXT;";
    case kSalesOpsVersion: return migration_sales_ops();
    // 9: ticket workflow and service (see schema.cpp, kServiceVersion); the
    // tickets a store has take the status their times say.
    case 9:
      return add_version(9) +
             "UPDATE tickets SET status = CASE WHEN resolved_at IS NOT NULL THEN 'resolved'"
             " WHEN first_response_at IS NOT NULL THEN 'in_progress' ELSE 'new' END;";
    // 13: staff can be deactivated, and the free-text owners are matched
    // with staff once the file is open (owner_migration.cpp: through the
    // write path, so the matches are audited).
    case kOwnerMigrationVersion: return add_version(kOwnerMigrationVersion) + owner_migration_mark();
    // 20: stock balances kept per product, location and month, made from
    // the movements the store has (stock/balances.hpp); 21: with each
    // month's shipments and number of movements. The table is made (and
    // filled) once, in its latest shape, by the later of the two.
    case kStockBalancesVersion: return add_version(kStockBalancesVersion);
    case kStockBalancesShippedVersion:
      return add_version(kStockBalancesShippedVersion) + "DROP TABLE IF EXISTS stock_balances;" +
             stock::balances_schema_sql() + stock::rebuild_balances_sql();
    // 22: no index from a record to its lookup rows: they follow from its
    // fields (contact_points.hpp); store.cpp makes them again after this step.
    case kLookupByFieldsVersion: return add_version(kLookupByFieldsVersion) + "DROP INDEX IF EXISTS contact_points_record;";
    default: return add_version(version);
  }
}

}  // namespace crmcore::records
