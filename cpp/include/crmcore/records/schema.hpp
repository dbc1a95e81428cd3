#pragma once
// The record kinds and their fields: one table drives the SQL schema,
// validation, imports and frames, so a kind is described in one place.
#include <optional>
#include <string>
#include <vector>

namespace crmcore::records {

enum class FieldType {
  Text,     // UTF-8 string
  Integer,  // 64-bit integer
  Real,     // double
  Time,     // nanoseconds since 1970-01-01 UTC
  Bool,     // 0 / 1
  Ref,      // id of a record of `ref_kind`
  AnyRef,   // id of a record of any kind (link ends)
};

// How a text field is indexed for lookups.
enum class Lookup { None, Phone, Email };

// Another spelling of an allowed value, accepted on input and stored as the
// value itself: "企业" (lang "zh") for customers.kind "organization".
struct Label {
  std::string label;
  std::string value;
  std::string lang;
};

struct Field {
  std::string name;
  FieldType type = FieldType::Text;
  bool required = false;
  std::string ref_kind = {};         // for Ref
  std::vector<std::string> choices = {};  // allowed values of a Text field (empty: any)
  // The choices are the values known so far, not a closed list: any other
  // text is accepted too (statuses and stages that a store's users name).
  bool open_choices = false;
  std::vector<Label> labels = {};    // other spellings of the choices, sorted by label
  double min = 0, max = 0;           // allowed range of a number when min < max (max may be infinite)
  // A time may lie at most this many days after the write (-1: no limit);
  // an order placed next year or a birthday tomorrow is a typing error.
  int max_future_days = -1;
  std::string default_value = {};    // applied when the value is missing ("" = none)
  Lookup lookup = Lookup::None;
  bool unique = false;
  std::string differs_from = {};     // a field of the same kind this one may not equal (a link's ends)
  // A Ref field whose record must be linked to the record of this other Ref
  // field of the same kind, through the link kind between their two kinds
  // (an interaction's contact works at its customer: customer_contacts).
  std::string linked_to = {};
  int since_version = 1;             // the schema version that added the field (a migration adds it to older files)
  // Written by the store: the write path's rules fill or overwrite the field
  // (from the clock, the record's other fields or other records), so a
  // value read back may be one no write gave. Checks that compare what was
  // written with what is read (fuzzers, parity tests) ask this flag.
  bool written_by_store = false;
};

// Records of a kind that may not share the values of these fields (with
// `when`, a Bool field, only among the records where it is true). A unique
// index named <kind>_<name> keeps the rule in the file.
struct UniqueRule {
  std::string name;
  std::vector<std::string> fields;
  std::string when = {};
  std::string why = {};  // the rule in words, for the refusal
};

// The schema version of sales operations: close-date history, targets,
// contracts, invoices, payments to invoices, projects (schema.cpp).
inline constexpr int kSalesOpsVersion = 10;
// The schema version that migrates free-text owners to staff references
// (owner_migration.cpp) and lets staff be deactivated (schema.cpp).
inline constexpr int kOwnerMigrationVersion = 13;
// The schema version that keeps monthly stock balances (stock/balances.hpp).
inline constexpr int kStockBalancesVersion = 20;
// 25: the kept balances also hold each month's shipments and its number of
// movements (days of cover and stock late in a month read them).
inline constexpr int kStockBalancesShippedVersion = 21;

struct Kind {
  std::string name;
  std::vector<Field> fields;
  // Deleting a record of the referenced kind also deletes these rows (link tables).
  bool cascade_on_delete = false;
  int since_version = 1;  // the schema version that added the kind (a migration creates its table)
  std::vector<UniqueRule> unique_rules = {};
  // Custom fields a store declared (named "custom.<key>"): keys of the
  // custom object whose values are checked and kept in canonical form.
  // Empty in the kind table; a store's own description fills them.
  std::vector<Field> custom = {};
  // A catalog (products) is read by all whatever it refers to: a product's
  // supplier does not make the product theirs (see crmcore/access).
  bool catalog = false;

  const Field* field(const std::string& name) const;
};

// A history row's reference to the staff member who made it (deal_stages,
// ticket_events, deal_close_dates: by_id). The row belongs to its parent
// record, not to them: deleting them must not take their history along.
inline bool names_who_acted(const Kind& k, const Field& f) {
  return k.cascade_on_delete && f.type == FieldType::Ref && f.ref_kind == "staff";
}

// The prefix of a declared custom field's name ("custom.level").
inline constexpr const char* kCustomPrefix = "custom.";

// Every kind ends with these two fields: the record's key in the system it
// came from, unique per kind when given, so that importing the same export
// again updates the records instead of adding them twice.
inline constexpr const char* kExternalSource = "external_source";
inline constexpr const char* kExternalId = "external_id";

// Every record has these besides its own fields.
inline constexpr const char* kTagsColumn = "tags";
inline constexpr const char* kCustomColumn = "custom";
inline constexpr const char* kCreatedColumn = "created_at";
inline constexpr const char* kUpdatedColumn = "updated_at";
// Custom values may nest objects and lists this deep, and no deeper: enough
// for any record, and a bound that keeps every reader of them (Python's json
// among them) far from its recursion limits.
inline constexpr int kMaxCustomDepth = 64;

const std::vector<Kind>& kinds();
// Throws NotFound naming the known kinds.
const Kind& kind(const std::string& name);

std::string to_string(FieldType t);
// The type that to_string names ("text", "integer", ...), or nullopt.
std::optional<FieldType> parse_field_type(const std::string& name);

}  // namespace crmcore::records
