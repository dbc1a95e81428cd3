// Automation rules, the write path's last step. A rule is a record of
// automation_rules: a trigger, a condition in the query form of db.find
// (a JSON list of [field, op, value] triples, or a list of such lists for
// an OR), and actions (a JSON list of objects). Rules triggered by writes
// run here, inside the write's transaction, over all the records a write
// created or changed at once (an import of a million orders evaluates each
// rule's condition once, as one query over the imported id range):
// - created: the write inserted records of the rule's kind;
// - changed: the write changed the rule's field (triggers made for the
//   fields that active rules watch note each change, as the stage rules
//   note stage moves: TEMP triggers on SQLite, permanent ones in the
//   store's schema on PostgreSQL, which has no temporary triggers);
// - playbook: another rule's action started the rule's playbook.
// The actions' own writes (tasks, messages, fields set) may set off rules
// in turn; after kMaxRounds rounds in one write the chain is taken for a
// rule that triggers itself without end, and the whole write is undone.
// Every audit entry an action leaves names the rule in cause_id.
// Time-triggered rules (date, score, schedule) are picked by run_due in
// Python and acted on through Store::run_rule, the same actions.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>

#include "../records/batch.hpp"
#include "judge.hpp"
#include "prestage.hpp"
#include "rule_parts.hpp"
#include "../records/store_impl.hpp"
#include "crmcore/errors.hpp"

namespace crmcore::records {

namespace rule_parts {

[[noreturn]] void refuse(int64_t rule, const std::string& field, const std::string& reason) {
  throw ValidationError(kRules, -1, field, reason, rule);
}

Column json_column(const json& values) {
  bool text = false, real = false, flag = true;
  for (const auto& v : values) {
    text = text || v.is_string();
    real = real || v.is_number_float();
    flag = flag && (v.is_boolean() || v.is_null());
  }
  Column c("value", text ? Column::Storage::Text : real ? Column::Storage::Real : Column::Storage::Int);
  if (!text && flag && !values.empty()) c.origin = Column::Origin::Flag;
  for (const auto& v : values) {
    c.valid.push_back(v.is_null() ? 0 : 1);
    if (text) c.texts.push_back(v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump());
    else if (real) c.reals.push_back(v.is_number() ? v.get<double>() : 0.0);
    else c.ints.push_back(v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.is_number() ? v.get<int64_t>() : 0);
  }
  return c;
}

std::vector<std::string> template_fields(const std::string& text) {
  std::vector<std::string> out;
  for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
    const size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    out.push_back(text.substr(open + 1, close - open - 1));
  }
  return out;
}

std::string text_of(const json& action, const char* key) {
  return action.contains(key) && action[key].is_string() ? action[key].get<std::string>() : std::string();
}

const Field* owner_field(const Kind& k) {
  for (const char* name : {"owner_id", "staff_id", "assignee_id"})
    if (const Field* f = k.field(name); f && f->type == FieldType::Ref && f->ref_kind == "staff") return f;
  return nullptr;
}

}  // namespace rule_parts

namespace {

using namespace rule_parts;

// Rounds of rules one write may set off before the chain counts as endless.
constexpr int kMaxRounds = 8;
constexpr int64_t kNsPerDay = 86'400'000'000'000;

// The kinds whose writes set off no rules: the rules themselves and their bookkeeping.
bool automation_kind(const std::string& kind) { return kind == kRules || kind == "automation_runs"; }

json parse(int64_t rule, const std::string& field, const std::string& text) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) refuse(rule, field, "is not valid JSON: " + text);
  return doc;
}

// The condition as the query reads it: [] or null (every record), a list of
// [field, op, value] (all must hold), or a list of such lists (any).
AnyOf parse_condition(int64_t rule, const std::string& text) {
  AnyOf out;
  if (text.empty()) return out;
  const json doc = parse(rule, "condition", text);
  if (doc.is_null() || (doc.is_array() && doc.empty())) return out;
  auto predicate = [rule](const json& p) {
    if (!p.is_array() || p.size() < 2 || p.size() > 3 || !p[0].is_string() || !p[1].is_string())
      refuse(rule, "condition", "a condition is [field, op, value] or [field, 'is null'], not " + p.dump());
    Condition c;
    c.field = p[0].get<std::string>();
    c.op = parse_op(kRules, c.field, p[1].get<std::string>());
    if (p.size() == 3) c.values = json_column(p[2].is_array() ? p[2] : json::array({p[2]}));
    return c;
  };
  if (!doc.is_array()) refuse(rule, "condition", "is a list of [field, op, value], not " + doc.dump());
  const bool groups = doc[0].is_array() && !doc[0].empty() && doc[0][0].is_array();
  for (const auto& group : groups ? doc : json::array({doc})) {
    AllOf all;
    if (!group.is_array()) refuse(rule, "condition", "an OR lists groups of conditions, not " + group.dump());
    for (const auto& p : group) all.push_back(predicate(p));
    out.push_back(std::move(all));
  }
  return out;
}

std::string fill(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values) {
    const std::string token = "{" + name + "}";
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + value.size()))
      text.replace(at, token.size(), value);
  }
  return text;
}

// The ids as one condition: a range when they are consecutive (an import's
// rows), which the primary key serves directly; a list otherwise.
Condition among(const std::vector<int64_t>& ids) {
  Condition c;
  c.field = "id";
  c.values = Column("value", Column::Storage::Int);
  if (ids.back() - ids.front() + 1 == static_cast<int64_t>(ids.size())) {
    c.op = Op::Between;
    c.values.ints = {ids.front(), ids.back()};
  } else {
    c.op = Op::In;
    c.values.ints = ids;
  }
  return c;
}

void sort_unique(std::vector<int64_t>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

void add_int(Column& c, int64_t v, bool present = true) {
  c.ints.push_back(present ? v : 0);
  c.valid.push_back(present ? 1 : 0);
}
void add_text(Column& c, const std::string& v, bool present = true) {
  c.texts.push_back(present ? v : std::string());
  c.valid.push_back(present ? 1 : 0);
}

}  // namespace

struct Store::AutomationRule {
  int64_t id = -1;
  std::string name, trigger, kind, field, playbook;
  AnyOf condition;
  json actions;
};

struct Store::AutomationRound {
  std::map<std::string, std::vector<int64_t>> created;                              // kind: ids
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> changed;      // (kind, field): ids
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> started;      // (kind, playbook): ids
  // The first round of an insert: the caller's table and the id each row
  // got, so that conditions are judged on the values as given (converted
  // as the insert converted them) rather than read back.
  const Table* table = nullptr;
  const std::vector<int64_t>* table_ids = nullptr;
  std::string table_kind;
  // The insert's rows already carry the tag and field actions of the
  // created rules (prestage.hpp): their verdicts are taken from here.
  std::shared_ptr<const PrestagedActions> prestaged;
  bool empty() const { return created.empty() && changed.empty() && started.empty(); }
};

namespace {

std::vector<Store::AutomationRule> load_rules(Store::Impl& impl, const char* where, int64_t id = -1) {
  std::vector<Store::AutomationRule> rules;
  sql::Statement& st = impl.prepared(
      std::string("SELECT id, name, trigger, record_kind, field, condition, actions, playbook FROM automation_rules"
                  " WHERE ") + where + " ORDER BY id");
  if (id >= 0) st.bind(1, id);
  while (st.step()) {
    Store::AutomationRule r;
    r.id = st.int64(0);
    r.name = st.text(1), r.trigger = st.text(2), r.kind = st.text(3), r.field = st.text(4), r.playbook = st.text(7);
    try {
      r.condition = parse_condition(r.id, st.text(5));
      r.actions = parse(r.id, "actions", st.text(6));
    } catch (...) {
      st.reset();
      throw;
    }
    rules.push_back(std::move(r));
  }
  st.reset();
  return rules;
}

// A playbook action starts the rules of that playbook on its rule's kind; one
// naming a playbook with no such rule would do nothing, silently. Checked after
// every write to the rules: a starter added before its steps, or the last step
// deleted, moved to another playbook or kind, is refused.
void check_playbook_steps(Store::Impl& impl) {
  std::set<std::pair<std::string, std::string>> steps;  // (kind, playbook)
  for (const auto& r : load_rules(impl, "trigger = 'playbook'")) steps.insert({r.kind, r.playbook});
  for (const auto& r : load_rules(impl, "actions LIKE '%playbook%'")) {
    for (const auto& a : r.actions) {
      if (!a.is_object() || text_of(a, "do") != "playbook" || steps.count({r.kind, text_of(a, "name")})) continue;
      const std::string name = quote(text_of(a, "name"));
      refuse(r.id, "actions",
             "playbook: " + name + " has no steps on " + r.kind + " (rules with on=\"playbook\", playbook=" + name +
                 ", kind " + r.kind + "): add them before the rule that starts it");
    }
  }
}

// The rule without its tag, set and assign actions (applied with the insert already).
Store::AutomationRule without_record_actions(const Store::AutomationRule& rule) {
  Store::AutomationRule rest = rule;
  rest.actions = json::array();
  for (const auto& a : rule.actions) {
    const std::string what = text_of(a, "do");
    if (what != "tag" && what != "set" && what != "assign") rest.actions.push_back(a);
  }
  return rest;
}

// The insert's audit entry says which rule set what on which of its
// records, and each changed record's [old, new] values as an update entry
// would: one entry for the import, every action still named with its rule.
void note_prestaged(Store::Impl& impl, const std::string& kind, const PrestagedActions& plan,
                    const std::vector<int64_t>& row_ids) {
  auto landed = [&row_ids](const std::vector<int64_t>& rows) {
    std::vector<int64_t> ids;
    for (int64_t row : rows)
      if (row_ids[static_cast<size_t>(row)] >= 0) ids.push_back(row_ids[static_cast<size_t>(row)]);
    return ids;
  };
  json rules = json::object();
  int64_t any = -1;
  for (const auto& step : plan.steps) {
    const std::vector<int64_t> ids = landed(plan.matched.at(step.rule));
    if (ids.empty()) continue;
    any = ids.front();
    rules[std::to_string(step.rule)] = {{"ids", ids}, {"fields", step.fields}, {"tags_added", step.added},
                                        {"tags_removed", step.removed}};
  }
  if (any < 0) return;
  // The values are JSON text already: the records' part is written as text.
  std::string records;
  for (const auto& [row, changes] : plan.changes) {
    const int64_t id = row_ids[row];
    if (id < 0) continue;
    std::string one;
    for (const auto& [field, values] : changes)
      one += (one.empty() ? "\"" : ",\"") + field + "\":[" + values.first + "," + values.second + "]";
    records += (records.empty() ? "\"" : ",\"") + std::to_string(id) + "\":{" + one + "}";
  }
  const std::string doc = "{\"rules\":" + rules.dump() + ",\"records\":{" + records + "}}";
  sql::Statement& find = impl.prepared(
      "SELECT seq FROM audit_log WHERE seq > ?1 AND op = 'insert' AND kind = ?2 AND first_id <= ?3 AND last_id >= ?3"
      " ORDER BY seq LIMIT 1");
  find.bind(1, impl.audit_mark).bind(2, kind).bind(3, any);
  const bool found = find.step();
  const int64_t seq = found ? find.int64(0) : -1;
  find.reset();
  if (!found) throw Error("automation: the insert's audit entry was not found");
  impl.prepared("UPDATE audit_log SET changes = ?1 WHERE seq = ?2").bind(1, doc).bind(2, seq).run();
}

}  // namespace

std::vector<CreatedRule> active_created_rules(Store::Impl& impl, const std::string& kind) {
  std::vector<CreatedRule> out;
  for (auto& rule : load_rules(impl, "coalesce(active, 1) <> 0 AND trigger = 'created'"))
    if (rule.kind == kind) out.push_back({rule.id, std::move(rule.condition), std::move(rule.actions)});
  return out;
}

Column rule_value_column(const json& values) { return json_column(values); }

const Field* rule_owner_field(const Kind& k) { return owner_field(k); }

std::string automation_capture_sql() {
  return "CREATE TEMP TABLE IF NOT EXISTS crm_auto_changes(kind TEXT, field TEXT, record_id INTEGER);";
}

namespace {

// The name of the trigger noting changes of `field` (one per table).
// PostgreSQL cuts names at 63 bytes: a longer one is named by a digest of
// the field (FNV-1a, the same in every build) so that it is found again.
std::string watch_trigger(const std::string& field) {
  const std::string name = "crm_auto_" + field;
  if (name.size() <= 63) return name;
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : field) h = (h ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "crm_auto_" + std::string(hex);
}

// PostgreSQL has no temporary triggers: the watch is a permanent trigger of
// the store's schema, made and dropped inside the write that needs it (DDL
// is transactional there, under the write's lock), writing into the
// session's table made at open (pg_rule_session_tables). A session without
// that table (another program's) notes nothing, as on SQLite. One function
// serves every watch: the trigger's arguments say which kind and field.
void watch_on_postgres(Store::Impl& impl, const std::vector<std::pair<std::string, std::string>>& watch) {
  std::set<std::pair<std::string, std::string>> existing;  // (table, trigger)
  {
    sql::Statement& st = impl.prepared(
        "SELECT c.relname, t.tgname FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
        " AND c.relnamespace = current_schema()::regnamespace AND t.tgname LIKE 'crm\\_auto\\_%'");
    while (st.step()) existing.emplace(st.text(0), st.text(1));
    st.reset();
  }
  std::set<std::pair<std::string, std::string>> wanted;
  std::string ddl;
  for (const auto& [k, f] : watch) {
    const std::pair<std::string, std::string> key{k, watch_trigger(f)};
    wanted.insert(key);
    if (existing.count(key)) continue;
    if (ddl.empty())
      ddl = "CREATE OR REPLACE FUNCTION crm_auto_note() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN IF "
            "to_regclass('pg_temp.crm_auto_changes') IS NOT NULL THEN INSERT INTO pg_temp.crm_auto_changes(kind, field,"
            " record_id) VALUES(TG_ARGV[0], TG_ARGV[1], NEW.id); END IF; RETURN NULL; END $body$;";
    ddl += "CREATE TRIGGER " + key.second + " AFTER UPDATE OF " + f + " ON " + k + " FOR EACH ROW WHEN (OLD." + f +
           " IS DISTINCT FROM NEW." + f + ") EXECUTE FUNCTION crm_auto_note('" + k + "', '" + f + "');";
  }
  for (const auto& [table, trigger] : existing)
    if (!wanted.count({table, trigger})) ddl += "DROP TRIGGER " + trigger + " ON " + table + ";";
  if (!ddl.empty()) sql::exec(impl.db, ddl);
}

}  // namespace

// The temporary table of changes and a trigger for each (kind, field) an
// active "changed" rule watches; triggers no rule needs any longer go.
void Store::prepare_automation() {
  Impl& impl = *impl_;
  impl.prestaged.reset();  // a new write: prestage_automation makes the plan for an insert
  const bool sqlite = impl.db.is_sqlite();
  if (sqlite) sql::exec(impl.db, automation_capture_sql());  // (PostgreSQL: made with the session)
  std::set<std::string> wanted;
  std::vector<std::pair<std::string, std::string>> watch;
  {
    sql::Statement& st = impl.prepared(
        "SELECT DISTINCT record_kind, field FROM automation_rules WHERE trigger = 'changed' AND coalesce(active, 1) <> 0");
    while (st.step()) {
      const std::string k = st.text(0), f = st.text(1);
      // Names from the kind table only reach SQL text; a rule naming
      // anything else was refused when written.
      const auto known = std::find_if(kinds().begin(), kinds().end(), [&k](const Kind& x) { return x.name == k; });
      if (known == kinds().end() || automation_kind(k) || (!known->field(f) && f != kTagsColumn)) continue;
      wanted.insert("crm_auto_" + k + "__" + f);
      watch.emplace_back(k, f);
    }
    st.reset();
  }
  if (!sqlite) return watch_on_postgres(impl, watch);
  std::vector<std::string> existing;
  {
    sql::Statement st(impl.db, "SELECT name FROM sqlite_temp_master WHERE type = 'trigger' AND name LIKE 'crm_auto_%'");
    while (st.step()) existing.push_back(st.text(0));
  }
  for (const auto& name : existing)
    if (!wanted.count(name)) sql::exec(impl.db, "DROP TRIGGER temp." + name);
  for (const auto& [k, f] : watch) {
    const std::string name = "crm_auto_" + k + "__" + f;
    if (std::find(existing.begin(), existing.end(), name) != existing.end()) continue;
    sql::exec(impl.db, "CREATE TEMP TRIGGER " + name + " AFTER UPDATE OF " + f + " ON main." + k + " WHEN OLD." + f +
                           " IS NOT NEW." + f + " BEGIN INSERT INTO crm_auto_changes(kind, field, record_id) VALUES('" +
                           k + "', '" + f + "', NEW.id); END");
  }
}

namespace {

// Whether the records an insert created are as its rows gave them: no
// rule of the write path (a domain's, or a trigger) has updated one since,
// which the audit's capture of every update would show.
bool unchanged_since_insert(Store::Impl& impl, const std::vector<int64_t>& ids) {
  if (ids.empty()) return false;
  const auto [low, high] = std::minmax_element(ids.begin(), ids.end());
  sql::Statement& st = impl.prepared("SELECT 1 FROM " + Dialect(impl.db).temp("crm_audit_changes") +
                                     " WHERE record_id BETWEEN ?1 AND ?2 LIMIT 1");
  st.bind(1, *low).bind(2, *high);
  const bool touched = st.step();
  st.reset();
  return !touched;
}

// The changes the triggers noted since last asked, into `round`.
void take_changes(Store::Impl& impl, Store::AutomationRound& round) {
  const std::string table = Dialect(impl.db).temp("crm_auto_changes");
  sql::Statement& st = impl.prepared("SELECT kind, field, record_id FROM " + table);
  while (st.step()) round.changed[{st.text(0), st.text(1)}].push_back(st.int64(2));
  st.reset();
  impl.prepared("DELETE FROM " + table).run();
}

}  // namespace

void Store::apply_automation(const WriteRequest& req, WriteResult& result) {
  Impl& impl = *impl_;
  // Rules written are checked whole before anything can act on them.
  if (req.kind->name == kRules && req.op != WriteOp::Delete) {
    std::vector<int64_t> written = req.op == WriteOp::Update ? req.ids : result.ids;
    written.erase(std::remove(written.begin(), written.end(), -1), written.end());
    if (!written.empty()) {
      sort_unique(written);
      for (int64_t id : written) {
        for (const auto& rule : load_rules(impl, "id = ?1", id)) {
          const Kind* k = nullptr;
          try {
            k = &impl.catalog.kind(rule.kind);
          } catch (const NotFound& e) {
            refuse(rule.id, "record_kind", e.what());
          }
          if (automation_kind(k->name)) refuse(rule.id, "record_kind", "rules do not act on " + k->name);
          if ((rule.trigger == "changed" || rule.trigger == "date" || rule.trigger == "score") && rule.field.empty())
            refuse(rule.id, "field", "a " + rule.trigger + " rule names the field it watches");
          if (rule.trigger == "changed" && !k->field(rule.field) && rule.field != kTagsColumn)
            refuse(rule.id, "field", quote(rule.field) + " is not a field of " + k->name);
          if (rule.trigger == "date" && rule.field != kCreatedColumn &&
              (!k->field(rule.field) || k->field(rule.field)->type != FieldType::Time))
            refuse(rule.id, "field", quote(rule.field) + " is not a date field of " + k->name);
          if (rule.trigger == "playbook" && rule.playbook.empty())
            refuse(rule.id, "playbook", "a playbook rule names its playbook");
          try {  // the condition as the query reads it: fields, operators, values
            AnyOf probe = rule.condition.empty() ? AnyOf{{}} : rule.condition;
            for (auto& group : probe) group.push_back(among({-1}));
            query_locked(*k, probe);
          } catch (const ValidationError& e) {
            refuse(rule.id, "condition", e.what());
          }
          check_actions(rule.id, *k, rule.actions);
          sql::Statement& st = impl.prepared(
              "SELECT coalesce(active, 1) <> 0, threshold IS NULL, every_days IS NULL"
              " FROM automation_rules WHERE id = ?1");
          st.bind(1, rule.id);
          st.step();
          const bool active = st.int64(0) != 0, no_threshold = st.int64(1) != 0, no_interval = st.int64(2) != 0;
          st.reset();
          check_action_values(impl, rule.id, *k, rule.actions, active);
          if (rule.trigger == "score" && no_threshold)  // scored() compares with it
            refuse(rule.id, "threshold", "a score rule names the threshold it watches for");
          // (A schedule on the festivals calendar, field "festivals", runs on its days instead.)
          if (rule.trigger == "schedule" && rule.field != "festivals" && no_interval)
            refuse(rule.id, "every_days", "a schedule rule says how often it runs: every_days (1 for daily)");
        }
      }
      prepare_automation();  // the fields the rules watch from now on
    }
  }
  if (req.kind->name == kRules) check_playbook_steps(impl);
  const std::vector<AutomationRule> rules =
      load_rules(impl, "coalesce(active, 1) <> 0 AND trigger IN ('created', 'changed', 'playbook')");
  AutomationRound first;
  if (!rules.empty() && !automation_kind(req.kind->name) &&
      (req.op == WriteOp::Insert || req.op == WriteOp::Upsert)) {
    auto& created = first.created[req.kind->name];
    for (size_t r = 0; r < result.ids.size(); ++r)
      if (result.ids[r] >= 0 && (result.updated.empty() || !result.updated[r])) created.push_back(result.ids[r]);
    if (created.empty()) first.created.clear();
  }
  take_changes(impl, first);
  if (rules.empty() || req.op == WriteOp::Delete) return;
  if (req.op == WriteOp::Insert && req.table && first.created.count(req.kind->name) &&
      unchanged_since_insert(impl, first.created[req.kind->name])) {
    first.table = req.table;
    first.table_ids = &result.ids;
    first.table_kind = req.kind->name;
  }
  if (req.op == WriteOp::Insert && impl.prestaged && impl.prestaged->table == req.table) {
    first.prestaged = std::move(impl.prestaged);
    first.table_ids = &result.ids;
    first.table_kind = req.kind->name;
  }
  impl.prestaged.reset();
  run_automation_rounds(rules, first);
}

std::vector<int64_t> Store::rule_matches(const AutomationRule& rule, std::vector<int64_t> ids) const {
  sort_unique(ids);
  if (ids.empty()) return ids;
  AnyOf filter = rule.condition.empty() ? AnyOf{{}} : rule.condition;
  const Condition only = among(ids);
  for (auto& group : filter) group.push_back(only);
  return query_locked(impl_->catalog.kind(rule.kind), filter);
}

void Store::run_automation_rounds(const std::vector<AutomationRule>& rules, AutomationRound& first) {
  AutomationRound events = std::move(first);
  std::vector<std::string> fired;  // the rules of the last round, for the refusal
  // Each rule's condition made ready for C++ once per write (null: SQL judges it).
  std::map<const AutomationRule*, std::pair<bool, std::shared_ptr<const CompiledCondition>>> compiled_for;
  for (int round = 0; !events.empty(); ++round) {
    if (round >= kMaxRounds) {
      std::string names;
      for (const auto& n : fired) names += (names.empty() ? "" : ", ") + n;
      refuse(-1, "actions",
             "rules set each other off " + std::to_string(kMaxRounds) + " times in one write (still firing: " + names +
                 "); a rule that triggers itself without end was stopped and the write undone");
    }
    fired.clear();
    AutomationRound next;
    // The rules of this round by the records they look at: the conditions
    // of all rules looking at the same records are judged in one pass.
    std::map<std::vector<int64_t>*, std::vector<const AutomationRule*>> looking;
    std::vector<std::vector<int64_t>*> order;
    for (const auto& rule : rules) {
      std::vector<int64_t>* ids = nullptr;
      if (rule.trigger == "created") {
        auto it = events.created.find(rule.kind);
        if (it != events.created.end()) ids = &it->second;
      } else {
        auto& map = rule.trigger == "changed" ? events.changed : events.started;
        auto it = map.find({rule.kind, rule.trigger == "changed" ? rule.field : rule.playbook});
        if (it != map.end()) ids = &it->second;
      }
      if (!ids) continue;
      if (!looking.count(ids)) order.push_back(ids);
      looking[ids].push_back(&rule);
    }
    for (std::vector<int64_t>* ids : order) {
      sort_unique(*ids);
      if (ids->empty()) continue;
      const auto& group = looking[ids];
      const Kind& k = impl_->catalog.kind(group.front()->kind);
      // Conditions C++ can judge are judged over the records' columns in
      // one read; the rest (tags, custom keys, lookups) in one SQL pass.
      std::vector<const CompiledCondition*> judged;
      std::vector<const AnyOf*> filters;
      std::vector<size_t> by_judge, by_sql;
      std::vector<std::vector<int64_t>> matched(group.size());
      // The created rules judged before the insert (prestage.cpp): their verdicts, as ids.
      std::vector<char> decided(group.size(), 0);
      const auto created_here = events.prestaged ? events.created.find(events.table_kind) : events.created.end();
      if (created_here != events.created.end() && ids == &created_here->second) {
        for (size_t i = 0; i < group.size(); ++i) {
          const auto verdict = events.prestaged->matched.find(group[i]->id);
          if (group[i]->trigger != "created" || verdict == events.prestaged->matched.end()) continue;
          decided[i] = 1;
          for (int64_t row : verdict->second)
            if (const int64_t id = (*events.table_ids)[static_cast<size_t>(row)]; id >= 0) matched[i].push_back(id);
        }
      }
      for (size_t i = 0; i < group.size(); ++i) {
        if (decided[i]) continue;
        auto& compiled = compiled_for[group[i]];
        if (!compiled.first) compiled = {true, compile_condition(k, group[i]->condition)};
        if (compiled.second) {
          judged.push_back(compiled.second.get());
          by_judge.push_back(i);
        } else {
          filters.push_back(&group[i]->condition);
          by_sql.push_back(i);
        }
      }
      // An insert's rows, as yet untouched, are judged on its own table;
      // conditions on id or the store's times, and the rest, on a read.
      const auto inserted = events.table ? events.created.find(events.table_kind) : events.created.end();
      if (!judged.empty() && inserted != events.created.end() && ids == &inserted->second) {
        std::vector<const CompiledCondition*> on_table, rest;
        std::vector<size_t> at_table, at_rest;
        for (size_t j = 0; j < judged.size(); ++j) {
          const bool table = reads_fields_only(k, *judged[j]);
          (table ? on_table : rest).push_back(judged[j]);
          (table ? at_table : at_rest).push_back(by_judge[j]);
        }
        auto found = on_table.empty() ? std::nullopt : judge_rows(k, on_table, *events.table, *events.table_ids);
        if (found) {
          for (size_t j = 0; j < at_table.size(); ++j) matched[at_table[j]] = std::move((*found)[j]);
          judged = std::move(rest);
          by_judge = std::move(at_rest);
        }
      }
      if (!judged.empty()) {
        auto found = judge_each(*impl_, k, judged, *ids);
        for (size_t j = 0; j < by_judge.size(); ++j) matched[by_judge[j]] = std::move(found[j]);
      }
      if (!filters.empty()) {
        auto found = query_each_locked(k, filters, among(*ids));
        for (size_t j = 0; j < by_sql.size(); ++j) matched[by_sql[j]] = std::move(found[j]);
      }
      for (size_t i = 0; i < group.size(); ++i) {
        if (matched[i].empty()) continue;
        fired.push_back(quote(group[i]->name));
        if (!decided[i]) {
          act_on(*group[i], matched[i], next);
          continue;
        }
        const AutomationRule rest = without_record_actions(*group[i]);
        if (!rest.actions.empty()) act_on(rest, matched[i], next);
      }
    }
    if (events.prestaged) {
      // The fields and tags the insert's rows got from the rules changed
      // as an update would have changed them: "changed" rules follow.
      const auto& row_ids = *events.table_ids;
      for (const auto& [row, changes] : events.prestaged->changes) {
        if (row_ids[row] < 0) continue;
        for (const auto& change : changes) next.changed[{events.table_kind, change.first}].push_back(row_ids[row]);
      }
      note_prestaged(*impl_, events.table_kind, *events.prestaged, row_ids);
    }
    take_changes(*impl_, next);
    events = std::move(next);
  }
}

void Store::act_on(const AutomationRule& rule, const std::vector<int64_t>& ids, AutomationRound& next) {
  Impl& impl = *impl_;
  const Dialect dialect(impl.db);
  const Kind& k = impl.catalog.kind(rule.kind);
  int64_t before = 0;
  {
    sql::Statement& st = impl.prepared("SELECT coalesce(max(seq), 0) FROM audit_log");
    st.step();
    before = st.int64(0);
    st.reset();
  }
  sql::Batch batch(1);
  for (const auto& id : ids) batch.add_row()[0].set_int(id);
  const int64_t now = now_ns();
  const size_t n = ids.size();

  // What tasks and messages need of each record: its owner, customer,
  // contact, addresses, and the fields their texts name.
  struct Context {
    std::vector<int64_t> owner, customer, contact;
    std::vector<std::string> email, phone;
    std::vector<std::map<std::string, std::string>> values;
  };
  auto context = [&](const std::vector<std::string>& named) {
    const Field* owner = owner_field(k);
    const Field* customer = k.field("customer_id");
    const Field* contact = k.field("contact_id");
    const std::string c = k.name == "customers" ? "r.id" : customer && customer->ref_kind == "customers" ? "r.customer_id" : "NULL";
    const std::string p = k.name == "contacts" ? "r.id" : contact && contact->ref_kind == "contacts" ? "r.contact_id" : "NULL";
    std::string text = "SELECT " + (owner ? "r." + owner->name : std::string("NULL")) + ", " + c + ", " + p + ", " +
                       (k.field("email") ? "coalesce(r.email, c.email, p.email)" : "coalesce(c.email, p.email)") + ", " +
                       (k.field("phone") ? "coalesce(r.phone, c.phone, p.phone)" : "coalesce(c.phone, p.phone)");
    for (const auto& f : named) text += ", r." + k.field(f)->name;
    // (The rows in the ids' order: PostgreSQL's join keeps no order unasked.)
    text += " FROM crm_batch(?1) AS b" + std::string(dialect.cross_join()) + k.name +
            " AS r ON r.id = b.c0 LEFT JOIN customers AS c ON c.id = " + c + " LEFT JOIN contacts AS p ON p.id = " + p +
            (dialect.sqlite() ? "" : " ORDER BY b.rowid");
    sql::Statement& st = impl.prepared(text);
    sql::bind_batch(st, batch);
    Context out;
    while (st.step()) {
      out.owner.push_back(st.is_null(0) ? -1 : st.int64(0));
      out.customer.push_back(st.is_null(1) ? -1 : st.int64(1));
      out.contact.push_back(st.is_null(2) ? -1 : st.int64(2));
      out.email.push_back(st.text(3));
      out.phone.push_back(st.text(4));
      std::map<std::string, std::string> values;
      for (size_t i = 0; i < named.size(); ++i) {
        const int col = static_cast<int>(5 + i);
        // A real number as SQLite writes it (150.0; PostgreSQL's text is 150).
        if (dialect.sqlite() || k.field(named[i])->type != FieldType::Real || st.is_null(col)) {
          values[named[i]] = st.text(col);
          continue;
        }
        char text[64];
        sqlite3_snprintf(sizeof text, text, "%!.15g", st.real(col));
        values[named[i]] = text;
      }
      out.values.push_back(std::move(values));
    }
    st.reset();
    return out;
  };
  auto insert = [&](const char* kind_name, const Table& t) {
    WriteResult written;
    insert_rows(WriteRequest{WriteOp::Insert, &impl.catalog.kind(kind_name), &t, {}}, written);
    auto& created = next.created[kind_name];
    for (int64_t id : written.ids)
      if (id >= 0) created.push_back(id);
  };

  for (const auto& a : rule.actions) {
    const std::string what = text_of(a, "do");
    if (what == "tag") {
      WriteRequest req{WriteOp::Tags, &k, nullptr, ids};
      for (const char* key : {"add", "remove"}) {
        if (!a.contains(key)) continue;
        auto& into = std::string(key) == "add" ? req.tags_added : req.tags_removed;
        for (const auto& tag : a[key].is_array() ? a[key] : json::array({a[key]}))
          into.push_back(tag.is_string() ? tag.get<std::string>() : tag.dump());
      }
      WriteResult written;
      retag_rows(req, written);
    } else if (what == "set" || what == "assign") {
      std::string field = text_of(a, "field");
      if (field.empty()) field = owner_field(k)->name;
      const json& value = a[what == "set" ? "value" : "to"];
      Table t;
      t.columns.push_back(json_column(json::array({value})));
      Column& c = t.columns.front();
      c.name = field;
      if (k.field(field)->type == FieldType::Time && value.is_number_integer()) c.origin = Column::Origin::Time;
      // The one value, repeated for every record.
      Column repeated = c;
      repeated.ints.assign(c.storage == Column::Storage::Int ? n : 0, c.ints.empty() ? 0 : c.ints[0]);
      repeated.reals.assign(c.storage == Column::Storage::Real ? n : 0, c.reals.empty() ? 0 : c.reals[0]);
      repeated.texts.assign(c.storage == Column::Storage::Text ? n : 0, c.texts.empty() ? "" : c.texts[0]);
      repeated.valid.assign(n, c.valid.empty() ? 1 : c.valid[0]);
      t.columns.front() = std::move(repeated);
      std::vector<const Column*> columns(k.fields.size(), nullptr);
      columns[static_cast<size_t>(k.field(field) - k.fields.data())] = &t.columns.front();
      std::vector<size_t> rows(n);
      for (size_t r = 0; r < n; ++r) rows[r] = r;
      WriteResult written;
      written.ids.assign(n, -1);
      written.updated.assign(n, 0);
      update_existing(WriteRequest{WriteOp::UpdateRows, &k, &t, {}}, columns, rows, ids, written);
    } else if (what == "task") {
      const std::string subject = text_of(a, "subject");
      const Context ctx = context(template_fields(subject));
      // A due time before 1970 is negative: whether there is one is said apart.
      const bool has_due = a.contains("due_days") && a["due_days"].is_number();
      int64_t due = 0;
      if (has_due) {
        const double at = static_cast<double>(now) + a["due_days"].get<double>() * static_cast<double>(kNsPerDay);
        // Near the ends of the times the store keeps, now + due_days can pass them.
        if (!(at > -9.2233e18 && at < 9.2233e18))
          refuse(rule.id, "actions", "task: \"due_days\" " + a["due_days"].dump() +
                                         " from now passes the times the store keeps");
        due = static_cast<int64_t>(at);
      }
      Table t;
      t.columns = {Column("subject", Column::Storage::Text), Column("due_at", Column::Storage::Int),
                   Column("assignee_id", Column::Storage::Int), Column("customer_id", Column::Storage::Int),
                   Column("contact_id", Column::Storage::Int)};
      t.columns[1].origin = Column::Origin::Time;
      for (size_t r = 0; r < ctx.owner.size(); ++r) {
        add_text(t.columns[0], fill(subject, ctx.values[r]));
        add_int(t.columns[1], due, has_due);
        add_int(t.columns[2], ctx.owner[r], ctx.owner[r] >= 0);
        add_int(t.columns[3], ctx.customer[r], ctx.customer[r] >= 0);
        add_int(t.columns[4], ctx.contact[r], ctx.contact[r] >= 0);
      }
      insert("tasks", t);
    } else if (what == "message") {
      const std::string channel = a.contains("channel") ? text_of(a, "channel") : "email";
      const std::string subject = text_of(a, "subject"), body = text_of(a, "body");
      std::vector<std::string> named = template_fields(subject);
      for (auto& f : template_fields(body)) named.push_back(std::move(f));
      std::sort(named.begin(), named.end());
      named.erase(std::unique(named.begin(), named.end()), named.end());
      const Context ctx = context(named);
      Table t;
      for (const char* name : {"channel", "to_address", "subject", "body", "status", "error"})
        t.columns.emplace_back(name, Column::Storage::Text);
      for (const char* name : {"rule_id", "record_id", "customer_id", "attempts"})
        t.columns.emplace_back(name, Column::Storage::Int);
      for (size_t r = 0; r < ctx.owner.size(); ++r) {
        const std::string& to = channel == "email" ? ctx.email[r] : ctx.phone[r];
        add_text(t.columns[0], channel);
        add_text(t.columns[1], to, !to.empty());
        add_text(t.columns[2], fill(subject, ctx.values[r]));
        add_text(t.columns[3], fill(body, ctx.values[r]));
        // A record without an address still leaves its message, failed
        // and saying why, so that someone can add the address.
        add_text(t.columns[4], to.empty() ? "failed" : "queued");
        add_text(t.columns[5], "the record has no " + std::string(channel == "email" ? "e-mail address" : "phone number"),
                 to.empty());
        add_int(t.columns[6], rule.id);
        add_int(t.columns[7], ids[r]);
        add_int(t.columns[8], ctx.customer[r], ctx.customer[r] >= 0);
        add_int(t.columns[9], 0);
      }
      insert("outbox", t);
    } else if (what == "points") {
      // The members of the programme among the records' customers, who
      // joined by the record's date, earn its amount at the programme's
      // rate; a record already credited to a member is not credited again.
      const bool orders = k.name == "orders";
      const std::string at = orders ? "r.ordered_at" : "r.paid_at";
      sql::Statement& st = impl.prepared(
          "SELECT m.id, " + at + ", r.amount * coalesce(p.points_per_unit, 1.0), " +
          (orders ? "r.id" : "r.order_id") + ", p.expiry_days FROM crm_batch(?1) AS b" + dialect.cross_join() + k.name +
          " AS r ON r.id = b.c0 JOIN members AS m ON m.customer_id = r.customer_id AND m.status = 'active' AND"
          " m.joined_at <= " + at + " JOIN membership_programs AS p ON p.id = m.program_id AND p.name = ?2"
          " WHERE r.amount IS NOT NULL AND NOT EXISTS (SELECT 1 FROM points_ledger AS l WHERE l.member_id = m.id AND"
          " l.order_id" + dialect.is() + (orders ? "r.id" : "r.order_id") + " AND l.reason = 'earn' AND l.at = " + at + ")"
          " ORDER BY r.id");
      sql::bind_batch(st, batch);
      const std::string program = text_of(a, "program");
      st.bind(2, program);
      Table t;
      for (const char* name : {"member_id", "at", "order_id", "expires_at", "rule_id"})
        t.columns.emplace_back(name, Column::Storage::Int);
      t.columns[1].origin = t.columns[3].origin = Column::Origin::Time;
      t.columns.emplace_back("points", Column::Storage::Real);
      t.columns.emplace_back("reason", Column::Storage::Text);
      while (st.step()) {
        add_int(t.columns[0], st.int64(0));
        add_int(t.columns[1], st.int64(1));
        add_int(t.columns[2], st.is_null(3) ? 0 : st.int64(3), !st.is_null(3));
        add_int(t.columns[3], st.is_null(4) ? 0 : st.int64(1) + st.int64(4) * kNsPerDay, !st.is_null(4));
        add_int(t.columns[4], rule.id);
        t.columns[5].reals.push_back(st.real(2));
        t.columns[5].valid.push_back(1);
        add_text(t.columns[6], "earn");
      }
      st.reset();
      if (t.rows() > 0) insert("points_ledger", t);
    } else if (what == "playbook") {
      auto& started = next.started[{k.name, text_of(a, "name")}];
      started.insert(started.end(), ids.begin(), ids.end());
    }
  }
  // Every entry the actions left names the rule that caused it.
  sql::Statement& cause = impl.prepared("UPDATE audit_log SET cause_id = ?1 WHERE seq > ?2 AND cause_id IS NULL");
  cause.bind(1, rule.id).bind(2, before).run();
}

std::vector<int64_t> Store::run_rule(int64_t rule_id, const std::vector<int64_t>& ids,
                                     const std::vector<int64_t>& occasions, const std::vector<double>& values,
                                     int64_t now, bool act) {
  if (occasions.size() != ids.size() || values.size() != ids.size())
    throw Error("run_rule: ids, occasions and values must have the same length");
  std::lock_guard<std::mutex> lock(mutex_);
  Impl& impl = *impl_;
  const bool nested = transaction_depth_ > 0;
  // As every write begins (Store::write): the engine's write lock, and the
  // audit log's end noted for the seal (PostgreSQL numbers the entries from it).
  sql::exec(impl.db, nested ? "SAVEPOINT crm_write" : Dialect(impl.db).begin_write());
  std::vector<int64_t> acted;
  try {
    mark_audit(impl);
    impl.catalog.refresh(impl);
    impl.links.clear();
    prepare_automation();
    const std::vector<AutomationRule> found = load_rules(impl, "id = ?1", rule_id);
    if (found.empty()) throw NotFound("no automation_rules record with id " + std::to_string(rule_id));
    const AutomationRule& rule = found.front();
    std::vector<size_t> noted;  // the positions in `ids` that are noted as runs
    if (act) {
      acted = rule_matches(rule, ids);
      AutomationRound next;
      if (!acted.empty()) act_on(rule, acted, next);
      for (size_t i = 0; i < ids.size(); ++i)
        if (std::binary_search(acted.begin(), acted.end(), ids[i])) noted.push_back(i);
      take_changes(impl, next);
      run_automation_rounds(load_rules(impl, "coalesce(active, 1) <> 0 AND trigger IN ('created', 'changed', 'playbook')"),
                            next);
    } else {
      for (size_t i = 0; i < ids.size(); ++i) noted.push_back(i);
    }
    Table runs;
    for (const char* name : {"rule_id", "record_id", "occasion"}) runs.columns.emplace_back(name, Column::Storage::Int);
    runs.columns[2].origin = Column::Origin::Time;
    runs.columns.emplace_back("value", Column::Storage::Real);
    for (size_t i : noted) {
      add_int(runs.columns[0], rule.id);
      add_int(runs.columns[1], ids[i]);
      add_int(runs.columns[2], occasions[i]);
      runs.columns[3].reals.push_back(values[i]);
      runs.columns[3].valid.push_back(values[i] == values[i] ? 1 : 0);  // NaN: no value
    }
    const int64_t before_runs = [&] {
      sql::Statement& st = impl.prepared("SELECT coalesce(max(seq), 0) FROM audit_log");
      st.step();
      const int64_t seq = st.int64(0);
      st.reset();
      return seq;
    }();
    if (runs.rows() > 0) {
      WriteResult written;
      insert_rows(WriteRequest{WriteOp::Insert, &impl.catalog.kind("automation_runs"), &runs, {}}, written);
    }
    Table last;
    last.columns.emplace_back("last_run_at", Column::Storage::Int);
    last.columns[0].origin = Column::Origin::Time;
    add_int(last.columns[0], now);
    const Kind& rules_kind = impl.catalog.kind(kRules);
    std::vector<const Column*> columns(rules_kind.fields.size(), nullptr);
    columns[static_cast<size_t>(rules_kind.field("last_run_at") - rules_kind.fields.data())] = &last.columns[0];
    WriteResult written;
    written.ids.assign(1, -1);
    written.updated.assign(1, 0);
    update_existing(WriteRequest{WriteOp::UpdateRows, &rules_kind, &last, {}}, columns, {0}, {rule.id}, written);
    impl.prepared("UPDATE audit_log SET cause_id = ?1 WHERE seq > ?2 AND cause_id IS NULL")
        .bind(1, rule.id)
        .bind(2, before_runs)
        .run();
    AutomationRound bookkeeping;  // the rule's own last_run_at is no change for rules
    take_changes(impl, bookkeeping);
    commit_write(impl, actor_, nested ? "crm_write" : nullptr);
  } catch (...) {
    impl.audit_memory.entries.clear();
    undo_write(impl.db, nested ? "ROLLBACK TO crm_write; RELEASE crm_write" : "ROLLBACK");
    throw;
  }
  return acted;
}

}  // namespace crmcore::records
