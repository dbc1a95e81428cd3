// Brandes' betweenness centrality, exact or from sampled sources.
#include <cmath>
#include <numeric>
#include <queue>
#include <random>
#include <stdexcept>

#include "checks.hpp"
#include "crmcore/graph/algorithms.hpp"
#include "frontier.hpp"

namespace crmcore::graph {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Per-source state, reset only where the last source reached, so a sampled
// run on a large graph costs what its searches touch. sigma and hops sit
// together: the forward search reads both for each neighbour.
struct Slot {
  double sigma = 0.0;  // shortest paths from the source
  int32_t hops = -1;   // hop distance (unweighted searches)
};

struct Scratch {
  Scratch(size_t n, bool weighted)
      : slot(n), coef(n, 0.0), bits((n + 63) / 64, 0),
        dist(weighted ? n : 0, kInf), settled(weighted ? n : 0, 0) {}
  std::vector<Slot> slot;
  std::vector<double> coef;     // (1 + dependency) / sigma, once accumulated
  std::vector<uint64_t> bits;   // membership of one BFS level
  std::vector<double> dist;     // weighted distance
  std::vector<uint8_t> settled;
  std::vector<index_t> order;   // nodes in the order they were settled
  std::vector<size_t> level;    // order[level[L] .. level[L+1]) are at hop L

  bool has(index_t v) const { return (bits[v >> 6] >> (v & 63)) & 1; }
  void mark(size_t from, size_t to, bool on) {
    for (size_t i = from; i < to; ++i) {
      const index_t v = order[i];
      if (on)
        bits[v >> 6] |= uint64_t(1) << (v & 63);
      else
        bits[v >> 6] = 0;
    }
  }
  void reset() {
    for (index_t v : order) {
      slot[v] = Slot();
      coef[v] = 0.0;
      if (!dist.empty()) {
        dist[v] = kInf;
        settled[v] = 0;
      }
    }
    order.clear();
    level.clear();
  }
};

// Level-synchronous BFS counting shortest paths. On undirected graphs a
// level whose frontier holds many edges is found bottom-up: every unreached
// node sums sigma over its neighbours in the frontier bitmap, which reads
// rows in order instead of jumping to each neighbour's state.
void count_paths_bfs(const Graph& g, index_t s, Scratch& w) {
  // A bottom-up level cannot stop at the first frontier neighbour here (it
  // must sum them all), which the cost rule's worst case already assumes.
  const size_t n = g.num_nodes();
  const size_t state_bytes = sizeof(Slot) + sizeof(double);
  w.slot[s].hops = 0;
  w.slot[s].sigma = 1.0;
  w.order.push_back(s);
  w.level = {0, 1};
  uint64_t unexplored = g.num_entries() - g.degree(s);
  for (int32_t hop = 1;; ++hop) {
    const size_t begin = w.level[hop - 1], end = w.level[hop];
    if (begin == end) break;
    uint64_t frontier_entries = 0;
    for (size_t i = begin; i < end; ++i) frontier_entries += g.degree(w.order[i]);
    if (!g.directed() && bottom_up_is_cheaper(frontier_entries, end - begin, unexplored, n, state_bytes)) {
      w.mark(begin, end, true);
      for (index_t v = 0; v < n; ++v) {
        if (w.slot[v].hops >= 0) continue;
        double paths = 0.0;
        for (uint64_t e = g.row_begin(v); e < g.row_end(v); ++e)
          if (w.has(g.target(e))) paths += w.slot[g.target(e)].sigma;
        if (paths > 0.0) {
          w.slot[v].hops = hop;
          w.slot[v].sigma = paths;
          w.order.push_back(v);
        }
      }
      w.mark(begin, end, false);
    } else {
      for (size_t i = begin; i < end; ++i) {
        const index_t u = w.order[i];
        const double su = w.slot[u].sigma;
        for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
          Slot& t = w.slot[g.target(e)];
          if (t.hops < 0) {
            t.hops = hop;
            w.order.push_back(g.target(e));
          }
          if (t.hops == hop) t.sigma += su;
        }
      }
    }
    for (size_t i = end; i < w.order.size(); ++i) unexplored -= g.degree(w.order[i]);
    w.level.push_back(w.order.size());
  }
}

// Dependencies level by level from the deepest: a node's successors are its
// neighbours in the next level, looked up in that level's bitmap.
void accumulate_bfs(const Graph& g, index_t s, Scratch& w, std::vector<double>& bc) {
  const size_t levels = w.level.size() - 1;
  for (size_t L = levels; L-- > 0;) {
    const bool deeper = L + 2 <= levels;
    if (deeper) w.mark(w.level[L + 1], w.level[L + 2], true);
    for (size_t i = w.level[L]; i < w.level[L + 1]; ++i) {
      const index_t v = w.order[i];
      double sum = 0.0;
      if (deeper)
        for (uint64_t e = g.row_begin(v); e < g.row_end(v); ++e)
          if (w.has(g.target(e))) sum += w.coef[g.target(e)];
      const double delta = sum * w.slot[v].sigma;
      if (v != s) bc[v] += delta;
      w.coef[v] = (1.0 + delta) / w.slot[v].sigma;
    }
    if (deeper) w.mark(w.level[L + 1], w.level[L + 2], false);
  }
}

// Dijkstra counting shortest paths. Ties are exact float equality of
// dist[v] + w with the best known distance, the rule NetworkX uses, so the
// same predecessors are found and the results agree.
void count_paths_dijkstra(const Graph& g, index_t s, Scratch& w) {
  using Item = std::pair<double, index_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;
  w.dist[s] = 0.0;
  w.slot[s].sigma = 1.0;
  heap.push({0.0, s});
  while (!heap.empty()) {
    auto [d, v] = heap.top();
    heap.pop();
    if (w.settled[v] || d > w.dist[v]) continue;
    w.settled[v] = 1;
    w.order.push_back(v);
    const double sv = w.slot[v].sigma;
    for (uint64_t e = g.row_begin(v); e < g.row_end(v); ++e) {
      const index_t t = g.target(e);
      if (w.settled[t]) continue;
      const double nd = d + g.weight(e);
      if (nd < w.dist[t]) {
        w.dist[t] = nd;
        w.slot[t].sigma = sv;
        heap.push({nd, t});
      } else if (nd == w.dist[t]) {
        w.slot[t].sigma += sv;
      }
    }
  }
}

// Dependencies in reverse settle order over successors: out-edges (v, t)
// with dist[v] + w == dist[t].
void accumulate_dijkstra(const Graph& g, index_t s, Scratch& w, std::vector<double>& bc) {
  for (size_t i = w.order.size(); i-- > 0;) {
    const index_t v = w.order[i];
    double sum = 0.0;
    for (uint64_t e = g.row_begin(v); e < g.row_end(v); ++e) {
      const index_t t = g.target(e);
      if (t != v && w.settled[t] && w.dist[v] + g.weight(e) == w.dist[t]) sum += w.coef[t];
    }
    const double delta = sum * w.slot[v].sigma;
    if (v != s) bc[v] += delta;
    w.coef[v] = (1.0 + delta) / w.slot[v].sigma;
  }
}

}  // namespace

std::vector<index_t> sample_nodes(size_t n, size_t k, uint64_t seed) {
  if (k > n)
    refuse("betweenness", "k", "cannot sample " + shown(k) + " sources from " + shown(n) +
                                   " nodes; leave k out for the exact answer");
  std::vector<index_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < k; ++i) {
    std::uniform_int_distribution<size_t> pick(i, n - 1);
    std::swap(all[i], all[pick(rng)]);
  }
  all.resize(k);
  return all;
}

std::vector<double> betweenness(const Graph& g, const std::vector<index_t>& sources_in,
                                bool weighted, bool normalized, Cancel& cancel) {
  const size_t n = g.num_nodes();
  weighted = weighted && g.weighted();
  if (weighted)
    for (uint64_t e = 0; e < g.num_entries(); ++e)
      if (!(g.weight(e) > 0.0))
        refuse("betweenness", "weight", "weighted betweenness needs weights > 0, got " + shown(g.weight(e)));
  std::vector<index_t> sources = sources_in;
  bool sampled = !sources.empty();
  if (sampled) {
    std::vector<uint8_t> seen(n, 0);
    for (index_t s : sources) {
      if (s >= n) throw std::out_of_range("betweenness: source out of range");
      if (seen[s]++) refuse("betweenness", "sources", "must be distinct; node " + shown(g.id(s)) + " repeats");
    }
    sampled = sources.size() < n;
  }
  if (!sampled) {
    sources.resize(n);
    std::iota(sources.begin(), sources.end(), 0);
  }

  std::vector<double> bc(n, 0.0);
  Scratch w(n, weighted);
  for (index_t s : sources) {
    if (weighted) {
      count_paths_dijkstra(g, s, w);
      accumulate_dijkstra(g, s, w, bc);
    } else {
      count_paths_bfs(g, s, w);
      accumulate_bfs(g, s, w, bc);
    }
    cancel.tick(2 * w.order.size() + 1);
    w.reset();
  }

  // NetworkX's rescaling (endpoints excluded): N counts possible targets,
  // K the sources; sampled sources cannot lie on their own paths, so their
  // scale uses K - 1.
  const double N = static_cast<double>(n) - 1.0;
  if (N < 2) return bc;
  const double correction = g.directed() ? 1.0 : 2.0;
  const double K = sampled ? static_cast<double>(sources.size()) : N;
  auto scale_for = [&](double k) {
    if (k <= 0) return std::nan("");
    return normalized ? 1.0 / (k * (N - 1.0)) : N / (k * correction);
  };
  if (!sampled) {
    const double scale = scale_for(K);
    for (double& b : bc) b *= scale;
    return bc;
  }
  std::vector<uint8_t> is_source(n, 0);
  for (index_t s : sources) is_source[s] = 1;
  const double source_scale = scale_for(K - 1.0), other_scale = scale_for(K);
  for (size_t v = 0; v < n; ++v) bc[v] *= is_source[v] ? source_scale : other_scale;
  return bc;
}

}  // namespace crmcore::graph
