#pragma once
// What a row must keep beyond its single values, on every write path: the
// declared custom fields of its custom object, the kind's unique rules (a
// customer and a contact linked once, a contact primary at one customer at
// most) and the Ref fields linked to another (an interaction's contact works
// at its customer). Private to the store.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store_impl.hpp"

namespace crmcore::records {

// Checks a row after its values are read and before it is written; throws
// RowFailure. `values` holds one value per field of `k`. For a new record
// (`id` -1) they are all of its values; for an update of record `id`,
// `given` says which fields the write sets (the others keep their stored
// values, read here when a rule needs them). `custom` is the row's custom
// object, checked and rewritten in canonical form when `custom_written` (an
// insert, or a write that gives the custom column).
void check_row_rules(Store::Impl& impl, const Kind& k, const std::vector<Value>& values,
                     const std::vector<bool>& given, int64_t id, std::string& custom, bool custom_written);

// The same for an update that gives the fields `fields` (of `k`) the values
// `values`, in that order.
void check_update_rules(Store::Impl& impl, const Kind& k, const std::vector<const Field*>& fields,
                        const std::vector<Value>& values, int64_t id, std::string& custom, bool custom_written);

// The unique rule of `k` that record `id` would break if its field `field`
// named `value` (a merge moving a reference), or null. Rules without a
// `when` flag come first.
const UniqueRule* rule_broken_by_move(Store::Impl& impl, const Kind& k, int64_t id, const std::string& field,
                                      int64_t value);

// Explains a write that SQLite refused for one of the kind's unique rules
// (rows of one import that break it together), naming the record it
// collides with; nullopt when these values break none.
std::optional<RowFailure> explain_unique_rule(Store::Impl& impl, const Kind& k, const std::vector<Value>& values,
                                              const std::string& message);

}  // namespace crmcore::records
