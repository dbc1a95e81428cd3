#pragma once
// The indexes on fields that Store::create_index makes (and declare_custom's
// index=True), on either engine: their names, what they hold, and how each
// engine lists them. crm.copy carries them between engines by these rules.
// Private to the store.
#include <string>
#include <vector>

#include "crmcore/backend/backend.hpp"
#include "crmcore/records/schema.hpp"

namespace crmcore::records {

// One field's index: the field (null for created_at / updated_at), the
// index's name as the engine keeps it (unquoted), and what it holds: the
// column, or a declared custom key's value in the engine's spelling
// (custom_key_sql, pg_custom_key_sql), the very expression queries use.
struct FieldIndex {
  const Field* field = nullptr;
  std::string name;
  std::string expression;
};

// The index `field` of `k` (with its declared custom fields) would have on
// the engine; throws ValidationError for a field that cannot be indexed.
FieldIndex field_index(bool sqlite, const Kind& k, const std::string& field);

// Its CREATE INDEX statement.
std::string create_index_sql(const std::string& kind, const FieldIndex& index);

// Whether the index `name` exists, and every index of table `kind` with the
// column its key begins with ("" for an expression).
bool index_exists(backend::Connection& c, const std::string& name);
std::vector<std::pair<std::string, std::string>> table_indexes(backend::Connection& c, const std::string& kind);

// crm.copy: makes on `dst` the field indexes the source has, in the
// destination engine's form (the destination's catalog already copied).
void copy_field_indexes(backend::Connection& src, backend::Connection& dst);

}  // namespace crmcore::records
