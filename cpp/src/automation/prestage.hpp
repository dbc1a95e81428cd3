#pragma once
// The tag and field actions of "created" rules, applied to an insert's rows
// before they reach SQLite (see prestage.cpp). An update per acted-on record
// afterwards (its row rewritten, its old and new values captured, an audit
// entry hashed) cost ~20 us against ~2 us for the insert of the row itself;
// applied to the staged values, the tags and fields land with the insert,
// and the insert's one audit entry says which rule set what.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <nlohmann/json.hpp>

#include "../records/store_impl.hpp"
#include "crmcore/records/query.hpp"
#include "../records/values.hpp"

namespace crmcore::records {

struct PrestagedActions {
  // One rule's tag and field actions, in the order the rule lists them.
  struct Step {
    int64_t rule = -1;
    struct Action {
      size_t field = 0;  // a set or assign: the field's index in the kind, and its value
      Value value;
      bool tags = false;  // a tag action: these added, then these removed
      std::vector<std::string> add, remove;
    };
    std::vector<Action> actions;
    std::vector<std::string> fields, added, removed;  // what the step touches, for the audit entry
  };

  const Table* table = nullptr;  // the insert's table (the staging applies the steps to no other)
  std::vector<Step> steps;       // by rule id
  // The rows each "created" rule of the kind matched (row numbers of the
  // table, judged on its values as given), by rule id: the first round of
  // rules uses these instead of judging again.
  std::map<int64_t, std::vector<int64_t>> matched;
  // Per row of the table, the steps that act on it (an index into `combos`, -1: none).
  std::vector<int32_t> combo_of_row;
  std::vector<std::vector<uint32_t>> combos;
  // The rows whose values the steps changed: per row, field (or "tags") -> [old, new] as JSON text.
  std::map<size_t, std::vector<std::pair<std::string, std::pair<std::string, std::string>>>> changes;
  std::deque<std::string> texts;  // the set values' texts (a deque: they never move)

  // The row's fields and tags after the steps (values as coerce gave them).
  void apply_fields(size_t row, std::vector<Value>& values) const;
  void apply_tags(size_t row, Extras& extras) const;
};

// From rules.cpp: the kind's active "created" rules (by id), a column of
// action values from JSON, and the staff field naming a record's owner.
struct CreatedRule {
  int64_t id = -1;
  AnyOf condition;
  nlohmann::json actions;
};
std::vector<CreatedRule> active_created_rules(Store::Impl& impl, const std::string& kind);
Column rule_value_column(const nlohmann::json& values);
const Field* rule_owner_field(const Kind& k);

// Judges the kind's active "created" rules on the insert's table and, when
// every one can be judged there and some have tag or field actions, leaves
// the plan in impl.prestaged for insert_rows (else leaves it empty: the
// rules then act after the insert, as for any other write).
void prestage_automation(Store::Impl& impl, const WriteRequest& req);

// The plan for the table insert_rows is writing, or null.
const PrestagedActions* prestaged_for(const Store::Impl& impl, const Table& t, const std::vector<size_t>* only);

}  // namespace crmcore::records
