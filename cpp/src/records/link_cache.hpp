#pragma once
// Whether two records are linked through a link kind (a customer and a
// contact through customer_contacts), as one write asks it for many rows.
// Private to the store (see rules.cpp).
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "crmcore/records/store.hpp"

namespace crmcore::records {

class LinkCache {
 public:
  // Every write starts afresh: the links may change between writes.
  void clear() { tables_.clear(); }
  // Whether a row of `table` has `owner_field` = owner and `member_field` =
  // member. The first asks of a write are point lookups; an import that asks
  // many times reads all pairs of the table once, sorted, and looks there
  // (a lookup per row cost an interaction import a third of its time).
  bool linked(Store::Impl& impl, const std::string& table, const std::string& owner_field,
              const std::string& member_field, int64_t owner, int64_t member);

 private:
  struct Pairs {
    size_t asked = 0;
    bool loaded = false, too_many = false;
    std::vector<std::pair<int64_t, int64_t>> sorted;
  };
  std::map<std::string, Pairs> tables_;
};

}  // namespace crmcore::records
