// Neighbourhood similarity: Jaccard and Adamic-Adar, as NetworkX defines them.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "crmcore/graph/algorithms.hpp"

namespace crmcore::graph {

namespace {

void require_undirected(const Graph& g) {
  if (g.directed())
    throw std::invalid_argument(
        "similarity is defined on undirected graphs; use g.to_undirected() first");
}

// Degree counting a self-loop twice, like NetworkX's G.degree.
double loop_twice_degree(const Graph& g, index_t x) {
  double d = static_cast<double>(g.degree(x));
  for (uint64_t e = g.row_begin(x); e < g.row_end(x); ++e) d += g.target(e) == x;
  return d;
}

double score_from(Similarity method, const std::vector<index_t>& common, double size_a,
                  double size_b, const Graph& g) {
  if (method == Similarity::Jaccard) {
    const double uni = size_a + size_b - static_cast<double>(common.size());
    return uni == 0.0 ? 0.0 : static_cast<double>(common.size()) / uni;
  }
  double s = 0.0;
  for (index_t x : common) s += 1.0 / std::log(loop_twice_degree(g, x));
  return s;
}

}  // namespace

Scored similarity(const Graph& g, index_t u, Similarity method, size_t top, Cancel& cancel) {
  require_undirected(g);
  const size_t n = g.num_nodes();
  const TypeFilter all;
  const std::vector<index_t> nu = neighbors(g, u, all);
  std::vector<double> score(n, 0.0);
  std::vector<index_t> stamp(n, kNoNode), candidates;
  for (index_t x : nu) {
    const double add = method == Similarity::Jaccard ? 1.0 : 1.0 / std::log(loop_twice_degree(g, x));
    for (uint64_t e = g.row_begin(x); e < g.row_end(x); ++e) {
      const index_t w = g.target(e);
      if (w == u || stamp[w] == x) continue;  // parallel edges name w once per x
      if (stamp[w] == kNoNode) candidates.push_back(w);
      stamp[w] = x;
      score[w] += add;
    }
    cancel.tick(g.degree(x) + 1);
  }
  if (method == Similarity::Jaccard) {
    for (index_t w : candidates) {
      const double common = score[w];
      const double size_w = static_cast<double>(neighbors(g, w, all).size());
      score[w] = common / (static_cast<double>(nu.size()) + size_w - common);
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
  require_undirected(g);
  if (a.size() != b.size()) throw std::invalid_argument("pair_similarity: a and b differ in length");
  const TypeFilter all;
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const std::vector<index_t> na = neighbors(g, a[i], all), nb = neighbors(g, b[i], all);
    std::vector<index_t> common;
    std::set_intersection(na.begin(), na.end(), nb.begin(), nb.end(), std::back_inserter(common));
    out[i] = score_from(method, common, static_cast<double>(na.size()),
                        static_cast<double>(nb.size()), g);
    cancel.tick(na.size() + nb.size() + 1);
  }
  return out;
}

}  // namespace crmcore::graph
