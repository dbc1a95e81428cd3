#pragma once
// Special functions and forward-mode dual numbers for the lifetime-value
// likelihoods. Duals give exact gradients of the Pareto/NBD and BG/BB
// likelihoods (whose hypergeometric and beta sums would otherwise need
// hand-derived parameter derivatives of every series term).
#include <array>
#include <cmath>
#include <limits>

namespace crmcore::scoring::numeric {

// psi(x) for x > 0: shift up with the recurrence, then the asymptotic series.
inline double digamma(double x) {
  double acc = 0.0;
  while (x < 8.0) {
    acc -= 1.0 / x;
    x += 1.0;
  }
  const double inv = 1.0 / x, inv2 = inv * inv;
  // Bernoulli-number series through B_14: truncation error below 2e-15 at x >= 8.
  const double series =
      inv2 * (1.0 / 12 -
              inv2 * (1.0 / 120 -
                      inv2 * (1.0 / 252 -
                              inv2 * (1.0 / 240 - inv2 * (1.0 / 132 - inv2 * (691.0 / 32760 - inv2 / 12))))));
  return acc + std::log(x) - 0.5 * inv - series;
}

// psi'(x) for x > 0, same scheme; used by the analytic Hessians.
inline double trigamma(double x) {
  double acc = 0.0;
  while (x < 8.0) {
    acc += 1.0 / (x * x);
    x += 1.0;
  }
  const double inv = 1.0 / x, inv2 = inv * inv;
  return acc + inv + 0.5 * inv2 +
         inv * inv2 *
             (1.0 / 6 -
              inv2 * (1.0 / 30 -
                      inv2 * (1.0 / 42 - inv2 * (1.0 / 30 - inv2 * (5.0 / 66 - inv2 * (691.0 / 2730 - inv2 * 7.0 / 6))))));
}

// log(exp(a) + exp(b)) without overflow; -inf terms are allowed.
inline double logaddexp(double a, double b) {
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  return a > b ? a + std::log1p(std::exp(b - a)) : b + std::log1p(std::exp(a - b));
}

inline double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

inline double betaln(double a, double b) { return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b); }

// expm1(y) / y and log1p(x) / x with their limit 1 at 0. Formulas of the form
// (1 - u^e) / e have a removable singularity at e = 0 (the BG/NBD expectation
// at a = 1, BG/BB at gamma = 1, Pareto/NBD at s = 1); written with these they
// are one expression, accurate on both sides of the singularity and at it,
// instead of a 0/0 or a branch with a jump.
inline double expm1_ratio(double y) { return y == 0.0 ? 1.0 : std::expm1(y) / y; }
inline double log1p_ratio(double x) { return x == 0.0 ? 1.0 : std::log1p(x) / x; }

// A value with its partial derivatives in N directions.
template <int N>
struct Dual {
  double v = 0.0;
  std::array<double, N> d{};
  Dual() = default;
  Dual(double value) : v(value) {}  // NOLINT: constants promote implicitly
  static Dual variable(double value, int slot, double seed = 1.0) {
    Dual x(value);
    x.d[slot] = seed;
    return x;
  }
  // f(v) with derivative df at v, chained through every direction.
  Dual chain(double fv, double df) const {
    Dual out(fv);
    for (int i = 0; i < N; ++i) out.d[i] = df * d[i];
    return out;
  }
  Dual& operator+=(const Dual& o) {
    v += o.v;
    for (int i = 0; i < N; ++i) d[i] += o.d[i];
    return *this;
  }
  Dual& operator-=(const Dual& o) {
    v -= o.v;
    for (int i = 0; i < N; ++i) d[i] -= o.d[i];
    return *this;
  }
  Dual& operator*=(const Dual& o) {
    for (int i = 0; i < N; ++i) d[i] = d[i] * o.v + v * o.d[i];
    v *= o.v;
    return *this;
  }
  Dual& operator/=(const Dual& o) {
    const double inv = 1.0 / o.v;
    for (int i = 0; i < N; ++i) d[i] = (d[i] - v * inv * o.d[i]) * inv;
    v *= inv;
    return *this;
  }
};

template <int N> Dual<N> operator+(Dual<N> a, const Dual<N>& b) { return a += b; }
template <int N> Dual<N> operator-(Dual<N> a, const Dual<N>& b) { return a -= b; }
template <int N> Dual<N> operator*(Dual<N> a, const Dual<N>& b) { return a *= b; }
template <int N> Dual<N> operator/(Dual<N> a, const Dual<N>& b) { return a /= b; }
template <int N> Dual<N> operator+(Dual<N> a, double b) { a.v += b; return a; }
template <int N> Dual<N> operator+(double b, Dual<N> a) { a.v += b; return a; }
template <int N> Dual<N> operator-(Dual<N> a, double b) { a.v -= b; return a; }
template <int N> Dual<N> operator-(double b, const Dual<N>& a) { return Dual<N>(b) - a; }
template <int N> Dual<N> operator-(const Dual<N>& a) { return Dual<N>(0.0) - a; }
template <int N> Dual<N> operator*(Dual<N> a, double b) {
  a.v *= b;
  for (auto& x : a.d) x *= b;
  return a;
}
template <int N> Dual<N> operator*(double b, Dual<N> a) { return a * b; }
template <int N> Dual<N> operator/(Dual<N> a, double b) { return a * (1.0 / b); }

template <int N> Dual<N> log(const Dual<N>& x) { return x.chain(std::log(x.v), 1.0 / x.v); }
template <int N> Dual<N> exp(const Dual<N>& x) {
  const double e = std::exp(x.v);
  return x.chain(e, e);
}
template <int N> Dual<N> log1p(const Dual<N>& x) { return x.chain(std::log1p(x.v), 1.0 / (1.0 + x.v)); }
template <int N> Dual<N> expm1(const Dual<N>& x) { return x.chain(std::expm1(x.v), std::exp(x.v)); }
template <int N> Dual<N> lgamma(const Dual<N>& x) { return x.chain(std::lgamma(x.v), digamma(x.v)); }

inline double value(double x) { return x; }
template <int N> double value(const Dual<N>& x) { return x.v; }

using std::exp;
using std::expm1;
using std::lgamma;
using std::log;
using std::log1p;

template <class S> S logaddexp(const S& a, const S& b) {
  return value(a) > value(b) ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

// log(exp(a) - exp(b)) for a > b.
template <class S> S logsubexp(const S& a, const S& b) { return a + log(-expm1(b - a)); }

template <class S> S betaln(const S& a, const S& b) { return lgamma(a) + lgamma(b) - lgamma(a + b); }

// log 2F1(a, b; c; z) by its power series, for 0 <= z < 1 and c > 0, when the
// sum is positive. The callers first move to a form whose series converges
// fast (Euler's transformation); the running sum is rescaled so that huge
// intermediate terms cannot overflow. Returns NaN if the sum is not positive.
template <class S>
S log_hyp2f1_series(const S& a, const S& b, const S& c, const S& z, int max_terms = 2000000) {
  S term(1.0), sum(1.0);
  double log_scale = 0.0;
  const double rescale_at = 1e280;
  int small_run = 0;
  for (int n = 0; n < max_terms; ++n) {
    const S ratio = (a + double(n)) * (b + double(n)) / ((c + double(n)) * double(n + 1)) * z;
    term *= ratio;
    sum += term;
    if (std::abs(value(sum)) > rescale_at) {
      term = term * (1.0 / rescale_at);
      sum = sum * (1.0 / rescale_at);
      log_scale += std::log(rescale_at);
    }
    // Stop once the terms shrink geometrically and are below rounding.
    if (value(term) == 0.0 ||
        (std::abs(value(ratio)) < 1.0 && std::abs(value(term)) <= 1e-17 * std::abs(value(sum)))) {
      if (++small_run >= 2) break;
    } else {
      small_run = 0;
    }
  }
  if (!(value(sum) > 0.0)) return S(std::numeric_limits<double>::quiet_NaN());
  return log(sum) + log_scale;
}

// (2F1(a, b; c; z) - 1) / b: the series without its leading 1, and with the
// factor b that every later term shares taken out, so that it stays finite
// and exact as b -> 0 (where 2F1 - 1 itself vanishes). Summed on its own,
// a sum close to 0 keeps its relative accuracy.
template <class S>
S hyp2f1_series_minus_one_over_b(const S& a, const S& b, const S& c, const S& z, int max_terms = 2000000) {
  S term = a / c * z, sum = term;
  int small_run = 0;
  for (int n = 1; n < max_terms; ++n) {
    const S ratio = (a + double(n)) * (b + double(n)) / ((c + double(n)) * double(n + 1)) * z;
    term *= ratio;
    sum += term;
    if (value(term) == 0.0 ||
        (std::abs(value(ratio)) < 1.0 && std::abs(value(term)) <= 1e-17 * std::abs(value(sum)))) {
      if (++small_run >= 2) break;
    } else {
      small_run = 0;
    }
  }
  return sum;
}

// 2F1(a, b; c; z) - 1 (used as log1p of it).
template <class S>
S hyp2f1_series_minus_one(const S& a, const S& b, const S& c, const S& z, int max_terms = 2000000) {
  return b * hyp2f1_series_minus_one_over_b(a, b, c, z, max_terms);
}

}  // namespace crmcore::scoring::numeric
