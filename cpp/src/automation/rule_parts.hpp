#pragma once
// The parts of automation rules that both halves use: writing a rule (its
// actions checked against the kinds they act on, rule_checks.cpp) and running
// it (rules.cpp).
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "../records/store_impl.hpp"

namespace crmcore::records::rule_parts {

using json = nlohmann::json;

inline constexpr const char* kRules = "automation_rules";

// A rule refused: a ValidationError of automation_rules naming the rule and field.
[[noreturn]] void refuse(int64_t rule, const std::string& field, const std::string& reason);

// One column of condition or action values from JSON: text if any value is
// text (the field's type converts it, as an import does), else real if any
// is, else whole numbers; null is a missing value.
Column json_column(const json& values);

// The {field} names a template text refers to.
std::vector<std::string> template_fields(const std::string& text);

// An action's text under `key`, empty when it has none or it is not text.
std::string text_of(const json& action, const char* key);

// The staff field that names a record's owner: owner_id, staff_id or assignee_id.
const Field* owner_field(const Kind& k);

// Checks the actions against the kind they act on; names the first wrong one.
void check_actions(int64_t rule, const Kind& k, const json& actions);

// What check_actions cannot see from the kind alone (rule_checks.cpp).
void check_action_values(Store::Impl& impl, int64_t rule, const Kind& k, const json& actions, bool active);

}  // namespace crmcore::records::rule_parts
