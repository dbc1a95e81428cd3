#pragma once
// When a breadth-first level is cheaper bottom-up (every unreached node looks
// for neighbours in a frontier bitmap) than top-down (the frontier visits
// its neighbours). Shared by the plain BFS and Brandes' path counting.
#include <cstddef>
#include <cstdint>

namespace crmcore::graph {

// Bottom-up passes over all n nodes and, at worst, every unexplored entry,
// all in order; top-down makes one random access per frontier entry. A
// random access costs about two sequential ones while the per-node state
// fits in cache and an order of magnitude more once it does not (Beamer's
// alpha = 14). The frontier must also hold a fair share of the nodes
// (Beamer's beta = 24), or long thin graphs pay the pass over all nodes at
// every level.
inline bool bottom_up_is_cheaper(uint64_t frontier_entries, uint64_t frontier_nodes,
                                 uint64_t unexplored, uint64_t n, size_t state_bytes_per_node) {
  constexpr size_t kCacheBytes = size_t(4) << 20;
  const uint64_t random_access_cost = n * state_bytes_per_node > kCacheBytes ? 14 : 2;
  return unexplored + n < frontier_entries * random_access_cost && frontier_nodes * 24 > n;
}

}  // namespace crmcore::graph
