// The phone and e-mail lookup rows (contact_points) of records. Since schema
// 22 a record's rows are a function of its phone and e-mail fields, the
// normalized form of each part (lookup_values), and no index leads from a
// record to its rows: a write that changes or removes such a field removes
// the rows its old text gave, by their key (value, record_id, field). One
// B-tree per lookup row instead of two: an upsert that changes phones or
// inserts records writes half as much for them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store_impl.hpp"

namespace crmcore::records {

// Schema version 22: no index on contact_points(record_id); the rows are
// made again from the records' fields when a store comes to it.
inline constexpr int kLookupByFieldsVersion = 22;

// The lookup values a stored field's text gives: those of its parts that
// normalize (the write that stored it refused the text if any did not).
std::vector<std::string> stored_lookup_values(const Field& f, const std::string& text);

// Removes the lookup rows that record `id` of `k` holds for `fields` (each a
// phone or e-mail field of `k`; others are passed over), read from the
// record as it stands: call it before the record's fields change or go.
void forget_lookup_rows(Store::Impl& impl, const Kind& k, int64_t id, const std::vector<const Field*>& fields);
// The same for every phone and e-mail field of `k`.
void forget_lookup_rows(Store::Impl& impl, const Kind& k, int64_t id);
// Every lookup row of record `id` of `k`, its tags' included: before the
// record goes (or is blanked, as erasure does).
void forget_all_lookups(Store::Impl& impl, const Kind& k, int64_t id);

// Makes every record's lookup rows again from its fields (the step to
// schema 22: rows an older normalization wrote would otherwise stay).
void rebuild_lookup_rows(Store::Impl& impl);

}  // namespace crmcore::records
