#include "rules.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

#include "custom_fields.hpp"

namespace crmcore::records {

namespace {

size_t index_of(const Kind& k, const std::string& name) { return static_cast<size_t>(k.field(name) - k.fields.data()); }

// "contact" for the kind "contacts", in messages.
std::string singular(const std::string& kind) {
  return !kind.empty() && kind.back() == 's' ? kind.substr(0, kind.size() - 1) : kind;
}

std::string shown(const Value& v) {
  switch (v.type) {
    case Value::Type::Null: return "(none)";
    case Value::Type::Int: return std::to_string(v.i);
    case Value::Type::Real: return std::to_string(v.r);
    case Value::Type::Text: return quote(*v.text);
  }
  return "?";
}

// A row's values as the record will hold them: those the write gives, and
// for an update the stored ones of the other fields (read once, if asked).
class RowView {
 public:
  RowView(Store::Impl& impl, const Kind& k, const std::vector<Value>& values, const std::vector<bool>& given,
          int64_t id)
      : impl_(impl), kind_(k), values_(values), given_(given), id_(id) {}

  bool given(size_t field) const { return id_ < 0 || given_[field]; }
  const Value& at(size_t field) {
    if (given(field)) return values_[field];
    if (stored_.empty()) load();
    return stored_[field];
  }

 private:
  void load() {
    std::string columns;
    for (const auto& f : kind_.fields) columns += (columns.empty() ? "" : ", ") + f.name;
    auto& st = impl_.prepared("SELECT " + columns + " FROM " + kind_.name + " WHERE id = ?");
    st.bind(1, id_);
    stored_.resize(kind_.fields.size());  // sized once: a text value points into its own element
    if (st.step()) {
      for (size_t i = 0; i < stored_.size(); ++i) {
        const int c = static_cast<int>(i);
        if (st.is_null(c)) continue;
        // SQLite says what the cell holds; PostgreSQL's column has its field's type.
        const int type = st.on_sqlite() ? sqlite3_column_type(st.get(), c)
                         : kind_.fields[i].type == FieldType::Text ? SQLITE_TEXT
                         : kind_.fields[i].type == FieldType::Real ? SQLITE_FLOAT
                                                                   : SQLITE_INTEGER;
        switch (type) {
          case SQLITE_INTEGER: stored_[i].set_int(st.int64(c)); break;
          case SQLITE_FLOAT: stored_[i].set_real(st.real(c)); break;
          default: stored_[i].own_text(st.text(c)); break;
        }
      }
    }
    st.reset();
  }

  Store::Impl& impl_;
  const Kind& kind_;
  const std::vector<Value>& values_;
  const std::vector<bool>& given_;
  int64_t id_;
  std::vector<Value> stored_;
};

// The products of a row's own numbers that the analyses take: a line's
// value and cost (sales attainment, profit, product profit), a purchase's
// and a stock movement's value (stock valuation), an invoice line's total
// with its tax (`plus_one`: times 1 + that field). Each is finite whenever
// its factors are not missing: 1e200 x 1e200 was stored, and attainment
// then showed inf. (Sums of many such values are the analyses' to flag.)
struct Product {
  const char* kind;
  std::array<const char*, 2> factors;
  const char* plus_one;
};
constexpr Product kProducts[] = {
    {"order_lines", {"quantity", "unit_price"}, nullptr},      {"order_lines", {"quantity", "unit_cost"}, nullptr},
    {"invoice_lines", {"quantity", "unit_price"}, "tax_rate"}, {"purchase_lines", {"quantity", "unit_cost"}, nullptr},
    {"stock_movements", {"quantity", "unit_cost"}, nullptr},
};

double number_of(const Value& v) {
  if (v.type == Value::Type::Int) return static_cast<double>(v.i);
  if (v.type == Value::Type::Real) return v.r;
  return std::numeric_limits<double>::quiet_NaN();  // missing (text is refused before the rules)
}

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

// Refuses a row whose product of `kProducts` passes what a double holds,
// naming the factor the write gives (the larger, when it gives both).
void check_products(const Kind& k, RowView& row) {
  for (const Product& p : kProducts) {
    if (k.name != p.kind) continue;
    const char* const pa = p.factors[0];
    const char* const pb = p.factors[1];
    const Field* c = p.plus_one ? k.field(p.plus_one) : nullptr;
    if (!k.field(pa) || !k.field(pb) || (p.plus_one && !c)) continue;
    const size_t ia = index_of(k, pa), ib = index_of(k, pb), ic = c ? index_of(k, p.plus_one) : 0;
    if (!row.given(ia) && !row.given(ib) && !(c && row.given(ic))) continue;
    const double a = number_of(row.at(ia)), b = number_of(row.at(ib));
    double value = a * b;
    if (c && !std::isnan(number_of(row.at(ic)))) value *= 1 + number_of(row.at(ic));
    if (std::isnan(a) || std::isnan(b) || std::isfinite(value)) continue;
    const bool name_a = row.given(ia) && (!row.given(ib) || std::fabs(a) >= std::fabs(b));
    throw RowFailure{name_a ? pa : pb,
                     std::string(pa) + " x " + pb + (c ? std::string(" x (1 + ") + p.plus_one + ")" : "") + " (" +
                         number_text(a) + " x " + number_text(b) +
                         ") is more than a number holds (past 1.8e308): the " + singular(k.name) +
                         "'s value would be infinite"};
  }
}

// The record of `k` other than `id` that has the row's values of the rule's
// fields (and its `when` set), or -1.
int64_t conflicting_record(Store::Impl& impl, const Kind& k, const UniqueRule& rule,
                           const std::vector<const Value*>& values, int64_t id) {
  std::string where;
  for (size_t i = 0; i < rule.fields.size(); ++i) where += rule.fields[i] + " = ?" + std::to_string(i + 1) + " AND ";
  if (!rule.when.empty()) where += rule.when + " = 1 AND ";
  const int id_param = static_cast<int>(rule.fields.size()) + 1;
  auto& st = impl.prepared("SELECT id FROM " + k.name + " WHERE " + where + "id <> ?" + std::to_string(id_param) +
                           " LIMIT 1");
  for (size_t i = 0; i < values.size(); ++i) bind_value(st, static_cast<int>(i) + 1, *values[i]);
  st.bind(id_param, id);
  const int64_t other = st.step() ? st.int64(0) : -1;
  st.reset();
  return other;
}

// The refusal of a row that breaks `rule` with the record `other`.
RowFailure broken_rule(Store::Impl& impl, const Kind& k, const UniqueRule& rule,
                       const std::vector<const Value*>& values, int64_t other) {
  std::string has;
  for (size_t i = 0; i < rule.fields.size(); ++i) has += (i ? ", " : "") + rule.fields[i] + "=" + shown(*values[i]);
  std::string reason = rule.why + ": " + k.name + " record " + std::to_string(other) + " has " + has;
  if (rule.when.empty()) return {rule.fields.back(), reason + " already; update that record instead"};
  // Where the other record holds the flag, by its references outside the rule.
  std::string where;
  for (const auto& f : k.fields) {
    if (f.type != FieldType::Ref || std::find(rule.fields.begin(), rule.fields.end(), f.name) != rule.fields.end())
      continue;
    auto& st = impl.prepared("SELECT " + f.name + " FROM " + k.name + " WHERE id = ?");
    st.bind(1, other);
    if (st.step() && !st.is_null(0)) where += (where.empty() ? " (" : ", ") + f.name + "=" + std::to_string(st.int64(0));
    st.reset();
  }
  return {rule.when, reason + " and " + rule.when + " already" + (where.empty() ? "" : where + ")") + "; unset " +
                         rule.when + " there first"};
}

// The kind that links records of `owner_kind` to records of `member_kind`
// (customer_contacts for customers and contacts), with its two fields.
struct LinkKind {
  const Kind* kind = nullptr;
  const Field* owner = nullptr;
  const Field* member = nullptr;
};
LinkKind link_kind(const std::string& owner_kind, const std::string& member_kind) {
  for (const auto& k : kinds()) {
    if (!k.cascade_on_delete) continue;
    LinkKind link{&k};
    for (const auto& f : k.fields) {
      if (f.type != FieldType::Ref) continue;
      if (f.ref_kind == owner_kind && !link.owner) link.owner = &f;
      else if (f.ref_kind == member_kind && !link.member) link.member = &f;
    }
    if (link.owner && link.member) return link;
  }
  return {};
}

}  // namespace

bool LinkCache::linked(Store::Impl& impl, const std::string& table, const std::string& owner_field,
                       const std::string& member_field, int64_t owner, int64_t member) {
  constexpr size_t kAskedBeforeLoading = 1024;
  constexpr size_t kMostPairs = size_t{1} << 23;  // 128 MiB of pairs at most
  Pairs& pairs = tables_[table];
  if (!pairs.loaded && !pairs.too_many && ++pairs.asked > kAskedBeforeLoading) {
    // The pair index (a unique rule) hands them over in order.
    sql::Statement all(impl.db, "SELECT " + owner_field + ", " + member_field + " FROM " + table + " ORDER BY " +
                                    owner_field + ", " + member_field);
    while (all.step() && !pairs.too_many) {
      pairs.sorted.emplace_back(all.int64(0), all.int64(1));
      pairs.too_many = pairs.sorted.size() > kMostPairs;
    }
    pairs.loaded = !pairs.too_many;
    if (pairs.too_many) std::vector<std::pair<int64_t, int64_t>>().swap(pairs.sorted);
  }
  if (pairs.loaded) return std::binary_search(pairs.sorted.begin(), pairs.sorted.end(), std::make_pair(owner, member));
  auto& st = impl.prepared("SELECT 1 FROM " + table + " WHERE " + owner_field + " = ? AND " + member_field +
                           " = ? LIMIT 1");
  st.bind(1, owner).bind(2, member);
  const bool found = st.step();
  st.reset();
  return found;
}

namespace {

// The unique rules of the kind for an update of record `id`.
void check_unique_rules(Store::Impl& impl, const Kind& k, RowView& row, int64_t id) {
  std::vector<const Value*> rule_values;
  for (const auto& rule : k.unique_rules) {
    // An update that sets none of the rule's fields leaves it as it was.
    bool touched = !rule.when.empty() && row.given(index_of(k, rule.when));
    for (const auto& name : rule.fields) touched = touched || row.given(index_of(k, name));
    if (!touched) continue;
    if (!rule.when.empty()) {
      const Value& flag = row.at(index_of(k, rule.when));
      if (flag.type != Value::Type::Int || flag.i != 1) continue;
    }
    rule_values.clear();
    for (const auto& name : rule.fields) rule_values.push_back(&row.at(index_of(k, name)));
    if (std::any_of(rule_values.begin(), rule_values.end(), [](const Value* v) { return v->type == Value::Type::Null; }))
      continue;  // SQL's unique indexes let missing values repeat
    const int64_t other = conflicting_record(impl, k, rule, rule_values, id);
    if (other >= 0) throw broken_rule(impl, k, rule, rule_values, other);
  }
}

}  // namespace

void check_row_rules(Store::Impl& impl, const Kind& k, const std::vector<Value>& values,
                     const std::vector<bool>& given, int64_t id, std::string& custom, bool custom_written) {
  if (custom_written) check_custom(k, custom);
  RowView row(impl, k, values, given, id);
  check_products(k, row);
  // A new record that breaks a unique rule is refused by the rule's index,
  // and explained then with all its values (explain_unique_rule); an update
  // is checked here, where the stored half of its values is at hand.
  if (id >= 0) check_unique_rules(impl, k, row, id);
  for (size_t i = 0; i < k.fields.size(); ++i) {
    const Field& f = k.fields[i];
    if (f.linked_to.empty()) continue;
    const size_t o = index_of(k, f.linked_to);
    if (!row.given(i) && !row.given(o)) continue;
    const Value& member = row.at(i);
    const Value& owner = row.at(o);
    if (member.type != Value::Type::Int || owner.type != Value::Type::Int) continue;
    const Field& owner_field = k.fields[o];
    const LinkKind link = link_kind(owner_field.ref_kind, f.ref_kind);
    if (!link.kind) continue;
    if (!impl.links.linked(impl, link.kind->name, link.owner->name, link.member->name, owner.i, member.i))
      throw RowFailure{f.name, singular(f.ref_kind) + " " + std::to_string(member.i) + " is not linked to " +
                                   singular(owner_field.ref_kind) + " " + std::to_string(owner.i) + " (no " +
                                   link.kind->name + " record joins them): link them first, or leave " +
                                   owner_field.name + " empty"};
  }
}

void check_update_rules(Store::Impl& impl, const Kind& k, const std::vector<const Field*>& fields,
                        const std::vector<Value>& values, int64_t id, std::string& custom, bool custom_written) {
  std::vector<Value> by_field(k.fields.size());
  std::vector<bool> given(k.fields.size(), false);
  for (size_t i = 0; i < fields.size(); ++i) {
    const size_t j = static_cast<size_t>(fields[i] - k.fields.data());
    by_field[j] = values[i];  // text still points at the caller's value, which outlives the check
    given[j] = true;
  }
  check_row_rules(impl, k, by_field, given, id, custom, custom_written);
}

const UniqueRule* rule_broken_by_move(Store::Impl& impl, const Kind& k, int64_t id, const std::string& field,
                                      int64_t value) {
  if (k.unique_rules.empty()) return nullptr;
  std::vector<Value> values(k.fields.size());
  const std::vector<bool> given(k.fields.size(), false);
  RowView stored(impl, k, values, given, id);  // every field as stored
  Value moved;
  moved.set_int(value);
  std::vector<const Value*> rule_values;
  for (const bool flagged : {false, true}) {
    for (const auto& rule : k.unique_rules) {
      if (rule.when.empty() == flagged) continue;
      if (std::find(rule.fields.begin(), rule.fields.end(), field) == rule.fields.end()) continue;
      if (flagged) {
        const Value& flag = stored.at(index_of(k, rule.when));
        if (flag.type != Value::Type::Int || flag.i != 1) continue;
      }
      rule_values.clear();
      for (const auto& name : rule.fields) rule_values.push_back(name == field ? &moved : &stored.at(index_of(k, name)));
      if (std::any_of(rule_values.begin(), rule_values.end(), [](const Value* v) { return v->type == Value::Type::Null; }))
        continue;
      if (conflicting_record(impl, k, rule, rule_values, id) >= 0) return &rule;
    }
  }
  return nullptr;
}

std::optional<RowFailure> explain_unique_rule(Store::Impl& impl, const Kind& k, const std::vector<Value>& values,
                                              const std::string& message) {
  // SQLite names the columns of the index it stopped at: that rule first,
  // when the row breaks several. (PostgreSQL names the index: the rules in order.)
  std::vector<const UniqueRule*> rules;
  for (const auto& rule : k.unique_rules) {
    std::string columns;
    for (const auto& name : rule.fields) columns += (columns.empty() ? "" : ", ") + k.name + "." + name;
    rules.insert(message == "UNIQUE constraint failed: " + columns ? rules.begin() : rules.end(), &rule);
  }
  std::vector<const Value*> rule_values;
  for (const UniqueRule* broken : rules) {
    const UniqueRule& rule = *broken;
    if (!rule.when.empty()) {
      const size_t w = index_of(k, rule.when);
      if (w >= values.size() || values[w].type != Value::Type::Int || values[w].i != 1) continue;
    }
    rule_values.clear();
    for (const auto& name : rule.fields) {
      const size_t i = index_of(k, name);
      if (i < values.size() && values[i].type != Value::Type::Null) rule_values.push_back(&values[i]);
    }
    if (rule_values.size() != rule.fields.size()) continue;
    const int64_t other = conflicting_record(impl, k, rule, rule_values, -1);
    if (other >= 0) return broken_rule(impl, k, rule, rule_values, other);
  }
  return std::nullopt;
}

}  // namespace crmcore::records
