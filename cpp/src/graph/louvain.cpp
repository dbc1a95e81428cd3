// Louvain community detection and modularity.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "checks.hpp"
#include "crmcore/graph/algorithms.hpp"

namespace crmcore::graph {

namespace {

// A power of two that brings the largest |weight| into [0.5, 1). Decayed
// relationship strengths can be 1e-15 or less and summed revenues 1e12 or
// more; on that scale products of weights underflow or overflow and fixed
// tolerances swamp or vanish. Multiplying by a power of two is exact, so
// integer weights stay exact and the answer does not depend on the scale.
double weight_scale(const Graph& g, bool use_weights) {
  if (!use_weights || !g.weighted()) return 1.0;
  double top = 0.0;
  for (uint64_t e = 0; e < g.num_entries(); ++e) top = std::max(top, std::fabs(g.weight(e)));
  if (top == 0.0) return 1.0;
  int exponent = 0;
  std::frexp(top, &exponent);
  return std::ldexp(1.0, -exponent);
}

// One level of the Louvain hierarchy: a symmetric weighted graph without
// self-loops in its rows; a node's self-loop weight is kept apart because it
// never leaves the node's community.
struct Level {
  size_t n = 0;
  std::vector<uint64_t> off;
  std::vector<index_t> nbr;
  std::vector<double> w;
  std::vector<double> loop;      // self-loop weight, counted once
  std::vector<double> strength;  // row sum + 2 * loop
  double m2 = 0.0;               // sum of strengths = twice the total weight
};

Level level_from_graph(const Graph& g, bool use_weights) {
  Level L;
  L.n = g.num_nodes();
  L.loop.assign(L.n, 0.0);
  std::vector<uint64_t> count(L.n + 1, 0);
  const double scale = weight_scale(g, use_weights);
  auto wt = [&](uint64_t e) { return use_weights ? g.weight(e) * scale : 1.0; };
  for (index_t u = 0; u < L.n; ++u)
    for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
      const index_t t = g.target(e);
      if (t == u) continue;
      ++count[u + 1];
      if (g.directed()) ++count[t + 1];  // directed edges count for both ends
    }
  for (size_t u = 0; u < L.n; ++u) count[u + 1] += count[u];
  L.off = count;
  L.nbr.resize(L.off[L.n]);
  L.w.resize(L.off[L.n]);
  std::vector<uint64_t> fill(L.off.begin(), L.off.end() - 1);
  for (index_t u = 0; u < L.n; ++u)
    for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
      const index_t t = g.target(e);
      if (t == u) {
        L.loop[u] += wt(e);
        continue;
      }
      uint64_t k = fill[u]++;
      L.nbr[k] = t;
      L.w[k] = wt(e);
      if (g.directed()) {
        k = fill[t]++;
        L.nbr[k] = u;
        L.w[k] = wt(e);
      }
    }
  L.strength.assign(L.n, 0.0);
  for (index_t u = 0; u < L.n; ++u) {
    double s = 2.0 * L.loop[u];
    for (uint64_t k = L.off[u]; k < L.off[u + 1]; ++k) s += L.w[k];
    L.strength[u] = s;
    L.m2 += s;
  }
  return L;
}

// Moves single nodes to the neighbouring community with the best modularity
// gain until a full pass moves nothing. comm holds the starting communities
// (ids < L.n). Returns whether any node moved.
bool local_moving(const Level& L, std::vector<index_t>& comm, double resolution,
                  std::mt19937_64& rng, Cancel& cancel) {
  const size_t n = L.n;
  if (L.m2 == 0.0) return false;
  std::vector<double> tot(n, 0.0), link(n, 0.0);
  for (size_t i = 0; i < n; ++i) tot[comm[i]] += L.strength[i];
  std::vector<index_t> order(n), touched;
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  bool any = false;
  for (int pass = 0; pass < 1000; ++pass) {
    size_t moved = 0;
    for (index_t i : order) {
      const index_t own = comm[i];
      const double ki = L.strength[i];
      touched.clear();
      for (uint64_t k = L.off[i]; k < L.off[i + 1]; ++k) {
        const index_t c = comm[L.nbr[k]];
        if (link[c] == 0.0) touched.push_back(c);
        link[c] += L.w[k];
      }
      tot[own] -= ki;
      // Gain of joining c, up to a positive factor: links into c minus the
      // expected links given c's total strength.
      const double scale = resolution * ki / L.m2;
      // Gains are sums of terms of size up to (1 + resolution) * ki, so a
      // move must win by a margin relative to that, whatever the weights'
      // scale; rounding noise then never moves a node back and forth.
      const double margin = 1e-12 * ki * (1.0 + resolution);
      index_t best = own;
      double best_gain = link[own] - tot[own] * scale;
      for (index_t c : touched) {
        const double gain = link[c] - tot[c] * scale;
        if (gain > best_gain + margin) {
          best_gain = gain;
          best = c;
        }
      }
      for (index_t c : touched) link[c] = 0.0;
      tot[best] += ki;
      if (best != own) {
        comm[i] = best;
        ++moved;
      }
      cancel.tick(L.off[i + 1] - L.off[i] + 1);
    }
    if (moved == 0) break;
    any = true;
  }
  return any;
}

// Renumbers community ids to 0..C-1; returns C.
size_t renumber(std::vector<index_t>& comm) {
  std::vector<index_t> map(comm.size(), kNoNode);
  index_t next = 0;
  for (index_t& c : comm) {
    if (map[c] == kNoNode) map[c] = next++;
    c = map[c];
  }
  return next;
}

Level aggregate(const Level& L, const std::vector<index_t>& comm, size_t C) {
  Level A;
  A.n = C;
  A.loop.assign(C, 0.0);
  A.strength.assign(C, 0.0);
  A.m2 = L.m2;
  std::vector<uint64_t> start(C + 1, 0);
  for (size_t i = 0; i < L.n; ++i) ++start[comm[i] + 1];
  for (size_t c = 0; c < C; ++c) start[c + 1] += start[c];
  std::vector<index_t> members(L.n);
  std::vector<uint64_t> fill(start.begin(), start.end() - 1);
  for (index_t i = 0; i < L.n; ++i) members[fill[comm[i]]++] = i;

  std::vector<double> acc(C, 0.0);
  std::vector<index_t> touched;
  A.off.assign(1, 0);
  for (index_t c = 0; c < C; ++c) {
    touched.clear();
    for (uint64_t p = start[c]; p < start[c + 1]; ++p) {
      const index_t i = members[p];
      A.loop[c] += L.loop[i];
      A.strength[c] += L.strength[i];
      for (uint64_t k = L.off[i]; k < L.off[i + 1]; ++k) {
        const index_t d = comm[L.nbr[k]];
        if (d == c) {
          A.loop[c] += 0.5 * L.w[k];  // seen from both ends
        } else {
          if (acc[d] == 0.0) touched.push_back(d);
          acc[d] += L.w[k];
        }
      }
    }
    for (index_t d : touched) {
      A.nbr.push_back(d);
      A.w.push_back(acc[d]);
      acc[d] = 0.0;
    }
    A.off.push_back(A.nbr.size());
  }
  return A;
}

double level_modularity(const Level& L, const std::vector<index_t>& comm, double resolution) {
  if (L.m2 == 0.0) return std::nan("");
  std::vector<double> in(L.n, 0.0), tot(L.n, 0.0);
  for (size_t i = 0; i < L.n; ++i) {
    tot[comm[i]] += L.strength[i];
    in[comm[i]] += L.loop[i];
    for (uint64_t k = L.off[i]; k < L.off[i + 1]; ++k)
      if (comm[L.nbr[k]] == comm[i]) in[comm[i]] += 0.5 * L.w[k];
  }
  double q = 0.0;
  for (size_t c = 0; c < L.n; ++c) {
    const double share = tot[c] / L.m2;
    q += 2.0 * in[c] / L.m2 - resolution * share * share;
  }
  return q;
}

// Labels 0 = largest community, ties by smallest member.
std::vector<int64_t> by_size(const std::vector<index_t>& comm) {
  const size_t n = comm.size();
  std::vector<uint64_t> size(n, 0);
  std::vector<index_t> first(n, kNoNode);
  for (index_t i = 0; i < n; ++i) {
    ++size[comm[i]];
    if (first[comm[i]] == kNoNode) first[comm[i]] = i;
  }
  std::vector<index_t> ids;
  for (index_t c = 0; c < n; ++c)
    if (size[c]) ids.push_back(c);
  std::sort(ids.begin(), ids.end(), [&](index_t a, index_t b) {
    return size[a] != size[b] ? size[a] > size[b] : first[a] < first[b];
  });
  std::vector<int64_t> rank(n, -1);
  for (size_t r = 0; r < ids.size(); ++r) rank[ids[r]] = static_cast<int64_t>(r);
  std::vector<int64_t> label(n);
  for (size_t i = 0; i < n; ++i) label[i] = rank[comm[i]];
  return label;
}

std::vector<index_t> louvain_once(const Level& base, double resolution, std::mt19937_64& rng,
                                  Cancel& cancel) {
  // Coarsen: local moving, then merge each community into one node.
  std::vector<Level> levels{base};
  std::vector<std::vector<index_t>> merged;  // merged[i]: level i node -> level i+1 node
  while (true) {
    const Level& L = levels.back();
    std::vector<index_t> comm(L.n);
    std::iota(comm.begin(), comm.end(), 0);
    if (!local_moving(L, comm, resolution, rng, cancel)) break;
    const size_t C = renumber(comm);
    if (C == L.n) break;
    Level next = aggregate(L, comm, C);
    merged.push_back(std::move(comm));
    levels.push_back(std::move(next));
  }
  // Refine on the way back down (multilevel refinement): aggregation freezes
  // whole communities, so at every finer level single nodes get another
  // chance to move, starting from the coarser level's answer.
  std::vector<index_t> part(levels.back().n);
  std::iota(part.begin(), part.end(), 0);
  for (size_t i = merged.size(); i-- > 0;) {
    std::vector<index_t> finer(levels[i].n);
    for (size_t v = 0; v < finer.size(); ++v) finer[v] = part[merged[i][v]];
    local_moving(levels[i], finer, resolution, rng, cancel);
    part = std::move(finer);
  }
  renumber(part);
  return part;
}

}  // namespace

Communities louvain(const Graph& g, double resolution, uint64_t seed, int64_t trials,
                    bool use_weights, Cancel& cancel) {
  if (!(resolution > 0.0) || !std::isfinite(resolution))
    refuse("communities", "resolution", "must be a finite number > 0, got " + shown(resolution));
  if (trials < 1) refuse("communities", "trials", "must be >= 1, got " + shown(trials));
  if (use_weights && g.weighted())
    for (uint64_t e = 0; e < g.num_entries(); ++e)
      if (g.weight(e) < 0.0)
        refuse("communities", "weight", "needs weights >= 0, got " + shown(g.weight(e)) +
                                            "; use weight=False to ignore them");
  const Level base = level_from_graph(g, use_weights);
  std::mt19937_64 rng(seed);
  std::vector<index_t> best;
  double best_q = -std::numeric_limits<double>::infinity();
  for (int64_t t = 0; t < trials; ++t) {
    std::vector<index_t> comm = louvain_once(base, resolution, rng, cancel);
    const double q = level_modularity(base, comm, resolution);
    if (best.empty() || q > best_q) {
      best_q = q;
      best = std::move(comm);
    }
  }
  Communities out;
  out.label = by_size(best);
  out.modularity = modularity(g, out.label, resolution, use_weights);
  return out;
}

double modularity(const Graph& g, const std::vector<int64_t>& label_in, double resolution,
                  bool use_weights) {
  if (!std::isfinite(resolution)) refuse("modularity", "resolution", "must be finite, got " + shown(resolution));
  const size_t n = g.num_nodes();
  if (label_in.size() != n)
    refuse("modularity", "communities", "one label per node expected, got " + shown(label_in.size()) +
                                            " for " + shown(n));
  std::vector<int64_t> keys(label_in);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<size_t> label(n);
  for (size_t i = 0; i < n; ++i)
    label[i] = std::lower_bound(keys.begin(), keys.end(), label_in[i]) - keys.begin();
  const size_t C = keys.size();
  std::vector<double> internal(C, 0.0), out_deg(C, 0.0), in_deg(C, 0.0);
  double m = 0.0;
  const double scale = weight_scale(g, use_weights);
  for (index_t u = 0; u < n; ++u)
    for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) {
      const index_t t = g.target(e);
      const double w = use_weights ? g.weight(e) * scale : 1.0;
      if (g.directed()) {
        m += w;
        out_deg[label[u]] += w;
        in_deg[label[t]] += w;
        if (label[u] == label[t]) internal[label[u]] += w;
      } else {
        // Undirected edges sit in both rows and self-loops once; a self-loop
        // counts twice in its node's degree.
        const double share = t == u ? w : 0.5 * w;
        m += share;
        out_deg[label[u]] += t == u ? 2.0 * w : w;
        if (label[u] == label[t]) internal[label[u]] += share;
      }
    }
  if (m == 0.0) return std::nan("");
  double q = 0.0;
  for (size_t c = 0; c < C; ++c) {
    if (g.directed())
      q += internal[c] / m - resolution * (out_deg[c] / m) * (in_deg[c] / m);
    else
      q += internal[c] / m - resolution * (out_deg[c] / (2.0 * m)) * (out_deg[c] / (2.0 * m));
  }
  return q;
}

}  // namespace crmcore::graph
