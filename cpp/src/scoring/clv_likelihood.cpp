// Log-likelihoods of the lifetime-value models and their gradients with
// respect to log-parameters. BG/NBD, MBG/NBD and Gamma-Gamma carry their
// gradients written out (they are the models fitted on millions of rows);
// Pareto/NBD and BG/BB get theirs from dual numbers through the same code
// that computes the value.
#include <algorithm>
#include <cstring>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "crmcore/scoring/clv.hpp"
#include "clv_hash.hpp"
#include "clv_models.hpp"
#include "numeric_special.hpp"

namespace crmcore::scoring::clv {

namespace nm = numeric;
using detail::bgbb_row;
using detail::pareto_row;
using D4 = nm::Dual<4>;

Model model_from_name(const std::string& name) {
  if (name == "beta_geo") return Model::beta_geo;
  if (name == "modified_beta_geo") return Model::modified_beta_geo;
  if (name == "pareto_nbd") return Model::pareto_nbd;
  if (name == "beta_geo_beta_binom") return Model::beta_geo_beta_binom;
  if (name == "gamma_gamma") return Model::gamma_gamma;
  throw std::invalid_argument("unknown lifetime-value model '" + name + "'");
}

namespace {

using detail::bits;
using detail::DenseIds;
using detail::from_bits;

// Stable LSD radix sort of (key, payload) pairs on the low `bits` bits of the key.
void radix_sort(std::vector<std::pair<uint64_t, uint32_t>>& v, int bits) {
  // As few passes as possible with at most 2^11 buckets: more buckets make the
  // scatter's writes miss the cache.
  const int passes = (bits + 10) / 11;
  const int digit = (bits + passes - 1) / passes;
  std::vector<std::pair<uint64_t, uint32_t>> tmp(v.size());
  std::vector<size_t> count(size_t(1) << digit);
  for (int shift = 0; shift < bits; shift += digit) {
    std::fill(count.begin(), count.end(), 0);
    const uint64_t mask = (uint64_t(1) << digit) - 1;
    for (const auto& e : v) ++count[(e.first >> shift) & mask];
    size_t sum = 0;
    for (auto& c : count) {
      const size_t here = c;
      c = sum;
      sum += here;
    }
    for (const auto& e : v) tmp[count[(e.first >> shift) & mask]++] = e;
    v.swap(tmp);
  }
}

}  // namespace

Rows compress_rows(const std::vector<double>& x, const std::vector<double>& tx, const std::vector<double>& T,
                   const std::vector<double>& w) {
  const size_t n = x.size();
  if (tx.size() != n || T.size() != n || (!w.empty() && w.size() != n))
    throw std::invalid_argument("frequency, recency, T and weights must have the same length");
  return compress_rows(x.data(), tx.data(), T.data(), w.empty() ? nullptr : w.data(), n);
}

Rows compress_rows(const double* x, const double* tx, const double* T, const double* w, size_t n) {
  if (n == 0) throw std::invalid_argument("no customers to fit");
  bool whole_times = true;  // t_x and T on an integer grid (days, weeks, ... since the first purchase)
  double x_max = 0, t_max = 0;
  for (size_t i = 0; i < n; ++i) {
    whole_times = whole_times && tx[i] == std::floor(tx[i]) && T[i] == std::floor(T[i]);
    x_max = std::max(x_max, x[i]);
    t_max = std::max(t_max, std::max(tx[i], T[i]));
    if (!(std::isfinite(x[i]) && std::isfinite(tx[i]) && std::isfinite(T[i])))
      throw std::invalid_argument("frequency, recency and T must be finite (row " + std::to_string(i) + ")");
    if (x[i] < 0 || x[i] != std::floor(x[i]))
      throw std::invalid_argument("frequency must hold non-negative integers (non-integer or negative value at row " +
                                  std::to_string(i) + ")");
    if (tx[i] < 0 || T[i] < 0)
      throw std::invalid_argument("recency and T must be non-negative (row " + std::to_string(i) + ")");
    if (w && !(w[i] >= 0 && std::isfinite(w[i])))
      throw std::invalid_argument("weights must be finite and non-negative (row " + std::to_string(i) + ")");
  }
  // Times map to dense ids first (a day or week grid has few), then each row
  // to a key of (x id, t_x id, T id); an LSD radix sort of the keys puts
  // identical rows side by side, grouped by x. Ids are packed 20/22/22 bits
  // while they fit, then repacked into as few bits as they need (fewer radix
  // passes); past that, through an id of the (t_x, T) pair.
  auto width = [](uint64_t count) {
    int b = 1;
    while ((uint64_t(1) << b) < count) ++b;
    return b;
  };
  DenseIds time_ids, x_ids;
  std::vector<std::pair<uint64_t, uint32_t>> keyed;
  keyed.reserve(n);
  // Whole-number values (a summary on a day grid) are their own ids: no hashing.
  const bool grid = whole_times && x_max < (1u << 20) && t_max < (1u << 22) && t_max <= 4.0 * n + 1024;
  const int grid_tb = grid ? width(uint64_t(t_max) + 1) : 0;
  bool fits = !grid;
  if (grid)
    for (size_t i = 0; i < n; ++i) {
      if (w && w[i] == 0) continue;
      keyed.push_back({(uint64_t(x[i]) << (2 * grid_tb)) | (uint64_t(tx[i]) << grid_tb) | uint64_t(T[i]),
                       static_cast<uint32_t>(i)});
    }
  for (size_t i = 0; i < n && fits; ++i) {
    if (w && w[i] == 0) continue;
    const uint64_t a = x_ids.id(bits(x[i])), b = time_ids.id(bits(tx[i])), c = time_ids.id(bits(T[i]));
    fits = a < (1u << 20) && b < (1u << 22) && c < (1u << 22);
    keyed.push_back({(a << 44) | (b << 22) | c, static_cast<uint32_t>(i)});
  }
  int key_bits;
  if (grid) {
    key_bits = width(uint64_t(x_max) + 1) + 2 * grid_tb;
  } else if (fits) {
    const int xb = width(x_ids.size()), tb = width(time_ids.size());
    const uint64_t m22 = (uint64_t(1) << 22) - 1;
    for (auto& e : keyed)
      e.first = ((e.first >> 44) << (2 * tb)) | (((e.first >> 22) & m22) << tb) | (e.first & m22);
    key_bits = xb + 2 * tb;
  } else {
    DenseIds pair_ids;
    keyed.clear();
    for (size_t i = 0; i < n; ++i) {
      if (w && w[i] == 0) continue;
      const uint64_t pair = (uint64_t(time_ids.id(bits(tx[i]))) << 32) | time_ids.id(bits(T[i]));
      keyed.push_back({(uint64_t(x_ids.id(bits(x[i]))) << 32) | pair_ids.id(pair), static_cast<uint32_t>(i)});
    }
    key_bits = 64;
  }
  if (keyed.empty()) throw std::invalid_argument("all weights are zero");
  radix_sort(keyed, key_bits);
  std::vector<std::pair<uint64_t, uint32_t>> order;  // (key, first input row) per distinct row
  std::vector<double> weight;
  for (const auto& [key, i] : keyed) {
    const double wi = w ? w[i] : 1.0;
    if (order.empty() || order.back().first != key) {
      order.push_back({key, i});
      weight.push_back(0.0);
    }
    weight.back() += wi;
  }
  Rows rows;
  const size_t m = order.size();
  rows.x.resize(m);
  rows.tx.resize(m);
  rows.T.resize(m);
  rows.w.resize(m);
  rows.tx_id.resize(m);
  rows.T_id.resize(m);
  // Decode each distinct row from its key (reading the input rows back would
  // miss the cache at every row); the pair-id fallback reads its input row.
  const int tb = grid ? grid_tb : fits ? width(time_ids.size()) : 0;
  const uint64_t tmask = (uint64_t(1) << tb) - 1;
  // On the grid, times get dense ids in order of first use.
  std::vector<uint32_t> grid_id(grid ? size_t(t_max) + 1 : 0, UINT32_MAX);
  std::vector<double> grid_times;
  auto grid_time = [&](uint64_t v) {
    if (grid_id[v] == UINT32_MAX) {
      grid_id[v] = static_cast<uint32_t>(grid_times.size());
      grid_times.push_back(static_cast<double>(v));
    }
    return grid_id[v];
  };
  for (size_t k = 0; k < m; ++k) {
    const uint64_t key = order[k].first;
    if (grid) {
      rows.x[k] = static_cast<double>(key >> (2 * tb));
      rows.tx_id[k] = grid_time((key >> tb) & tmask);
      rows.T_id[k] = grid_time(key & tmask);
      rows.tx[k] = grid_times[rows.tx_id[k]];
      rows.T[k] = grid_times[rows.T_id[k]];
      rows.w[k] = weight[k];
      rows.total_weight += rows.w[k];
      if (k == 0 || rows.x[k] != rows.x[k - 1]) rows.x_start.push_back(k);
      continue;
    }
    if (fits) {
      rows.x[k] = from_bits(x_ids.key(static_cast<uint32_t>(key >> (2 * tb))));
      rows.tx_id[k] = static_cast<uint32_t>((key >> tb) & tmask);
      rows.T_id[k] = static_cast<uint32_t>(key & tmask);
    } else {
      const uint32_t i = order[k].second;
      rows.x[k] = x[i];
      rows.tx_id[k] = time_ids.id(bits(tx[i]));
      rows.T_id[k] = time_ids.id(bits(T[i]));
    }
    rows.tx[k] = from_bits(time_ids.key(rows.tx_id[k]));
    rows.T[k] = from_bits(time_ids.key(rows.T_id[k]));
    rows.w[k] = weight[k];
    rows.total_weight += rows.w[k];
    if (k == 0 || rows.x[k] != rows.x[k - 1]) rows.x_start.push_back(k);
  }
  rows.x_start.push_back(m);
  if (grid) {
    rows.times = std::move(grid_times);
  } else {
    rows.times.resize(time_ids.size());
    for (uint32_t j = 0; j < time_ids.size(); ++j) rows.times[j] = from_bits(time_ids.key(j));
  }
  rows.log_times.resize(rows.times.size());
  for (size_t j = 0; j < rows.times.size(); ++j) rows.log_times[j] = std::log(rows.times[j]);
  return rows;
}

void scale_times(Rows& rows, double factor) {
  if (!(factor > 0 && std::isfinite(factor))) throw std::invalid_argument("time scale must be positive");
  for (double& t : rows.tx) t *= factor;
  for (double& t : rows.T) t *= factor;
  for (double& t : rows.times) t *= factor;
  for (double& l : rows.log_times) l += std::log(factor);
}

Rows sample_rows(const Rows& rows, size_t every) {
  if (every <= 1) return rows;
  Rows sub;
  sub.times = rows.times;
  sub.log_times = rows.log_times;
  for (size_t i = 0; i < rows.size(); i += every) {
    if (sub.x.empty() || sub.x.back() != rows.x[i]) sub.x_start.push_back(sub.x.size());
    sub.x.push_back(rows.x[i]);
    sub.tx.push_back(rows.tx[i]);
    sub.T.push_back(rows.T[i]);
    sub.w.push_back(rows.w[i] * static_cast<double>(every));
    sub.tx_id.push_back(rows.tx_id[i]);
    sub.T_id.push_back(rows.T_id[i]);
    sub.total_weight += sub.w.back();
  }
  sub.x_start.push_back(sub.x.size());
  return sub;
}

namespace {

// ---------------------------------------------------------------- BG/NBD, MBG/NBD

// H (if not null) receives the 4x4 Hessian with respect to the natural
// parameters (r, alpha, a, b), row-major; the caller chains it to log-parameters.
double beta_geo_ll(bool modified, const Rows& rows, const double* p, double* g, double* H, Cancel* cancel) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  const double log_alpha = std::log(alpha), log_a = std::log(a);
  const double dig_r = nm::digamma(r), dig_b = nm::digamma(b), dig_ab = nm::digamma(a + b);
  const double lg_r = std::lgamma(r), lg_b = std::lgamma(b), lg_ab = std::lgamma(a + b);
  // Modified BG/NBD shifts the beta terms by one (a drop-out chance also at time 0).
  const double shift = modified ? 1.0 : 0.0;
  // log(alpha + t) and 1 / (alpha + t) once per distinct time.
  std::vector<double> log_at(rows.times.size()), inv_at(rows.times.size());
  for (size_t j = 0; j < rows.times.size(); ++j) {
    log_at[j] = std::log(alpha + rows.times[j]);
    inv_at[j] = 1.0 / (alpha + rows.times[j]);
  }
  double ll = 0, gr = 0, gal = 0, ga = 0, gb = 0;
  // Hessian accumulators: h[i][j] for i <= j over (r, alpha, a, b).
  double h[4][4] = {};
  for (size_t k = 0; k + 1 < rows.x_start.size(); ++k) {
    const size_t lo = rows.x_start[k], hi = rows.x_start[k + 1];
    const double x = rows.x[lo], rx = r + x;
    const double c = b + x - 1.0 + shift, inv_c = 1.0 / c;
    double wsum = 0;
    // Rows with this x: the two ways to have produced (x, t_x, T), mixed by q = P(dropped out).
    const bool can_drop = modified || x > 0;
    const double log_drop = log_a - std::log(c);
    double sum_q = 0;
    for (size_t i = lo; i < hi; ++i) {
      const double w = rows.w[i];
      const uint32_t iT = rows.T_id[i];
      const double lT = log_at[iT], vT = inv_at[iT];
      wsum += w;
      if (!can_drop) {
        ll -= w * rx * lT;
        gr -= w * lT;
        gal -= w * rx * vT;
        if (H) {
          h[0][1] -= w * vT;
          h[1][1] += w * rx * vT * vT;
        }
        continue;
      }
      const uint32_t itx = rows.tx_id[i];
      const double ltx = log_at[itx], vtx = inv_at[itx];
      const double a3 = -rx * lT, a4 = log_drop - rx * ltx;
      // One exp serves both log(e^a3 + e^a4) and q = e^a4 / (e^a3 + e^a4).
      const double d = a4 - a3, e = std::exp(-std::abs(d)), q = d > 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      ll += w * (std::max(a3, a4) + std::log1p(e));
      gr -= w * (lT + q * (ltx - lT));
      gal -= w * rx * (vT + q * (vtx - vT));
      sum_q += w * q;
      if (H) {
        // (1-q) Hess(a3) + q Hess(a4) + q(1-q) dd^T with d = grad(a4) - grad(a3).
        const double d0 = lT - ltx, d1 = rx * (vT - vtx), wv = w * q * (1 - q);
        h[0][0] += wv * d0 * d0;
        h[0][1] += wv * d0 * d1 - w * (vT + q * (vtx - vT));
        h[0][2] += wv * d0 / a;
        h[0][3] -= wv * d0 * inv_c;
        h[1][1] += wv * d1 * d1 + w * rx * (vT * vT + q * (vtx * vtx - vT * vT));
        h[1][2] += wv * d1 / a;
        h[1][3] -= wv * d1 * inv_c;
        h[2][2] += wv / (a * a) - w * q / (a * a);
        h[2][3] -= wv * inv_c / a;
        h[3][3] += wv * inv_c * inv_c + w * q * inv_c * inv_c;
      }
    }
    ga += sum_q / a;
    gb -= sum_q * inv_c;
    // Terms of x alone: gamma mixing of the purchase rate, beta mixing of the drop-out chance.
    const double xs = x + shift;
    ll += wsum * (std::lgamma(rx) - lg_r + r * log_alpha + lg_ab + std::lgamma(b + xs) - lg_b -
                  std::lgamma(a + b + xs));
    const double dig_abx = nm::digamma(a + b + xs);
    gr += wsum * (nm::digamma(rx) - dig_r + log_alpha);
    gal += wsum * r / alpha;
    ga += wsum * (dig_ab - dig_abx);
    gb += wsum * (dig_ab + nm::digamma(b + xs) - dig_b - dig_abx);
    if (H) {
      const double tri_ab = nm::trigamma(a + b), tri_abx = nm::trigamma(a + b + xs);
      h[0][0] += wsum * (nm::trigamma(rx) - nm::trigamma(r));
      h[0][1] += wsum / alpha;
      h[1][1] -= wsum * r / (alpha * alpha);
      h[2][2] += wsum * (tri_ab - tri_abx);
      h[2][3] += wsum * (tri_ab - tri_abx);
      h[3][3] += wsum * (tri_ab + nm::trigamma(b + xs) - nm::trigamma(b) - tri_abx);
    }
    if (cancel) cancel->tick(hi - lo);
  }
  if (g) {
    g[0] = gr;
    g[1] = gal;
    g[2] = ga;
    g[3] = gb;
  }
  if (H)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) H[i * 4 + j] = i <= j ? h[i][j] : h[j][i];
  return ll;
}

// ---------------------------------------------------------------- Gamma-Gamma

// Gradient and (if H is not null) Hessian with respect to the natural (p, q, v).
double gamma_gamma_ll(const Rows& rows, const double* prm, double* g, double* H, Cancel* cancel) {
  const double p = prm[0], q = prm[1], v = prm[2];
  const double lg_q = std::lgamma(q), dig_q = nm::digamma(q), log_v = std::log(v);
  double ll = 0, gp = 0, gq = 0, gv = 0;
  double h[3][3] = {};
  for (size_t k = 0; k + 1 < rows.x_start.size(); ++k) {
    const size_t lo = rows.x_start[k], hi = rows.x_start[k + 1];
    const double x = rows.x[lo];
    if (x <= 0) throw std::invalid_argument("Gamma-Gamma needs frequency > 0 (customers with repeat purchases)");
    const double px = p * x, log_x = std::log(x);
    // Sums over the rows of this x: the likelihood is linear in log m, log(xm + v), 1/(xm + v).
    double wsum = 0, s_log_m = 0, s_log_d = 0, s_inv = 0, s_inv2 = 0;
    for (size_t i = lo; i < hi; ++i) {
      const double w = rows.w[i];
      const double inv = 1.0 / (x * rows.tx[i] + v);
      wsum += w;
      s_log_m += w * rows.log_times[rows.tx_id[i]];
      s_log_d += w * std::log(x * rows.tx[i] + v);
      s_inv += w * inv;
      s_inv2 += w * inv * inv;
    }
    const double dig_pxq = nm::digamma(px + q);
    ll += wsum * (std::lgamma(px + q) - std::lgamma(px) - lg_q + q * log_v + px * log_x) + (px - 1) * s_log_m -
          (px + q) * s_log_d;
    gp += wsum * x * (dig_pxq - nm::digamma(px) + log_x) + x * (s_log_m - s_log_d);
    gq += wsum * (dig_pxq - dig_q + log_v) - s_log_d;
    gv += wsum * q / v - (px + q) * s_inv;
    if (H) {
      const double tri_pxq = nm::trigamma(px + q);
      h[0][0] += wsum * x * x * (tri_pxq - nm::trigamma(px));
      h[0][1] += wsum * x * tri_pxq;
      h[0][2] -= x * s_inv;
      h[1][1] += wsum * (tri_pxq - nm::trigamma(q));
      h[1][2] += wsum / v - s_inv;
      h[2][2] += -wsum * q / (v * v) + (px + q) * s_inv2;
    }
    if (cancel) cancel->tick(hi - lo);
  }
  g[0] = gp;
  g[1] = gq;
  g[2] = gv;
  if (H)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) H[i * 3 + j] = i <= j ? h[i][j] : h[j][i];
  return ll;
}

template <class S, class Row>
S sum_rows_dual(const Rows& rows, Row row, Cancel* cancel) {
  S total(0.0);
  for (size_t i = 0; i < rows.size(); ++i) {
    total += row(i) * rows.w[i];
    if (cancel) cancel->tick();
  }
  return total;
}

double pareto_ll(const Rows& rows, const double* p, double* g, Cancel* cancel) {
  const D4 r = D4::variable(p[0], 0, p[0]), alpha = D4::variable(p[1], 1, p[1]);
  const D4 s = D4::variable(p[2], 2, p[2]), beta = D4::variable(p[3], 3, p[3]);
  D4 total(0.0);
  const D4 lg_r = nm::lgamma(r);
  for (size_t k = 0; k + 1 < rows.x_start.size(); ++k) {
    const size_t lo = rows.x_start[k], hi = rows.x_start[k + 1];
    const double x = rows.x[lo];
    double wsum = 0;
    for (size_t i = lo; i < hi; ++i) {
      total += pareto_row(r, alpha, s, beta, x, rows.tx[i], rows.T[i]) * rows.w[i];
      wsum += rows.w[i];
      if (cancel) cancel->tick();
    }
    total += (nm::lgamma(r + x) - lg_r) * wsum;
  }
  if (g) std::copy(total.d.begin(), total.d.end(), g);
  return total.v;
}

double bgbb_ll(const Rows& rows, const double* p, double* g, Cancel* cancel) {
  const D4 al = D4::variable(p[0], 0, p[0]), be = D4::variable(p[1], 1, p[1]);
  const D4 ga = D4::variable(p[2], 2, p[2]), de = D4::variable(p[3], 3, p[3]);
  const D4 norm = nm::betaln(al, be) + nm::betaln(ga, de);
  const D4 total = sum_rows_dual<D4>(
      rows, [&](size_t i) { return bgbb_row(al, be, ga, de, rows.x[i], rows.tx[i], rows.T[i], norm); }, cancel);
  if (g) std::copy(total.d.begin(), total.d.end(), g);
  return total.v;
}

size_t n_params(Model m) { return m == Model::gamma_gamma ? 3 : 4; }

}  // namespace

bool has_analytic_hessian(Model model) {
  return model == Model::beta_geo || model == Model::modified_beta_geo || model == Model::gamma_gamma;
}

double log_likelihood(Model model, const Rows& rows, const std::vector<double>& log_params,
                      std::vector<double>* grad, Cancel* cancel, std::vector<double>* hess) {
  const size_t k = n_params(model);
  if (log_params.size() != k) throw std::invalid_argument("wrong number of parameters");
  if (hess && !has_analytic_hessian(model)) throw std::invalid_argument("no analytic Hessian for this model");
  double p[4];
  for (size_t i = 0; i < k; ++i) p[i] = std::exp(log_params[i]);
  double g[4] = {0, 0, 0, 0};
  double H[16] = {};
  double ll = 0;
  switch (model) {
    case Model::beta_geo:
    case Model::modified_beta_geo:
    case Model::gamma_gamma: {
      double* Hp = hess ? H : nullptr;
      ll = model == Model::gamma_gamma ? gamma_gamma_ll(rows, p, g, Hp, cancel)
                                       : beta_geo_ll(model == Model::modified_beta_geo, rows, p, g, Hp, cancel);
      // Chain rule to log-parameters: d/dlog p = p d/dp, and the Hessian
      // gains p_i g_i on its diagonal.
      if (hess) {
        hess->assign(k * k, 0.0);
        for (size_t i = 0; i < k; ++i)
          for (size_t j = 0; j < k; ++j)
            (*hess)[i * k + j] = p[i] * p[j] * H[i * k + j] + (i == j ? p[i] * g[i] : 0.0);
      }
      for (size_t i = 0; i < k; ++i) g[i] *= p[i];
      break;
    }
    case Model::pareto_nbd: ll = pareto_ll(rows, p, g, cancel); break;
    case Model::beta_geo_beta_binom: ll = bgbb_ll(rows, p, g, cancel); break;
  }
  if (grad) grad->assign(g, g + k);
  return ll;
}

std::vector<double> log_likelihood_rows(Model model, const std::vector<double>& params,
                                        const std::vector<double>& x, const std::vector<double>& tx,
                                        const std::vector<double>& T) {
  const size_t n = x.size();
  if (params.size() != n_params(model)) throw std::invalid_argument("wrong number of parameters");
  if (tx.size() != n || T.size() != n) throw std::invalid_argument("arrays must have the same length");
  std::vector<double> out(n);
  const double* p = params.data();
  switch (model) {
    case Model::pareto_nbd:
      for (size_t i = 0; i < n; ++i)
        out[i] = std::lgamma(p[0] + x[i]) - std::lgamma(p[0]) + pareto_row(p[0], p[1], p[2], p[3], x[i], tx[i], T[i]);
      break;
    case Model::beta_geo_beta_binom: {
      const double norm = nm::betaln(p[0], p[1]) + nm::betaln(p[2], p[3]);
      for (size_t i = 0; i < n; ++i) out[i] = bgbb_row(p[0], p[1], p[2], p[3], x[i], tx[i], T[i], norm);
      break;
    }
    default: {
      // The fitted models share one code path with the fit: one-row Rows each.
      std::vector<double> lp(params.size());
      for (size_t j = 0; j < lp.size(); ++j) lp[j] = std::log(params[j]);
      for (size_t i = 0; i < n; ++i) {
        const Rows one = compress_rows({x[i]}, {tx[i]}, {T[i]}, {});
        out[i] = log_likelihood(model, one, lp, nullptr);
      }
    }
  }
  return out;
}

}  // namespace crmcore::scoring::clv
