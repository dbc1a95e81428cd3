#pragma once
// The record kinds and their fields: one table drives the SQL schema,
// validation, imports and frames, so a kind is described in one place.
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

struct Field {
  std::string name;
  FieldType type = FieldType::Text;
  bool required = false;
  std::string ref_kind = {};         // for Ref
  std::vector<std::string> choices = {};  // allowed values of a Text field (empty: any)
  double min = 0, max = 0;           // allowed range of a number when min < max
  std::string default_value = {};    // applied when the value is missing ("" = none)
  Lookup lookup = Lookup::None;
  bool unique = false;
  std::string differs_from = {};     // a field of the same kind this one may not equal (a link's ends)
  int since_version = 1;             // the schema version that added the field (a migration adds it to older files)
};

struct Kind {
  std::string name;
  std::vector<Field> fields;
  // Deleting a record of the referenced kind also deletes these rows (link tables).
  bool cascade_on_delete = false;
  int since_version = 1;  // the schema version that added the kind (a migration creates its table)

  const Field* field(const std::string& name) const;
};

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

}  // namespace crmcore::records
