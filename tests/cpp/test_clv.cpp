// Lifetime-value core: special functions against closed forms, likelihoods
// against independent evaluations (the defining integral for Pareto/NBD,
// the textbook BG/NBD formula written out here), exact derivatives against
// finite differences, row collapsing and the transaction summary by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../../cpp/src/scoring/numeric_special.hpp"
#include "crmcore/scoring/clv.hpp"

namespace clv = crmcore::scoring::clv;
namespace nm = crmcore::scoring::numeric;

namespace {

const double kEuler = 0.57721566490153286;

// Small CDNOW-like data: (x, t_x, T).
const std::vector<double> X = {0, 0, 1, 2, 2, 5, 0, 1, 3, 7, 2, 0};
const std::vector<double> TX = {0, 0, 1.7, 30.4, 20.0, 35.0, 0, 12.5, 25.1, 38.0, 30.4, 0};
const std::vector<double> TT = {38.9, 38.9, 38.9, 38.9, 37.0, 38.9, 30.0, 36.2, 38.9, 38.9, 38.9, 38.9};

clv::Rows rows_of(const std::vector<double>& x, const std::vector<double>& tx, const std::vector<double>& T) {
  return clv::compress_rows(x, tx, T, {});
}

std::vector<double> numeric_gradient(clv::Model m, const clv::Rows& rows, std::vector<double> lp) {
  std::vector<double> g(lp.size());
  const double h = 1e-5;
  for (size_t i = 0; i < lp.size(); ++i) {
    const double keep = lp[i];
    lp[i] = keep + h;
    const double up = clv::log_likelihood(m, rows, lp, nullptr);
    lp[i] = keep - h;
    const double down = clv::log_likelihood(m, rows, lp, nullptr);
    lp[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

}  // namespace

TEST(ClvSpecial, DigammaAndTrigammaClosedForms) {
  EXPECT_NEAR(nm::digamma(1.0), -kEuler, 1e-14);
  EXPECT_NEAR(nm::digamma(0.5), -kEuler - 2 * std::log(2.0), 1e-14);
  EXPECT_NEAR(nm::digamma(101.0), nm::digamma(100.0) + 0.01, 1e-14);
  EXPECT_NEAR(nm::trigamma(1.0), M_PI * M_PI / 6, 1e-13);
  EXPECT_NEAR(nm::trigamma(0.5), M_PI * M_PI / 2, 1e-12);
}

TEST(ClvSpecial, HypergeometricSeriesClosedForms) {
  for (double z : {0.01, 0.3, 0.9, 0.99}) {
    // 2F1(1, 1; 2; z) = -log(1 - z) / z and 2F1(a, b; b; z) = (1 - z)^-a.
    EXPECT_NEAR(nm::log_hyp2f1_series(1.0, 1.0, 2.0, z), std::log(-std::log1p(-z) / z), 1e-13);
    EXPECT_NEAR(nm::log_hyp2f1_series(2.5, 3.0, 3.0, z), -2.5 * std::log1p(-z), 1e-12);
  }
  // Terms of 1e300 and more are rescaled instead of overflowing.
  EXPECT_NEAR(nm::log_hyp2f1_series(400.0, 3.0, 3.0, 0.9), -400.0 * std::log(0.1), 1e-9);
  // The minus-one form keeps digits of a sum close to 1.
  EXPECT_NEAR(nm::hyp2f1_series_minus_one(1.0, 1.0, 2.0, 1e-9), 0.5e-9 + 1e-18 / 3, 1e-25);
}

TEST(ClvSpecial, SeriesOverBStaysFiniteAsBVanishes) {
  for (double z : {1e-6, 0.3, 0.9}) {
    // 2F1(c, b; c; z) = (1 - z)^-b, so (2F1 - 1) / b = expm1(-b log(1 - z)) / b -> -log(1 - z).
    EXPECT_NEAR(nm::hyp2f1_series_minus_one_over_b(2.5, 0.0, 2.5, z), -std::log1p(-z), 1e-14 * -std::log1p(-z));
    for (double b : {1e-12, -1e-9, 0.3}) {
      const double want = std::expm1(-b * std::log1p(-z)) / b;
      EXPECT_NEAR(nm::hyp2f1_series_minus_one_over_b(2.5, b, 2.5, z), want, 1e-13 * want);
    }
  }
  EXPECT_EQ(nm::expm1_ratio(0.0), 1.0);
  EXPECT_EQ(nm::log1p_ratio(0.0), 1.0);
  EXPECT_NEAR(nm::expm1_ratio(1e-300), 1.0, 1e-16);
  EXPECT_NEAR(nm::log1p_ratio(-1e-10), 1.0 + 0.5e-10, 1e-16);
}

TEST(ClvRows, CollapsesIdenticalRowsWithWeights) {
  const clv::Rows rows = rows_of(X, TX, TT);
  // (0, 0, 38.9) three times and (2, 30.4, 38.9) twice.
  EXPECT_EQ(rows.size(), X.size() - 3);
  EXPECT_DOUBLE_EQ(rows.total_weight, 12.0);
  for (size_t k = 0; k + 1 < rows.x_start.size(); ++k)
    for (size_t i = rows.x_start[k]; i < rows.x_start[k + 1]; ++i) EXPECT_EQ(rows.x[i], rows.x[rows.x_start[k]]);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows.times[rows.tx_id[i]], rows.tx[i]);
    EXPECT_EQ(rows.times[rows.T_id[i]], rows.T[i]);
  }
  EXPECT_THROW(rows_of({1.5}, {1.0}, {2.0}), std::invalid_argument);
  EXPECT_THROW(rows_of({1}, {-1.0}, {2.0}), std::invalid_argument);
}

TEST(ClvLikelihood, BetaGeoMatchesTheTextbookFormula) {
  const std::vector<double> p = {0.24, 4.4, 0.79, 2.43};
  std::vector<double> lp;
  for (double v : p) lp.push_back(std::log(v));
  const double r = p[0], al = p[1], a = p[2], b = p[3];
  double expected = 0;
  for (size_t i = 0; i < X.size(); ++i) {
    // FHL (2005) eq. 6, written directly.
    const double x = X[i];
    const double A = std::tgamma(r + x) * std::pow(al, r) / std::tgamma(r);
    const double B = std::tgamma(a + b) * std::tgamma(b + x) / (std::tgamma(b) * std::tgamma(a + b + x));
    double L = A * B / std::pow(al + TT[i], r + x);
    if (x > 0) L += A * B * a / (b + x - 1) / std::pow(al + TX[i], r + x);
    expected += std::log(L);
  }
  EXPECT_NEAR(clv::log_likelihood(clv::Model::beta_geo, rows_of(X, TX, TT), lp, nullptr), expected, 1e-10);
  const std::vector<double> per_row = clv::log_likelihood_rows(clv::Model::beta_geo, p, X, TX, TT);
  double sum = 0;
  for (double v : per_row) sum += v;
  EXPECT_NEAR(sum, expected, 1e-10);
}

TEST(ClvLikelihood, ParetoMatchesTheDefiningIntegral) {
  // L = Gamma(r+x) a^r b^s / Gamma(r) [ (a+T)^-(r+x) (b+T)^-s + s * int_tx^T (a+u)^-(r+x) (b+u)^-(s+1) du ]
  for (const auto& p : {std::vector<double>{0.55, 10.6, 0.61, 11.7}, std::vector<double>{0.55, 2.0, 0.61, 30.0},
                        std::vector<double>{3.0, 40.0, 1.5, 0.8}}) {
    const double r = p[0], al = p[1], s = p[2], be = p[3];
    const std::vector<double> ll = clv::log_likelihood_rows(clv::Model::pareto_nbd, p, X, TX, TT);
    for (size_t i = 0; i < X.size(); ++i) {
      const double x = X[i];
      const int steps = 20000;  // Simpson's rule
      const double h = (TT[i] - TX[i]) / steps;
      auto f = [&](double u) { return std::pow(al + u, -(r + x)) * std::pow(be + u, -(s + 1)); };
      double integral = f(TX[i]) + f(TT[i]);
      for (int k = 1; k < steps; ++k) integral += (k % 2 ? 4 : 2) * f(TX[i] + k * h);
      integral *= h / 3;
      const double L = std::tgamma(r + x) * std::pow(al, r) * std::pow(be, s) / std::tgamma(r) *
                       (std::pow(al + TT[i], -(r + x)) * std::pow(be + TT[i], -s) + s * integral);
      EXPECT_NEAR(ll[i], std::log(L), 1e-9) << "row " << i;
    }
  }
}

TEST(ClvLikelihood, GradientsAndHessiansAgreeWithDifferences) {
  const clv::Rows rfm = rows_of(X, TX, TT);
  const std::vector<double> n = {6, 6, 6, 6, 6, 6, 5, 6, 6, 6, 6, 6};
  std::vector<double> bx(X.size()), btx(X.size());
  for (size_t i = 0; i < X.size(); ++i) bx[i] = std::min(X[i], 5.0), btx[i] = bx[i] > 0 ? 5.0 : 0.0;
  const clv::Rows bb = rows_of(bx, btx, n);
  const std::vector<double> gx = {1, 2, 3, 1, 5}, gm = {12.0, 30.5, 8.25, 50.0, 19.0};
  const clv::Rows gg = rows_of(gx, gm, std::vector<double>(gx.size(), 0.0));
  struct Case {
    clv::Model model;
    const clv::Rows* rows;
    std::vector<double> lp;
  };
  for (const Case& c : {Case{clv::Model::beta_geo, &rfm, {-1.2, 1.5, -0.3, 0.9}},
                        Case{clv::Model::modified_beta_geo, &rfm, {-0.6, 1.8, -0.1, 0.5}},
                        Case{clv::Model::pareto_nbd, &rfm, {-0.6, 2.3, -0.5, 2.4}},
                        Case{clv::Model::pareto_nbd, &rfm, {-0.6, 0.3, -0.5, 3.4}},
                        Case{clv::Model::beta_geo_beta_binom, &bb, {0.2, -0.3, -0.4, 1.0}},
                        Case{clv::Model::gamma_gamma, &gg, {1.8, 1.3, 2.7}}}) {
    std::vector<double> g;
    clv::log_likelihood(c.model, *c.rows, c.lp, &g);
    const std::vector<double> num = numeric_gradient(c.model, *c.rows, c.lp);
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], num[i], 1e-6 * (1 + std::abs(num[i])));
    if (!clv::has_analytic_hessian(c.model)) continue;
    std::vector<double> H, gp, gm2;
    clv::log_likelihood(c.model, *c.rows, c.lp, &g, nullptr, &H);
    const size_t k = c.lp.size();
    for (size_t j = 0; j < k; ++j) {
      std::vector<double> up = c.lp, down = c.lp;
      up[j] += 1e-5;
      down[j] -= 1e-5;
      clv::log_likelihood(c.model, *c.rows, up, &gp);
      clv::log_likelihood(c.model, *c.rows, down, &gm2);
      for (size_t i = 0; i < k; ++i)
        EXPECT_NEAR(H[i * k + j], (gp[i] - gm2[i]) / 2e-5, 1e-5 * (1 + std::abs(H[i * k + j])));
    }
  }
}

TEST(ClvFit, ReachesAStationaryPointAndWeightsCountRows) {
  const clv::Rows rows = rows_of(X, TX, TT);
  const clv::FitResult res = clv::fit(clv::Model::beta_geo, rows, {0.1, 0.1, 0.1, 0.1}, clv::FitOptions{});
  ASSERT_TRUE(res.converged) << res.message;
  std::vector<double> g;
  clv::log_likelihood(clv::Model::beta_geo, rows, res.log_params, &g);
  for (double gi : g) EXPECT_LT(std::abs(gi / rows.total_weight), 1e-7);
  // Every nearby point is worse.
  for (size_t i = 0; i < 4; ++i)
    for (double step : {-1e-3, 1e-3}) {
      std::vector<double> lp = res.log_params;
      lp[i] += step;
      EXPECT_LT(clv::log_likelihood(clv::Model::beta_geo, rows, lp, nullptr), res.log_likelihood);
    }
  // Doubling every row is the same as weight 2.
  std::vector<double> x2 = X, tx2 = TX, T2 = TT;
  x2.insert(x2.end(), X.begin(), X.end());
  tx2.insert(tx2.end(), TX.begin(), TX.end());
  T2.insert(T2.end(), TT.begin(), TT.end());
  const clv::Rows doubled = rows_of(x2, tx2, T2);
  const clv::Rows weighted = clv::compress_rows(X, TX, TT, std::vector<double>(X.size(), 2.0));
  EXPECT_NEAR(clv::log_likelihood(clv::Model::beta_geo, doubled, res.log_params, nullptr),
              clv::log_likelihood(clv::Model::beta_geo, weighted, res.log_params, nullptr), 1e-10);
}

TEST(ClvPredict, UnconditionalExpectationStartsAtZeroAndGrows) {
  const std::vector<double> p = {0.24, 4.4, 1.79, 2.43};
  const std::vector<double> t = {0.0, 1.0, 10.0, 100.0}, zero(4, 0.0);
  const std::vector<double> e = clv::bg_conditional_expected(false, p, t, zero, zero, zero);
  EXPECT_EQ(e[0], 0.0);
  EXPECT_LT(e[1], e[2]);
  EXPECT_LT(e[2], e[3]);
  // Small t: a Poisson rate r/alpha per unit time before anyone drops out.
  const std::vector<double> tiny = clv::bg_conditional_expected(false, p, {1e-6}, {0.0}, {0.0}, {0.0});
  EXPECT_NEAR(tiny[0] / 1e-6, p[0] / p[1], 1e-5);
  // P(N(t) = n) sums to one over n.
  std::vector<double> ts(400, 20.0), ns(400);
  for (int i = 0; i < 400; ++i) ns[i] = i;
  double total = 0;
  for (double v : clv::bg_probability_of_n(false, p, ts, ns)) total += v;
  EXPECT_NEAR(total, 1.0, 1e-10);
}

// At a = 1 (BG/NBD, MBG/NBD), gamma = 1 (BG/BB) and s = 1 (Pareto/NBD) the formulas are 0/0
// with a finite limit: the value there is finite and lies on the smooth curve through its
// neighbours (the midpoint of f(1 - h) and f(1 + h) up to h^2 f'').
TEST(ClvPredict, FiniteAndContinuousWhereTheFormulasDivideByZero) {
  const std::vector<double> t = {10.0, 0.5, 52.0}, x = {3, 0, 40}, tx = {5.0, 0.0, 30.0}, T = {7.0, 0.0, 38.9};
  auto bg = [&](bool modified, double a) { return clv::bg_conditional_expected(modified, {0.24, 4.4, a, 2.4}, t, x, tx, T); };
  auto bgbb = [](double g) { return clv::bgbb_conditional_expected({1.2, 0.75, g, 2.78}, {5, 1, 30}, {2, 0, 6}, {3, 0, 6}, {6, 6, 6}); };
  auto pareto = [&](double s) { return clv::pareto_conditional_expected({0.55, 10.6, s, 11.7}, t, x, tx, T); };
  const double h = 1e-5;
  for (int model = 0; model < 4; ++model) {
    auto f = [&](double p) { return model < 2 ? bg(model == 1, p) : model == 2 ? bgbb(p) : pareto(p); };
    const std::vector<double> mid = f(1.0), lo = f(1 - h), hi = f(1 + h);
    for (size_t i = 0; i < mid.size(); ++i) {
      EXPECT_TRUE(std::isfinite(mid[i]) && mid[i] > 0) << model << " " << i;
      EXPECT_NEAR(mid[i], 0.5 * (lo[i] + hi[i]), 1e-9 * mid[i]) << model << " " << i;
    }
  }
}

TEST(ClvSummary, CountsDistinctPeriodsPerCustomer) {
  // Customer 0 buys in periods 10, 10, 12 (spend 1, 2, 5); customer 1 in 11; customer 2 only after the end.
  const std::vector<int64_t> codes = {0, 1, 0, 0, 2}, start = {10, 11, 10, 12, 30};
  const std::vector<double> spend = {1, 7, 2, 5, 9};
  const clv::PeriodSummary s =
      clv::summarize_periods(codes.data(), start.data(), spend.data(), codes.size(), 3, 20);
  EXPECT_EQ(s.n_periods, (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(s.first[0], 10);
  EXPECT_EQ(s.last[0], 12);
  EXPECT_DOUBLE_EQ(s.spend_all[0], 8.0);
  EXPECT_DOUBLE_EQ(s.spend_repeat[0], 5.0);
  EXPECT_DOUBLE_EQ(s.spend_repeat[1], 0.0);
  const std::vector<int64_t> floored = clv::floor_to_period({-1, 0, 86399, 86400}, 86400, 0);
  EXPECT_EQ(floored, (std::vector<int64_t>{-86400, 0, 0, 86400}));
}
