// The organisation as one user sees it: who they reach, the territories
// they work, the shares made to them and the field rules of their role,
// read from the store's records; and each kind's rights, computed from its
// records' owners and parents (see the rules in access.hpp).
#include "organisation.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <numeric>

namespace crmcore::access {

using records::Column;
using records::Table;

namespace {

const std::map<std::string, KindRule>& rules() {
  // Owned kinds name their owner; the others follow their parents.
  static const std::map<std::string, KindRule> all = {
      {"customers", {"owner_id", {}}},
      {"contacts", {"owner_id", {}}},
      {"deals", {"owner_id", {"customer_id"}}},
      {"tickets", {"owner_id", {"customer_id", "contact_id"}}},
      {"tasks", {"assignee_id", {"customer_id", "contact_id"}}},
      {"customer_contacts", {"", {"customer_id", "contact_id"}}},
      {"orders", {"", {"customer_id"}}},
      {"order_lines", {"", {"order_id"}}},
      {"payments", {"", {"customer_id", "order_id", "invoice_id"}}},
      {"interactions", {"", {"customer_id", "contact_id"}}},
      {"deal_stages", {"", {"deal_id"}}},
      {"surveys", {"", {"customer_id", "contact_id"}}},
      {"campaign_members", {"", {"customer_id", "contact_id"}}},
      // The domains' kinds about a customer (sales operations, service,
      // automation, membership) follow the customer and their own owner.
      {"deal_close_dates", {"", {"deal_id"}}},
      {"contracts", {"owner_id", {"customer_id", "deal_id"}}},
      {"invoices", {"owner_id", {"customer_id"}}},
      {"invoice_lines", {"", {"invoice_id"}}},
      {"credit_applications", {"", {"customer_id", "invoice_id"}}},
      {"projects", {"owner_id", {"customer_id", "deal_id"}}},
      {"milestones", {"", {"project_id"}}},
      {"ticket_events", {"", {"ticket_id"}}},
      {"members", {"", {"customer_id"}}},
      {"points_ledger", {"", {"member_id"}}},
      {"outbox", {"", {"customer_id"}}},
  };
  return all;
}

Table read(const records::Store& store, const std::string& kind, std::vector<std::string> columns) {
  return store.select(kind, nullptr, &columns);
}

std::string text_at(const Column* c, size_t row) {
  return c && c->storage == Column::Storage::Text && c->present(row) ? c->texts[row] : std::string();
}

}  // namespace

int64_t ref_at(const Column* c, size_t row) {
  if (!c || row >= c->size() || !c->present(row)) return -1;
  switch (c->storage) {
    case Column::Storage::Int: return c->ints[row];
    case Column::Storage::Real: {
      const double v = c->reals[row];
      return std::isfinite(v) && v == std::floor(v) && v >= 0 && v < 9e18 ? static_cast<int64_t>(v) : -1;
    }
    case Column::Storage::Text: {
      const std::string& s = c->texts[row];
      if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        return -1;
      return std::stoll(s);
    }
  }
  return -1;
}

const KindRule* kind_rule(const std::string& kind) {
  auto it = rules().find(kind);
  return it == rules().end() ? nullptr : &it->second;
}

Mode parse_mode(const std::string& text) {
  if (text == "centralized") return Mode::Centralized;
  if (text == "decentralized") return Mode::Decentralized;
  if (text == "matrix") return Mode::Matrix;
  throw ValidationError("access_settings", -1, "mode",
                        "'" + text + "' is not a mode (centralized, decentralized or matrix)");
}

std::string to_string(Mode mode) {
  switch (mode) {
    case Mode::Centralized: return "centralized";
    case Mode::Decentralized: return "decentralized";
    case Mode::Matrix: return "matrix";
  }
  return "?";
}

Mode store_mode(const records::Store& store) {
  Table t = read(store, "access_settings", {"name", "value"});
  for (size_t r = 0; r < t.rows(); ++r)
    if (text_at(t.find("name"), r) == "mode") return parse_mode(text_at(t.find("value"), r));
  return Mode::Centralized;
}

Organisation::Organisation(const records::Store& s, int64_t u) : store(s), user(u) {
  mode = store_mode(store);
  Table staff = read(store, "staff", {"role", "team_id", "manager_id"});
  const Column* ids = staff.find("id");
  std::unordered_map<int64_t, std::vector<int64_t>> reports, members;  // by manager; by team
  bool found = false;
  for (size_t r = 0; r < staff.rows(); ++r) {
    const int64_t id = ids->ints[r];
    if (id == user) {
      found = true;
      role = text_at(staff.find("role"), r);
      team = ref_at(staff.find("team_id"), r);
    }
    if (const int64_t m = ref_at(staff.find("manager_id"), r); m >= 0) reports[m].push_back(id);
    if (const int64_t t = ref_at(staff.find("team_id"), r); t >= 0) members[t].push_back(id);
  }
  if (!found) throw NotFound("no staff record with id " + std::to_string(user));
  if (role.empty()) role = "sales";

  // The teams each person manages, directly or through a department.
  std::unordered_map<int64_t, std::vector<int64_t>> teams_of;
  std::unordered_map<int64_t, int64_t> department_manager;
  Table departments = read(store, "departments", {"manager_id"});
  for (size_t r = 0; r < departments.rows(); ++r)
    department_manager[departments.columns[0].ints[r]] = ref_at(departments.find("manager_id"), r);
  Table teams = read(store, "teams", {"department_id", "manager_id"});
  for (size_t r = 0; r < teams.rows(); ++r) {
    const int64_t id = teams.columns[0].ints[r];
    if (const int64_t m = ref_at(teams.find("manager_id"), r); m >= 0) teams_of[m].push_back(id);
    auto d = department_manager.find(ref_at(teams.find("department_id"), r));
    if (d != department_manager.end() && d->second >= 0) teams_of[d->second].push_back(id);
  }
  std::deque<int64_t> todo{user};
  reach.insert(user);
  while (!todo.empty()) {
    const int64_t x = todo.front();
    todo.pop_front();
    std::vector<int64_t> next = reports[x];
    for (int64_t t : teams_of[x]) next.insert(next.end(), members[t].begin(), members[t].end());
    for (int64_t y : next)
      if (reach.insert(y).second) todo.push_back(y);
  }

  Table cells = read(store, "territory_members", {"territory_id", "member_id"});
  std::unordered_set<int64_t> mine;
  for (size_t r = 0; r < cells.rows(); ++r)
    if (ref_at(cells.find("member_id"), r) == user) mine.insert(ref_at(cells.find("territory_id"), r));
  for (size_t r = 0; r < cells.rows(); ++r)
    if (mine.count(ref_at(cells.find("territory_id"), r))) in_territory.insert(ref_at(cells.find("member_id"), r));

  Table shares = read(store, "access_shares", {"record_id", "owner_id", "staff_id", "team_id", "level"});
  for (size_t r = 0; r < shares.rows(); ++r) {
    const int64_t to_team = ref_at(shares.find("team_id"), r);
    if (ref_at(shares.find("staff_id"), r) != user && (to_team < 0 || to_team != team)) continue;
    const uint8_t bits = text_at(shares.find("level"), r) == "edit" ? (kRead | kEdit) : kRead;
    if (const int64_t id = ref_at(shares.find("record_id"), r); id >= 0) record_shares[id] |= bits;
    if (const int64_t owner = ref_at(shares.find("owner_id"), r); owner >= 0) book_shares[owner] |= bits;
  }

  Table fields = read(store, "access_field_rules", {"kind", "field", "role", "action"});
  for (size_t r = 0; r < fields.rows(); ++r) {
    const std::string who = text_at(fields.find("role"), r);
    if (who == role || (who == "*" && !admin()))
      field_rules.push_back({text_at(fields.find("kind"), r), text_at(fields.find("field"), r),
                             text_at(fields.find("action"), r)});
  }
}

bool follows_records(const std::string& kind) {
  return kind == "links" || kind == "territory_members" || kind == "access_shares";
}

bool Organisation::reads_all(const std::string& kind) const {
  if (admin() || role == "analyst" || mode == Mode::Centralized) return true;
  return !kind_rule(kind) && !follows_records(kind);
}

uint8_t Organisation::finalize(uint8_t raw) const {
  if (admin()) return kRead | kEdit;
  uint8_t f = raw;
  if (mode == Mode::Centralized) f |= kRead | (role == "manager" ? kEdit : 0);
  if (role == "analyst") f |= kRead;
  return f;
}

uint8_t Organisation::raw_from(const KindRule& rule, const std::vector<int64_t>& refs, int64_t id) const {
  uint8_t raw = 0;
  size_t i = 0;
  if (!rule.owner.empty()) {
    const int64_t owner = refs[i++];
    if (owner >= 0) {
      if (reach.count(owner)) raw |= kRead | kEdit;
      if (auto it = book_shares.find(owner); it != book_shares.end()) raw |= it->second;
    }
  }
  for (const auto& parent : rule.parents) {
    const int64_t pid = refs[i++];
    if (pid < 0) continue;
    // Every parent field is named <kind without its s>_id (customer_id, order_id, ...).
    const KindRights& p = of_kind(parent.substr(0, parent.size() - 3) + "s");
    auto at = std::lower_bound(p.ids.begin(), p.ids.end(), pid);
    if (at != p.ids.end() && *at == pid) raw |= p.raw[static_cast<size_t>(at - p.ids.begin())];
  }
  if (id >= 0) {
    if (mode == Mode::Matrix && in_territory.count(id)) raw |= kRead | kEdit;
    if (auto it = record_shares.find(id); it != record_shares.end()) raw |= it->second;
  }
  return raw;
}

const KindRights& Organisation::of_kind(const std::string& kind) const {
  if (auto it = kinds_.find(kind); it != kinds_.end()) return it->second;
  KindRights out;
  const KindRule* rule = kind_rule(kind);
  std::vector<std::string> names;
  if (kind == "links") {
    names = {"src", "dst"};
  } else if (kind == "territory_members") {
    names = {"member_id"};
  } else if (kind == "access_shares") {
    names = {"staff_id", "team_id", "owner_id"};
  } else if (rule) {
    if (!rule->owner.empty()) names.push_back(rule->owner);
    names.insert(names.end(), rule->parents.begin(), rule->parents.end());
  }
  Table t = read(store, kind, names);
  out.ids = std::move(t.columns[0].ints);  // select orders by id
  const size_t n = out.ids.size();
  out.refs.assign(names.size(), std::vector<int64_t>(n, -1));
  for (size_t c = 0; c < names.size(); ++c)
    for (size_t r = 0; r < n; ++r) out.refs[c][r] = ref_at(&t.columns[c + 1], r);
  out.raw.assign(n, 0);
  if (rule) {
    std::vector<int64_t> refs(names.size());
    for (size_t r = 0; r < n; ++r) {
      for (size_t c = 0; c < names.size(); ++c) refs[c] = out.refs[c][r];
      out.raw[r] = raw_from(*rule, refs, out.ids[r]);
    }
  }
  return kinds_.emplace(kind, std::move(out)).first->second;
}

bool Organisation::has(const std::string& kind, int64_t id) const {
  const KindRights& k = of_kind(kind);
  return std::binary_search(k.ids.begin(), k.ids.end(), id);
}

uint8_t Organisation::rights(const std::string& kind, int64_t id) const {
  if (admin()) return kRead | kEdit;
  if (kind == "links") {
    const KindRights& k = of_kind(kind);
    auto at = std::lower_bound(k.ids.begin(), k.ids.end(), id);
    if (at == k.ids.end() || *at != id) return 0;
    const size_t r = static_cast<size_t>(at - k.ids.begin());
    const uint8_t src = rights_any(k.refs[0][r]), dst = rights_any(k.refs[1][r]);
    uint8_t f = (src & dst & kRead);
    if ((src & kEdit) && (dst & kRead)) f |= kEdit;
    return f;
  }
  if (kind == "territory_members" || kind == "access_shares") {
    // Who lies where and who shares what name records: read by those who
    // may read the member, or to whom (or whose book) the share is.
    const KindRights& k = of_kind(kind);
    auto at = std::lower_bound(k.ids.begin(), k.ids.end(), id);
    if (at == k.ids.end() || *at != id) return 0;
    const size_t r = static_cast<size_t>(at - k.ids.begin());
    if (reads_all(kind)) return kRead;
    if (kind == "territory_members") return rights_any(k.refs[0][r]) & kRead;
    const bool mine = k.refs[0][r] == user || (team >= 0 && k.refs[1][r] == team) || k.refs[2][r] == user;
    return mine ? kRead : 0;
  }
  if (!kind_rule(kind)) return kRead;
  const KindRights& k = of_kind(kind);
  auto at = std::lower_bound(k.ids.begin(), k.ids.end(), id);
  if (at == k.ids.end() || *at != id) return 0;
  return finalize(k.raw[static_cast<size_t>(at - k.ids.begin())]);
}

uint8_t Organisation::rights_any(int64_t id) const {
  if (admin()) return kRead | kEdit;
  for (const auto& [name, rule] : rules())
    if (has(name, id)) return rights(name, id);
  return kRead;  // staff, products, ...: read by all, edited by admins
}

std::string Organisation::why_not(const std::string& kind) const {
  if (kind == "links") return "a link is edited by whoever may edit its source and read its target";
  if (!kind_rule(kind)) return "only admins edit " + kind;
  if (role == "analyst") return "the analyst role reads only, and no share grants edit";
  switch (mode) {
    case Mode::Centralized: return "centralized mode: only its owners, their managers and the manager role edit it";
    case Mode::Decentralized:
      return "decentralized mode: none of its owners is in your reach, and no share grants edit";
    case Mode::Matrix:
      return "matrix mode: none of its owners is in your reach, it lies in none of your territories, and no share "
             "grants edit";
  }
  return "";
}

const FieldRule* Organisation::field_rule(const std::string& kind, const std::string& field) const {
  for (const auto& r : field_rules)
    if (r.kind == kind && r.field == field) return &r;
  return nullptr;
}

}  // namespace crmcore::access
