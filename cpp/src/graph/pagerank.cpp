#include <cmath>
#include <string>

#include "checks.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/graph/algorithms.hpp"

namespace crmcore::graph {

namespace {

// A user's distribution made to sum to one; `fallback` when none was given.
std::vector<double> distribution(const std::vector<double>& given, size_t n,
                                 const std::vector<double>& fallback, const char* what) {
  if (given.empty()) return fallback;
  if (given.size() != n)
    refuse("pagerank", what, "one value per node expected, got " + shown(given.size()) + " for " + shown(n));
  double total = 0.0;
  for (double v : given) {
    if (!(v >= 0.0) || !std::isfinite(v))
      refuse("pagerank", what, "values must be finite and >= 0, got " + shown(v));
    total += v;
  }
  if (!(total > 0.0) || !std::isfinite(total)) refuse("pagerank", what, "values must have a positive, finite sum");
  std::vector<double> out(given);
  for (double& v : out) v /= total;
  return out;
}

}  // namespace

std::vector<double> pagerank(const Graph& g, const PageRankOptions& opt, Cancel& cancel) {
  // Checked before the empty graph returns, so that a bad call fails on every graph.
  if (!(opt.damping >= 0.0 && opt.damping <= 1.0))
    refuse("pagerank", "damping", "must be in [0, 1], got " + shown(opt.damping));
  // tol = 0 could never be met (the error is compared with <), so it would
  // only ever end in "did not converge".
  if (!(opt.tol > 0.0) || !std::isfinite(opt.tol))
    refuse("pagerank", "tol", "must be a finite number > 0, got " + shown(opt.tol));
  if (opt.max_iter < 1) refuse("pagerank", "max_iter", "must be >= 1, got " + shown(opt.max_iter));
  const size_t n = g.num_nodes();
  if (n == 0) return {};
  const bool weighted = opt.use_weights && g.weighted();
  const std::vector<double> uniform(n, 1.0 / static_cast<double>(n));
  const std::vector<double> p = distribution(opt.personalization, n, uniform, "personalization");
  const std::vector<double> dangling_w = distribution(opt.dangling, n, p, "dangling");
  std::vector<double> x = distribution(opt.nstart, n, uniform, "nstart");

  // Row sums of the adjacency; a node whose row sums to zero is dangling and
  // hands its rank out along dangling_w, as NetworkX does.
  std::vector<double> inv_out(n, 0.0);
  std::vector<index_t> dangling;
  for (index_t u = 0; u < n; ++u) {
    double s = 0.0;
    if (weighted) {
      for (uint64_t e = g.row_begin(u); e < g.row_end(u); ++e) s += g.weight(e);
    } else {
      s = static_cast<double>(g.degree(u));
    }
    if (s != 0.0)
      inv_out[u] = 1.0 / s;
    else
      dangling.push_back(u);
  }

  const double alpha = opt.damping;
  std::vector<double> share(n), next(g.directed() ? n : 0);
  auto update = [&](size_t v, double inflow, double dangling_sum) {
    const double nv = alpha * (inflow + dangling_sum * dangling_w[v]) + (1.0 - alpha) * p[v];
    const double change = std::fabs(nv - x[v]);
    x[v] = nv;
    return change;
  };
  for (int64_t it = 0; it < opt.max_iter; ++it) {
    double dangling_sum = 0.0;
    for (index_t u : dangling) dangling_sum += x[u];
    for (size_t u = 0; u < n; ++u) share[u] = x[u] * inv_out[u];
    double err = 0.0;
    if (!g.directed()) {
      // An undirected row lists the in-neighbours too: pull, so that each
      // node's sum is written once instead of scattered.
      for (index_t v = 0; v < n; ++v) {
        double inflow = 0.0;
        const uint64_t end = g.row_end(v);
        if (weighted) {
          for (uint64_t e = g.row_begin(v); e < end; ++e) inflow += share[g.target(e)] * g.weight(e);
        } else {
          for (uint64_t e = g.row_begin(v); e < end; ++e) inflow += share[g.target(e)];
        }
        err += update(v, inflow, dangling_sum);
      }
    } else {
      std::fill(next.begin(), next.end(), 0.0);
      for (index_t u = 0; u < n; ++u) {
        if (share[u] == 0.0) continue;
        const uint64_t end = g.row_end(u);
        if (weighted) {
          for (uint64_t e = g.row_begin(u); e < end; ++e) next[g.target(e)] += share[u] * g.weight(e);
        } else {
          for (uint64_t e = g.row_begin(u); e < end; ++e) next[g.target(e)] += share[u];
        }
      }
      for (size_t v = 0; v < n; ++v) err += update(v, next[v], dangling_sum);
    }
    cancel.tick(g.num_entries() + n);
    if (err < static_cast<double>(n) * opt.tol) return x;
  }
  throw Error("pagerank did not converge in " + std::to_string(opt.max_iter) + " iterations");
}

}  // namespace crmcore::graph
