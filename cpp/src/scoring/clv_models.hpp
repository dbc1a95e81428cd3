#pragma once
// Per-row likelihood pieces shared by the fit (with dual numbers) and the
// predictions (with doubles). Private to cpp/src/scoring.
#include "numeric_special.hpp"

namespace crmcore::scoring::clv::detail {

namespace nm = numeric;

// ---------------------------------------------------------------- Pareto/NBD

// log[2F1(a, b; a + 1; z) / (mx + t)^a] with z = (mx - mn) / (mx + t), the
// pieces of A_0 in Fader & Hardie's Pareto/NBD likelihood. Euler's
// transformation turns the series into 2F1(1, a + 1 - b; a + 1; z), whose
// positive terms shrink at least as fast as z^n, for every x.
template <class S>
S pareto_log_piece(const S& a, const S& b, const S& mx, const S& mn, double t) {
  const S l_mx = nm::log(mx + t), l_mn = nm::log(mn + t);
  const S z = (mx - mn) / (mx + t);
  const S tail = nm::hyp2f1_series_minus_one(S(1.0), a + 1.0 - b, a + 1.0, z);
  return (1.0 - b) * (l_mn - l_mx) - a * l_mx + nm::log1p(tail);
}

// log A_0 = log[piece(t_x) - piece(T)], Fader & Hardie's case split on alpha vs beta.
template <class S>
S pareto_log_A0(const S& r, const S& alpha, const S& s, const S& beta, double x, double tx, double T) {
  const S a = r + s + x;
  const bool alpha_larger = nm::value(alpha) >= nm::value(beta);
  const S& mx = alpha_larger ? alpha : beta;
  const S& mn = alpha_larger ? beta : alpha;
  const S b = alpha_larger ? s + 1.0 : r + x;
  return nm::logsubexp(pareto_log_piece(a, b, mx, mn, tx), pareto_log_piece(a, b, mx, mn, T));
}

// Per-row log-likelihood without the x-only term lgamma(r + x) - lgamma(r).
template <class S>
S pareto_row(const S& r, const S& alpha, const S& s, const S& beta, double x, double tx, double T) {
  const S alive = -(r + x) * nm::log(alpha + T) - s * nm::log(beta + T);
  const S head = r * nm::log(alpha) + s * nm::log(beta);
  if (tx >= T) return head + alive;  // no time in which to have died unseen
  const S died = nm::log(s) - nm::log(r + s + x) + pareto_log_A0(r, alpha, s, beta, x, tx, T);
  return head + nm::logaddexp(alive, died);
}

// ---------------------------------------------------------------- BG/BB

template <class S>
S bgbb_row(const S& al, const S& be, const S& ga, const S& de, double x, double tx, double n, const S& norm) {
  // Alive through all n opportunities...
  S ll = nm::betaln(al + x, be + n - x) + nm::betaln(ga, de + n) - norm;
  // ... or dropped out right after opportunity t_x + i, i = 0 .. n - t_x - 1.
  for (double i = 0; tx + i < n; i += 1.0) {
    ll = nm::logaddexp(ll, nm::betaln(al + x, be + tx - x + i) + nm::betaln(ga + 1.0, de + tx + i) - norm);
  }
  return ll;
}

}  // namespace crmcore::scoring::clv::detail
