#pragma once
// Declared custom fields: keys of a record's custom object (a JSON object)
// with a type and allowed values, checked on every write and kept in
// canonical form, and the SQL that reads such a key. Private to the store.
#include <cstdint>
#include <string>

#include "crmcore/records/schema.hpp"

namespace crmcore::records {

// Why `name` cannot name a custom field ("" when it can): 1 to 64 bytes of
// letters, digits, '_' and '-', or any non-ASCII character (行业). The name
// becomes part of SQL text (an index's expression), so quotes, backslashes,
// dots and spaces are out.
std::string custom_name_problem(const std::string& name);

// The SQL expression of a custom key's value: json_extract(<qualifier>custom,
// '$."key"'). An index on a declared key is made on this very expression, and
// SQLite uses such an index only for a query that spells the expression the
// same way, so every query of a custom key builds it here. `key` must be a
// valid name (custom_name_problem): it is pasted into the SQL text.
std::string custom_key_sql(const std::string& key, const std::string& qualifier = "");

// The same key's value on PostgreSQL, where an expression has one type: the
// declared type's (integer and time fields compare as numbers and as text
// there, as on SQLite; text in byte order, as SQLite compares it). An index
// on a declared key is made on this expression, and PostgreSQL matches an
// index with a query only by the same expression, so both are built here.
// (Undeclared keys have no type: query.cpp reads them as JSON.)
std::string pg_custom_key_sql(const std::string& key, FieldType type, const std::string& qualifier = "");

// The name of the index on a custom key of a kind (beside those of
// Store::create_index, crm_idx_<kind>_<field>; quoted in SQL, as the key may
// be non-ASCII).
std::string custom_index_name(const std::string& kind, const std::string& key);

// A time custom value as stored: "YYYY-MM-DDTHH:MM:SS[.fraction]" (UTC), text
// that sorts as the times do (years 1000 to 9999). A query comparing a time
// key binds its bound in this form.
std::string custom_time_text(int64_t ns);

// Checks the declared custom fields of `k` (k.custom) in a row's custom
// object, compact JSON text as read_extras makes it ("" for none), and
// rewrites their values in canonical form: "2025/01/05" for a time field
// becomes "2025-01-05T00:00:00", "42" for an integer 42, a label its value.
// A required field that is missing is refused. Undeclared keys stay as they
// are. Throws RowFailure naming "custom.<key>".
void check_custom(const Kind& k, std::string& custom);

}  // namespace crmcore::records
