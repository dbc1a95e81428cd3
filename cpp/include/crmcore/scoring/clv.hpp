#pragma once
// Lifetime-value models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB, Gamma-Gamma):
// likelihoods with exact gradients, a quasi-Newton fit over log-parameters,
// the conditional predictions, and the per-customer summary of a transaction
// log. Plain arrays in and out; the Python package crmcore.clv wraps them in
// lifetimes' API.
#include <cstdint>
#include <string>
#include <vector>

#include "crmcore/cancel.hpp"

namespace crmcore::scoring::clv {

enum class Model { beta_geo, modified_beta_geo, pareto_nbd, beta_geo_beta_binom, gamma_gamma };

// Parses "beta_geo", "modified_beta_geo", "pareto_nbd", "beta_geo_beta_binom", "gamma_gamma".
Model model_from_name(const std::string& name);

// Customers as distinct (x, t_x, T) rows with summed weights, sorted by x:
// a likelihood costs one evaluation per distinct row, and the terms that
// depend on x alone once per distinct x. For Gamma-Gamma, t_x holds the
// average spend and T is unused (0). For BG/BB, T holds n_periods.
struct Rows {
  std::vector<double> x, tx, T, w;
  std::vector<size_t> x_start;  // rows [x_start[k], x_start[k+1]) share one x
  // Distinct values of t_x and T, and each row's index into them: summaries
  // on a day or week grid have few distinct times, so log(alpha + t) is
  // computed once per time instead of once per row.
  std::vector<double> times, log_times;
  std::vector<uint32_t> tx_id, T_id;
  double total_weight = 0.0;
  size_t size() const { return x.size(); }
};

// Validates (non-negative finite values, integer x, positive weights) and
// collapses identical rows. Throws std::invalid_argument on bad input.
Rows compress_rows(const std::vector<double>& x, const std::vector<double>& tx, const std::vector<double>& T,
                   const std::vector<double>& w);
// The same over raw columns of length n; w may be null (all weights 1).
Rows compress_rows(const double* x, const double* tx, const double* T, const double* w, size_t n);

// Multiplies every time (t_x, T) by factor: lifetimes fits on time rescaled
// by 1 / max(T), and the distinct values are far fewer than the customers.
void scale_times(Rows& rows, double factor);

// Weighted sum of per-row log-likelihoods at params = exp(log_params), with
// its gradient with respect to log_params written to grad (if not null).
// hess (BG/NBD, MBG/NBD and Gamma-Gamma, see has_analytic_hessian) receives the
// Hessian with respect to log_params, row-major.
double log_likelihood(Model model, const Rows& rows, const std::vector<double>& log_params,
                      std::vector<double>* grad, Cancel* cancel = nullptr, std::vector<double>* hess = nullptr);
bool has_analytic_hessian(Model model);

// A systematic sample of every k-th distinct row, weights multiplied by k: an
// unbiased estimate of the full log-likelihood, cheap enough to find a warm
// start for the fit on millions of customers.
Rows sample_rows(const Rows& rows, size_t every);

// Per-row log-likelihood at natural params (no weights, no compression).
std::vector<double> log_likelihood_rows(Model model, const std::vector<double>& params,
                                        const std::vector<double>& x, const std::vector<double>& tx,
                                        const std::vector<double>& T);

struct FitOptions {
  double penalizer = 0.0;  // adds penalizer * sum(params^2) to the mean negative log-likelihood
  double gtol = 1e-10;     // stop when the largest gradient entry is below this
  int max_iter = 500;
  bool verbose = false;
};

struct FitResult {
  std::vector<double> log_params;
  double objective = 0.0;         // mean negative log-likelihood + penalty at the optimum
  double log_likelihood = 0.0;    // weighted sum, without penalty
  std::vector<double> hessian;    // of the objective w.r.t. log_params, row-major k x k
  int iterations = 0;
  int evaluations = 0;
  bool converged = false;
  std::string message;
};

// Minimises mean negative log-likelihood + penalty over log-parameters with
// BFGS and a Wolfe line search, then polishes with Newton steps on a
// finite-difference Hessian of the exact gradient (the Hessian is returned
// for standard errors).
FitResult fit(Model model, const Rows& rows, const std::vector<double>& log_params0, const FitOptions& opt,
              Cancel* cancel = nullptr);

// ---- predictions; all inputs have equal length (the caller broadcasts) ----

// BG/NBD (modified=false) or MBG/NBD (modified=true): E[X(t) | x, t_x, T].
// With x = t_x = T = 0 it is the unconditional E[X(t)].
std::vector<double> bg_conditional_expected(bool modified, const std::vector<double>& params,
                                            const std::vector<double>& t, const std::vector<double>& x,
                                            const std::vector<double>& tx, const std::vector<double>& T);
std::vector<double> bg_probability_alive(bool modified, const std::vector<double>& params,
                                         const std::vector<double>& x, const std::vector<double>& tx,
                                         const std::vector<double>& T);
// P(X(t) = n) for a new customer, BG/NBD or MBG/NBD.
std::vector<double> bg_probability_of_n(bool modified, const std::vector<double>& params,
                                        const std::vector<double>& t, const std::vector<double>& n);

std::vector<double> pareto_conditional_expected(const std::vector<double>& params, const std::vector<double>& t,
                                                const std::vector<double>& x, const std::vector<double>& tx,
                                                const std::vector<double>& T);
std::vector<double> pareto_probability_alive(const std::vector<double>& params, const std::vector<double>& x,
                                             const std::vector<double>& tx, const std::vector<double>& T);
// P(X(T, T + t] = n | x, t_x, T) under Pareto/NBD.
std::vector<double> pareto_conditional_probability_of_n(const std::vector<double>& params,
                                                        const std::vector<double>& n, const std::vector<double>& t,
                                                        const std::vector<double>& x, const std::vector<double>& tx,
                                                        const std::vector<double>& T);

// BG/BB: E[X(n, n + m) | x, t_x, n] and P(alive at n + m | x, t_x, n).
std::vector<double> bgbb_conditional_expected(const std::vector<double>& params, const std::vector<double>& m,
                                              const std::vector<double>& x, const std::vector<double>& tx,
                                              const std::vector<double>& n);
std::vector<double> bgbb_probability_alive(const std::vector<double>& params, const std::vector<double>& m,
                                           const std::vector<double>& x, const std::vector<double>& tx,
                                           const std::vector<double>& n);
// P(X(n) = x) for x = 0..n under BG/BB (the expected histogram of the first n periods).
std::vector<double> bgbb_probability_of_x(const std::vector<double>& params, int n);

// ---- transaction log summary ----

// Per customer code 0..n_customers-1, over transactions whose period start is
// <= observation_end (others ignored): first and last period start, number of
// distinct periods, and the spend summed per period then totalled, over all
// periods and over all but the first. codes must be in [0, n_customers).
struct PeriodSummary {
  std::vector<int64_t> first, last, n_periods;
  std::vector<double> spend_all, spend_repeat;
};
// Columns of length n; spend may be null.
PeriodSummary summarize_periods(const int64_t* codes, const int64_t* period_start, const double* spend, size_t n,
                                int64_t n_customers, int64_t observation_end, Cancel* cancel = nullptr);

// Floors ns timestamps to the start of fixed-length periods: period_ns long,
// aligned so that offset_ns is a period start. INT64_MIN (NaT) stays NaT.
std::vector<int64_t> floor_to_period(const std::vector<int64_t>& ns, int64_t period_ns, int64_t offset_ns);

}  // namespace crmcore::scoring::clv
