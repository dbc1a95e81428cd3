#pragma once
// Product affinity: itemsets bought together in at least min_support of the
// baskets, and the association rules between them (support, confidence,
// lift), for cross-selling.
#include <cstdint>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::scoring {

struct Itemsets {
  std::vector<int64_t> item;      // items of itemset s: item[offset[s] .. offset[s+1]), ascending
  std::vector<uint64_t> offset;   // size itemsets + 1
  std::vector<int64_t> count;     // baskets holding the itemset
  int64_t baskets = 0;
};

// Depth-first (Eclat) over one bitset of baskets per frequent item: the
// support of an extension is the popcount of an AND. A product listed twice in
// a basket counts once. max_len <= 0 means no limit. Itemsets come out
// ordered by size, then by their items.
Itemsets frequent_itemsets(const int64_t* basket, const int64_t* item, size_t n, double min_support,
                           int max_len, Cancel& cancel);

struct Rules {
  std::vector<int64_t> antecedent, consequent;  // flattened like Itemsets::item
  std::vector<uint64_t> antecedent_offset, consequent_offset;
  std::vector<double> antecedent_support, consequent_support, support, confidence, lift;
};

// Every split of every frequent itemset of two or more items into a non-empty
// antecedent and consequent, kept when confidence >= min_confidence.
Rules association_rules(const Itemsets& sets, double min_confidence, Cancel& cancel);

}  // namespace crmcore::scoring
