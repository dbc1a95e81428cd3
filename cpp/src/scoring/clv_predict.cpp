// Conditional predictions of the lifetime-value models, written in log space
// around the forms whose series stay small: lifetimes evaluates the same
// quantities with scipy's hyp2f1 on its raw arguments, which overflows or
// loses all digits for frequent buyers.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "clv_hash.hpp"
#include "clv_models.hpp"
#include "crmcore/scoring/clv.hpp"
#include "numeric_special.hpp"

namespace crmcore::scoring::clv {

namespace nm = numeric;

namespace {

void check_sizes(size_t n, std::initializer_list<const std::vector<double>*> arrays) {
  for (auto* a : arrays)
    if (a->size() != n) throw std::invalid_argument("arrays must have the same length");
}

void check_params(const std::vector<double>& p, size_t k) {
  if (p.size() != k) throw std::invalid_argument("wrong number of parameters");
  for (double v : p)
    if (!(v > 0 && std::isfinite(v))) throw std::invalid_argument("parameters must be positive and finite");
}

// log of 2F1(A, B; C; z) through Euler's transformation,
// (1 - z)^(C-A-B) 2F1(C-A, C-B; C; z), whose series has positive, shrinking
// terms when C > A and C > B (the Pareto/NBD cases).
double log_hyp2f1_euler(double A, double B, double C, double z) {
  return (C - A - B) * std::log1p(-z) + nm::log_hyp2f1_series(C - A, C - B, C, z);
}

// The mean of f over [x, x + e] by 8-point Gauss-Legendre quadrature: exact to
// rounding for the smooth, slowly varying f it is used on when |e| is small.
template <class F>
double mean_over(double x, double e, F f) {
  // Nodes on [-1, 1] (symmetric pairs) and their weights, which sum to 2.
  static const double node[4] = {0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363};
  static const double weight[4] = {0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763};
  const double mid = x + 0.5 * e, half = 0.5 * e;
  double sum = 0.0;
  for (int k = 0; k < 4; ++k) sum += weight[k] * (f(mid - half * node[k]) + f(mid + half * node[k]));
  return 0.5 * sum;
}

// P(N >= n) for N negative binomial with P(N = j) = Gamma(r+j)/(Gamma(r) j!) q^r p^j:
// summed over the smaller side so that a small tail keeps its digits.
double nbd_tail(double r, double log_q, double log_p, double n) {
  if (n <= 0) return 1.0;
  auto log_pmf = [&](double j) { return std::lgamma(r + j) - std::lgamma(r) - std::lgamma(j + 1) + r * log_q + j * log_p; };
  const double mean = r * std::exp(log_p - log_q);
  if (n <= mean + 1) {
    double head = 0;
    for (double j = 0; j < n; j += 1) head += std::exp(log_pmf(j));
    return std::max(0.0, 1.0 - head);
  }
  double tail = 0, term = std::exp(log_pmf(n));
  for (double j = n; term > 1e-18 * tail && j < n + 1e7; j += 1) {
    tail += term;
    term *= (r + j) / (j + 1) * std::exp(log_p);
  }
  return tail;
}

// Validated inputs of a BG/BB conditional prediction and the log-likelihood of each history.
std::vector<double> bgbb_history_log_likelihood(const std::vector<double>& params, const std::vector<double>& m,
                                                const std::vector<double>& x, const std::vector<double>& tx,
                                                const std::vector<double>& n) {
  check_params(params, 4);
  check_sizes(x.size(), {&m, &tx, &n});
  return log_likelihood_rows(Model::beta_geo_beta_binom, params, x, tx, n);
}

}  // namespace

std::vector<double> bg_conditional_expected(bool modified, const std::vector<double>& params,
                                            const std::vector<double>& t, const std::vector<double>& x,
                                            const std::vector<double>& tx, const std::vector<double>& T) {
  check_params(params, 4);
  const size_t n = t.size();
  check_sizes(n, {&x, &tx, &T});
  const double r = params[0], alpha = params[1], a = params[2], b = params[3];
  const double shift = modified ? 1.0 : 0.0;
  // The hypergeometric part depends on (x, T, t) only: customers on a day grid
  // share a few of those, so each distinct triple is summed once.
  detail::DenseIds x_ids, T_ids, t_ids, triple_ids;
  std::vector<double> cached;
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double xi = x[i];
    const uint64_t xid = x_ids.id(detail::bits(xi)), Tid = T_ids.id(detail::bits(T[i])),
                   tid = t_ids.id(detail::bits(t[i]));
    const bool cacheable = xid < (1u << 21) && Tid < (1u << 21) && tid < (1u << 21);
    uint32_t slot = UINT32_MAX;
    if (cacheable) {
      slot = triple_ids.id((xid << 42) | (Tid << 21) | tid);
      if (slot == cached.size()) cached.push_back(std::numeric_limits<double>::quiet_NaN());
    }
    double numerator = slot != UINT32_MAX ? cached[slot] : std::numeric_limits<double>::quiet_NaN();
    if (std::isnan(numerator)) {
      // 2F1(r+x, b+x+shift; a+b+x-1+shift; z) ((alpha+T)/(alpha+T+t))^(r+x) equals
      // (1-z)^(a-1) 2F1(a+b-1+shift-r, a-1; a+b+x-1+shift; z) by Euler's
      // transformation: the x-dependence moves into the denominator parameter,
      // so the series shrinks faster the more frequent the buyer.
      // With e = a - 1 the numerator is c (1 - exp(L)) / e, L = e log(1-z) + log1p(e g),
      // g = (2F1 - 1) / e: 0/0 at a = 1, where its limit -c L/e is finite. Written as
      // -c (L/e) expm1_ratio(L) it is one expression on both sides of a = 1 and at it.
      const double e = a - 1;
      const double log1m_z = -std::log1p(t[i] / (alpha + T[i]));
      const double z = t[i] / (alpha + T[i] + t[i]);
      const double c = a + b + xi - 1 + shift;
      const double g = nm::hyp2f1_series_minus_one_over_b(a + b - 1 + shift - r, e, c, z);
      const double L_over_e = log1m_z + g * nm::log1p_ratio(e * g);
      numerator = -c * L_over_e * nm::expm1_ratio(e * L_over_e);
      if (slot != UINT32_MAX) cached[slot] = numerator;
    }
    double p_alive = 1.0;
    if (modified || xi > 0) {
      const double log_d =
          std::log(a) - std::log(b + xi - 1 + shift) + (r + xi) * (std::log(alpha + T[i]) - std::log(alpha + tx[i]));
      p_alive = nm::sigmoid(-log_d);
    }
    out[i] = numerator * p_alive;
  }
  return out;
}

std::vector<double> bg_probability_alive(bool modified, const std::vector<double>& params,
                                         const std::vector<double>& x, const std::vector<double>& tx,
                                         const std::vector<double>& T) {
  check_params(params, 4);
  const size_t n = x.size();
  check_sizes(n, {&tx, &T});
  const double r = params[0], alpha = params[1], a = params[2], b = params[3];
  const double shift = modified ? 1.0 : 0.0;
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (!modified && x[i] == 0) {
      out[i] = 1.0;
      continue;
    }
    const double log_d =
        std::log(a) - std::log(b + x[i] - 1 + shift) + (r + x[i]) * (std::log(alpha + T[i]) - std::log(alpha + tx[i]));
    out[i] = nm::sigmoid(-log_d);
  }
  return out;
}

std::vector<double> bg_probability_of_n(bool modified, const std::vector<double>& params,
                                        const std::vector<double>& t, const std::vector<double>& n) {
  check_params(params, 4);
  check_sizes(t.size(), {&n});
  const double r = params[0], alpha = params[1], a = params[2], b = params[3];
  const double shift = modified ? 1.0 : 0.0;
  const double log_B = nm::betaln(a, b);
  std::vector<double> out(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    const double k = n[i], ti = t[i];
    if (k < 0 || k != std::floor(k)) throw std::invalid_argument("n must be a non-negative integer");
    const double log_q = std::log(alpha) - std::log(alpha + ti);
    const double log_p = ti > 0 ? std::log(ti) - std::log(alpha + ti) : -std::numeric_limits<double>::infinity();
    // Still alive at t with exactly k purchases ...
    const double log_first = nm::betaln(a, b + k + shift) - log_B + std::lgamma(r + k) - std::lgamma(r) -
                             std::lgamma(k + 1) + r * log_q + (k > 0 ? k * log_p : 0.0);
    // ... or dropped out right after the k-th purchase (the k-th of at least k).
    double second = 0;
    if (k > 0 || modified)
      second = std::exp(nm::betaln(a + 1, b + k - 1 + shift) - log_B) * nbd_tail(r, log_q, log_p, k);
    out[i] = std::exp(log_first) + second;
  }
  return out;
}

std::vector<double> pareto_probability_alive(const std::vector<double>& params, const std::vector<double>& x,
                                             const std::vector<double>& tx, const std::vector<double>& T) {
  check_params(params, 4);
  const size_t n = x.size();
  check_sizes(n, {&tx, &T});
  const double r = params[0], alpha = params[1], s = params[2], beta = params[3];
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (tx[i] >= T[i]) {
      out[i] = 1.0;
      continue;
    }
    const double alive = -(r + x[i]) * std::log(alpha + T[i]) - s * std::log(beta + T[i]);
    const double died =
        std::log(s) - std::log(r + s + x[i]) + detail::pareto_log_A0(r, alpha, s, beta, x[i], tx[i], T[i]);
    out[i] = nm::sigmoid(alive - died);
  }
  return out;
}

std::vector<double> pareto_conditional_expected(const std::vector<double>& params, const std::vector<double>& t,
                                                const std::vector<double>& x, const std::vector<double>& tx,
                                                const std::vector<double>& T) {
  const std::vector<double> alive = pareto_probability_alive(params, x, tx, T);
  check_sizes(x.size(), {&t});
  const double r = params[0], alpha = params[1], s = params[2], beta = params[3];
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    // E[purchases in (T, T+t] | alive] = (r+x)/(alpha+T) * E[min(t, lifetime left)] under the
    // posterior of mu: (beta+T)/(s-1) * (1 - ((beta+T)/(beta+T+t))^(s-1)).
    const double u = std::log1p(t[i] / (beta + T[i]));
    const double horizon = u * nm::expm1_ratio(-(s - 1) * u);  // limit u at s = 1
    out[i] = alive[i] * (r + x[i]) / (alpha + T[i]) * (beta + T[i]) * horizon;
  }
  return out;
}

std::vector<double> pareto_conditional_probability_of_n(const std::vector<double>& params,
                                                        const std::vector<double>& n, const std::vector<double>& t,
                                                        const std::vector<double>& x, const std::vector<double>& tx,
                                                        const std::vector<double>& T) {
  check_params(params, 4);
  const size_t m = x.size();
  check_sizes(m, {&n, &t, &tx, &T});
  const double r = params[0], alpha = params[1], s = params[2], beta = params[3];
  const std::vector<double> log_l = log_likelihood_rows(Model::pareto_nbd, params, x, tx, T);
  const double head = r * std::log(alpha) + s * std::log(beta) - std::lgamma(r);
  std::vector<double> out(m);
  for (size_t i = 0; i < m; ++i) {
    const double k = n[i], ti = t[i], xi = x[i], Ti = T[i];
    if (k < 0 || k != std::floor(k)) throw std::invalid_argument("n must be a non-negative integer");
    if (ti <= 0) {
      out[i] = k == 0 ? 1.0 : 0.0;
      continue;
    }
    const bool alpha_smaller = alpha < beta;
    const double mx = alpha_smaller ? beta : alpha, mn = alpha_smaller ? alpha : beta;
    const double p = alpha_smaller ? r + xi + k : s + 1;
    const double rsx = r + s + xi, C = rsx + k + 1;
    const double ll = log_l[i];
    const double log_p_alive = std::lgamma(r + xi) + head - (r + xi) * std::log(alpha + Ti) - s * std::log(beta + Ti) - ll;
    // Alive through T + t with exactly k purchases in (T, T + t].
    const double first = k * std::log(ti) - std::lgamma(k + 1) + std::lgamma(r + xi + k) + head -
                         (r + xi + k) * std::log(alpha + Ti + ti) - s * std::log(beta + Ti + ti) - ll;
    // Died within (T, T + t] after exactly k purchases there: B_2 - sum_i B_3(i).
    const double common = head + nm::betaln(r + xi + k, s + 1) - std::lgamma(s) - ll;
    const double second = common + std::lgamma(rsx) - rsx * std::log(mx + Ti) +
                          log_hyp2f1_euler(rsx, p, C, (mx - mn) / (mx + Ti));
    double third = -std::numeric_limits<double>::infinity();
    for (double j = 0; j <= k; j += 1) {
      const double term = j * std::log(ti) - std::lgamma(j + 1) + common + std::lgamma(rsx + j) -
                          (rsx + j) * std::log(mx + Ti + ti) +
                          log_hyp2f1_euler(rsx + j, p, C, (mx - mn) / (mx + Ti + ti));
      third = nm::logaddexp(third, term);
    }
    const double zeroth = k == 0 ? -std::expm1(log_p_alive) : 0.0;
    // second > third always (the died-in-window mass); keep it non-negative against rounding.
    const double died = std::exp(second) * std::max(0.0, -std::expm1(third - second));
    out[i] = zeroth + std::exp(first) + died;
  }
  return out;
}

std::vector<double> bgbb_conditional_expected(const std::vector<double>& params, const std::vector<double>& m,
                                              const std::vector<double>& x, const std::vector<double>& tx,
                                              const std::vector<double>& n) {
  const std::vector<double> ll = bgbb_history_log_likelihood(params, m, x, tx, n);
  const double al = params[0], be = params[1], ga = params[2], de = params[3];
  std::vector<double> out(x.size());
  const double e = ga - 1;
  for (size_t i = 0; i < x.size(); ++i) {
    const double y = 1 + de + n[i], mi = m[i];
    const double lp4 = std::lgamma(y) - std::lgamma(ga + de + n[i]);
    // (p4 - p5) / (gamma - 1) = p4 (1 - exp(D)) / e with D = log(p5 / p4) = -(h(y + e) - h(y)),
    // h(u) = lgamma(u + m) - lgamma(u): 0/0 at gamma = 1, with the finite limit h'(y).
    // Near gamma = 1 the difference quotient of h is the mean of h' = psi(u + m) - psi(u)
    // over [y, y + e] (by quadrature, no cancellation); far from it the lgamma differences
    // are accurate.
    double slope;  // (h(y + e) - h(y)) / e, positive because h increases
    if (std::abs(e) < 0.25) {
      slope = mean_over(y, e, [mi](double u) { return nm::digamma(u + mi) - nm::digamma(u); });
    } else {
      const double lp5 = std::lgamma(y + mi) - std::lgamma(ga + de + n[i] + mi);
      slope = (lp4 - lp5) / e;
    }
    const double diff = slope * nm::expm1_ratio(-e * slope);
    const double log_rest = nm::betaln(al + x[i] + 1, be + n[i] - x[i]) - nm::betaln(al, be) + std::log(de) +
                            std::lgamma(ga + de) - std::lgamma(1 + de) + lp4 - ll[i];
    out[i] = std::exp(log_rest) * diff;
  }
  return out;
}

std::vector<double> bgbb_probability_alive(const std::vector<double>& params, const std::vector<double>& m,
                                           const std::vector<double>& x, const std::vector<double>& tx,
                                           const std::vector<double>& n) {
  const std::vector<double> ll = bgbb_history_log_likelihood(params, m, x, tx, n);
  const double al = params[0], be = params[1], ga = params[2], de = params[3];
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    out[i] = std::exp(nm::betaln(al + x[i], be + n[i] - x[i]) - nm::betaln(al, be) +
                      nm::betaln(ga, de + n[i] + m[i]) - nm::betaln(ga, de) - ll[i]);
  return out;
}

std::vector<double> bgbb_probability_of_x(const std::vector<double>& params, int n) {
  check_params(params, 4);
  if (n < 0) throw std::invalid_argument("n must be non-negative");
  const double al = params[0], be = params[1], ga = params[2], de = params[3];
  const double norm = nm::betaln(al, be) + nm::betaln(ga, de);
  auto log_binom = [](double N, double k) { return std::lgamma(N + 1) - std::lgamma(k + 1) - std::lgamma(N - k + 1); };
  std::vector<double> out(static_cast<size_t>(n) + 1);
  for (int x = 0; x <= n; ++x) {
    // Alive through all n opportunities with x purchases, or dropped out after opportunity i >= x.
    double lp = log_binom(n, x) + nm::betaln(al + x, be + n - x) + nm::betaln(ga, de + n) - norm;
    for (int i = x; i < n; ++i)
      lp = nm::logaddexp(lp, log_binom(i, x) + nm::betaln(al + x, be + i - x) + nm::betaln(ga + 1, de + i) - norm);
    out[x] = std::exp(lp);
  }
  return out;
}

}  // namespace crmcore::scoring::clv
