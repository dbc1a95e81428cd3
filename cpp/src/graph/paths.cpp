// Connectivity, hop and weighted distances, paths and neighbourhoods.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <utility>

#include "crmcore/graph/algorithms.hpp"
#include "frontier.hpp"

namespace crmcore::graph {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

index_t find_root(std::vector<index_t>& parent, index_t u) {
  while (parent[u] != u) {
    parent[u] = parent[parent[u]];  // path halving keeps trees shallow
    u = parent[u];
  }
  return u;
}

// Dijkstra from `source` with an edge cost function; stops early once
// `stop_at` is settled. Fills dist and (optionally) the parent of each node.
template <typename Cost>
void dijkstra(const Graph& g, index_t source, index_t stop_at, Cost cost, std::vector<double>& dist,
              std::vector<index_t>* parent, Cancel& cancel) {
  const size_t n = g.num_nodes();
  dist.assign(n, kInf);
  if (parent) parent->assign(n, kNoNode);
  using Item = std::pair<double, index_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;
  dist[source] = 0.0;
  heap.push({0.0, source});
  while (!heap.empty()) {
    auto [d, u] = heap.top();
    heap.pop();
    if (d > dist[u]) continue;  // a stale entry: u was settled closer
    if (u == stop_at) return;
    for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
      const index_t v = g.target(e);
      const double nd = d + cost(e);
      if (nd < dist[v]) {
        dist[v] = nd;
        if (parent) (*parent)[v] = u;
        heap.push({nd, v});
      }
    }
    cancel.tick(g.degree(u) + 1);
  }
}

std::vector<index_t> walk_back(const std::vector<index_t>& parent, index_t a, index_t b) {
  std::vector<index_t> path;
  if (a != b && parent[b] == kNoNode) return path;
  for (index_t v = b; v != a; v = parent[v]) path.push_back(v);
  path.push_back(a);
  std::reverse(path.begin(), path.end());
  return path;
}

void check_non_negative(const Graph& g) {
  for (uint64_t e = 0; e < g.num_entries(); ++e)
    if (g.weight(e) < 0.0) throw std::invalid_argument("shortest paths need weights >= 0");
}

// BFS returning hop distances and parents, following edges passing `filter`.
// Direction-optimizing (Beamer et al.): on a level with a large frontier each
// unvisited node instead looks for any neighbour in the frontier and stops at
// the first, which skips most edges of a low-diameter graph. Undirected
// graphs only, where a row lists in- and out-neighbours alike.
void bfs(const Graph& g, index_t source, int64_t max_hops, const TypeFilter& filter,
         index_t stop_at, std::vector<int64_t>& dist, std::vector<index_t>* parent,
         Cancel& cancel) {
  const size_t n = g.num_nodes();
  dist.assign(n, -1);
  if (parent) parent->assign(n, kNoNode);
  const bool all = filter.all();
  std::vector<index_t> frontier{source}, next;
  std::vector<uint64_t> bits;
  dist[source] = 0;
  uint64_t unexplored = g.num_entries() - g.degree(source);
  for (int64_t hop = 1; !frontier.empty() && (max_hops < 0 || hop <= max_hops); ++hop) {
    next.clear();
    uint64_t frontier_entries = 0;
    for (index_t u : frontier) frontier_entries += g.degree(u);
    if (!g.directed() &&
        bottom_up_is_cheaper(frontier_entries, frontier.size(), unexplored, n, sizeof(int64_t))) {
      if (bits.empty()) bits.assign((n + 63) / 64, 0);
      for (index_t u : frontier) bits[u >> 6] |= uint64_t(1) << (u & 63);
      for (index_t v = 0; v < n; ++v) {
        if (dist[v] >= 0) continue;
        for (uint64_t e = g.row_begin(v); e < g.row_end(v); ++e) {
          const index_t t = g.target(e);
          if (!((bits[t >> 6] >> (t & 63)) & 1) || (!all && !filter(g.type(e)))) continue;
          dist[v] = hop;
          if (parent) (*parent)[v] = t;
          if (v == stop_at) return;
          next.push_back(v);
          break;
        }
      }
      for (index_t u : frontier) bits[u >> 6] = 0;
      cancel.tick(n);
    } else {
      for (index_t u : frontier) {
        for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
          const index_t v = g.target(e);
          if (dist[v] >= 0 || (!all && !filter(g.type(e)))) continue;
          dist[v] = hop;
          if (parent) (*parent)[v] = u;
          if (v == stop_at) return;
          next.push_back(v);
        }
        cancel.tick(g.degree(u) + 1);
      }
    }
    for (index_t v : next) unexplored -= g.degree(v);
    frontier.swap(next);
  }
}

}  // namespace

std::vector<int64_t> connected_components(const Graph& g, Cancel& cancel) {
  const size_t n = g.num_nodes();
  std::vector<index_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  for (index_t u = 0; u < n; ++u) {
    for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
      index_t a = find_root(parent, u), b = find_root(parent, g.target(e));
      if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
    cancel.tick(g.degree(u) + 1);
  }
  // Number the components largest first; roots are the smallest index of
  // their component, so equal sizes keep node order.
  std::vector<uint64_t> size(n, 0);
  for (index_t u = 0; u < n; ++u) ++size[find_root(parent, u)];
  std::vector<index_t> roots;
  for (index_t u = 0; u < n; ++u)
    if (parent[u] == u) roots.push_back(u);
  std::stable_sort(roots.begin(), roots.end(),
                   [&](index_t a, index_t b) { return size[a] > size[b]; });
  std::vector<int64_t> label_of_root(n, -1);
  for (size_t i = 0; i < roots.size(); ++i) label_of_root[roots[i]] = static_cast<int64_t>(i);
  std::vector<int64_t> label(n);
  for (index_t u = 0; u < n; ++u) label[u] = label_of_root[find_root(parent, u)];
  return label;
}

std::vector<int64_t> bfs_distances(const Graph& g, index_t source, int64_t max_hops,
                                   const TypeFilter& filter, Cancel& cancel) {
  std::vector<int64_t> dist;
  bfs(g, source, max_hops, filter, kNoNode, dist, nullptr, cancel);
  return dist;
}

std::vector<double> dijkstra_distances(const Graph& g, index_t source, Cancel& cancel) {
  check_non_negative(g);
  std::vector<double> dist;
  dijkstra(g, source, kNoNode, [&](uint64_t e) { return g.weight(e); }, dist, nullptr, cancel);
  return dist;
}

std::vector<index_t> shortest_path(const Graph& g, index_t a, index_t b, bool weighted,
                                   Cancel& cancel) {
  std::vector<index_t> parent;
  if (weighted && g.weighted()) {
    check_non_negative(g);
    std::vector<double> dist;
    dijkstra(g, a, b, [&](uint64_t e) { return g.weight(e); }, dist, &parent, cancel);
  } else {
    std::vector<int64_t> dist;
    bfs(g, a, -1, TypeFilter(), b, dist, &parent, cancel);
  }
  return walk_back(parent, a, b);
}

StrongestPath strongest_path(const Graph& g, index_t a, index_t b, Cancel& cancel) {
  for (uint64_t e = 0; e < g.num_entries(); ++e) {
    const double w = g.weight(e);
    if (!(w > 0.0 && w <= 1.0))
      throw std::invalid_argument(
          "strongest_path needs strengths in (0, 1]; scale the weights first");
  }
  std::vector<double> dist;
  std::vector<index_t> parent;
  // Maximising a product of strengths is minimising the sum of -log(w).
  dijkstra(g, a, b, [&](uint64_t e) { return -std::log(g.weight(e)); }, dist, &parent, cancel);
  StrongestPath out;
  out.path = walk_back(parent, a, b);
  if (!out.path.empty()) out.strength = std::exp(-dist[b]);
  return out;
}

std::vector<index_t> neighbors(const Graph& g, index_t u, const TypeFilter& filter) {
  std::vector<index_t> out;
  for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e)
    if (filter(g.type(e))) out.push_back(g.target(e));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<index_t> shared_neighbors(const Graph& g, index_t a, index_t b,
                                      const TypeFilter& filter) {
  const std::vector<index_t> na = neighbors(g, a, filter), nb = neighbors(g, b, filter);
  std::vector<index_t> out;
  std::set_intersection(na.begin(), na.end(), nb.begin(), nb.end(), std::back_inserter(out));
  return out;
}

}  // namespace crmcore::graph
