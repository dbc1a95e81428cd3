#pragma once
// Rule conditions judged in C++ over the stored values of the records a
// write touched (see judge.cpp). Private to the automation rules.
#include <cstdint>
#include <memory>
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

}  // namespace crmcore::records
