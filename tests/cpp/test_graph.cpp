// The graph core on small graphs whose answers are known by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "crmcore/errors.hpp"
#include "crmcore/graph/algorithms.hpp"
#include "crmcore/graph/csr.hpp"

using namespace crmcore;
using namespace crmcore::graph;

namespace {

Graph make(const std::vector<int64_t>& src, const std::vector<int64_t>& dst, bool directed = false,
           const std::vector<double>& w = {}, const std::vector<int64_t>& extra = {},
           const std::vector<uint8_t>& types = {}) {
  Cancel none;
  return Graph::from_edges(src.data(), dst.data(), src.size(), w.empty() ? nullptr : w.data(),
                           types.empty() ? nullptr : types.data(), directed, extra.data(),
                           extra.size(), none);
}

// Two triangles joined by the edge 3-4: {1,2,3} and {4,5,6}.
Graph barbell() { return make({1, 2, 3, 4, 5, 6, 3}, {2, 3, 1, 5, 6, 4, 4}); }

}  // namespace

TEST(GraphBuild, MapsScatteredIdsToSortedDenseIndices) {
  const int64_t big = int64_t(1) << 50;
  Graph g = make({big, -7}, {-7, 42}, false, {}, {9});
  ASSERT_EQ(g.num_nodes(), 4u);
  EXPECT_EQ(g.ids(), (std::vector<int64_t>{-7, 9, 42, big}));
  EXPECT_EQ(g.index_of(42), 2u);
  EXPECT_EQ(g.degree(g.index_of(-7)), 2u);
  EXPECT_EQ(g.degree(g.index_of(9)), 0u);
  EXPECT_THROW(g.index_of(8), NotFound);
  EXPECT_EQ(g.num_edges(), 2u);
  EXPECT_EQ(g.num_entries(), 4u);  // undirected: each edge in both rows
}

TEST(GraphBuild, StaysWithinSixteenBytesPerNodeAndEdge) {
  std::vector<int64_t> src, dst;
  for (int64_t i = 0; i < 1000; ++i)
    for (int64_t j = 1; j <= 10; ++j) {
      src.push_back(i * 1000003);
      dst.push_back(((i + j) % 1000) * 1000003);
    }
  for (bool directed : {false, true}) {
    Graph g = make(src, dst, directed);
    const double per_node = 16.0;
    const double edge_bytes = double(g.topology_bytes()) - per_node * g.num_nodes();
    EXPECT_LE(edge_bytes / g.num_edges(), 16.0);
    EXPECT_EQ(g.attribute_bytes(), 0u);
  }
}

TEST(GraphPageRank, CycleIsUniformAndDanglingFollowsNetworkX) {
  Cancel none;
  Graph cycle = make({1, 2, 3}, {2, 3, 1}, true);
  for (double x : pagerank(cycle, {}, none)) EXPECT_NEAR(x, 1.0 / 3, 1e-12);
  // 1 -> 2, 2 dangling. Fixed point: x1 = 0.15/2 + 0.85*x2/2, x2 = 0.15/2 + 0.85*(x1 + x2/2).
  Graph chain = make({1}, {2}, true);
  PageRankOptions opt;
  opt.tol = 1e-14;
  opt.max_iter = 1000;
  std::vector<double> x = pagerank(chain, opt, none);
  EXPECT_NEAR(x[0], 0.5 / 1.425, 1e-10);  // substituting x2 = 1 - x1
  EXPECT_NEAR(x[0] + x[1], 1.0, 1e-12);
}

TEST(GraphPaths, ComponentsDistancesAndPaths) {
  Cancel none;
  Graph g = make({1, 2, 3, 10}, {2, 3, 4, 11}, false, {}, {20});
  std::vector<int64_t> comp = connected_components(g, none);
  EXPECT_EQ(comp, (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 2}));
  std::vector<int64_t> d = bfs_distances(g, g.index_of(1), -1, TypeFilter(), none);
  EXPECT_EQ(d, (std::vector<int64_t>{0, 1, 2, 3, -1, -1, -1}));
  EXPECT_EQ(bfs_distances(g, 0, 2, TypeFilter(), none)[3], -1);
  std::vector<index_t> p = shortest_path(g, g.index_of(4), g.index_of(1), false, none);
  EXPECT_EQ(p, (std::vector<index_t>{3, 2, 1, 0}));
  EXPECT_TRUE(shortest_path(g, 0, g.index_of(20), false, none).empty());
}

TEST(GraphPaths, DijkstraTakesTheLightRoute) {
  Cancel none;
  Graph g = make({1, 1, 2}, {3, 2, 3}, false, {5.0, 1.0, 1.5});
  std::vector<double> d = dijkstra_distances(g, 0, none);
  EXPECT_DOUBLE_EQ(d[2], 2.5);
  EXPECT_EQ(shortest_path(g, 0, 2, true, none), (std::vector<index_t>{0, 1, 2}));
  EXPECT_EQ(shortest_path(g, 0, 2, false, none), (std::vector<index_t>{0, 2}));
}

TEST(GraphPaths, StrongestPathMaximisesTheProduct) {
  Cancel none;
  // direct 0.5 vs 0.9 * 0.9 = 0.81 through 2
  Graph g = make({1, 1, 2}, {3, 2, 3}, false, {0.5, 0.9, 0.9});
  StrongestPath p = strongest_path(g, 0, 2, none);
  EXPECT_EQ(p.path, (std::vector<index_t>{0, 1, 2}));
  EXPECT_NEAR(p.strength, 0.81, 1e-12);
  Graph bad = make({1}, {2}, false, {1.5});
  EXPECT_THROW(strongest_path(bad, 0, 1, none), ValidationError);
}

TEST(GraphBetweenness, PathAndStarByHand) {
  Cancel none;
  // path 1-2-3: node 2 lies on the only 1..3 path; normalized 1/((n-1)(n-2)/2) = 1
  Graph path = make({1, 2}, {2, 3});
  std::vector<double> b = betweenness(path, {}, false, true, none);
  EXPECT_DOUBLE_EQ(b[1], 1.0);
  EXPECT_DOUBLE_EQ(b[0], 0.0);
  // star with 4 leaves: centre on C(4,2) = 6 pairs, unnormalized
  Graph star = make({0, 0, 0, 0}, {1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(betweenness(star, {}, false, false, none)[0], 6.0);
  // a square: two shortest paths between opposite corners, each middle gets 1/2 per pair
  Graph square = make({1, 2, 3, 4}, {2, 3, 4, 1});
  EXPECT_DOUBLE_EQ(betweenness(square, {}, false, false, none)[0], 0.5);
}

TEST(GraphCommunities, TwoTrianglesSplitAtTheBridge) {
  Cancel none;
  Graph g = barbell();
  Communities c = louvain(g, 1.0, 0, 1, true, none);
  EXPECT_EQ(c.label[0], c.label[1]);
  EXPECT_EQ(c.label[0], c.label[2]);
  EXPECT_EQ(c.label[3], c.label[5]);
  EXPECT_NE(c.label[0], c.label[3]);
  // 7 edges; each side has 3 internal edges and degree sum 7: 2*(3/7 - (7/14)^2)
  EXPECT_NEAR(c.modularity, 2 * (3.0 / 7 - 0.25), 1e-12);
  EXPECT_NEAR(modularity(g, c.label, 1.0, true), c.modularity, 1e-15);
}

TEST(GraphCommunities, AnyWeightScaleGivesTheSameAnswer) {
  Cancel none;
  const std::vector<int64_t> src{1, 2, 3, 4, 5, 6, 3}, dst{2, 3, 1, 5, 6, 4, 4};
  for (double s : {1e-300, 1e-15, 1e-13, 1.0, 1e12, 1e300}) {
    Graph g = make(src, dst, false, std::vector<double>(7, s));
    Communities c = louvain(g, 1.0, 0, 1, true, none);
    EXPECT_EQ(c.label, (std::vector<int64_t>{0, 0, 0, 1, 1, 1})) << s;
    EXPECT_NEAR(c.modularity, 2 * (3.0 / 7 - 0.25), 1e-12) << s;
    Graph d = make(src, dst, true, std::vector<double>(7, s));
    // directed: each side holds 3 of the 7 arcs, out- and in-weight 3 and 4 or 4 and 3
    EXPECT_NEAR(modularity(d, c.label, 1.0, true), 2 * (3.0 / 7 - 12.0 / 49), 1e-12) << s;
  }
}

TEST(GraphSimilarity, JaccardAndAdamicAdarByHand) {
  Cancel none;
  // 1 and 2 share 3 and 4; 1 also knows 5.  N(1)={3,4,5}, N(2)={3,4}
  Graph g = make({1, 1, 1, 2, 2}, {3, 4, 5, 3, 4});
  Scored s = similarity(g, 0, Similarity::Jaccard, 0, none);
  ASSERT_EQ(s.node.size(), 1u);
  EXPECT_EQ(s.node[0], 1u);
  EXPECT_DOUBLE_EQ(s.score[0], 2.0 / 3.0);
  std::vector<double> aa = pair_similarity(g, {0}, {1}, Similarity::AdamicAdar, none);
  EXPECT_DOUBLE_EQ(aa[0], 2.0 / std::log(2.0));
  EXPECT_EQ(shared_neighbors(g, 0, 1, TypeFilter()), (std::vector<index_t>{2, 3}));
}

TEST(GraphSimilarity, SelfLoopIsNotItsOwnCommonNeighbour) {
  Cancel none;
  // 1-1, 1-2, 3-2: 1 is in N(1) = {1, 2} and in N(2) = {1, 3}, yet NetworkX
  // does not count it as shared by 1 and 2.
  Graph g = make({1, 1, 3}, {1, 2, 2});
  EXPECT_EQ(pair_similarity(g, {0}, {1}, Similarity::Jaccard, none)[0], 0.0);
  EXPECT_EQ(pair_similarity(g, {0}, {1}, Similarity::AdamicAdar, none)[0], 0.0);
  EXPECT_TRUE(shared_neighbors(g, 0, 1, TypeFilter()).empty());
  // 3 and 1 share 2; the union N(3) | N(1) = {1, 2} holds 1 through its loop.
  Scored s = similarity(g, 2, Similarity::Jaccard, 0, none);
  ASSERT_EQ(s.node, (std::vector<index_t>{0}));
  EXPECT_DOUBLE_EQ(s.score[0], 1.0 / 2.0);
  // 1-2, 2-2, 2-3: 2's own loop does not make 2 similar to 1 through 2;
  // 3 is, through 2: N(1) | N(3) = {2}.
  Graph h = make({1, 2, 2}, {2, 2, 3});
  s = similarity(h, 0, Similarity::Jaccard, 0, none);
  EXPECT_EQ(s.node, (std::vector<index_t>{2}));
  EXPECT_DOUBLE_EQ(s.score.at(0), 1.0);
}

TEST(GraphSimilarity, ParallelEdgesCountOnceInTheAdamicAdarDegree) {
  Cancel none;
  // 3 is shared by 1 and 2; 1-3 is given twice, so 3 has two distinct neighbours.
  Graph g = make({1, 1, 2}, {3, 3, 3});
  EXPECT_DOUBLE_EQ(pair_similarity(g, {0}, {1}, Similarity::AdamicAdar, none)[0], 1.0 / std::log(2.0));
  EXPECT_DOUBLE_EQ(similarity(g, 0, Similarity::AdamicAdar, 0, none).score.at(0), 1.0 / std::log(2.0));
  // a looped common neighbour's degree counts the loop twice, as NetworkX's G.degree does
  Graph h = make({1, 2, 3}, {3, 3, 3});
  EXPECT_DOUBLE_EQ(pair_similarity(h, {0}, {1}, Similarity::AdamicAdar, none)[0], 1.0 / std::log(4.0));
}

TEST(GraphTypes, FilterRestrictsWalks) {
  Cancel none;
  Graph g = make({1, 1, 2}, {2, 3, 4}, false, {}, {}, {0, 1, 0});
  EXPECT_EQ(neighbors(g, 0, TypeFilter({0})), (std::vector<index_t>{1}));
  EXPECT_TRUE(neighbors(g, 0, TypeFilter(std::vector<uint8_t>{})).empty());
  std::vector<int64_t> d = bfs_distances(g, 0, -1, TypeFilter({0}), none);
  EXPECT_EQ(d, (std::vector<int64_t>{0, 1, -1, 2}));
  Graph sub = g.subgraph({0, 1, 2}, TypeFilter({1}));
  EXPECT_EQ(sub.num_edges(), 1u);
}

TEST(GraphParameters, BadArgumentsAreValidationErrorsEvenOnEmptyGraphs) {
  Cancel none;
  Graph empty = make({}, {});
  for (auto set : std::vector<void (*)(PageRankOptions&)>{
           [](PageRankOptions& o) { o.damping = 1.5; }, [](PageRankOptions& o) { o.damping = std::nan(""); },
           [](PageRankOptions& o) { o.tol = 0.0; }, [](PageRankOptions& o) { o.tol = -1e-6; },
           [](PageRankOptions& o) { o.max_iter = 0; }}) {
    PageRankOptions opt;
    set(opt);
    EXPECT_THROW(pagerank(empty, opt, none), ValidationError);
  }
  EXPECT_THROW(louvain(empty, 1.0, 0, 0, true, none), ValidationError);
  EXPECT_THROW(louvain(empty, std::nan(""), 0, 1, true, none), ValidationError);
  EXPECT_THROW(louvain(empty, 0.0, 0, 1, true, none), ValidationError);
  EXPECT_THROW(modularity(barbell(), std::vector<int64_t>(6, 0), std::nan(""), true), ValidationError);
  EXPECT_THROW(sample_nodes(3, 4, 0), ValidationError);
  EXPECT_EQ(sample_nodes(3, 3, 0).size(), 3u);
  try {
    PageRankOptions opt;
    opt.damping = 1.5;
    pagerank(barbell(), opt, none);
    FAIL();
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "damping");
    EXPECT_NE(std::string(e.what()).find("1.5"), std::string::npos);
  }
}

TEST(GraphCancel, LongRunsStopWhenAsked) {
  Graph g = barbell();
  Cancel stop([] { return true; }, 1);
  EXPECT_THROW(pagerank(g, {}, stop), Interrupted);
  EXPECT_THROW(betweenness(g, {}, false, true, stop), Interrupted);
}

TEST(GraphPaths, BottomUpLevelsGiveTheSameAnswers) {
  // Node 0 joined to 40 hubs, every hub joined to every one of 40 leaves:
  // the hubs' level holds half of all edges, so the next level is found
  // bottom-up, both by the BFS and by Brandes' path counting.
  Cancel none;
  std::vector<int64_t> src, dst;
  for (int64_t h = 1; h <= 40; ++h) {
    src.push_back(0);
    dst.push_back(h);
    for (int64_t leaf = 100; leaf < 140; ++leaf) {
      src.push_back(h);
      dst.push_back(leaf);
    }
  }
  Graph g = make(src, dst);
  std::vector<int64_t> d = bfs_distances(g, g.index_of(0), -1, TypeFilter(), none);
  EXPECT_EQ(d[g.index_of(7)], 1);
  EXPECT_EQ(d[g.index_of(120)], 2);
  std::vector<index_t> p = shortest_path(g, g.index_of(120), g.index_of(0), false, none);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(g.degree(p[1]), 41u);  // through a hub
  // By hand: a hub carries 1/40 of each of the 40 (node 0, leaf) pairs and
  // of each of the C(40, 2) leaf pairs; node 0 and each leaf carry 1/41 of
  // each of the C(40, 2) hub pairs.
  std::vector<double> b = betweenness(g, {}, false, false, none);
  EXPECT_NEAR(b[g.index_of(5)], 1.0 + 780.0 / 40, 1e-12);
  EXPECT_NEAR(b[g.index_of(0)], 780.0 / 41, 1e-12);
  EXPECT_NEAR(b[g.index_of(101)], 780.0 / 41, 1e-12);
}

TEST(GraphPaths, NearestSourceTakesTheClosestAndTheEarlierOnATie) {
  // 1-2-3-4-5 in a line and 6 alone; sources 5 and 1 (5 listed first).
  Graph g = make({1, 2, 3, 4}, {2, 3, 4, 5}, false, {}, {6});
  Cancel none;
  NearestSource r = nearest_source(g, {g.index_of(5), g.index_of(1)}, -1, none);
  const std::vector<int64_t> hops{0, 1, 2, 1, 0, -1};
  EXPECT_EQ(r.hops, hops);
  // Node 3 is two hops from both: 5 came first in the list, so 5 wins.
  EXPECT_EQ(g.id(r.source[g.index_of(3)]), 5);
  EXPECT_EQ(g.id(r.source[g.index_of(2)]), 1);
  EXPECT_EQ(r.source[g.index_of(6)], kNoNode);
  NearestSource near = nearest_source(g, {g.index_of(1)}, 2, none);
  EXPECT_EQ(near.hops, (std::vector<int64_t>{0, 1, 2, -1, -1, -1}));
  EXPECT_THROW(nearest_source(g, {99}, -1, none), ValidationError);
}
