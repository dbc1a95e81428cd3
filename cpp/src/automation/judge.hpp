#pragma once
// Rule conditions judged in C++ over the stored values of the records a
// write touched (see judge.cpp). Private to the automation rules.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "../records/store_impl.hpp"
#include "crmcore/records/query.hpp"

namespace crmcore::records {

// A condition made ready to judge in C++: which columns it reads and what
// each test compares with. Null from compile_condition when some test needs
// SQL (tags, custom keys, phone and e-mail lookups, case-blind searches) or
// is wrong (the query's own check then says why).
struct CompiledCondition;

std::shared_ptr<const CompiledCondition> compile_condition(const Kind& k, const AnyOf& condition);

// For each condition, the ids (sorted; `ids` sorted and distinct) of the
// records of `k` that meet it, read from the file in one pass over `ids`.
// A condition that selects every record reads nothing.
std::vector<std::vector<int64_t>> judge_each(Store::Impl& impl, const Kind& k,
                                             const std::vector<const CompiledCondition*>& conditions,
                                             const std::vector<int64_t>& ids);

// Whether judge_rows can judge the condition: it reads fields of the kind only.
bool reads_fields_only(const Kind& k, const CompiledCondition& condition);

// The same, judged on the caller's table of an insert, before reading
// anything back: `row_ids[r]` is the id row r got (-1: it did not land),
// and each value is converted as the insert converted it (coerce). Every
// condition must read fields only (reads_fields_only); empty when a value
// would meet SQLite's conversions: the caller then reads the records.
std::optional<std::vector<std::vector<int64_t>>> judge_rows(const Kind& k,
                                                            const std::vector<const CompiledCondition*>& conditions,
                                                            const Table& t, const std::vector<int64_t>& row_ids);

}  // namespace crmcore::records
