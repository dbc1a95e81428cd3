// The store as one staff member may use it: reads filtered to what they may
// read (with field rules applied), writes checked before the store sees
// them. A record they may not read is reported exactly as a record that
// does not exist, so neither errors nor counts tell them it is there.
#include <algorithm>
#include <cmath>

#include "crmcore/records/json_io.hpp"
#include "crmcore/records/owner_migration.hpp"
#include "organisation.hpp"

namespace crmcore::access {

using records::Column;
using records::Table;

namespace {

std::string not_found(const std::string& kind, int64_t id) {
  return "no " + kind + " record with id " + std::to_string(id);  // as the store says it
}

// Keeps the rows where `keep` is set, in order.
void keep_rows(Table& t, const std::vector<uint8_t>& keep) {
  for (auto& c : t.columns) {
    size_t out = 0;
    for (size_t r = 0; r < keep.size(); ++r) {
      if (!keep[r]) continue;
      if (out == r) {  // in place already (a string moved onto itself would be emptied)
        ++out;
        continue;
      }
      switch (c.storage) {
        case Column::Storage::Int: c.ints[out] = c.ints[r]; break;
        case Column::Storage::Real: c.reals[out] = c.reals[r]; break;
        case Column::Storage::Text: c.texts[out] = std::move(c.texts[r]); break;
      }
      if (!c.valid.empty()) c.valid[out] = c.valid[r];
      ++out;
    }
    c.ints.resize(c.storage == Column::Storage::Int ? out : 0);
    c.reals.resize(c.storage == Column::Storage::Real ? out : 0);
    c.texts.resize(c.storage == Column::Storage::Text ? out : 0);
    if (!c.valid.empty()) c.valid.resize(out);
  }
}

bool sorted_has(const std::vector<int64_t>& ids, int64_t id) { return std::binary_search(ids.begin(), ids.end(), id); }

// A phone number shown by its last four digits only.
std::string mask_phone(const std::string& phone) {
  std::string digits;
  for (char ch : phone)
    if (ch >= '0' && ch <= '9') digits.push_back(ch);
  return "***" + (digits.size() > 4 ? digits.substr(digits.size() - 4) : std::string());
}

}  // namespace

ScopedStore::ScopedStore(records::Store& store, int64_t user) : store_(store), user_(user) { org(); }

ScopedStore::~ScopedStore() = default;

const Organisation& ScopedStore::org() const {
  // Every write leaves an audit entry: a newer one means the organisation,
  // the rules or the records' owners may have changed.
  Table last = store_.audit_log(1);
  const int64_t stamp = last.rows() ? last.columns[0].ints[0] : -1;
  if (!org_ || stamp != org_stamp_) {
    org_ = std::make_unique<Organisation>(store_, user_);
    org_stamp_ = stamp;
  }
  return *org_;
}

std::string ScopedStore::role() const { return org().role; }
Mode ScopedStore::mode() const { return org().mode; }

template <class F>
auto ScopedStore::as_actor(F&& f) -> decltype(f()) {
  // The audit log names the scoped user as the actor of these writes (in
  // the form the audit gives staff ids), and the handle's own actor after.
  struct Restore {
    records::Store& s;
    std::string before;
    ~Restore() { s.set_actor(before); }
  } restore{store_, store_.actor()};
  store_.set_actor("staff:" + std::to_string(user_));
  return f();
}

std::optional<std::vector<int64_t>> ScopedStore::readable(const std::string& kind) const {
  const Organisation& o = org();
  records::kind(kind);  // unknown kinds are NotFound
  if (o.reads_all(kind)) return std::nullopt;
  const KindRights& k = o.of_kind(kind);
  std::vector<int64_t> out;
  out.reserve(k.ids.size());
  if (kind_rule(kind)) {
    // The rights are at hand, row by row: no search per id.
    for (size_t r = 0; r < k.ids.size(); ++r)
      if (o.finalize(k.raw[r]) & kRead) out.push_back(k.ids[r]);
  } else {
    for (int64_t id : k.ids)
      if (o.rights(kind, id) & kRead) out.push_back(id);
  }
  // Everything visible reads as "all": the caller then skips filtering.
  if (out.size() == k.ids.size()) return std::nullopt;
  return out;
}

uint8_t ScopedStore::rights(const std::string& kind, int64_t id) const {
  const Organisation& o = org();
  if (kind_rule(kind) || follows_records(kind)) return o.has(kind, id) ? o.rights(kind, id) : 0;
  if (store_.kind_of(id) != kind) return 0;
  return o.admin() ? (kRead | kEdit) : kRead;
}

void ScopedStore::require_admin(const std::string& what) const {
  if (!org().admin())
    throw PermissionDenied("staff " + std::to_string(user_) + " (" + org().role + ") may not " + what +
                           ": only admins may");
}

void ScopedStore::require_edit(const std::string& kind, int64_t id) const {
  const uint8_t r = rights(kind, id);
  if (!(r & kRead)) throw NotFound(not_found(kind, id));
  if (!(r & kEdit))
    throw PermissionDenied("staff " + std::to_string(user_) + " (" + org().role + ") may not change " + kind + " " +
                           std::to_string(id) + ": " + org().why_not(kind));
}

void ScopedStore::check_rows(const std::string& kind, const Table& table, const std::vector<int64_t>& existing) const {
  const Organisation& o = org();
  if (o.admin()) return;
  const KindRule* rule = kind_rule(kind);
  if (!rule && kind != "links") {
    throw PermissionDenied("staff " + std::to_string(user_) + " (" + o.role + ") may not write " + kind + ": " +
                           o.why_not(kind));
  }
  std::vector<std::string> names;
  if (kind == "links") {
    names = {"src", "dst"};
  } else {
    if (!rule->owner.empty()) names.push_back(rule->owner);
    names.insert(names.end(), rule->parents.begin(), rule->parents.end());
  }
  const KindRights& k = o.of_kind(kind);
  std::vector<int64_t> refs(names.size());
  for (size_t row = 0; row < table.rows(); ++row) {
    const int64_t id = row < existing.size() ? existing[row] : -1;
    size_t at = 0;
    if (id >= 0) at = static_cast<size_t>(std::lower_bound(k.ids.begin(), k.ids.end(), id) - k.ids.begin());
    for (size_t c = 0; c < names.size(); ++c) {
      const Column* given = table.find(names[c]);
      refs[c] = given ? ref_at(given, row) : (id >= 0 && at < k.ids.size() ? k.refs[c][at] : -1);
    }
    uint8_t f;
    if (kind == "links") {
      const uint8_t src = refs[0] >= 0 ? o.rights_any(refs[0]) : 0, dst = refs[1] >= 0 ? o.rights_any(refs[1]) : 0;
      f = (src & kEdit) && (dst & kRead) ? kEdit : 0;
    } else {
      f = o.finalize(o.raw_from(*rule, refs, id));
    }
    if (f & kEdit) continue;
    std::string what = id >= 0 ? kind + " " + std::to_string(id) : "a new record of " + kind;
    throw PermissionDenied(kind + " row " + std::to_string(row) + ": staff " + std::to_string(user_) + " (" +
                           o.role + ") may not write " + what + " as given: " + o.why_not(kind));
  }
}

void ScopedStore::apply_field_rules(const std::string& kind, Table& table) const {
  const Organisation& o = org();
  if (o.field_rules.empty()) return;
  const records::Kind& k = records::kind(kind);
  for (auto& c : table.columns) {
    const FieldRule* rule = o.field_rule(kind, c.name);
    if (!rule) continue;
    const records::Field* f = k.field(c.name);
    if (rule->action == "mask" && c.storage == Column::Storage::Text) {
      const bool phone = f && f->lookup == records::Lookup::Phone;
      for (size_t r = 0; r < c.texts.size(); ++r)
        if (c.present(r)) c.texts[r] = phone ? mask_phone(c.texts[r]) : std::string("***");
      continue;
    }
    // Hidden (or a masked number): no value at all.
    c.valid.assign(c.size(), 0);
    std::fill(c.ints.begin(), c.ints.end(), 0);
    std::fill(c.reals.begin(), c.reals.end(), std::nan(""));
    for (auto& t : c.texts) t.clear();
  }
}

void ScopedStore::check_filter(const std::string& kind, const records::AnyOf& filter,
                               const std::vector<records::OrderBy>& order_by) const {
  const Organisation& o = org();
  auto refuse = [&](const std::string& field) {
    const FieldRule* rule = o.field_rule(kind, field);
    if (rule && rule->action == "hide")
      throw PermissionDenied(kind + " field '" + field + "' is hidden from the " + o.role +
                             " role (a field rule): it cannot be searched or sorted on");
  };
  for (const auto& all : filter)
    for (const auto& c : all) refuse(c.field);
  for (const auto& ob : order_by) refuse(ob.field);
}

// -- reads --

Table ScopedStore::select(const std::string& kind, const std::vector<int64_t>* ids,
                          const std::vector<std::string>* columns, const Cancel* cancel) const {
  Table t;
  if (ids) {
    for (int64_t id : *ids)
      if (!(rights(kind, id) & kRead)) throw NotFound(not_found(kind, id));
    t = store_.select(kind, ids, columns, cancel);
  } else if (auto visible = readable(kind)) {
    // Most of a kind visible: one scan, then the rows dropped, costs less
    // than a lookup per visible id.
    const int64_t all = store_.count(kind);
    if (static_cast<int64_t>(visible->size()) * 8 < all) {
      t = store_.select(kind, &*visible, columns, cancel);
    } else {
      t = store_.select(kind, nullptr, columns, cancel);
      const Column& id = t.columns[0];
      std::vector<uint8_t> keep(id.ints.size());
      size_t j = 0;
      for (size_t r = 0; r < keep.size(); ++r) {
        while (j < visible->size() && (*visible)[j] < id.ints[r]) ++j;
        keep[r] = j < visible->size() && (*visible)[j] == id.ints[r];
      }
      keep_rows(t, keep);
    }
  } else {
    t = store_.select(kind, nullptr, columns, cancel);
  }
  apply_field_rules(kind, t);
  return t;
}

std::vector<int64_t> ScopedStore::find(const std::string& kind, const std::string& field, const std::string& value,
                                       const Cancel* cancel) const {
  check_filter(kind, {{records::Condition{field, records::Op::Eq, {}}}}, {});
  std::vector<int64_t> ids = store_.find(kind, field, value, cancel);
  auto visible = readable(kind);
  if (visible) ids.erase(std::remove_if(ids.begin(), ids.end(), [&](int64_t id) { return !sorted_has(*visible, id); }),
                         ids.end());
  return ids;
}

std::vector<int64_t> ScopedStore::find_phone(const std::string& kind, const std::string& phone) const {
  std::vector<int64_t> ids = store_.find_phone(kind, phone);
  auto visible = readable(kind);
  if (visible) ids.erase(std::remove_if(ids.begin(), ids.end(), [&](int64_t id) { return !sorted_has(*visible, id); }),
                         ids.end());
  return ids;
}

records::Store::Matches ScopedStore::match(const std::string& kind, const std::string& field,
                                           const std::vector<std::string>& values, const Cancel* cancel) const {
  auto visible = readable(kind);
  if (!visible) return store_.match(kind, field, values, cancel);
  // Each value's matches among the visible records only: the lowest and how many.
  records::Store::Matches m;
  m.ids.assign(values.size(), -1);
  m.counts.assign(values.size(), 0);
  std::unordered_map<std::string, std::pair<int64_t, int64_t>> seen;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty()) continue;
    auto it = seen.find(values[i]);
    if (it == seen.end()) {
      std::pair<int64_t, int64_t> found{-1, 0};
      std::vector<int64_t> ids;
      try {
        ids = store_.find(kind, field, values[i], cancel);
      } catch (const ValidationError&) {  // not a phone or e-mail at all: names nothing
      }
      for (int64_t id : ids) {
        if (!sorted_has(*visible, id)) continue;
        if (found.first < 0 || id < found.first) found.first = id;
        ++found.second;
      }
      it = seen.emplace(values[i], found).first;
    }
    m.ids[i] = it->second.first;
    m.counts[i] = it->second.second;
  }
  return m;
}

std::string ScopedStore::kind_of(int64_t id) const {
  std::string kind = store_.kind_of(id);
  if (kind.empty() || (rights(kind, id) & kRead)) return kind;
  return "";
}

int64_t ScopedStore::count(const std::string& kind) const {
  auto visible = readable(kind);
  return visible ? static_cast<int64_t>(visible->size()) : store_.count(kind);
}

std::vector<int64_t> ScopedStore::query(const std::string& kind, const records::AnyOf& filter,
                                        const std::vector<records::OrderBy>& order_by, int64_t limit, int64_t offset,
                                        const Cancel* cancel) const {
  check_filter(kind, filter, order_by);
  auto visible = readable(kind);
  if (!visible) return store_.query(kind, filter, order_by, limit, offset, cancel);
  std::vector<int64_t> all = store_.query(kind, filter, order_by, -1, 0, cancel);
  std::vector<int64_t> out;
  int64_t skipped = 0;
  for (int64_t id : all) {
    if (!sorted_has(*visible, id)) continue;
    if (skipped++ < offset) continue;
    if (limit >= 0 && static_cast<int64_t>(out.size()) >= limit) break;
    out.push_back(id);
  }
  return out;
}

Table ScopedStore::select_query(const std::string& kind, const records::AnyOf& filter,
                                const std::vector<records::OrderBy>& order_by, int64_t limit, int64_t offset,
                                const std::vector<std::string>* columns, const Cancel* cancel) const {
  if (!readable(kind)) {
    check_filter(kind, filter, order_by);
    Table t = store_.select_query(kind, filter, order_by, limit, offset, columns, cancel);
    apply_field_rules(kind, t);
    return t;
  }
  const std::vector<int64_t> ids = query(kind, filter, order_by, limit, offset, cancel);
  return select(kind, &ids, columns, cancel);
}

std::string ScopedStore::query_plan(const std::string& kind, const records::AnyOf& filter,
                                    const std::vector<records::OrderBy>& order_by, int64_t limit,
                                    int64_t offset) const {
  check_filter(kind, filter, order_by);
  return store_.query_plan(kind, filter, order_by, limit, offset);
}

Table ScopedStore::merges() const {
  Table t = store_.merges();
  if (org().admin()) return t;
  // Only the merges whose kept record the user may read.
  const Column* kinds = t.find("kind");
  const Column* keep = t.find("keep_id");
  std::vector<uint8_t> keep_row(t.rows());
  for (size_t r = 0; r < keep_row.size(); ++r)
    keep_row[r] = (rights(kinds->texts[r], ref_at(keep, r)) & kRead) != 0;
  keep_rows(t, keep_row);
  return t;
}

std::string ScopedStore::integrity_check() const {
  require_admin("check the whole file's integrity");
  return store_.integrity_check();
}

Table ScopedStore::audit_log(int64_t limit, const std::vector<int64_t>* about) const {
  require_admin("read the audit log");
  return store_.audit_log(limit, about);
}

std::vector<records::AuditProblem> ScopedStore::audit_check() const {
  require_admin("check the audit log");
  return store_.audit_check();
}

records::ErasureReport ScopedStore::erase_person(int64_t id) {
  require_admin("erase a person (the erasure reaches every record about them and the audit log)");
  return as_actor([&] { return store_.erase_person(id); });
}

int64_t ScopedStore::migrate_owners() {
  require_admin("migrate the owners of every customer");
  return as_actor([&] { return records::migrate_owners(store_); });
}

std::vector<int64_t> ScopedStore::run_rule(int64_t rule_id, const std::vector<int64_t>& ids,
                                           const std::vector<int64_t>& occasions, const std::vector<double>& values,
                                           int64_t now, bool act) {
  require_admin("run the automation rules (a rule acts on every record it matches)");
  return as_actor([&] { return store_.run_rule(rule_id, ids, occasions, values, now, act); });
}

size_t ScopedStore::export_json(const std::string& kind, const std::string& path) const {
  return records::write_json(kind, select(kind), path);
}

void ScopedStore::backup(const std::string& dest, const records::Progress& progress, int pages_per_step) const {
  require_admin("copy the whole store");
  store_.backup(dest, progress, pages_per_step);
}

// -- writes --

records::WriteResult ScopedStore::insert(const std::string& kind, const Table& table, records::OnError on_error,
                                         const records::Progress& progress, bool dry_run) {
  check_rows(kind, table, {});
  return as_actor([&] { return store_.insert(kind, table, on_error, progress, dry_run); });
}

records::WriteResult ScopedStore::import_json(const std::string& kind, const std::string& path,
                                              records::OnError on_error, const records::Progress& progress,
                                              bool dry_run) {
  const Table table = records::read_json(kind, path);
  return insert(kind, table, on_error, progress, dry_run);
}

records::WriteResult ScopedStore::upsert(const std::string& kind, const Table& table,
                                         const std::vector<std::string>& key, bool insert_missing,
                                         records::OnError on_error, const records::Progress& progress, bool dry_run) {
  std::vector<int64_t> existing(table.rows(), -1);
  if (!org().admin()) {
    if (std::find(key.begin(), key.end(), "id") != key.end()) {
      // A row keyed by id names a record the user may read, or none at all.
      const Column* ids = table.find("id");
      for (size_t r = 0; r < table.rows(); ++r) {
        const int64_t id = ref_at(ids, r);
        if (id < 0) continue;
        if (!(rights(kind, id) & kRead)) throw NotFound(not_found(kind, id));
        existing[r] = id;
      }
    } else {
      // Which rows update which records: the store's own dry run says.
      records::WriteResult planned =
          store_.upsert(kind, table, key, insert_missing, records::OnError::Skip, {}, /*dry_run=*/true);
      for (size_t r = 0; r < table.rows() && r < planned.ids.size(); ++r)
        if (r < planned.updated.size() && planned.updated[r]) existing[r] = planned.ids[r];
    }
    for (int64_t id : existing)
      if (id >= 0) require_edit(kind, id);
    check_rows(kind, table, existing);
  }
  return as_actor([&] { return store_.upsert(kind, table, key, insert_missing, on_error, progress, dry_run); });
}

void ScopedStore::update(const std::string& kind, int64_t id, const Table& fields) {
  require_edit(kind, id);
  check_rows(kind, fields, {id});
  as_actor([&] { store_.update(kind, id, fields); });
}

void ScopedStore::remove(const std::string& kind, int64_t id) {
  require_edit(kind, id);
  as_actor([&] { store_.remove(kind, id); });
}

void ScopedStore::remove_many(const std::string& kind, const std::vector<int64_t>& ids, bool cascade) {
  for (int64_t id : ids) require_edit(kind, id);
  as_actor([&] { store_.remove_many(kind, ids, cascade); });
}

std::vector<int64_t> ScopedStore::retag(const std::string& kind, const std::vector<int64_t>& ids,
                                        const std::vector<std::string>& add, const std::vector<std::string>& remove) {
  for (int64_t id : ids) require_edit(kind, id);
  return as_actor([&] { return store_.retag(kind, ids, add, remove); });
}

int64_t ScopedStore::merge(const std::string& kind, int64_t keep, const std::vector<int64_t>& others,
                           const std::vector<std::pair<std::string, int64_t>>& prefer) {
  // An admin may change every record: one that is not there at all (the
  // merge of another writer, committed meanwhile, took it) the store
  // refuses itself, naming that merge. Others learn only that it is not there.
  auto check = [&](int64_t id) {
    if (!org().admin() || !store_.kind_of(id).empty()) require_edit(kind, id);
  };
  check(keep);
  for (int64_t id : others) check(id);
  return as_actor([&] { return store_.merge(kind, keep, others, prefer); });
}

void ScopedStore::unmerge(int64_t merge_id) {
  require_admin("undo a merge");
  as_actor([&] { store_.unmerge(merge_id); });
}

void ScopedStore::declare_custom(const std::string& kind, const std::string& name, records::FieldType type,
                                 const std::vector<std::string>& choices, bool required, bool index) {
  require_admin("declare custom fields");
  as_actor([&] { store_.declare_custom(kind, name, type, choices, required, index); });
}

void ScopedStore::allow(const std::string& kind, const std::string& field, const std::string& value,
                        const std::vector<records::Label>& labels, bool add_value) {
  require_admin("change the values a field allows");
  as_actor([&] { store_.allow(kind, field, value, labels, add_value); });
}

bool ScopedStore::create_index(const std::string& kind, const std::string& field) {
  require_admin("create indexes");
  return store_.create_index(kind, field);
}

bool ScopedStore::drop_index(const std::string& kind, const std::string& field) {
  require_admin("drop indexes");
  return store_.drop_index(kind, field);
}

records::Store::VacuumReport ScopedStore::vacuum() {
  require_admin("vacuum the store");
  return store_.vacuum();
}

}  // namespace crmcore::access
