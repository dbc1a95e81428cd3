#include "crmcore/graph/csr.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "crmcore/errors.hpp"

namespace crmcore::graph {

namespace {

// Ids drawn from one record sequence are dense, so a lookup table over the
// id range maps them in O(m) without sorting; scattered ids fall back to
// sort + binary search. The table lives only while building.
constexpr uint64_t kDenseFactor = 4;

std::vector<index_t> map_dense(const int64_t* v, size_t len, int64_t lo,
                               const std::vector<index_t>& table) {
  std::vector<index_t> out(len);
  for (size_t i = 0; i < len; ++i) out[i] = table[static_cast<uint64_t>(v[i] - lo)];
  return out;
}

std::vector<index_t> map_sorted(const int64_t* v, size_t len, const std::vector<int64_t>& ids) {
  std::vector<index_t> out(len);
  for (size_t i = 0; i < len; ++i)
    out[i] = static_cast<index_t>(std::lower_bound(ids.begin(), ids.end(), v[i]) - ids.begin());
  return out;
}

}  // namespace

Graph Graph::from_edges(const int64_t* src, const int64_t* dst, size_t m, const double* weight,
                        const uint8_t* type, bool directed, const int64_t* extra_nodes,
                        size_t n_extra, Cancel& cancel) {
  if (weight) {
    for (size_t i = 0; i < m; ++i)
      if (!std::isfinite(weight[i]))
        throw ValidationError("edges", static_cast<int64_t>(i), "weight", "must be a finite number");
  }
  if (m + n_extra == 0) return build({}, {}, {}, weight, type, directed, cancel);

  int64_t lo = m ? src[0] : extra_nodes[0], hi = lo;
  auto extend = [&](const int64_t* v, size_t len) {
    for (size_t i = 0; i < len; ++i) {
      lo = std::min(lo, v[i]);
      hi = std::max(hi, v[i]);
    }
  };
  extend(src, m);
  extend(dst, m);
  extend(extra_nodes, n_extra);
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  const uint64_t endpoints = 2 * m + n_extra;

  std::vector<int64_t> ids;
  std::vector<index_t> su, du;
  if (span < kDenseFactor * endpoints + 1024) {
    std::vector<index_t> table(span + 1, 0);
    auto mark = [&](const int64_t* v, size_t len) {
      for (size_t i = 0; i < len; ++i) table[static_cast<uint64_t>(v[i] - lo)] = 1;
    };
    mark(src, m);
    mark(dst, m);
    mark(extra_nodes, n_extra);
    index_t next = 0;
    for (uint64_t k = 0; k <= span; ++k) {
      if (table[k]) {
        ids.push_back(lo + static_cast<int64_t>(k));
        table[k] = next++;
      }
    }
    cancel.tick(span);
    su = map_dense(src, m, lo, table);
    du = map_dense(dst, m, lo, table);
  } else {
    ids.reserve(endpoints);
    ids.insert(ids.end(), src, src + m);
    ids.insert(ids.end(), dst, dst + m);
    ids.insert(ids.end(), extra_nodes, extra_nodes + n_extra);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    ids.shrink_to_fit();
    cancel.tick(endpoints);
    su = map_sorted(src, m, ids);
    du = map_sorted(dst, m, ids);
  }
  if (ids.size() >= kNoNode)
    throw ValidationError("graph", -1, "nodes", "more than " + std::to_string(kNoNode - 1) + " nodes");
  return build(std::move(ids), su, du, weight, type, directed, cancel);
}

Graph Graph::build(std::vector<int64_t> ids, const std::vector<index_t>& su,
                   const std::vector<index_t>& du, const double* weight, const uint8_t* type,
                   bool directed, Cancel& cancel) {
  Graph g;
  g.directed_ = directed;
  g.num_edges_ = su.size();
  g.ids_ = std::move(ids);
  const size_t n = g.ids_.size(), m = su.size();
  g.offsets_.assign(n + 1, 0);
  for (size_t i = 0; i < m; ++i) {
    ++g.offsets_[su[i] + 1];
    if (!directed && su[i] != du[i]) ++g.offsets_[du[i] + 1];
  }
  for (size_t u = 0; u < n; ++u) g.offsets_[u + 1] += g.offsets_[u];
  const uint64_t entries = g.offsets_[n];
  g.targets_.resize(entries);
  if (weight) g.weights_.resize(entries);
  if (type) g.types_.resize(entries);
  std::vector<uint64_t> fill(g.offsets_.begin(), g.offsets_.end() - 1);
  auto put = [&](index_t from, index_t to, size_t i) {
    const uint64_t e = fill[from]++;
    g.targets_[e] = to;
    if (weight) g.weights_[e] = weight[i];
    if (type) g.types_[e] = type[i];
  };
  for (size_t i = 0; i < m; ++i) {
    put(su[i], du[i], i);
    if (!directed && su[i] != du[i]) put(du[i], su[i], i);
  }
  cancel.tick(m);
  return g;
}

index_t Graph::find(int64_t id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return kNoNode;
  return static_cast<index_t>(it - ids_.begin());
}

index_t Graph::index_of(int64_t id) const {
  const index_t u = find(id);
  if (u == kNoNode) throw NotFound("node " + std::to_string(id) + " is not in the graph");
  return u;
}

size_t Graph::topology_bytes() const {
  return ids_.capacity() * sizeof(int64_t) + offsets_.capacity() * sizeof(uint64_t) +
         targets_.capacity() * sizeof(index_t);
}

size_t Graph::attribute_bytes() const {
  return weights_.capacity() * sizeof(double) + types_.capacity() * sizeof(uint8_t);
}

Graph::EdgeArrays Graph::edges() const {
  EdgeArrays out;
  const size_t n = num_nodes();
  for (index_t u = 0; u < n; ++u) {
    for (uint64_t e = row_begin(u); e < row_end(u); ++e) {
      const index_t v = targets_[e];
      if (!directed_ && v < u) continue;  // the mirror entry of an undirected edge
      out.src.push_back(u);
      out.dst.push_back(v);
      if (weighted()) out.weight.push_back(weights_[e]);
      if (typed()) out.type.push_back(types_[e]);
    }
  }
  return out;
}

Graph Graph::subgraph(const std::vector<index_t>& nodes, const TypeFilter& filter) const {
  std::vector<index_t> keep(nodes);
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  std::vector<index_t> local(num_nodes(), kNoNode);
  std::vector<int64_t> ids;
  ids.reserve(keep.size());
  for (index_t i = 0; i < keep.size(); ++i) {
    if (keep[i] >= num_nodes()) throw std::out_of_range("subgraph: node index out of range");
    local[keep[i]] = i;
    ids.push_back(ids_[keep[i]]);
  }
  std::vector<index_t> su, du;
  std::vector<double> w;
  std::vector<uint8_t> t;
  for (index_t u : keep) {
    for (uint64_t e = row_begin(u); e < row_end(u); ++e) {
      const index_t v = targets_[e];
      if (local[v] == kNoNode || !filter(type(e))) continue;
      if (!directed_ && v < u) continue;
      su.push_back(local[u]);
      du.push_back(local[v]);
      if (weighted()) w.push_back(weights_[e]);
      if (typed()) t.push_back(types_[e]);
    }
  }
  Cancel none;
  return build(std::move(ids), su, du, weighted() ? w.data() : nullptr,
               typed() ? t.data() : nullptr, directed_, none);
}

Graph Graph::to_undirected() const {
  if (!directed_) return *this;
  EdgeArrays e = edges();
  Cancel none;
  return build(ids_, e.src, e.dst, weighted() ? e.weight.data() : nullptr,
               typed() ? e.type.data() : nullptr, false, none);
}

Graph Graph::simplify(Merge how) const {
  EdgeArrays e = edges();
  std::vector<size_t> order(e.src.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // edges() lists undirected edges with src <= dst, so equal pairs sort together.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return e.src[a] != e.src[b] ? e.src[a] < e.src[b] : e.dst[a] < e.dst[b];
  });
  EdgeArrays out;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const bool same = !out.src.empty() && out.src.back() == e.src[i] && out.dst.back() == e.dst[i];
    if (!same) {
      out.src.push_back(e.src[i]);
      out.dst.push_back(e.dst[i]);
      if (weighted()) out.weight.push_back(e.weight[i]);
      if (typed()) out.type.push_back(e.type[i]);
    } else if (weighted()) {
      double& w = out.weight.back();
      w = how == Merge::Sum ? w + e.weight[i] : how == Merge::Max ? std::max(w, e.weight[i])
                                                                  : std::min(w, e.weight[i]);
    }
  }
  Cancel none;
  return build(ids_, out.src, out.dst, weighted() ? out.weight.data() : nullptr,
               typed() ? out.type.data() : nullptr, directed_, none);
}

}  // namespace crmcore::graph
