#pragma once
// Graph algorithms over the CSR graph. Every result is a dense array aligned
// with Graph::ids() (or a list of dense indices); the binding layer turns them
// into pandas objects indexed by node id. Long loops tick the Cancel.
#include <cstdint>
#include <limits>
#include <vector>

#include "crmcore/cancel.hpp"
#include "crmcore/graph/csr.hpp"

namespace crmcore::graph {

// ---- Degree -----------------------------------------------------------------
// Edges at each node, counted as NetworkX counts them: an undirected
// self-loop adds 2 (it is stored once in the node's row); on a directed graph
// Out counts the edges leaving a node, In those arriving and All both, so a
// self-loop adds 1 to each and 2 to All. `weighted` sums the edge weights
// instead of counting (a self-loop's weight twice where it counts twice).
// Parallel edges count each, as in NetworkX's MultiGraph.
enum class Direction { Out, In, All };
std::vector<double> degrees(const Graph& g, Direction direction, bool weighted);

// ---- PageRank -------------------------------------------------------------
// Power iteration with the same update, dangling-node handling and stopping
// rule as NetworkX (err = sum |x - x_last| < n * tol), so both stop on the
// same iteration and agree to rounding.
struct PageRankOptions {
  double damping = 0.85;
  double tol = 1e-6;      // > 0
  int64_t max_iter = 100;  // >= 1
  bool use_weights = true;
  std::vector<double> personalization;  // dense, num_nodes long, or empty = uniform
  std::vector<double> dangling;         // dense, or empty = personalization
  std::vector<double> nstart;           // dense, or empty = uniform
};
// Throws crmcore::ValidationError for a damping outside [0, 1], a tol that
// is not > 0 or max_iter < 1, and crmcore::Error when max_iter iterations
// do not converge.
std::vector<double> pagerank(const Graph& g, const PageRankOptions& opt, Cancel& cancel);

// ---- Connectivity and paths -------------------------------------------------
// Component label per node (weak components for directed graphs); label 0 is
// the largest component, ties broken by smallest node id.
std::vector<int64_t> connected_components(const Graph& g, Cancel& cancel);

// Hop distance from source along edges passing `filter`, at most max_hops
// (negative = unlimited); -1 where unreachable.
std::vector<int64_t> bfs_distances(const Graph& g, index_t source, int64_t max_hops,
                                   const TypeFilter& filter, Cancel& cancel);
// Hop distance from the nearest of several sources and which source that is
// (for "how close is each node to any good customer"): one breadth-first
// search seeded with every source at distance 0. Where two sources are
// equally near, the one earlier in `sources` wins. -1 / kNoNode where no
// source is within max_hops (negative = unlimited).
struct NearestSource {
  std::vector<int64_t> hops;
  std::vector<index_t> source;
};
NearestSource nearest_source(const Graph& g, const std::vector<index_t>& sources, int64_t max_hops,
                             Cancel& cancel);
// Weighted distance (Dijkstra; weights must be >= 0); +inf where unreachable.
std::vector<double> dijkstra_distances(const Graph& g, index_t source, Cancel& cancel);
// Nodes of one shortest path a..b (hops, or weights when `weighted`); empty if none.
std::vector<index_t> shortest_path(const Graph& g, index_t a, index_t b, bool weighted,
                                   Cancel& cancel);

// The path a..b maximising the product of edge strengths (weights in (0, 1]):
// Dijkstra on -log(w).
struct StrongestPath {
  std::vector<index_t> path;  // empty when b is unreachable
  double strength = 0.0;      // product of strengths along the path
};
StrongestPath strongest_path(const Graph& g, index_t a, index_t b, Cancel& cancel);

// ---- Neighbourhoods -----------------------------------------------------------
// Distinct neighbours (successors when directed) over edges passing `filter`, sorted.
std::vector<index_t> neighbors(const Graph& g, index_t u, const TypeFilter& filter);
// Nodes other than a and b that are neighbours of both, sorted: a self-loop
// does not make a node its own shared neighbour (nx.common_neighbors).
std::vector<index_t> shared_neighbors(const Graph& g, index_t a, index_t b,
                                      const TypeFilter& filter);

// ---- Betweenness ----------------------------------------------------------------
// Brandes' algorithm from `sources` (empty = every node), scaled exactly as
// NetworkX's betweenness_centrality (endpoints=False), including its
// correction for sampled sources.
std::vector<double> betweenness(const Graph& g, const std::vector<index_t>& sources,
                                bool weighted, bool normalized, Cancel& cancel);
// k distinct nodes drawn uniformly with a seeded generator.
std::vector<index_t> sample_nodes(size_t n, size_t k, uint64_t seed);

// ---- Communities ---------------------------------------------------------------
struct Communities {
  std::vector<int64_t> label;  // community per node, 0 = largest
  double modularity = 0.0;
};
// Louvain (local moving + aggregation until no gain), then local moving again
// at each finer level on the way back down (multilevel refinement); the best
// of `trials` (>= 1) random node orders wins. Resolution must be finite and
// > 0, weights >= 0. Directed graphs are treated as undirected. Scaling every
// weight by the same factor changes nothing (weights are normalised and every
// comparison is relative), so decayed strengths of 1e-15 work like 1.
Communities louvain(const Graph& g, double resolution, uint64_t seed, int64_t trials,
                    bool use_weights, Cancel& cancel);
// Modularity of a labelling, as NetworkX defines it (directed form for
// directed graphs), at any weight scale.
double modularity(const Graph& g, const std::vector<int64_t>& label, double resolution,
                  bool use_weights);

// ---- Similarity ---------------------------------------------------------------
enum class Similarity { Jaccard, AdamicAdar };
struct Scored {
  std::vector<index_t> node;
  std::vector<double> score;
};
// NetworkX's jaccard_coefficient and adamic_adar_index, also on graphs with
// self-loops; parallel edges count once (see similarity.cpp).
// Score of u against every node sharing at least one neighbour with it,
// best first (ties by node id); top = 0 keeps all. Undirected graphs only.
Scored similarity(const Graph& g, index_t u, Similarity method, size_t top, Cancel& cancel);
// Scores for explicit pairs (0 where nothing is shared).
std::vector<double> pair_similarity(const Graph& g, const std::vector<index_t>& a,
                                    const std::vector<index_t>& b, Similarity method,
                                    Cancel& cancel);

}  // namespace crmcore::graph
