// The write path's rules on PostgreSQL: the same notes from the same text.
// On SQLite each rule family (stage, tickets, ledger, tasks, stock) makes
// its notes with TEMP tables and TEMP triggers, per connection
// (install_*_capture). PostgreSQL has no temporary triggers, so the SQLite
// script is translated here, once, into what the server has:
//  - each TEMP table stays a temporary table of the session (made at open);
//  - each TEMP trigger becomes a permanent trigger function and trigger in
//    the store's schema, made once under the schema's lock, which notes
//    nothing in a session without the table (another program's), as SQLite
//    notes only crmcore's own connections (the audit capture does the same).
// One source for both engines: a change to a family's triggers changes both,
// and the rules read the notes by the same code (Dialect::temp names them).
#include <regex>
#include <string>

#include "crmcore/errors.hpp"
#include "crmcore/stock/rules.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

// Automation's table of changed fields (automation/rules.cpp; its triggers
// are made per watched field there, on both engines).
std::string automation_capture_sql();

namespace {

std::string all_scripts() {
  return stage_capture_sql() + ticket_capture_sql() + ledger_capture_sql() + task_capture_sql() +
         stock_capture_sql() + automation_capture_sql();
}

// SQLite's column types as PostgreSQL's; `seq INTEGER PRIMARY KEY`, which
// SQLite numbers by itself, a bigserial.
std::string pg_columns(std::string columns) {
  static const std::regex seq(R"(\bseq INTEGER PRIMARY KEY\b)"), integer(R"(\bINTEGER\b)"), real(R"(\bREAL\b)"),
      text(R"(\bTEXT\b)");
  columns = std::regex_replace(columns, seq, "seq bigserial PRIMARY KEY");
  columns = std::regex_replace(columns, integer, "bigint");
  columns = std::regex_replace(columns, real, "double precision");
  return std::regex_replace(columns, text, "text");
}

// SQLite's `a IS NOT b` and `a IS b` compare NULLs as values; PostgreSQL
// says so with DISTINCT FROM (IS [NOT] NULL stays as it is).
std::string pg_condition(std::string condition) {
  static const std::regex is_not(R"(\bIS NOT (?!NULL\b))"), is(R"(\bIS (?!NOT |NULL\b|DISTINCT ))");
  condition = std::regex_replace(condition, is_not, "IS DISTINCT FROM ");
  return std::regex_replace(condition, is, "IS NOT DISTINCT FROM ");
}

const std::regex& temp_table() {
  static const std::regex r(R"(CREATE TEMP TABLE IF NOT EXISTS (\w+)\((.*?)\);)");
  return r;
}

const std::regex& temp_trigger() {
  static const std::regex r(
      R"(CREATE TEMP TRIGGER IF NOT EXISTS (\w+) AFTER (.+?) ON main\.(\w+)(?: WHEN (.+?))? BEGIN (.+?) END;)");
  return r;
}

}  // namespace

std::string pg_rule_session_tables() {
  const std::string scripts = all_scripts();
  std::string out;
  for (std::sregex_iterator it(scripts.begin(), scripts.end(), temp_table()), end; it != end; ++it)
    out += "CREATE TEMP TABLE IF NOT EXISTS " + (*it)[1].str() + "(" + pg_columns((*it)[2].str()) + ");";
  return out;
}

std::string pg_rule_triggers() {
  const std::string scripts = all_scripts();
  static const std::regex insert_into(R"(INSERT INTO (\w+))");
  std::string out;
  for (std::sregex_iterator it(scripts.begin(), scripts.end(), temp_trigger()), end; it != end; ++it) {
    const std::smatch& m = *it;
    const std::string name = m[1].str(), body = m[5].str();
    std::smatch target;
    if (!std::regex_search(body, target, insert_into))
      throw Error("pg_rules: trigger " + name + " writes no notes table");  // a new shape of trigger: translate it here
    out += "CREATE OR REPLACE FUNCTION " + name + "() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN IF to_regclass('pg_temp." +
           target[1].str() + "') IS NOT NULL THEN " + std::regex_replace(body, insert_into, "INSERT INTO pg_temp.$1") +
           " END IF; RETURN NULL; END $body$;";
    out += "CREATE OR REPLACE TRIGGER " + name + " AFTER " + m[2].str() + " ON " + m[3].str() + " FOR EACH ROW" +
           (m[4].matched ? " WHEN (" + pg_condition(m[4].str()) + ")" : std::string()) + " EXECUTE FUNCTION " +
           name + "();";
  }
  // What the stock rules' kept balances are read with (stock/balances.hpp):
  // SQLite's migration to them made the same index.
  out += "CREATE INDEX IF NOT EXISTS stock_movements_moved_at ON stock_movements(moved_at);";
  return out;
}

}  // namespace crmcore::records
