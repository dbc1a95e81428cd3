// Node degrees as NetworkX counts them (algorithms.hpp).
#include "crmcore/graph/algorithms.hpp"

namespace crmcore::graph {

std::vector<double> degrees(const Graph& g, Direction direction, bool weighted) {
  const size_t n = g.num_nodes();
  std::vector<double> out(n, 0.0);
  // An undirected graph has no direction: its rows are the edges at a node.
  const bool rows = !g.directed() || direction != Direction::In;
  const bool arriving = g.directed() && direction != Direction::Out;
  for (index_t u = 0; u < n; ++u) {
    for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
      const double w = weighted ? g.weight(e) : 1.0;
      const index_t v = g.target(e);
      if (rows) out[u] += w;
      if (arriving) out[v] += w;
      // An undirected self-loop is one row entry but two ends at the node.
      if (!g.directed() && v == u) out[u] += w;
    }
  }
  return out;
}

}  // namespace crmcore::graph
