// Maximum-likelihood fit of the lifetime-value models over log-parameters.
// Log-parameters keep every parameter positive without bounds; BFGS with a
// backtracking line search gets close, and Newton steps on a central-difference
// Hessian of the exact gradient finish to full precision, so that fitted
// values are reproducible to many digits rather than to an optimizer's
// tolerance.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "crmcore/scoring/clv.hpp"

namespace crmcore::scoring::clv {

namespace {

using Vec = std::vector<double>;

struct Objective {
  Model model;
  const Rows& rows;
  const FitOptions& opt;
  Cancel* cancel;
  int evaluations = 0;

  // Mean negative log-likelihood plus penalty; +inf where the likelihood is not finite.
  double operator()(const Vec& lp, Vec& grad) {
    ++evaluations;
    double ll = log_likelihood(model, rows, lp, &grad, cancel);
    const double W = rows.total_weight;
    double f = -ll / W;
    for (size_t i = 0; i < lp.size(); ++i) {
      const double p2 = std::exp(2 * lp[i]);
      f += opt.penalizer * p2;
      grad[i] = -grad[i] / W + 2 * opt.penalizer * p2;
    }
    bool ok = std::isfinite(f);
    for (double gi : grad) ok = ok && std::isfinite(gi);
    return ok ? f : std::numeric_limits<double>::infinity();
  }

  // Value, gradient and exact Hessian in one pass over the rows (models with
  // an analytic Hessian only).
  double with_hessian(const Vec& lp, Vec& grad, Vec& H) {
    ++evaluations;
    const double ll = log_likelihood(model, rows, lp, &grad, cancel, &H);
    const double W = rows.total_weight;
    const size_t k = lp.size();
    double f = -ll / W;
    for (double& h : H) h = -h / W;
    for (size_t i = 0; i < k; ++i) {
      const double p2 = std::exp(2 * lp[i]);
      f += opt.penalizer * p2;
      grad[i] = -grad[i] / W + 2 * opt.penalizer * p2;
      H[i * k + i] += 4 * opt.penalizer * p2;
    }
    bool ok = std::isfinite(f);
    for (double gi : grad) ok = ok && std::isfinite(gi);
    return ok ? f : std::numeric_limits<double>::infinity();
  }

  // Hessian of the objective: exact where the model has one, otherwise
  // central differences of the exact gradient, symmetrised.
  Vec hessian(const Vec& x) {
    const size_t k = x.size();
    Vec H(k * k);
    if (has_analytic_hessian(model)) {
      Vec g;
      with_hessian(x, g, H);
      return H;
    }
    Vec gp(k), gm(k), xp = x;
    const double h = 1e-4;
    for (size_t j = 0; j < k; ++j) {
      xp[j] = x[j] + h;
      (*this)(xp, gp);
      xp[j] = x[j] - h;
      (*this)(xp, gm);
      xp[j] = x[j];
      for (size_t i = 0; i < k; ++i) H[i * k + j] = (gp[i] - gm[i]) / (2 * h);
    }
    for (size_t i = 0; i < k; ++i)
      for (size_t j = i + 1; j < k; ++j) H[i * k + j] = H[j * k + i] = 0.5 * (H[i * k + j] + H[j * k + i]);
    return H;
  }
};

double max_abs(const Vec& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Backtracking line search along d with the Armijo condition; steps are capped
// so that no log-parameter moves by more than max_move (exp() would overflow
// on a wild first step). Returns false if no decrease was found.
bool line_search(Objective& obj, Vec& x, double& f, Vec& g, const Vec& d, double max_move = 3.0) {
  double step = 1.0;
  const double biggest = max_abs(d);
  if (biggest * step > max_move) step = max_move / biggest;
  const double slope = dot(g, d);
  Vec xn(x.size()), gn(x.size());
  for (int tries = 0; tries < 40; ++tries) {
    for (size_t i = 0; i < x.size(); ++i) xn[i] = x[i] + step * d[i];
    const double fn = obj(xn, gn);
    // Near the optimum f is flat to rounding; a smaller gradient at no higher f then counts as progress.
    const bool armijo = fn <= f + 1e-4 * step * slope;
    const bool flat = fn <= f + 1e-13 * std::abs(f) && max_abs(gn) < 0.5 * max_abs(g);
    if (std::isfinite(fn) && (armijo || flat)) {
      x = xn;
      f = fn;
      g = gn;
      return true;
    }
    step *= (std::isfinite(fn) ? 0.5 : 0.1);
  }
  return false;
}

// Solves H d = -g by Cholesky; false if H is not positive definite.
bool newton_direction(const Vec& H, const Vec& g, Vec& d) {
  const size_t k = g.size();
  Vec L(k * k, 0.0);
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j <= i; ++j) {
      double s = H[i * k + j];
      for (size_t m = 0; m < j; ++m) s -= L[i * k + m] * L[j * k + m];
      if (i == j) {
        if (!(s > 0)) return false;
        L[i * k + i] = std::sqrt(s);
      } else {
        L[i * k + j] = s / L[j * k + j];
      }
    }
  }
  Vec y(k);
  for (size_t i = 0; i < k; ++i) {
    double s = -g[i];
    for (size_t m = 0; m < i; ++m) s -= L[i * k + m] * y[m];
    y[i] = s / L[i * k + i];
  }
  d.assign(k, 0.0);
  for (size_t i = k; i-- > 0;) {
    double s = y[i];
    for (size_t m = i + 1; m < k; ++m) s -= L[m * k + i] * d[m];
    d[i] = s / L[i * k + i];
  }
  return true;
}

}  // namespace

namespace {

// BFGS on the inverse Hessian from x until max |g| <= gtol or no progress.
int bfgs(Objective& obj, Vec& x, double& f, Vec& g, double gtol, int max_iter, bool verbose) {
  const size_t k = x.size();
  Vec Hinv(k * k, 0.0), d(k), xo(k), go(k), s(k), y(k), Hy(k);
  for (size_t i = 0; i < k; ++i) Hinv[i * k + i] = 1.0;
  int it = 0;
  for (; it < max_iter && max_abs(g) > gtol; ++it) {
    for (size_t i = 0; i < k; ++i) {
      d[i] = 0;
      for (size_t j = 0; j < k; ++j) d[i] -= Hinv[i * k + j] * g[j];
    }
    if (dot(d, g) >= 0) {  // not a descent direction: restart from steepest descent
      std::fill(Hinv.begin(), Hinv.end(), 0.0);
      for (size_t i = 0; i < k; ++i) Hinv[i * k + i] = 1.0, d[i] = -g[i];
    }
    xo = x;
    go = g;
    const double fo = f;
    if (!line_search(obj, x, f, g, d)) break;
    if (verbose) std::fprintf(stderr, "bfgs %d  f=%.15g  |g|=%.3g\n", it, f, max_abs(g));
    for (size_t i = 0; i < k; ++i) s[i] = x[i] - xo[i], y[i] = g[i] - go[i];
    const double sy = dot(s, y);
    if (sy > 1e-300) {
      if (it == 0) {  // scale the first guess of the inverse Hessian
        const double scale = sy / dot(y, y);
        for (size_t i = 0; i < k; ++i) Hinv[i * k + i] = scale;
      }
      for (size_t i = 0; i < k; ++i) {
        Hy[i] = 0;
        for (size_t j = 0; j < k; ++j) Hy[i] += Hinv[i * k + j] * y[j];
      }
      const double yHy = dot(y, Hy);
      for (size_t i = 0; i < k; ++i)
        for (size_t j = 0; j < k; ++j)
          Hinv[i * k + j] += (sy + yHy) * s[i] * s[j] / (sy * sy) - (Hy[i] * s[j] + s[i] * Hy[j]) / sy;
    }
    if (std::abs(fo - f) <= 1e-16 * std::max(1.0, std::abs(f)) && max_abs(s) < 1e-12) break;
  }
  return it;
}

// Newton steps with a line search; stops at gtol, on a Hessian that is not
// positive definite, or when the line search finds no decrease. With an
// analytic Hessian each trial point costs one pass (value, gradient and
// Hessian together) and H stays the Hessian at x.
int newton(Objective& obj, Vec& x, double& f, Vec& g, Vec& H, double gtol, int max_iter, bool verbose,
           bool* finished = nullptr) {
  const bool exact = has_analytic_hessian(obj.model);
  Vec d, xn(x.size()), gn(x.size()), Hn;
  int it = 0;
  for (; it < max_iter && max_abs(g) > gtol; ++it) {
    if (!newton_direction(H, g, d)) break;
    if (exact && max_abs(g) < 1e-7 && max_abs(d) < 1e-5) {
      // Quadratic convergence: this last step lands within ~|d|^2 of the
      // optimum, so take it without another pass over the rows (f, g and H
      // stay those of the previous point, equal to ~1e-10 relative).
      for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
      if (finished) *finished = true;
      ++it;
      break;
    }
    if (!exact) {
      // A difference Hessian costs 2k gradients: keep the one from near the
      // optimum; with it each step still shrinks the gradient ~1e4-fold.
      if (!line_search(obj, x, f, g, d)) break;
    } else {
      double step = std::min(1.0, 3.0 / max_abs(d));
      const double slope = dot(g, d);
      bool moved = false;
      for (int tries = 0; tries < 40 && !moved; ++tries, step *= 0.5) {
        for (size_t i = 0; i < x.size(); ++i) xn[i] = x[i] + step * d[i];
        const double fn = obj.with_hessian(xn, gn, Hn);
        const bool armijo = fn <= f + 1e-4 * step * slope;
        const bool flat = fn <= f + 1e-13 * std::abs(f) && max_abs(gn) < 0.5 * max_abs(g);
        if (std::isfinite(fn) && (armijo || flat)) {
          x = xn, f = fn, g = gn, H = Hn;
          moved = true;
        }
      }
      if (!moved) break;
    }
    if (verbose) std::fprintf(stderr, "newton %d  f=%.15g  |g|=%.3g\n", it, f, max_abs(g));
  }
  return it;
}

}  // namespace

FitResult fit(Model model, const Rows& rows, const std::vector<double>& log_params0, const FitOptions& opt,
              Cancel* cancel) {
  Objective obj{model, rows, opt, cancel};
  const size_t k = log_params0.size();
  Vec x = log_params0, g(k);
  int it = 0;
  // Millions of customers: most iterations happen on a sample of ~10,000 distinct rows,
  // the full data only sees the last few Newton steps.
  const size_t sample_size = 10000;
  if (rows.size() > 2 * sample_size) {
    const Rows sub = sample_rows(rows, rows.size() / sample_size);
    Objective sobj{model, sub, opt, cancel};
    double fs = sobj(x, g);
    if (std::isfinite(fs)) it += bfgs(sobj, x, fs, g, 1e-6, opt.max_iter, opt.verbose);
    obj.evaluations += sobj.evaluations * static_cast<int>(sub.size()) / static_cast<int>(rows.size());
  }
  const bool exact = has_analytic_hessian(model);
  Vec H;
  auto start = [&] { return exact ? obj.with_hessian(x, g, H) : obj(x, g); };
  double f = start();
  if (!std::isfinite(f)) {  // a wild warm start: begin again from the caller's point
    x = log_params0;
    f = start();
  }
  if (!std::isfinite(f)) throw std::invalid_argument("the likelihood is not finite at the initial parameters");
  bool finished = false;
  if (exact) it += newton(obj, x, f, g, H, opt.gtol, 50, opt.verbose, &finished);
  if (!finished && max_abs(g) > opt.gtol) {
    // BFGS to a moderate gradient, then Newton steps finish the job.
    it += bfgs(obj, x, f, g, std::max(opt.gtol, 1e-7), opt.max_iter, opt.verbose);
    H = obj.hessian(x);
    it += newton(obj, x, f, g, H, opt.gtol, 8, opt.verbose);
  } else if (!exact) {
    H = obj.hessian(x);
  }
  FitResult res;
  res.hessian = H;
  res.log_params = x;
  res.objective = f;
  res.iterations = it;
  res.evaluations = obj.evaluations;
  double penalty = 0;
  for (double lp : x) penalty += opt.penalizer * std::exp(2 * lp);
  res.log_likelihood = -(f - penalty) * rows.total_weight;
  const double gmax = max_abs(g);
  // A likelihood whose supremum lies at infinity (no heterogeneity left in a
  // rate or a drop-out chance) flattens out without a stationary point: stop
  // there once the slope is negligible, with large parameters and larger
  // standard errors, as lifetimes does.
  res.converged = std::isfinite(f) && gmax <= std::max(opt.gtol, 1e-5);
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s after %d iterations (%d likelihood evaluations), max |gradient| %.3g",
                res.converged ? "converged" : "did not converge", it, obj.evaluations, gmax);
  res.message = buf;
  return res;
}

}  // namespace crmcore::scoring::clv
