// Neighbourhood similarity: Jaccard and Adamic-Adar, as NetworkX defines them.
//
// NetworkX's rules, which only matter once a node has a self-loop or a pair
// has parallel edges:
// - a self-loop puts a node in its own neighbour set, so it counts in the
//   union of Jaccard, but u and v are never common neighbours of u and v
//   (nx.common_neighbors removes them);
// - Adamic-Adar divides by the log of a common neighbour's degree in the
//   simple graph: distinct neighbours, a self-loop counting twice. NetworkX
//   refuses multigraphs here; collapsing parallel edges gives what it
//   returns for nx.Graph(multigraph), and keeps the degree consistent with
//   the neighbour sets, which count each neighbour once.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "checks.hpp"
#include "crmcore/graph/algorithms.hpp"

namespace crmcore::graph {

namespace {

void require_undirected(const Graph& g, const char* algorithm) {
  if (g.directed())
    refuse(algorithm, "graph", "similarity is defined on undirected graphs; use g.to_undirected() first");
}

bool has(const std::vector<index_t>& sorted, index_t x) {
  return std::binary_search(sorted.begin(), sorted.end(), x);
}

// Degree of x in the simple graph, from its distinct neighbours (sorted).
double simple_degree(const std::vector<index_t>& nx, index_t x) {
  return static_cast<double>(nx.size() + (has(nx, x) ? 1 : 0));
}

// |N(a) ∩ N(b)| counts a and b themselves when they are in both sets; the
// shared neighbours of NetworkX leave them out.
std::vector<index_t> without(std::vector<index_t> nodes, index_t a, index_t b) {
  nodes.erase(std::remove_if(nodes.begin(), nodes.end(), [&](index_t x) { return x == a || x == b; }),
              nodes.end());
  return nodes;
}

}  // namespace

std::vector<index_t> shared_neighbors(const Graph& g, index_t a, index_t b, const TypeFilter& filter) {
  const std::vector<index_t> na = neighbors(g, a, filter), nb = neighbors(g, b, filter);
  std::vector<index_t> both;
  std::set_intersection(na.begin(), na.end(), nb.begin(), nb.end(), std::back_inserter(both));
  return without(std::move(both), a, b);
}

Scored similarity(const Graph& g, index_t u, Similarity method, size_t top, Cancel& cancel) {
  require_undirected(g, "similar");
  const size_t n = g.num_nodes();
  const TypeFilter all;
  const std::vector<index_t> nu = neighbors(g, u, all);
  std::vector<uint8_t> in_nu(n, 0), candidate(n, 0);
  for (index_t x : nu) in_nu[x] = 1;
  std::vector<double> score(n, 0.0);
  std::vector<index_t> stamp(n, kNoNode), candidates, row;
  // Every common neighbour x of u and w is a neighbour of u other than u
  // whose row holds w (w != x): walk each such row once.
  for (index_t x : nu) {
    if (x == u) continue;
    row.clear();
    for (uint64_t e = g.row_begin(x); e < g.row_end(x); ++e) {
      const index_t w = g.target(e);
      if (stamp[w] == x) continue;  // a parallel edge names w again
      stamp[w] = x;
      row.push_back(w);
    }
    const bool x_looped = stamp[x] == x;
    const double add = method == Similarity::Jaccard
                           ? 1.0
                           : 1.0 / std::log(static_cast<double>(row.size() + (x_looped ? 1 : 0)));
    for (index_t w : row) {
      if (w == u || w == x) continue;
      if (!candidate[w]) {
        candidate[w] = 1;
        candidates.push_back(w);
      }
      score[w] += add;
    }
    cancel.tick(g.degree(x) + 1);
  }
  if (method == Similarity::Jaccard) {
    const bool u_looped = in_nu[u];
    for (index_t w : candidates) {
      const std::vector<index_t> nw = neighbors(g, w, all);
      // u and w are in both sets when they are adjacent and looped.
      const double selves = in_nu[w] ? double(u_looped) + double(has(nw, w)) : 0.0;
      const double uni = static_cast<double>(nu.size() + nw.size()) - score[w] - selves;
      score[w] /= uni;
    }
  }
  std::sort(candidates.begin(), candidates.end(), [&](index_t a, index_t b) {
    return score[a] != score[b] ? score[a] > score[b] : a < b;
  });
  if (top && candidates.size() > top) candidates.resize(top);
  Scored out;
  out.node = candidates;
  for (index_t w : candidates) out.score.push_back(score[w]);
  return out;
}

std::vector<double> pair_similarity(const Graph& g, const std::vector<index_t>& a,
                                    const std::vector<index_t>& b, Similarity method,
                                    Cancel& cancel) {
  require_undirected(g, "similarity");
  if (a.size() != b.size())
    refuse("similarity", "b", "a and b differ in length (" + shown(a.size()) + " and " + shown(b.size()) + ")");
  const TypeFilter all;
  std::vector<double> out(a.size(), 0.0);
  for (size_t i = 0; i < a.size(); ++i) {
    const std::vector<index_t> na = neighbors(g, a[i], all), nb = neighbors(g, b[i], all);
    std::vector<index_t> both;
    std::set_intersection(na.begin(), na.end(), nb.begin(), nb.end(), std::back_inserter(both));
    const std::vector<index_t> common = without(both, a[i], b[i]);
    if (method == Similarity::Jaccard) {
      const size_t uni = na.size() + nb.size() - both.size();
      out[i] = uni == 0 ? 0.0 : static_cast<double>(common.size()) / static_cast<double>(uni);
    } else {
      for (index_t x : common) out[i] += 1.0 / std::log(simple_degree(neighbors(g, x, all), x));
    }
    cancel.tick(na.size() + nb.size() + 1);
  }
  return out;
}

}  // namespace crmcore::graph
