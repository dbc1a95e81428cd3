#pragma once
// The in-memory relationship graph: a compressed sparse row (CSR) adjacency
// over dense node indices, with optional per-edge weights and small-integer
// edge types. Node ids are arbitrary int64 record ids; they are kept sorted so
// that the dense index of an id is its rank (binary search, no hash table),
// which keeps the structure at 16 bytes per node (id + row offset) and 4 bytes
// per stored adjacency entry before weights and types.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::graph {

using index_t = uint32_t;  // dense node index
inline constexpr index_t kNoNode = static_cast<index_t>(-1);

// Which edge types an algorithm may walk: all by default, else exactly the
// listed ones (an empty list walks nothing).
class TypeFilter {
 public:
  TypeFilter() { allowed_.fill(true); }
  explicit TypeFilter(const std::vector<uint8_t>& types) {
    allowed_.fill(false);
    for (uint8_t t : types) allowed_[t] = true;
  }
  bool operator()(uint8_t t) const { return allowed_[t]; }
  bool all() const {
    for (bool a : allowed_)
      if (!a) return false;
    return true;
  }

 private:
  std::array<bool, 256> allowed_;
};

class Graph {
 public:
  Graph() = default;

  // Builds from m edges src[i] -> dst[i]. weight and type may be null (all 1 /
  // all 0). extra_nodes adds nodes that have no edge. An undirected edge is
  // stored in both endpoints' rows (a self-loop once), so that every
  // algorithm walks rows only.
  static Graph from_edges(const int64_t* src, const int64_t* dst, size_t m, const double* weight,
                          const uint8_t* type, bool directed, const int64_t* extra_nodes,
                          size_t n_extra, Cancel& cancel);

  size_t num_nodes() const { return ids_.size(); }
  size_t num_edges() const { return num_edges_; }  // edges as given (undirected counted once)
  bool directed() const { return directed_; }
  bool weighted() const { return !weights_.empty(); }
  bool typed() const { return !types_.empty(); }

  const std::vector<int64_t>& ids() const { return ids_; }
  int64_t id(index_t u) const { return ids_[u]; }
  // Dense index of a node id; throws NotFound when the id is not a node.
  index_t index_of(int64_t id) const;
  // Dense index, or kNoNode.
  index_t find(int64_t id) const;

  uint64_t row_begin(index_t u) const { return offsets_[u]; }
  uint64_t row_end(index_t u) const { return offsets_[u + 1]; }
  uint64_t degree(index_t u) const { return offsets_[u + 1] - offsets_[u]; }
  index_t target(uint64_t e) const { return targets_[e]; }
  double weight(uint64_t e) const { return weights_.empty() ? 1.0 : weights_[e]; }
  uint8_t type(uint64_t e) const { return types_.empty() ? 0 : types_[e]; }
  uint64_t num_entries() const { return targets_.size(); }

  // Bytes held by the structure, split into topology (ids, offsets, targets)
  // and edge attributes (weights, types).
  size_t topology_bytes() const;
  size_t attribute_bytes() const;
  size_t memory_bytes() const { return topology_bytes() + attribute_bytes(); }

  // The edges back as arrays of dense indices, each undirected edge once.
  struct EdgeArrays {
    std::vector<index_t> src, dst;
    std::vector<double> weight;  // empty when unweighted
    std::vector<uint8_t> type;   // empty when untyped
  };
  EdgeArrays edges() const;

  // The subgraph induced by `nodes` (dense indices of this graph), keeping
  // only edges whose type passes `filter`.
  Graph subgraph(const std::vector<index_t>& nodes, const TypeFilter& filter) const;
  // The same nodes with every directed edge made undirected (weights kept).
  Graph to_undirected() const;

  // One edge per node pair (per ordered pair when directed): parallel edges
  // merge into one whose weight is their sum, max or min and whose type is
  // the first one's. NetworkX's Graph holds no parallel edges, so this is the
  // graph it would see.
  enum class Merge { Sum, Max, Min };
  Graph simplify(Merge how) const;

 private:
  static Graph build(std::vector<int64_t> ids, const std::vector<index_t>& su,
                     const std::vector<index_t>& du, const double* weight, const uint8_t* type,
                     bool directed, Cancel& cancel);

  bool directed_ = false;
  size_t num_edges_ = 0;
  std::vector<int64_t> ids_;        // sorted unique node ids
  std::vector<uint64_t> offsets_;   // num_nodes + 1
  std::vector<index_t> targets_;    // row entries
  std::vector<double> weights_;     // parallel to targets_, or empty
  std::vector<uint8_t> types_;      // parallel to targets_, or empty
};

}  // namespace crmcore::graph
