// Log-likelihoods of the lifetime-value models and their gradients with
// respect to log-parameters. BG/NBD, MBG/NBD and Gamma-Gamma carry their
// gradients written out (they are the models fitted on millions of rows);
// Pareto/NBD and BG/BB get theirs from dual numbers through the same code
// that computes the value.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "crmcore/scoring/clv.hpp"
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

Rows compress_rows(const std::vector<double>& x, const std::vector<double>& tx, const std::vector<double>& T,
                   const std::vector<double>& w) {
  const size_t n = x.size();
  if (tx.size() != n || T.size() != n || (!w.empty() && w.size() != n))
    throw std::invalid_argument("frequency, recency, T and weights must have the same length");
  if (n == 0) throw std::invalid_argument("no customers to fit");
  for (size_t i = 0; i < n; ++i) {
    if (!(std::isfinite(x[i]) && std::isfinite(tx[i]) && std::isfinite(T[i])))
      throw std::invalid_argument("frequency, recency and T must be finite (row " + std::to_string(i) + ")");
    if (x[i] < 0 || x[i] != std::floor(x[i]))
      throw std::invalid_argument("frequency must be a non-negative integer (row " + std::to_string(i) + ")");
    if (tx[i] < 0 || T[i] < 0)
      throw std::invalid_argument("recency and T must be non-negative (row " + std::to_string(i) + ")");
    if (!w.empty() && !(w[i] >= 0 && std::isfinite(w[i])))
      throw std::invalid_argument("weights must be finite and non-negative (row " + std::to_string(i) + ")");
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (x[a] != x[b]) return x[a] < x[b];
    if (tx[a] != tx[b]) return tx[a] < tx[b];
    return T[a] < T[b];
  });
  Rows rows;
  for (uint32_t i : order) {
    const double wi = w.empty() ? 1.0 : w[i];
    if (wi == 0) continue;
    if (!rows.x.empty() && rows.x.back() == x[i] && rows.tx.back() == tx[i] && rows.T.back() == T[i]) {
      rows.w.back() += wi;
    } else {
      if (rows.x.empty() || rows.x.back() != x[i]) rows.x_start.push_back(rows.x.size());
      rows.x.push_back(x[i]);
      rows.tx.push_back(tx[i]);
      rows.T.push_back(T[i]);
      rows.w.push_back(wi);
    }
    rows.total_weight += wi;
  }
  if (rows.x.empty()) throw std::invalid_argument("all weights are zero");
  rows.x_start.push_back(rows.x.size());
  return rows;
}

namespace {

// ---------------------------------------------------------------- BG/NBD, MBG/NBD

double beta_geo_ll(bool modified, const Rows& rows, const double* p, double* g, Cancel* cancel) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  const double log_alpha = std::log(alpha), log_a = std::log(a);
  const double dig_r = nm::digamma(r), dig_b = nm::digamma(b), dig_ab = nm::digamma(a + b);
  const double lg_r = std::lgamma(r), lg_b = std::lgamma(b), lg_ab = std::lgamma(a + b);
  // Modified BG/NBD shifts the beta terms by one (a drop-out chance also at time 0).
  const double shift = modified ? 1.0 : 0.0;
  double ll = 0, gr = 0, gal = 0, ga = 0, gb = 0;
  for (size_t k = 0; k + 1 < rows.x_start.size(); ++k) {
    const size_t lo = rows.x_start[k], hi = rows.x_start[k + 1];
    const double x = rows.x[lo];
    double wsum = 0;
    // Rows with this x: the two ways to have produced (x, t_x, T), mixed by p = P(dropped out).
    const bool can_drop = modified || x > 0;
    const double log_drop = log_a - std::log(b + x - 1.0 + shift);
    for (size_t i = lo; i < hi; ++i) {
      const double w = rows.w[i];
      const double l_T = std::log(alpha + rows.T[i]);
      const double a3 = -(r + x) * l_T;
      wsum += w;
      if (!can_drop) {
        ll += w * a3;
        gr -= w * l_T;
        gal -= w * (r + x) / (alpha + rows.T[i]);
        continue;
      }
      const double l_tx = std::log(alpha + rows.tx[i]);
      const double a4 = log_drop - (r + x) * l_tx;
      const double q = nm::sigmoid(a4 - a3);
      ll += w * nm::logaddexp(a3, a4);
      gr -= w * ((1 - q) * l_T + q * l_tx);
      gal -= w * (r + x) * ((1 - q) / (alpha + rows.T[i]) + q / (alpha + rows.tx[i]));
      ga += w * q / a;
      gb -= w * q / (b + x - 1.0 + shift);
    }
    // Terms of x alone: gamma mixing of the purchase rate, beta mixing of the drop-out chance.
    const double xs = x + shift;
    ll += wsum * (std::lgamma(r + x) - lg_r + r * log_alpha + lg_ab + std::lgamma(b + xs) - lg_b -
                  std::lgamma(a + b + xs));
    const double dig_abx = nm::digamma(a + b + xs);
    gr += wsum * (nm::digamma(r + x) - dig_r + log_alpha);
    gal += wsum * r / alpha;
    ga += wsum * (dig_ab - dig_abx);
    gb += wsum * (dig_ab + nm::digamma(b + xs) - dig_b - dig_abx);
    if (cancel) cancel->tick(hi - lo);
  }
  if (g) {
    g[0] = gr * r;
    g[1] = gal * alpha;
    g[2] = ga * a;
    g[3] = gb * b;
  }
  return ll;
}

// ---------------------------------------------------------------- Gamma-Gamma

double gamma_gamma_ll(const Rows& rows, const double* prm, double* g, Cancel* cancel) {
  const double p = prm[0], q = prm[1], v = prm[2];
  const double lg_q = std::lgamma(q), dig_q = nm::digamma(q), log_v = std::log(v);
  double ll = 0, gp = 0, gq = 0, gv = 0;
  for (size_t k = 0; k + 1 < rows.x_start.size(); ++k) {
    const size_t lo = rows.x_start[k], hi = rows.x_start[k + 1];
    const double x = rows.x[lo];
    if (x <= 0) throw std::invalid_argument("Gamma-Gamma needs frequency > 0 (customers with repeat purchases)");
    const double px = p * x, log_x = std::log(x);
    double wsum = 0;
    for (size_t i = lo; i < hi; ++i) {
      const double w = rows.w[i], m = rows.tx[i];
      const double log_m = std::log(m), l_xmv = std::log(x * m + v);
      wsum += w;
      ll += w * ((px - 1) * log_m - (px + q) * l_xmv);
      gp += w * x * (log_m - l_xmv);
      gq -= w * l_xmv;
      gv -= w * (px + q) / (x * m + v);
    }
    const double dig_pxq = nm::digamma(px + q);
    ll += wsum * (std::lgamma(px + q) - std::lgamma(px) - lg_q + q * log_v + px * log_x);
    gp += wsum * x * (dig_pxq - nm::digamma(px) + log_x);
    gq += wsum * (dig_pxq - dig_q + log_v);
    gv += wsum * q / v;
    if (cancel) cancel->tick(hi - lo);
  }
  if (g) {
    g[0] = gp * p;
    g[1] = gq * q;
    g[2] = gv * v;
  }
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

double log_likelihood(Model model, const Rows& rows, const std::vector<double>& log_params,
                      std::vector<double>* grad, Cancel* cancel) {
  const size_t k = n_params(model);
  if (log_params.size() != k) throw std::invalid_argument("wrong number of parameters");
  double p[4];
  for (size_t i = 0; i < k; ++i) p[i] = std::exp(log_params[i]);
  double g[4] = {0, 0, 0, 0};
  double* gp = grad ? g : nullptr;
  double ll = 0;
  switch (model) {
    case Model::beta_geo: ll = beta_geo_ll(false, rows, p, gp, cancel); break;
    case Model::modified_beta_geo: ll = beta_geo_ll(true, rows, p, gp, cancel); break;
    case Model::gamma_gamma: ll = gamma_gamma_ll(rows, p, gp, cancel); break;
    case Model::pareto_nbd: ll = pareto_ll(rows, p, gp, cancel); break;
    case Model::beta_geo_beta_binom: ll = bgbb_ll(rows, p, gp, cancel); break;
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
        Rows one;
        one.x = {x[i]};
        one.tx = {tx[i]};
        one.T = {T[i]};
        one.w = {1.0};
        one.x_start = {0, 1};
        one.total_weight = 1.0;
        out[i] = log_likelihood(model, one, lp, nullptr);
      }
    }
  }
  return out;
}

}  // namespace crmcore::scoring::clv
