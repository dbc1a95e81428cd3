#pragma once
// The organisation and the access rules as one user sees them, loaded from
// the store's records (access.cpp), and each kind's rights computed once per
// load, as sorted ids with a byte of rights each.
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "crmcore/access/access.hpp"

namespace crmcore::access {

struct KindRights {
  std::vector<int64_t> ids;                // sorted
  std::vector<uint8_t> raw;                // what ownership, territories and shares grant
  std::vector<std::vector<int64_t>> refs;  // per rule field (owner first, then parents); -1: none
};

struct FieldRule {
  std::string kind, field, action;  // action: hide or mask
};

struct Organisation {
  Organisation(const records::Store& store, int64_t user);

  const records::Store& store;
  int64_t user;
  Mode mode = Mode::Centralized;
  std::string role;
  int64_t team = -1;
  std::unordered_set<int64_t> reach;         // whose records the user manages
  std::unordered_set<int64_t> in_territory;  // records lying in a territory of the user
  std::unordered_map<int64_t, uint8_t> record_shares, book_shares;
  std::vector<FieldRule> field_rules;  // those that apply to the user's role

  bool admin() const { return role == "admin"; }
  // Whether the user reads every record of `kind` (no set needed).
  bool reads_all(const std::string& kind) const;
  // The mode's and role's defaults added to what a record's raw rights grant.
  uint8_t finalize(uint8_t raw) const;
  // What the rule fields of a record grant: owner (-1: none) and parents,
  // in the order of KindRule; `id` (-1 for a new record) adds its
  // territories and shares.
  uint8_t raw_from(const KindRule& rule, const std::vector<int64_t>& refs, int64_t id) const;
  const KindRights& of_kind(const std::string& kind) const;
  // Whether record `id` exists among the kind's records (rule kinds and links).
  bool has(const std::string& kind, int64_t id) const;
  // The final rights on an existing record of `kind`.
  uint8_t rights(const std::string& kind, int64_t id) const;
  // The final rights on a record of any kind (a link's ends).
  uint8_t rights_any(int64_t id) const;
  // The rule a refusal to edit a record of `kind` names.
  std::string why_not(const std::string& kind) const;
  const FieldRule* field_rule(const std::string& kind, const std::string& field) const;

 private:
  mutable std::unordered_map<std::string, KindRights> kinds_;
};

// Kinds that are no one's but whose rows name records, and so are read as
// those are: links, territory_members, access_shares.
bool follows_records(const std::string& kind);

// A reference read from a column (any storage); -1 when missing or not a number.
int64_t ref_at(const records::Column* c, size_t row);

}  // namespace crmcore::access
