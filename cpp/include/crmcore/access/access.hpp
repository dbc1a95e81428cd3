#pragma once
// Who sees what. A store runs in one of three modes (centralized,
// decentralized, matrix); the organisation (staff, teams, departments,
// territories) and the rules (shares, field rules, the mode) are records of
// the store. A ScopedStore is the store as one staff member may use it:
// every read returns only what they may read (a record they may not read is
// "not found"), every write is checked before anything is written and a
// refused one throws PermissionDenied naming the record and the rule.
//
// The rules (the Python reference model, tests/python/access_model.py, says
// the same in plain code):
// - a record's owners: its own owner (customers, contacts, deals, tickets:
//   owner_id; tasks: assignee_id) and, recursively, its parents' owners
//   (an order's customer, an order line's order, a deal stage's deal, ...);
//   a record with no owner anywhere up its parents is "unowned".
// - reach(u): u, everyone below u in the manager_id hierarchy, the members
//   of the teams u manages and of the teams of the departments u manages.
// - a record may be read and edited by u when one of its owners is in
//   reach(u); in matrix mode also when it (or a parent) lies in a territory
//   u is a member of; a share of it (or of a parent, or of an owner's book)
//   to u or to u's team grants read, or read and edit.
// - centralized: everyone reads everything; managers edit everything.
//   Unowned records: read by all in centralized mode (edited by managers),
//   by nobody but admins elsewhere.
// - admin: everything. analyst: reads everything, edits only what a share
//   grants.
// - kinds outside the owned ones and their children (see kind_rule; staff,
//   teams, products, campaigns, pipelines, the rules themselves, ...): read by all,
//   edited by admins. A link: read when both ends are, edited when its
//   source is editable and its target readable. A territory membership:
//   read when its member is; a share: read by its recipients and the owner
//   of the shared book (and by all where everyone reads everything).
// - a write must leave what it writes editable by the writer.
// - field rules hide a field of a kind from a role (or mask a phone field);
//   a query cannot filter or order on a hidden field.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::access {

// A write, or a read of something the user may see, that the rules refuse.
class PermissionDenied : public Error {
 public:
  using Error::Error;
};

enum class Mode { Centralized, Decentralized, Matrix };
Mode parse_mode(const std::string& text);
std::string to_string(Mode mode);
// The mode a store runs in (access_settings "mode"; centralized when unset).
Mode store_mode(const records::Store& store);

// Bits of a record's rights for one user.
inline constexpr uint8_t kRead = 1, kEdit = 2;

// How a kind's records get their rights: their owner field ("" for none)
// and the references to their parents, in order, with the parents' kinds.
struct KindRule {
  std::string owner;
  std::vector<std::string> parents;
  std::vector<std::string> parent_kinds;
};
// The rule of a kind, or null for kinds read by all and edited by admins
// (and links, which follow their ends). Derived from the kind table, so a
// new kind is covered as it is declared: an owned kind is one with an
// owner_id (or, lacking one, an assignee_id) referring to staff; a kind that
// refers to an owned kind, or to a kind that does, follows those records
// (each such reference, except to its own kind, is a parent); a catalog kind
// (products) follows nothing.
const KindRule* kind_rule(const std::string& kind);
// Every kind's rule, by kind.
const std::map<std::string, KindRule>& kind_rules();

struct Organisation;  // the org and rules as loaded from the store (access.cpp)

// One handle is for one thread at a time (its cache of the organisation is
// not locked); the store's actor is set around each of its writes, so a
// write made meanwhile on the same Store from another thread would be
// attributed to this user too.
class ScopedStore {
 public:
  // The store as staff member `user` may use it. NotFound when no staff
  // record has that id.
  ScopedStore(records::Store& store, int64_t user);
  ~ScopedStore();
  ScopedStore(const ScopedStore&) = delete;
  ScopedStore& operator=(const ScopedStore&) = delete;

  records::Store& base() { return store_; }
  int64_t user() const { return user_; }
  std::string role() const;
  Mode mode() const;

  // The ids of `kind` the user may read (sorted), or nullopt when all.
  std::optional<std::vector<int64_t>> readable(const std::string& kind) const;
  // The rights (kRead | kEdit) of the user on record `id` of `kind`; 0 for
  // a record that does not exist.
  uint8_t rights(const std::string& kind, int64_t id) const;

  // -- the store's API, scoped --
  records::WriteResult insert(const std::string& kind, const records::Table& table,
                              records::OnError on_error = records::OnError::Raise,
                              const records::Progress& progress = {}, bool dry_run = false);
  records::WriteResult upsert(const std::string& kind, const records::Table& table,
                              const std::vector<std::string>& key, bool insert_missing,
                              records::OnError on_error = records::OnError::Raise,
                              const records::Progress& progress = {}, bool dry_run = false);
  int64_t merge(const std::string& kind, int64_t keep, const std::vector<int64_t>& others,
                const std::vector<std::pair<std::string, int64_t>>& prefer = {});
  void unmerge(int64_t merge_id);
  records::Table merges() const;
  void update(const std::string& kind, int64_t id, const records::Table& fields);
  void remove(const std::string& kind, int64_t id);
  void remove_many(const std::string& kind, const std::vector<int64_t>& ids, bool cascade);
  std::vector<int64_t> retag(const std::string& kind, const std::vector<int64_t>& ids,
                             const std::vector<std::string>& add, const std::vector<std::string>& remove);
  records::Kind describe(const std::string& kind) const { return store_.describe(kind); }
  void declare_custom(const std::string& kind, const std::string& name, records::FieldType type,
                      const std::vector<std::string>& choices, bool required, bool index);
  void allow(const std::string& kind, const std::string& field, const std::string& value,
             const std::vector<records::Label>& labels, bool add_value = true);
  records::Table select(const std::string& kind, const std::vector<int64_t>* ids = nullptr,
                        const std::vector<std::string>* columns = nullptr, const Cancel* cancel = nullptr) const;
  std::vector<int64_t> find(const std::string& kind, const std::string& field, const std::string& value,
                            const Cancel* cancel = nullptr) const;
  std::vector<int64_t> find_phone(const std::string& kind, const std::string& phone) const;
  records::Store::Matches match(const std::string& kind, const std::string& field,
                                const std::vector<std::string>& values, const Cancel* cancel = nullptr) const;
  std::string kind_of(int64_t id) const;
  int64_t count(const std::string& kind) const;
  int schema_version() const { return store_.schema_version(); }
  std::string integrity_check() const;
  records::Table audit_log(int64_t limit, const std::vector<int64_t>* about = nullptr) const;
  // The audit log's check, a person's erasure and the owner migration act on
  // the whole store (the log, every record about the person, every
  // customer), beyond what any role but admin may see: admins only.
  std::vector<records::AuditProblem> audit_check() const;
  records::ErasureReport erase_person(int64_t id);
  int64_t migrate_owners();
  // A time-triggered rule's run (run_due, scored): the rule acts on every
  // record it matches, whoever may see it, so admins only, audited as them.
  std::vector<int64_t> run_rule(int64_t rule_id, const std::vector<int64_t>& ids,
                                const std::vector<int64_t>& occasions, const std::vector<double>& values,
                                int64_t now, bool act = true);
  // PermissionDenied unless the user is an admin, naming `what` was refused.
  void require_admin(const std::string& what) const;
  void begin() { store_.begin(); }
  void commit() { store_.commit(); }
  void rollback() { store_.rollback(); }
  bool in_transaction() const { return store_.in_transaction(); }
  const std::string& path() const { return store_.path(); }
  std::vector<int64_t> query(const std::string& kind, const records::AnyOf& filter,
                             const std::vector<records::OrderBy>& order_by = {}, int64_t limit = -1,
                             int64_t offset = 0, const Cancel* cancel = nullptr) const;
  records::Table select_query(const std::string& kind, const records::AnyOf& filter,
                              const std::vector<records::OrderBy>& order_by = {}, int64_t limit = -1,
                              int64_t offset = 0, const std::vector<std::string>* columns = nullptr,
                              const Cancel* cancel = nullptr) const;
  std::string query_plan(const std::string& kind, const records::AnyOf& filter,
                         const std::vector<records::OrderBy>& order_by = {}, int64_t limit = -1,
                         int64_t offset = 0) const;
  bool create_index(const std::string& kind, const std::string& field);
  bool drop_index(const std::string& kind, const std::string& field);
  std::vector<std::string> indexes(const std::string& kind) const { return store_.indexes(kind); }
  void backup(const std::string& dest, const records::Progress& progress = {}, int pages_per_step = 1024) const;
  records::Store::VacuumReport vacuum();
  // records::import_json and export_json through the rules.
  records::WriteResult import_json(const std::string& kind, const std::string& path, records::OnError on_error,
                                   const records::Progress& progress, bool dry_run);
  size_t export_json(const std::string& kind, const std::string& path) const;

 private:
  // The organisation as it stands now: loaded again when the store changed
  // since (its audit log has a newer entry).
  const Organisation& org() const;
  // Throws PermissionDenied unless the user may edit record `id` of `kind`
  // (NotFound when they may not read it).
  void require_edit(const std::string& kind, int64_t id) const;
  // Checks rows of a table about to be written: each must leave its record
  // editable by the user. `existing[row]` is the record a row updates (-1:
  // a new record).
  void check_rows(const std::string& kind, const records::Table& table, const std::vector<int64_t>& existing) const;
  // Field rules: hidden columns cleared and masked ones masked.
  void apply_field_rules(const std::string& kind, records::Table& table) const;
  void check_filter(const std::string& kind, const records::AnyOf& filter,
                    const std::vector<records::OrderBy>& order_by) const;
  template <class F>
  auto as_actor(F&& f) -> decltype(f());

  records::Store& store_;
  int64_t user_;
  mutable std::unique_ptr<Organisation> org_;
  mutable int64_t org_stamp_ = -2;
};

}  // namespace crmcore::access
