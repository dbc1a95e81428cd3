// Connectivity, hop and weighted distances, paths and neighbourhoods.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <utility>

#include "checks.hpp"
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
    if (g.weight(e) < 0.0)
      refuse("shortest_path", "weight", "weighted shortest paths need weights >= 0, got " + shown(g.weight(e)));
}

// Breadth-first search, level by level, direction-optimizing (Beamer et
// al.): on a level with a large frontier each unvisited node instead looks
// for any neighbour in the frontier (a bitmap that stays in cache) and stops
// at the first, which skips most edges of a low-diameter graph. Undirected
// graphs only, where a row lists in- and out-neighbours alike.
class LevelSearch {
 public:
  LevelSearch(const Graph& g, size_t state_bytes)
      : g_(g), state_bytes_(state_bytes), unexplored_(g.num_entries()) {}

  // Starts a search at s (the caller has marked it visited).
  void start(index_t s) {
    unexplored_ -= g_.degree(s);
    frontier_.assign(1, s);
  }
  bool done() const { return frontier_.empty(); }

  // Finds the next level: claim(v, from) is called once for each unvisited
  // node v reached from `from` over an entry e with passes(e); visited(v)
  // says whether v was claimed before.
  template <typename Visited, typename Passes, typename Claim>
  void next_level(Visited visited, Passes passes, Claim claim, Cancel& cancel) {
    const size_t n = g_.num_nodes();
    next_.clear();
    uint64_t frontier_entries = 0;
    for (index_t u : frontier_) frontier_entries += g_.degree(u);
    if (!g_.directed() &&
        bottom_up_is_cheaper(frontier_entries, frontier_.size(), unexplored_, n, state_bytes_)) {
      if (bits_.empty()) bits_.assign((n + 63) / 64, 0);
      for (index_t u : frontier_) bits_[u >> 6] |= uint64_t(1) << (u & 63);
      for (index_t v = 0; v < n; ++v) {
        if (visited(v)) continue;
        for (uint64_t e = g_.row_begin(v); e < g_.row_end(v); ++e) {
          const index_t t = g_.target(e);
          if (!((bits_[t >> 6] >> (t & 63)) & 1) || !passes(e)) continue;
          claim(v, t);
          next_.push_back(v);
          break;
        }
      }
      for (index_t u : frontier_) bits_[u >> 6] = 0;
      cancel.tick(n);
    } else {
      for (index_t u : frontier_) {
        for (uint64_t e = g_.row_begin(u); e < g_.row_end(u); ++e) {
          const index_t v = g_.target(e);
          if (visited(v) || !passes(e)) continue;
          claim(v, u);
          next_.push_back(v);
        }
        cancel.tick(g_.degree(u) + 1);
      }
    }
    for (index_t v : next_) unexplored_ -= g_.degree(v);
    frontier_.swap(next_);
  }

 private:
  const Graph& g_;
  size_t state_bytes_;
  uint64_t unexplored_;  // row entries of nodes not yet reached
  std::vector<index_t> frontier_, next_;
  std::vector<uint64_t> bits_;
};

// Hop distances and parents from `source` along edges passing `filter`;
// stops after the level that reaches `stop_at`.
void bfs(const Graph& g, index_t source, int64_t max_hops, const TypeFilter& filter,
         index_t stop_at, std::vector<int64_t>& dist, std::vector<index_t>* parent,
         Cancel& cancel) {
  dist.assign(g.num_nodes(), -1);
  if (parent) parent->assign(g.num_nodes(), kNoNode);
  const bool all = filter.all();
  LevelSearch search(g, sizeof(int64_t));
  dist[source] = 0;
  search.start(source);
  for (int64_t hop = 1; !search.done() && (max_hops < 0 || hop <= max_hops); ++hop) {
    search.next_level([&](index_t v) { return dist[v] >= 0; },
                      [&](uint64_t e) { return all || filter(g.type(e)); },
                      [&](index_t v, index_t from) {
                        dist[v] = hop;
                        if (parent) (*parent)[v] = from;
                      },
                      cancel);
    if (stop_at != kNoNode && dist[stop_at] >= 0) return;
  }
}

// Undirected graphs: one search per component, sharing one label array, so
// the giant component of a low-diameter graph costs a few bottom-up sweeps.
// Components are numbered in order of their smallest node.
std::vector<index_t> bfs_components(const Graph& g, index_t& count, Cancel& cancel) {
  const size_t n = g.num_nodes();
  std::vector<index_t> comp(n, kNoNode);
  LevelSearch search(g, sizeof(index_t));
  count = 0;
  for (index_t s = 0; s < n; ++s) {
    if (comp[s] != kNoNode) continue;
    const index_t c = count++;
    comp[s] = c;
    search.start(s);
    while (!search.done())
      search.next_level([&](index_t v) { return comp[v] != kNoNode; }, [](uint64_t) { return true; },
                        [&](index_t v, index_t) { comp[v] = c; }, cancel);
  }
  return comp;
}

// Directed graphs (weak components): union-find over the edges, since rows
// list successors only.
std::vector<index_t> union_find_components(const Graph& g, index_t& count, Cancel& cancel) {
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
  std::vector<index_t> comp(n, kNoNode);
  count = 0;
  for (index_t u = 0; u < n; ++u) {
    const index_t r = find_root(parent, u);
    if (comp[r] == kNoNode) comp[r] = count++;
    comp[u] = comp[r];
  }
  return comp;
}

}  // namespace

std::vector<int64_t> connected_components(const Graph& g, Cancel& cancel) {
  const size_t n = g.num_nodes();
  index_t count = 0;
  const std::vector<index_t> comp =
      g.directed() ? union_find_components(g, count, cancel) : bfs_components(g, count, cancel);
  // Number the components largest first; both searches number them in order
  // of their smallest node, so equal sizes keep node order.
  std::vector<uint64_t> size(count, 0);
  for (index_t c : comp) ++size[c];
  std::vector<index_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) { return size[a] > size[b]; });
  std::vector<int64_t> rank(count);
  for (index_t r = 0; r < count; ++r) rank[order[r]] = r;
  std::vector<int64_t> label(n);
  for (size_t u = 0; u < n; ++u) label[u] = rank[comp[u]];
  return label;
}

std::vector<int64_t> bfs_distances(const Graph& g, index_t source, int64_t max_hops,
                                   const TypeFilter& filter, Cancel& cancel) {
  std::vector<int64_t> dist;
  bfs(g, source, max_hops, filter, kNoNode, dist, nullptr, cancel);
  return dist;
}

NearestSource nearest_source(const Graph& g, const std::vector<index_t>& sources, int64_t max_hops,
                             Cancel& cancel) {
  const size_t n = g.num_nodes();
  NearestSource out{std::vector<int64_t>(n, -1), std::vector<index_t>(n, kNoNode)};
  std::vector<index_t> frontier, next;
  for (index_t s : sources) {
    if (s >= n) refuse("nearest_source", "sources", "node index " + std::to_string(s) + " is not in the graph");
    if (out.hops[s] >= 0) continue;  // listed twice
    out.hops[s] = 0;
    out.source[s] = s;
    frontier.push_back(s);
  }
  // Level by level, each node takes the source of the first frontier node
  // that reaches it; frontiers keep the order of `sources`, so earlier wins.
  for (int64_t level = 1; !frontier.empty() && (max_hops < 0 || level <= max_hops); ++level) {
    next.clear();
    for (index_t u : frontier) {
      for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
        const index_t v = g.target(e);
        if (out.hops[v] >= 0) continue;
        out.hops[v] = level;
        out.source[v] = out.source[u];
        next.push_back(v);
      }
      cancel.tick(g.degree(u) + 1);
    }
    frontier.swap(next);
  }
  return out;
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
      refuse("strongest_path", "weight", "needs strengths in (0, 1], got " + shown(w) + "; scale the weights first");
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

}  // namespace crmcore::graph
