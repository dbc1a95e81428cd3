// Brandes' betweenness centrality, exact or from sampled sources.
#include <cmath>
#include <numeric>
#include <queue>
#include <random>
#include <stdexcept>

#include "crmcore/graph/algorithms.hpp"

namespace crmcore::graph {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Per-source state of a node, kept together so that looking at a neighbour
// costs one cache miss rather than one per array; reset only where the last
// source reached, so a sampled run on a large graph costs what it touches.
struct Slot {
  double sigma = 0.0;  // shortest paths from the source
  double coef = 0.0;   // (1 + dependency) / sigma, once the node is accumulated
  double dist = kInf;  // weighted distance
  int32_t hops = -1;   // hop distance
  uint8_t settled = 0;
};

struct Scratch {
  explicit Scratch(size_t n) : slot(n) {}
  std::vector<Slot> slot;
  std::vector<index_t> order;  // nodes in the order they were settled
  void reset() {
    for (index_t v : order) slot[v] = Slot();
    order.clear();
  }
};

void count_paths_bfs(const Graph& g, index_t s, Scratch& w) {
  w.slot[s].hops = 0;
  w.slot[s].sigma = 1.0;
  w.order.push_back(s);
  for (size_t head = 0; head < w.order.size(); ++head) {
    const index_t v = w.order[head];
    const int32_t next = w.slot[v].hops + 1;
    const double sv = w.slot[v].sigma;
    for (uint64_t e = g.row_begin(v); e < g.row_end(v); ++e) {
      Slot& t = w.slot[g.target(e)];
      if (t.hops < 0) {
        t.hops = next;
        w.order.push_back(g.target(e));
      }
      if (t.hops == next) t.sigma += sv;
    }
  }
}

// Dijkstra counting shortest paths. Ties are exact float equality of
// dist[v] + w with the best known distance, the rule NetworkX uses, so the
// same predecessors are found and the results agree.
void count_paths_dijkstra(const Graph& g, index_t s, Scratch& w) {
  using Item = std::pair<double, index_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;
  w.slot[s].dist = 0.0;
  w.slot[s].sigma = 1.0;
  heap.push({0.0, s});
  while (!heap.empty()) {
    auto [d, v] = heap.top();
    heap.pop();
    Slot& sv = w.slot[v];
    if (sv.settled || d > sv.dist) continue;
    sv.settled = 1;
    w.order.push_back(v);
    for (uint64_t e = g.row_begin(v); e < g.row_end(v); ++e) {
      Slot& t = w.slot[g.target(e)];
      if (t.settled) continue;
      const double nd = d + g.weight(e);
      if (nd < t.dist) {
        t.dist = nd;
        t.sigma = sv.sigma;
        heap.push({nd, g.target(e)});
      } else if (nd == t.dist) {
        t.sigma += sv.sigma;
      }
    }
  }
}

// Dependencies in reverse settle order, walking successors (out-edges whose
// head lies one step further on a shortest path).
void accumulate(const Graph& g, index_t s, bool weighted, Scratch& w, std::vector<double>& bc) {
  for (size_t i = w.order.size(); i-- > 0;) {
    const index_t v = w.order[i];
    Slot& sv = w.slot[v];
    double sum = 0.0;
    for (uint64_t e = g.row_begin(v); e < g.row_end(v); ++e) {
      const Slot& t = w.slot[g.target(e)];
      const bool on_path = weighted ? (t.settled && sv.dist + g.weight(e) == t.dist && g.target(e) != v)
                                    : (t.hops == sv.hops + 1);
      if (on_path) sum += t.coef;
    }
    const double delta = sum * sv.sigma;
    if (v != s) bc[v] += delta;
    sv.coef = (1.0 + delta) / sv.sigma;
  }
}

}  // namespace

std::vector<index_t> sample_nodes(size_t n, size_t k, uint64_t seed) {
  if (k > n) throw std::invalid_argument("cannot sample more sources than there are nodes");
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
      if (!(g.weight(e) > 0.0)) throw std::invalid_argument("weighted betweenness needs weights > 0");
  std::vector<index_t> sources = sources_in;
  bool sampled = !sources.empty();
  if (sampled) {
    std::vector<uint8_t> seen(n, 0);
    for (index_t s : sources) {
      if (s >= n) throw std::out_of_range("betweenness: source out of range");
      if (seen[s]++) throw std::invalid_argument("betweenness: sources must be distinct");
    }
    sampled = sources.size() < n;
  }
  if (!sampled) {
    sources.resize(n);
    std::iota(sources.begin(), sources.end(), 0);
  }

  std::vector<double> bc(n, 0.0);
  Scratch w(n);
  for (index_t s : sources) {
    if (weighted)
      count_paths_dijkstra(g, s, w);
    else
      count_paths_bfs(g, s, w);
    accumulate(g, s, weighted, w, bc);
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
