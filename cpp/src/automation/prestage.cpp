// The tag and field actions of "created" rules applied to an insert's rows
// as they are staged (see prestage.hpp). The conditions are judged once, on
// the caller's table with each value converted as the insert converts it
// (judge_rows), in the same way as the first round of rules judges an
// untouched insert; the actions then run in rule order over those verdicts,
// so a record ends as the updates after the insert would have left it. The
// rules' other actions (tasks, messages, points, playbooks) still run after
// the insert, in bulk, on the verdicts kept here.
#include "prestage.hpp"

#include <algorithm>
#include <numeric>
#include <set>

#include "crmcore/records/normalize.hpp"
#include "judge.hpp"

namespace crmcore::records {

namespace {

using json = nlohmann::json;

// Kinds whose new rows the write path's own rules rewrite after the insert
// (a deal's probability, a ticket's status, an invoice's amount and status,
// stock and purchase bookkeeping): their conditions are judged on the
// records as those rules leave them, after the insert, as before.
const std::set<std::string> kRewrittenOnInsert = {"deals", "tickets", "invoices", "invoice_lines", "payments",
                                                  "credit_applications", "stock_movements", "purchase_lines",
                                                  "purchase_orders"};

std::string json_text(const Value& v) {
  switch (v.type) {
    case Value::Type::Null: return "null";
    case Value::Type::Int: return std::to_string(v.i);
    case Value::Type::Real: return json(v.r).dump();
    case Value::Type::Text: return json(*v.text).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return "null";
}

std::string tags_json(const std::string& joined) {
  return joined.empty() ? "null" : json(joined).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<std::string> tag_list(const json& a, const char* key) {
  std::vector<std::string> out;
  if (!a.contains(key)) return out;
  for (const auto& tag : a[key].is_array() ? a[key] : json::array({a[key]}))
    out.push_back(tag.is_string() ? tag.get<std::string>() : tag.dump());
  return out;
}

// One rule's tag and field actions made ready for the staging; false when
// one cannot be applied there (a value the field refuses, a missing staff
// record, a phone or e-mail field with lookups): the rules then act after
// the insert and report it as they always did.
bool make_step(Store::Impl& impl, const Kind& k, const CreatedRule& rule, PrestagedActions& plan,
               PrestagedActions::Step& step) {
  step.rule = rule.id;
  for (const auto& a : rule.actions) {
    const std::string what = a.value("do", "");
    if (what == "tag") {
      PrestagedActions::Step::Action act;
      act.tags = true;
      // The added tags are read as a record's tags are (each one tag, no control characters).
      try {
        act.add = read_tag_list(tag_list(a, "add"));
      } catch (const RowFailure&) {
        return false;
      }
      act.remove = tag_list(a, "remove");
      step.added.insert(step.added.end(), act.add.begin(), act.add.end());
      step.removed.insert(step.removed.end(), act.remove.begin(), act.remove.end());
      step.actions.push_back(std::move(act));
    } else if (what == "set" || what == "assign") {
      std::string name = a.value("field", "");
      if (name.empty() && what == "assign" && rule_owner_field(k)) name = rule_owner_field(k)->name;
      const Field* f = k.field(name);
      if (!f || f->lookup != Lookup::None || f->type == FieldType::AnyRef) return false;
      const json& given = a[what == "set" ? "value" : "to"];
      Column c = rule_value_column(json::array({given}));
      c.name = name;
      if (f->type == FieldType::Time && given.is_number_integer()) c.origin = Column::Origin::Time;
      PrestagedActions::Step::Action act;
      try {
        coerce(*f, &c, 0, act.value);
      } catch (const RowFailure&) {
        return false;
      }
      if (act.value.type == Value::Type::Text) {
        plan.texts.push_back(*act.value.text);
        act.value.owned.clear();
        act.value.set_text(plan.texts.back());
      }
      if (f->type == FieldType::Ref && act.value.type == Value::Type::Int && !impl.has(f->ref_kind, act.value.i))
        return false;
      act.field = static_cast<size_t>(f - k.fields.data());
      step.fields.push_back(name);
      step.actions.push_back(std::move(act));
    }
  }
  return true;
}

}  // namespace

void PrestagedActions::apply_fields(size_t row, std::vector<Value>& values) const {
  const int32_t combo = combo_of_row[row];
  if (combo < 0) return;
  for (uint32_t s : combos[static_cast<size_t>(combo)])
    for (const auto& act : steps[s].actions) {
      if (act.tags) continue;
      // A copy that points at the plan's text (never at another Value's own).
      Value& v = values[act.field];
      v.type = act.value.type, v.i = act.value.i, v.r = act.value.r, v.text = act.value.text;
    }
}

void PrestagedActions::apply_tags(size_t row, Extras& extras) const {
  const int32_t combo = combo_of_row[row];
  if (combo < 0) return;
  bool changed = false;
  for (uint32_t s : combos[static_cast<size_t>(combo)])
    for (const auto& act : steps[s].actions) {
      if (!act.tags) continue;
      // As Store::retag: the removed ones go, then the added ones not there yet join.
      for (const auto& tag : act.remove) {
        const auto at = std::find(extras.tags.begin(), extras.tags.end(), tag);
        if (at != extras.tags.end()) extras.tags.erase(at), changed = true;
      }
      for (const auto& tag : act.add)
        if (std::find(extras.tags.begin(), extras.tags.end(), tag) == extras.tags.end())
          extras.tags.push_back(tag), changed = true;
    }
  if (changed) extras.tags_text = extras.tags.empty() ? std::string() : join_tags(extras.tags);
}

void prestage_automation(Store::Impl& impl, const WriteRequest& req) {
  impl.prestaged.reset();
  if (req.op != WriteOp::Insert || !req.table || kRewrittenOnInsert.count(req.kind->name)) return;
  const Kind& k = *req.kind;
  const Table& t = *req.table;
  const std::vector<CreatedRule> rules = active_created_rules(impl, k.name);
  if (rules.empty()) return;
  std::vector<std::shared_ptr<const CompiledCondition>> compiled;
  std::vector<const CompiledCondition*> conditions;
  bool acts_on_records = false;
  for (const auto& rule : rules) {
    compiled.push_back(compile_condition(k, rule.condition));
    if (!compiled.back() || !reads_fields_only(k, *compiled.back())) return;
    conditions.push_back(compiled.back().get());
    for (const auto& a : rule.actions) {
      const std::string what = a.is_object() ? a.value("do", "") : "";
      acts_on_records = acts_on_records || what == "tag" || what == "set" || what == "assign";
    }
  }
  if (!acts_on_records) return;  // tasks and messages only: the rules after the insert cost no more
  std::vector<int64_t> rows(t.rows());
  std::iota(rows.begin(), rows.end(), int64_t{0});
  auto found = judge_rows(k, conditions, t, rows);
  if (!found) return;

  auto plan = std::make_shared<PrestagedActions>();
  plan->table = &t;
  std::vector<std::pair<int64_t, uint32_t>> acting;  // (row, step)
  for (size_t i = 0; i < rules.size(); ++i) {
    PrestagedActions::Step step;
    if (!make_step(impl, k, rules[i], *plan, step)) return;
    if (!step.actions.empty()) {
      for (int64_t row : (*found)[i]) acting.emplace_back(row, static_cast<uint32_t>(plan->steps.size()));
      plan->steps.push_back(std::move(step));
    }
    plan->matched[rules[i].id] = std::move((*found)[i]);
  }
  // Rows acted on by the same rules share one list of steps.
  std::sort(acting.begin(), acting.end());
  plan->combo_of_row.assign(t.rows(), -1);
  std::map<std::vector<uint32_t>, int32_t> combo_ids;
  std::vector<size_t> acted;
  for (size_t i = 0; i < acting.size();) {
    std::vector<uint32_t> steps;
    const int64_t row = acting[i].first;
    for (; i < acting.size() && acting[i].first == row; ++i) steps.push_back(acting[i].second);
    auto [it, added] = combo_ids.emplace(steps, static_cast<int32_t>(plan->combos.size()));
    if (added) plan->combos.push_back(std::move(steps));
    plan->combo_of_row[static_cast<size_t>(row)] = it->second;
    acted.push_back(static_cast<size_t>(row));
  }
  // What the steps change in each acted-on row, as an update's entry says
  // it ([old, new] per field): for the insert's entry and the "changed" rules.
  std::set<size_t> touched;
  for (const auto& step : plan->steps)
    for (const auto& act : step.actions)
      if (!act.tags) touched.insert(act.field);
  bool tags = std::any_of(plan->steps.begin(), plan->steps.end(),
                          [](const auto& s) { return !s.added.empty() || !s.removed.empty(); });
  std::vector<Value> before(k.fields.size()), after(k.fields.size());
  const Column* tag_column = t.find(kTagsColumn);
  for (size_t row : acted) {
    auto& out = plan->changes[row];
    try {
      for (size_t f : touched) coerce(k.fields[f], t.find(k.fields[f].name), row, before[f]);
      for (size_t f : touched) {
        after[f].owned.clear();
        after[f].type = before[f].type, after[f].i = before[f].i, after[f].r = before[f].r;
        after[f].text = before[f].text;  // (before's own text, if any, outlives the comparison)
      }
      plan->apply_fields(row, after);
      for (size_t f : touched) {
        const std::string old_text = json_text(before[f]), new_text = json_text(after[f]);
        if (old_text != new_text) out.push_back({k.fields[f].name, {old_text, new_text}});
      }
      if (tags) {
        Extras extras;
        read_extras(tag_column, nullptr, row, extras);
        const std::string old_text = tags_json(extras.tags_text);
        plan->apply_tags(row, extras);
        const std::string new_text = tags_json(extras.tags_text);
        if (old_text != new_text) out.push_back({kTagsColumn, {old_text, new_text}});
      }
    } catch (const RowFailure&) {
      // The row fails its own checks: it does not land, and changes nothing.
    }
    if (out.empty()) plan->changes.erase(row);
  }
  impl.prestaged = std::move(plan);
}

const PrestagedActions* prestaged_for(const Store::Impl& impl, const Table& t, const std::vector<size_t>* only) {
  return !only && impl.prestaged && impl.prestaged->table == &t ? impl.prestaged.get() : nullptr;
}

}  // namespace crmcore::records
