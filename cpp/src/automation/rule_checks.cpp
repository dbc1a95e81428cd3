// Automation rules checked when they are written: every action against the
// kind it acts on (check_actions), and what the kind alone cannot tell, the
// values the records they land in would take (check_action_values). A rule
// that only failed when it acted would undo every write that sets it off.
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "../records/batch.hpp"
#include "rule_parts.hpp"
#include "crmcore/errors.hpp"

namespace crmcore::records::rule_parts {

namespace {

const std::set<std::string> kActions = {"task", "tag", "set", "assign", "message", "playbook", "points"};

// The longest span a task action's due_days may ask for: a century, as
// the Python arguments' MAX_DAYS (crmcore/_args.py).
constexpr int kMaxActionDays = 36525;

}  // namespace

void check_actions(int64_t rule, const Kind& k, const json& actions) {
  if (!actions.is_array() || actions.empty())
    refuse(rule, "actions", "is a list of actions such as [{\"do\": \"tag\", \"add\": [\"vip\"]}]");
  for (const auto& a : actions) {
    const std::string what = a.is_object() ? text_of(a, "do") : "";
    if (!kActions.count(what))
      refuse(rule, "actions",
             "an action's \"do\" is one of task, tag, set, assign, message, playbook, points; got " + a.dump());
    for (const char* key : {"subject", "body"})
      for (const auto& name : template_fields(text_of(a, key)))
        if (!k.field(name)) refuse(rule, "actions", "{" + name + "} in " + key + " is not a field of " + k.name);
    // A subject or body that is not text would be sent empty.
    for (const char* key : {"subject", "body"})
      if (a.contains(key) && !a[key].is_string())
        refuse(rule, "actions", what + ": \"" + key + "\" is a text, not " + a[key].dump());
    if (what == "task" && text_of(a, "subject").empty()) refuse(rule, "actions", "a task needs a \"subject\"");
    if (what == "task" && a.contains("due_days")) {
      // Beyond the span the store's times can take, the task would be
      // written without a due time; a text would be dropped the same way.
      const json& due = a["due_days"];
      if (!due.is_number() || !(std::abs(due.get<double>()) <= kMaxActionDays))
        refuse(rule, "actions", "task: \"due_days\" is a number of days from -" + std::to_string(kMaxActionDays) +
                                    " to " + std::to_string(kMaxActionDays) + ", not " + due.dump());
    }
    if (what == "tag") {
      for (const char* key : {"add", "remove"}) {
        if (!a.contains(key)) continue;
        if (!(a[key].is_array() || a[key].is_string()))
          refuse(rule, "actions", std::string("tag: \"") + key + "\" is a tag or a list of tags");
        // Each tag is one text: a list, number or null would be kept as its JSON spelling.
        for (const auto& tag : a[key].is_array() ? a[key] : json::array({a[key]}))
          if (!tag.is_string())
            refuse(rule, "actions", std::string("tag: each tag in \"") + key + "\" is a text, not " + tag.dump());
      }
      if (!a.contains("add") && !a.contains("remove")) refuse(rule, "actions", "tag: give \"add\" or \"remove\"");
    }
    if (what == "set" || what == "assign") {
      std::string field = text_of(a, "field");
      if (field.empty() && what == "assign" && owner_field(k)) field = owner_field(k)->name;
      if (!k.field(field)) refuse(rule, "actions", what + ": " + quote(field) + " is not a field of " + k.name);
      if (!a.contains(what == "set" ? "value" : "to")) refuse(rule, "actions", what + " needs a \"" + (what == "set" ? "value" : "to") + "\"");
    }
    if (what == "message") {
      const std::string channel = a.contains("channel") ? text_of(a, "channel") : "email";
      if (channel != "email" && channel != "sms" && channel != "wechat")
        refuse(rule, "actions", "message: the channel is email, sms or wechat, not " + quote(channel));
    }
    if (what == "playbook" && text_of(a, "name").empty()) refuse(rule, "actions", "playbook: give its \"name\"");
    if (what == "points") {
      if (text_of(a, "program").empty()) refuse(rule, "actions", "points: give the \"program\" (its name)");
      if (k.name != "orders" && k.name != "payments")
        refuse(rule, "actions", "points are earned from orders or payments, not " + k.name);
    }
  }
}

// What check_actions cannot see from the kind alone: a set or assign value
// the field would refuse (a text for an amount, a staff id that is not
// there) and a points programme that does not exist. Refused when the rule
// is written: found only when it acts, such a rule would undo every write
// of its kind (or, for points, earn nothing without a word). The records
// named must exist only for an active rule: a rule whose staff record or
// programme went since can still be switched off.
void check_action_values(Store::Impl& impl, int64_t rule, const Kind& k, const json& actions, bool active) {
  for (const auto& a : actions) {
    const std::string what = text_of(a, "do");
    // The texts an action writes (a task's subject, a message's subject and
    // body, the tags it adds) as the records they land in take them: one
    // with a NUL byte or a control character in a tag would refuse every
    // write that sets the rule off.
    if (what == "task" || what == "message") {
      const Kind& into = impl.catalog.kind(what == "task" ? "tasks" : "outbox");
      for (const char* key : {"subject", "body"}) {
        if (!a.contains(key) || !into.field(key)) continue;
        Column c = json_column(json::array({a[key]}));
        c.name = key;
        Value v;
        try {
          coerce(*into.field(key), &c, 0, v);
        } catch (const RowFailure& e) {
          refuse(rule, "actions", what + ": \"" + key + "\" " + e.reason);
        }
      }
    }
    if (what == "tag" && a.contains("add")) {
      const json& add = a["add"];
      std::vector<std::string> tags;
      for (const auto& tag : add.is_array() ? add : json::array({add})) tags.push_back(tag.get<std::string>());
      try {
        read_tag_list(tags);
      } catch (const RowFailure& e) {
        refuse(rule, "actions", "tag: " + e.reason);
      }
    }
    if (what == "set" || what == "assign") {
      std::string name = text_of(a, "field");
      if (name.empty()) name = owner_field(k)->name;  // check_actions made sure there is one
      const Field& f = *k.field(name);
      const json& given = a[what == "set" ? "value" : "to"];
      Column c = json_column(json::array({given}));
      c.name = name;
      if (f.type == FieldType::Time && given.is_number_integer()) c.origin = Column::Origin::Time;
      Value v;
      try {
        coerce(f, &c, 0, v);
      } catch (const RowFailure& e) {
        refuse(rule, "actions", what + ": " + given.dump() + " for " + k.name + "." + name + ": " + e.reason);
      }
      if (active && f.type == FieldType::Ref && v.type == Value::Type::Int && !impl.has(f.ref_kind, v.i))
        refuse(rule, "actions", what + ": " + k.name + "." + name + " refers to " + f.ref_kind + ", which has no record " +
                                    std::to_string(v.i));
    }
    if (what == "points" && active) {
      const std::string program = text_of(a, "program");
      sql::Statement& st = impl.prepared("SELECT 1 FROM membership_programs WHERE name = ?1");
      st.bind(1, program);
      const bool found = st.step();
      st.reset();
      if (!found) refuse(rule, "actions", "points: there is no membership programme " + quote(program));
    }
  }
}

}  // namespace crmcore::records::rule_parts
