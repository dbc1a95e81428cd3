"""crmcore.clv against published results, lifetimes 0.11.3 and mpmath.

References:
- Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW
  cohort: BG/NBD r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4;
  Pareto/NBD r=0.553, alpha=10.578, s=0.606, beta=11.669, LL=-9595.0.
- Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013 note):
  p=6.25, q=3.74, gamma=15.44 on the same cohort.
- Fader, Hardie & Shang (2010), BG/BB on the donations data:
  alpha=1.204, beta=0.750, gamma=0.657, delta=2.783, LL=-33225.6.
- lifetimes 0.11.3 (fed numpy arrays read here) for fitted MBG/NBD and BG/BB
  parameters, standard errors and every prediction at identical parameters;
  its log-likelihood functions at random parameters.
- mpmath at 50 digits, on the textbook formulas, where lifetimes overflows.
"""
import math
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
import crmcore.clv as clv
from crmcore.clv import (
    BetaGeoBetaBinomFitter,
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from crmcore.clv.generate_data import beta_geometric_nbd_model, pareto_nbd_model

lifetimes = pytest.importorskip("lifetimes")
mp = pytest.importorskip("mpmath")

REPO = pathlib.Path(__file__).resolve().parents[2]
# The shared data sit beside the repository (<repo>/../shared); a git worktree
# one level deeper (<worktrees>/<name>) finds them one more level up.
CANDIDATES = [REPO.parent / "shared" / "data" / "cdnow", REPO.parent.parent / "shared" / "data" / "cdnow"]
CDNOW = next((p for p in CANDIDATES if p.is_dir()), None)
needs_cdnow = pytest.mark.skipif(CDNOW is None, reason="CDNOW data not found beside the repository")


def quiet(fn, *args, **kwargs):
    """Call lifetimes without its numpy/pandas deprecation chatter failing the run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def cdnow():
    df = pd.read_csv(CDNOW / "cdnow_customers_summary.csv", index_col="ID")
    return df


@pytest.fixture(scope="module")
def cdnow_spend():
    df = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv", index_col="ID")
    return df[df["x"] > 0]


@pytest.fixture(scope="module")
def donations():
    return pd.read_csv(CDNOW / "donations.csv")


@pytest.fixture(scope="module")
def transactions():
    tx = pd.read_csv(CDNOW / "CDNOW_master.txt", sep=r"\s+", dtype={"date": str})
    tx.columns = ["id", "date", "cds", "dollars"]
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="module")
def bgf(cdnow):
    return BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def pnbd(cdnow):
    return ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def mbgf(cdnow):
    return ModifiedBetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def twin(model, lifetimes_cls):
    """A lifetimes model carrying exactly our fitted parameters."""
    other = lifetimes_cls()
    other.params_ = model.params_.copy()
    other.data = getattr(model, "data", None)
    other.predict = other.conditional_expected_number_of_purchases_up_to_time if hasattr(
        other, "conditional_expected_number_of_purchases_up_to_time") else None
    return other


def assert_rel(a, b, rtol):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0)


# ---------------------------------------------------------------- published fits


@needs_cdnow
def test_bgnbd_matches_fader_hardie_lee_2005(bgf):
    p = bgf.params_
    assert list(p.index) == ["r", "alpha", "a", "b"]
    assert [round(p[k], 3) for k in p.index] == [0.243, 4.414, 0.793, 2.426]
    assert round(bgf.log_likelihood_, 1) == -9582.4


@needs_cdnow
def test_pareto_nbd_matches_fader_hardie_lee_2005(pnbd):
    p = pnbd.params_
    assert list(p.index) == ["r", "alpha", "s", "beta"]
    assert [round(p[k], 3) for k in ["r", "alpha", "s"]] == [0.553, 10.578, 0.606]
    # beta is the flattest direction of this likelihood (se ~ 6): the summary
    # file's two-decimal recency and T move the optimum from 11.669 to 11.668.
    assert abs(p["beta"] - 11.669) < 0.0015
    assert round(pnbd.log_likelihood_, 1) == -9595.0


@needs_cdnow
def test_pareto_nbd_at_least_as_good_as_lifetimes(cdnow, pnbd):
    np.random.seed(0)  # lifetimes starts Nelder-Mead from a random point
    theirs = quiet(lifetimes.ParetoNBDFitter().fit, *(cdnow[c].to_numpy() for c in ("frequency", "recency", "T")))
    assert pnbd._negative_log_likelihood_ <= theirs._negative_log_likelihood_ + 1e-9
    assert_rel(pnbd.params_, theirs.params_, 1e-3)


@needs_cdnow
def test_gamma_gamma_matches_fader_hardie_note(cdnow_spend):
    ggf = GammaGammaFitter().fit(cdnow_spend["x"], cdnow_spend["zbar"])
    p = ggf.params_
    assert list(p.index) == ["p", "q", "v"]
    assert round(p["p"], 2) == 6.25 and round(p["q"], 2) == 3.74
    # zbar is rounded to cents in the file; the note's 15.44 becomes 15.448.
    assert abs(p["v"] - 15.44) < 0.01


@needs_cdnow
def test_bgbb_matches_fader_hardie_shang_2010_and_lifetimes(donations):
    d = donations
    ours = BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], d["weights"])
    assert [round(v, 3) for v in ours.params_] == [1.204, 0.750, 0.657, 2.783]
    assert round(ours.log_likelihood_, 1) == -33225.6
    theirs = quiet(lifetimes.BetaGeoBetaBinomFitter().fit, d["frequency"].to_numpy(), d["recency"].to_numpy(),
                   d["periods"].to_numpy(), d["weights"].to_numpy())
    assert_rel(ours.params_, theirs.params_, 1e-6)
    assert ours._negative_log_likelihood_ <= theirs._negative_log_likelihood_ + 1e-12
    assert_rel(ours.standard_errors_, theirs.standard_errors_, 1e-4)


@needs_cdnow
def test_mbg_fit_matches_lifetimes(cdnow, mbgf):
    theirs = quiet(lifetimes.ModifiedBetaGeoFitter().fit, cdnow["frequency"].to_numpy(),
                   cdnow["recency"].to_numpy(), cdnow["T"].to_numpy())
    assert_rel(mbgf.params_, theirs.params_, 1e-5)
    # We reach at least lifetimes' optimum, and the same standard errors.
    assert mbgf._negative_log_likelihood_ <= theirs._negative_log_likelihood_ + 1e-12
    assert abs(mbgf._negative_log_likelihood_ - theirs._negative_log_likelihood_) < 1e-10
    assert_rel(mbgf.standard_errors_, theirs.standard_errors_, 1e-4)


@needs_cdnow
def test_bgnbd_and_gamma_gamma_standard_errors_match_lifetimes(cdnow, bgf, cdnow_spend):
    theirs = quiet(lifetimes.BetaGeoFitter().fit, cdnow["frequency"].to_numpy(), cdnow["recency"].to_numpy(),
                   cdnow["T"].to_numpy())
    assert_rel(bgf.params_, theirs.params_, 1e-6)
    assert_rel(bgf.standard_errors_, theirs.standard_errors_, 1e-4)
    assert abs(bgf._negative_log_likelihood_ - theirs._negative_log_likelihood_) < 1e-12
    assert list(bgf.summary.columns) == list(theirs.summary.columns)
    assert_rel(bgf.summary.to_numpy(), theirs.summary.to_numpy(), 1e-4)
    ours_gg = GammaGammaFitter().fit(cdnow_spend["x"], cdnow_spend["zbar"])
    theirs_gg = quiet(lifetimes.GammaGammaFitter().fit, cdnow_spend["x"].to_numpy(), cdnow_spend["zbar"].to_numpy())
    assert_rel(ours_gg.params_, theirs_gg.params_, 1e-6)
    assert_rel(ours_gg.standard_errors_, theirs_gg.standard_errors_, 1e-4)


@needs_cdnow
def test_penalized_fit_matches_lifetimes(cdnow):
    args = [cdnow[c].to_numpy() for c in ("frequency", "recency", "T")]
    ours = BetaGeoFitter(penalizer_coef=0.1).fit(*args)
    theirs = quiet(lifetimes.BetaGeoFitter(penalizer_coef=0.1).fit, *args)
    assert_rel(ours.params_, theirs.params_, 1e-5)
    assert ours.params_["r"] != pytest.approx(0.2426, rel=1e-2)  # the penalty did act


# ---------------------------------------------------------------- likelihoods


@needs_cdnow
def test_log_likelihoods_match_lifetimes_at_random_parameters(cdnow, donations, cdnow_spend):
    rng = np.random.default_rng(7)
    x, tx, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    w = np.ones_like(x)
    rows = clv.fitters._k.Rows(x, tx, T)
    dr = clv.fitters._k.Rows(*(donations[c].to_numpy(float) for c in ("frequency", "recency", "periods")),
                             donations["weights"].to_numpy(float))
    gx, gm = cdnow_spend["x"].to_numpy(float), cdnow_spend["zbar"].to_numpy(float)
    grows = clv.fitters._k.Rows(gx, gm, np.zeros_like(gx))
    for _ in range(5):
        lp = rng.uniform(-1.5, 1.5, 4)
        for model, ref in (("beta_geo", lifetimes.BetaGeoFitter), ("modified_beta_geo", lifetimes.ModifiedBetaGeoFitter)):
            ours, _ = rows.log_likelihood(model, lp)
            theirs = -quiet(ref._negative_log_likelihood, lp, x.astype(int), tx, T, w, 0.0) * len(x)
            assert ours == pytest.approx(theirs, rel=1e-12)
        ours, _ = rows.log_likelihood("pareto_nbd", lp)
        theirs = quiet(lifetimes.ParetoNBDFitter._conditional_log_likelihood, np.exp(lp), x, tx, T).sum()
        assert ours == pytest.approx(theirs, rel=1e-10)
        ours, _ = dr.log_likelihood("beta_geo_beta_binom", lp)
        theirs = -quiet(lifetimes.BetaGeoBetaBinomFitter._negative_log_likelihood, lp,
                        *(donations[c].to_numpy() for c in ("frequency", "recency", "periods", "weights"))) * \
            donations["weights"].sum()
        assert ours == pytest.approx(theirs, rel=1e-10)
        ours, _ = grows.log_likelihood("gamma_gamma", lp[:3])
        theirs = -quiet(lifetimes.GammaGammaFitter._negative_log_likelihood, lp[:3], gx, gm, np.ones_like(gx), 0.0) \
            * len(gx)
        assert ours == pytest.approx(theirs, rel=1e-12)


@needs_cdnow
@pytest.mark.parametrize("model", ["beta_geo", "modified_beta_geo", "pareto_nbd", "gamma_gamma",
                                   "beta_geo_beta_binom"])
def test_gradients_agree_with_richardson_differences(cdnow, cdnow_spend, donations, model):
    if model == "gamma_gamma":
        x, m = cdnow_spend["x"].to_numpy(float), cdnow_spend["zbar"].to_numpy(float)
        rows = clv.fitters._k.Rows(x, m, np.zeros_like(x))
        lp = np.log([5.0, 3.0, 12.0])
    elif model == "beta_geo_beta_binom":
        rows = clv.fitters._k.Rows(*(donations[c].to_numpy(float) for c in ("frequency", "recency", "periods")),
                                   donations["weights"].to_numpy(float))
        lp = np.log([1.1, 0.8, 0.7, 2.5])
    else:
        rows = clv.fitters._k.Rows(*(cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T")))
        lp = np.log([0.3, 5.0, 0.7, 3.0])
    _, grad = rows.log_likelihood(model, lp)

    def diff(h):
        return np.array([(rows.log_likelihood(model, lp + e)[0] - rows.log_likelihood(model, lp - e)[0]) / (2 * h)
                         for e in np.eye(len(lp)) * h])

    numeric = (4 * diff(1e-4) - diff(2e-4)) / 3
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


@needs_cdnow
def test_weights_equal_repeated_rows(cdnow):
    counts = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    assert len(counts) < len(cdnow)
    compact = BetaGeoFitter().fit(counts["frequency"], counts["recency"], counts["T"], weights=counts["n"])
    full = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert_rel(compact.params_, full.params_, 1e-8)
    assert compact.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-12)


@pytest.mark.parametrize("truth", [(0.25, 4.0, 0.8, 2.5), (2.0, 10.0, 3.0, 8.0)])
def test_bgnbd_recovers_simulation_parameters(truth):
    sim = beta_geometric_nbd_model(52.0, *truth, size=100_000, seed=11)
    fit = BetaGeoFitter().fit(sim["frequency"], sim["recency"], sim["T"])
    z = (fit.params_.to_numpy() - np.array(truth)) / fit.standard_errors_.to_numpy()
    assert np.all(np.abs(z) < 4), z


def test_pareto_recovers_simulation_parameters():
    truth = (0.55, 10.6, 0.6, 11.7)
    sim = pareto_nbd_model(78.0, *truth, size=50_000, seed=3)
    fit = ParetoNBDFitter().fit(sim["frequency"], sim["recency"], sim["T"])
    z = (fit.params_.to_numpy() - np.array(truth)) / fit.standard_errors_.to_numpy()
    assert np.all(np.abs(z) < 4), z


# ---------------------------------------------------------------- predictions vs lifetimes


@needs_cdnow
@pytest.mark.parametrize("name", ["BetaGeoFitter", "ModifiedBetaGeoFitter", "ParetoNBDFitter"])
def test_predictions_match_lifetimes(cdnow, bgf, mbgf, pnbd, name):
    ours = {"BetaGeoFitter": bgf, "ModifiedBetaGeoFitter": mbgf, "ParetoNBDFitter": pnbd}[name]
    theirs = twin(ours, getattr(lifetimes, name))
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    for t in (1.0, 10.0, 52.0, 520.0):
        a = ours.conditional_expected_number_of_purchases_up_to_time(t, f, r, T)
        b = quiet(theirs.conditional_expected_number_of_purchases_up_to_time, t, f, r, T)
        assert isinstance(a, pd.Series) and a.index.equals(f.index)
        assert_rel(a, b, 1e-8)
    a = ours.conditional_probability_alive(f, r, T)
    b = quiet(theirs.conditional_probability_alive, f, r, T)
    assert type(a) is type(b)
    assert_rel(a, b, 1e-8)
    ts = np.array([0.5, 1.0, 10.0, 39.0, 100.0, 1000.0])
    assert_rel(ours.expected_number_of_purchases_up_to_time(ts),
               quiet(theirs.expected_number_of_purchases_up_to_time, ts), 1e-8)
    assert_rel(ours.conditional_probability_alive_matrix(),
               quiet(theirs.conditional_probability_alive_matrix), 1e-8)
    assert_rel(ours.predict(20.0, f, r, T), quiet(theirs.conditional_expected_number_of_purchases_up_to_time,
                                                  20.0, f, r, T), 1e-8)
    if name == "ParetoNBDFitter":
        for n in range(0, 6):
            a = ours.conditional_probability_of_n_purchases_up_to_time(n, 20.0, f.iloc[:50], r.iloc[:50],
                                                                       T.iloc[:50])
            b = quiet(theirs.conditional_probability_of_n_purchases_up_to_time, n, 20.0, f.iloc[:50], r.iloc[:50],
                      T.iloc[:50])
            assert_rel(a, b, 1e-7)
    else:
        for t in (1.0, 20.0, 100.0):
            for n in range(0, 8):
                assert ours.probability_of_n_purchases_up_to_time(t, n) == pytest.approx(
                    float(quiet(theirs.probability_of_n_purchases_up_to_time, t, n)), rel=1e-8)


@needs_cdnow
def test_bgbb_predictions_match_lifetimes(donations):
    d = donations
    ours = BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], d["weights"])
    theirs = twin(ours, lifetimes.BetaGeoBetaBinomFitter)
    args = (d["frequency"], d["recency"], d["periods"])
    for m in (0, 1, 5, 10):
        assert_rel(ours.conditional_probability_alive(m, *args),
                   quiet(theirs.conditional_probability_alive, m, *args), 1e-8)
        if m:
            assert_rel(ours.conditional_expected_number_of_purchases_up_to_time(m, *args),
                       quiet(theirs.conditional_expected_number_of_purchases_up_to_time, m, *args), 1e-8)
    a = ours.expected_number_of_transactions_in_first_n_periods(6)
    b = quiet(theirs.expected_number_of_transactions_in_first_n_periods, 6)
    assert a.index.equals(b.index) and list(a.columns) == ["model"]
    assert_rel(a["model"], b["model"], 1e-8)
    # The counts over x = 0..n sum to the cohort.
    assert a["model"].sum() == pytest.approx(d["weights"].sum(), rel=1e-12)


@needs_cdnow
def test_gamma_gamma_predictions_and_clv_match_lifetimes(cdnow_spend, bgf):
    g = cdnow_spend
    ours = GammaGammaFitter().fit(g["x"], g["zbar"])
    theirs = twin(ours, lifetimes.GammaGammaFitter)
    assert_rel(ours.conditional_expected_average_profit(g["x"], g["zbar"]),
               theirs.conditional_expected_average_profit(g["x"], g["zbar"]), 1e-12)
    bg_twin = twin(bgf, lifetimes.BetaGeoFitter)
    for freq, time, rate in (("W", 12, 0.01), ("W", 3, 0.0), ("D", 6, 0.02)):
        a = ours.customer_lifetime_value(bgf, g["x"], g["t_x"], g["T"], g["zbar"], time=time, discount_rate=rate,
                                         freq=freq)
        b = quiet(theirs.customer_lifetime_value, bg_twin, g["x"], g["t_x"], g["T"], g["zbar"], time=time,
                  discount_rate=rate, freq=freq)
        assert a.index.equals(b.index)
        assert_rel(a, b, 1e-8)


# ---------------------------------------------------------------- robustness


def _mp_bg_expected(params, t, x, tx, T, modified):
    """E[X(t) | x, t_x, T] from FHL (2005) eq. 10 (MBG: Batislam et al.), 50 digits."""
    mp.mp.dps = 50
    r, al, a, b = (mp.mpf(v) for v in params)
    t, x, tx, T = (mp.mpf(v) for v in (t, x, tx, T))
    z = t / (al + T + t)
    if modified:
        h = mp.hyp2f1(r + x, b + x + 1, a + b + x, z, maxterms=10**7)
        head, den = (a + b + x) / (a - 1), 1 + a / (b + x) * ((al + T) / (al + tx)) ** (r + x)
    else:
        h = mp.hyp2f1(r + x, b + x, a + b + x - 1, z, maxterms=10**7)
        head = (a + b + x - 1) / (a - 1)
        den = 1 + (a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x) if x > 0 else 0)
    return float(head * (1 - h * ((al + T) / (al + T + t)) ** (r + x)) / den)


def _mp_pareto_alive(params, x, tx, T):
    """P(alive) as 1 / (1 + s (alpha+T)^(r+x) (beta+T)^s * integral over the unseen
    death time), by quadrature: independent of the hypergeometric form."""
    mp.mp.dps = 40
    r, al, s, be = (mp.mpf(v) for v in params)
    x, tx, T = (mp.mpf(v) for v in (x, tx, T))
    f = lambda u: ((al + T) / (al + u)) ** (r + x) * ((be + T) / (be + u)) ** (s + 1)  # noqa: E731
    w = (al + tx) / (r + x)
    pts = sorted({float(tx + w * k) for k in (0, 0.1, 0.5, 1, 2, 5, 10, 20, 50)} | {float(T)})
    return float(1 / (1 + s / (be + T) * mp.quad(f, [mp.mpf(p) for p in pts if p <= T])))


# (params, t, x, t_x, T): frequent buyers with CDNOW's parameters, and extreme parameters.
MBG_POINTS = [((0.5248, 6.183, 0.8914, 1.614), 52.0, 1000, 38.0, 38.86),
              ((0.5248, 6.183, 0.8914, 1.614), 52.0, 3000, 38.5, 38.86),
              ((0.5248, 6.183, 0.8914, 1.614), 52.0, 10000, 38.8, 38.86),
              ((16.7, 0.74, 42.0, 3.76), 100.0, 1000, 52.0, 52.63)]
PARETO_POINTS = [((3.37, 10.052, 0.488, 38.681), 3000, 54.7, 54.79),
                 ((0.07, 0.251, 4.833, 47.725), 3000, 94.52, 94.73)]


@pytest.mark.parametrize("params,t,x,tx,T", MBG_POINTS)
def test_mbg_frequent_buyers_finite_and_exact_where_lifetimes_is_nan(params, t, x, tx, T):
    ours = ModifiedBetaGeoFitter()
    ours.params_ = pd.Series(params, index=["r", "alpha", "a", "b"])
    value = ours.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)
    ref = _mp_bg_expected(params, t, x, tx, T, modified=True)
    assert ref > 1e-12
    assert value == pytest.approx(ref, rel=1e-9)
    theirs = twin(ours, lifetimes.ModifiedBetaGeoFitter)
    assert not np.isfinite(quiet(theirs.conditional_expected_number_of_purchases_up_to_time, t, x, tx, T))


@pytest.mark.parametrize("params,x,tx,T", PARETO_POINTS)
def test_pareto_frequent_buyers_finite_and_exact_where_lifetimes_is_nan(params, x, tx, T):
    ours = ParetoNBDFitter()
    ours.params_ = pd.Series(params, index=["r", "alpha", "s", "beta"])
    value = ours.conditional_probability_alive(x, tx, T)
    ref = _mp_pareto_alive(params, x, tx, T)
    assert ref > 1e-12
    assert value == pytest.approx(ref, rel=1e-8)
    # The conditional expectation is finite too (it carries P(alive)).
    assert np.isfinite(ours.conditional_expected_number_of_purchases_up_to_time(10.0, x, tx, T))
    theirs = twin(ours, lifetimes.ParetoNBDFitter)
    assert not np.isfinite(quiet(theirs.conditional_probability_alive, x, tx, T))


def test_bg_conditional_expectation_exact_over_a_wide_grid():
    rng = np.random.default_rng(5)
    for _ in range(25):
        params = np.exp(rng.uniform(np.log(0.05), np.log(40), 4))
        params[2] += 1.05  # a > 1 keeps E[X(t)] finite for every t
        x = int(rng.choice([0, 1, 7, 60, 400, 2500]))
        T = float(rng.uniform(1, 100))
        tx = 0.0 if x == 0 else float(rng.uniform(0.7, 1.0) * T)
        t = float(rng.choice([0.5, 10, 300]))
        for modified, cls in ((False, BetaGeoFitter), (True, ModifiedBetaGeoFitter)):
            m = cls()
            m.params_ = pd.Series(params, index=["r", "alpha", "a", "b"])
            ref = _mp_bg_expected(params, t, x, tx, T, modified)
            got = m.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)
            assert math.isfinite(got)
            if ref > 1e-250:
                assert got == pytest.approx(ref, rel=1e-9), (params, t, x, tx, T, modified)


# ---------------------------------------------------------------- removable singularities at 1
# BG/NBD and MBG/NBD divide by a - 1, BG/BB by gamma - 1, Pareto/NBD by s - 1; the
# predictions are finite there (issue 8 item 17: a == 1 gave nan, gamma == 1 gave 0).


def _mp_bg_expected_at(params, t, x, tx, T, modified):
    """As _mp_bg_expected, also at a == 1: there the bracket 1 - F(a) vanishes and
    the quotient is -F'(1), taken by mpmath's numerical derivative of the textbook
    hypergeometric form (not the Euler-transformed series crmcore sums)."""
    r, al, a, b = params
    if a != 1:
        return _mp_bg_expected(params, t, x, tx, T, modified)
    mp.mp.dps = 50
    r, al, b = mp.mpf(r), mp.mpf(al), mp.mpf(b)
    t, x, tx, T = (mp.mpf(v) for v in (t, x, tx, T))
    z, q = t / (al + T + t), ((al + T) / (al + T + t)) ** (r + x)
    shift = 1 if modified else 0

    def F(a):
        return mp.hyp2f1(r + x, b + x + shift, a + b + x - 1 + shift, z) * q

    head = -(b + x + shift) * mp.diff(F, 1)
    if modified:
        den = 1 + 1 / (b + x) * ((al + T) / (al + tx)) ** (r + x)
    else:
        den = 1 + (1 / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x) if x > 0 else 0)
    return float(head / den)


A_NEAR_ONE = [1.0, 1 - 1e-12, 1 + 1e-12, 1 - 1e-9, 1 + 1e-9, 1 - 1e-6, 1 + 1e-6, 1 - 1e-3, 1 + 1e-3]
BG_HISTORIES = [(10.0, 0, 0.0, 0.0), (10.0, 3, 5.0, 7.0), (52.0, 40, 30.0, 38.9), (0.5, 1, 0.5, 20.0)]


@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("a", A_NEAR_ONE)
def test_bg_expectation_at_and_near_a_equal_one_matches_mpmath(a, modified):
    cls = ModifiedBetaGeoFitter if modified else BetaGeoFitter
    m = cls()
    params = (0.243, 4.414, a, 2.426)
    m.params_ = pd.Series(params, index=["r", "alpha", "a", "b"])
    for t, x, tx, T in BG_HISTORIES:
        got = m.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)
        assert got == pytest.approx(_mp_bg_expected_at(params, t, x, tx, T, modified), rel=1e-11), (t, x, tx, T)
    # The unconditional expectation is the same formula for a customer with no history.
    assert m.expected_number_of_purchases_up_to_time(10.0) == pytest.approx(
        _mp_bg_expected_at(params, 10.0, 0, 0.0, 0.0, modified), rel=1e-11)


@pytest.mark.parametrize("name", ["BetaGeoFitter", "ModifiedBetaGeoFitter"])
def test_bg_expectation_matches_lifetimes_away_from_a_equal_one_and_is_continuous_at_it(name):
    ours = getattr(clv, name)()
    theirs = getattr(lifetimes, name)()
    f, r, T = np.array([0, 1, 3, 12, 40]), np.array([0.0, 2.0, 5.0, 30.0, 38.0]), np.full(5, 39.0)
    for a in (0.3, 0.8, 1.3, 3.0):
        ours.params_ = theirs.params_ = pd.Series([0.243, 4.414, a, 2.426], index=["r", "alpha", "a", "b"])
        assert_rel(ours.conditional_expected_number_of_purchases_up_to_time(20.0, f, r, T),
                   quiet(theirs.conditional_expected_number_of_purchases_up_to_time, 20.0, f, r, T), 1e-9)
        assert_rel(ours.expected_number_of_purchases_up_to_time(np.array([1.0, 20.0])),
                   quiet(theirs.expected_number_of_purchases_up_to_time, np.array([1.0, 20.0])), 1e-9)

    def at(a):
        ours.params_ = pd.Series([0.243, 4.414, a, 2.426], index=["r", "alpha", "a", "b"])
        return ours.conditional_expected_number_of_purchases_up_to_time(20.0, f, r, T)

    # Approached from both sides, the values converge to the value at 1 at the rate of
    # a smooth function (|f(1 +- h) - f(1)| ~ |f'(1)| h), with no jump at any scale.
    middle = at(1.0)
    assert np.all(np.isfinite(middle)) and np.all(middle > 0)
    slope = np.abs(at(1 + 1e-4) - at(1 - 1e-4)) / 2e-4
    for h in (1e-3, 1e-6, 1e-9, 1e-12, 1e-14):
        for side in (-1, 1):
            assert np.all(np.abs(at(1 + side * h) - middle) <= 2 * slope * h + 2e-14 * middle), (h, side)


def test_customer_lifetime_value_is_finite_when_a_equals_one():
    ggf = GammaGammaFitter()
    ggf.params_ = pd.Series({"p": 6.25, "q": 3.74, "v": 15.44})
    bgf = BetaGeoFitter()
    f, r, T, m = [2, 0, 5], [20.0, 0.0, 35.0], [40.0, 40.0, 40.0], [20.0, 15.0, 31.0]
    values = []
    for a in (1 - 1e-9, 1.0, 1 + 1e-9):
        bgf.params_ = pd.Series({"r": 0.243, "alpha": 4.414, "a": a, "b": 2.426})
        values.append(ggf.customer_lifetime_value(bgf, f, r, T, m, freq="W").to_numpy())
    assert np.all(np.isfinite(values[1])) and np.all(values[1] > 0)
    np.testing.assert_allclose(values[0], values[1], rtol=1e-8)
    np.testing.assert_allclose(values[2], values[1], rtol=1e-8)


def _mp_bgbb_expected(params, m, x, tx, n):
    """BG/BB E[X(n, n + m) | x, t_x, n] (Fader, Hardie & Shang 2010, eq. 13) at 40 digits,
    with the likelihood summed out; at gamma == 1 the bracket's quotient by gamma - 1 is
    the derivative of the bracket, by mpmath's numerical differentiation."""
    mp.mp.dps = 40
    al, be, ga, de = (mp.mpf(v) for v in params)
    B = mp.beta
    L = B(al + x, be + n - x) / B(al, be) * B(ga, de + n) / B(ga, de)
    for i in range(int(n - tx)):
        L += B(al + x, be + tx - x + i) / B(al, be) * B(ga + 1, de + tx + i) / B(ga, de)

    def bracket(g):
        return mp.gamma(1 + de + n) / mp.gamma(g + de + n) - mp.gamma(1 + de + n + m) / mp.gamma(g + de + n + m)

    quotient = mp.diff(bracket, 1) if ga == 1 else bracket(ga) / (ga - 1)
    return float(B(al + x + 1, be + n - x) / B(al, be) * de * mp.gamma(ga + de) / mp.gamma(1 + de) * quotient / L)


@pytest.mark.parametrize("gamma", [1.0, 1 - 1e-12, 1 + 1e-12, 1 + 1e-7, 1 - 0.2, 1 + 0.3, 2.5])
def test_bgbb_expectation_at_and_near_gamma_equal_one_matches_mpmath(gamma):
    m = BetaGeoBetaBinomFitter()
    params = (1.204, 0.750, gamma, 2.783)
    m.params_ = pd.Series(params, index=["alpha", "beta", "gamma", "delta"])
    for periods, x, tx, n in ((5, 2, 3, 6), (1, 0, 0, 6), (30, 6, 6, 6), (12, 40, 90, 100)):
        got = m.conditional_expected_number_of_purchases_up_to_time(periods, x, tx, n)
        assert got == pytest.approx(_mp_bgbb_expected(params, periods, x, tx, n), rel=1e-11), (periods, x, tx, n)


def test_pareto_expectation_is_continuous_at_s_equal_one():
    m = ParetoNBDFitter()

    def at(s):
        m.params_ = pd.Series([0.55, 10.6, s, 11.7], index=["r", "alpha", "s", "beta"])
        return m.conditional_expected_number_of_purchases_up_to_time(30.0, 3, 20.0, 38.0), \
            m.expected_number_of_purchases_up_to_time(30.0)

    middle = np.array(at(1.0))
    # Closed form at s = 1: E[X(t)] = r beta / alpha * log(1 + t / beta).
    assert middle[1] == pytest.approx(0.55 * 11.7 / 10.6 * math.log1p(30.0 / 11.7), rel=1e-14)
    for h in (1e-4, 1e-9, 1e-12, 1e-15):
        for side in (-1, 1):
            np.testing.assert_allclose(at(1 + side * h), middle, rtol=10 * h + 2e-15)


def test_fit_with_very_frequent_buyers():
    sim = beta_geometric_nbd_model(200.0, 80.0, 2.0, 2.0, 2000.0, size=20_000, seed=4)
    assert sim["frequency"].max() > 1000
    fit = BetaGeoFitter().fit(sim["frequency"], sim["recency"], sim["T"])
    assert np.all(np.isfinite(fit.params_)) and np.all(np.isfinite(fit.standard_errors_))
    pred = fit.conditional_expected_number_of_purchases_up_to_time(100.0, sim["frequency"], sim["recency"], sim["T"])
    assert np.all(np.isfinite(pred)) and (pred >= 0).all()
    assert np.all(np.isfinite(fit.conditional_probability_alive(sim["frequency"], sim["recency"], sim["T"])))


# ---------------------------------------------------------------- API shape


def test_return_types_follow_inputs():
    sim = beta_geometric_nbd_model(39.0, 0.25, 4.4, 0.8, 2.4, size=400, seed=2)
    m = BetaGeoFitter().fit(sim["frequency"], sim["recency"], sim["T"])
    assert isinstance(m.conditional_expected_number_of_purchases_up_to_time(5, 1, 2.0, 6.0), float)
    arr = m.conditional_expected_number_of_purchases_up_to_time(np.array([1.0, 2.0]), 1, 2.0, 6.0)
    assert isinstance(arr, np.ndarray) and arr.shape == (2,)
    s = pd.Series([1, 3], index=["a", "b"])
    out = m.conditional_expected_number_of_purchases_up_to_time(5, s, pd.Series([2.0, 5.0], index=s.index), 7.0)
    assert list(out.index) == ["a", "b"]
    assert isinstance(m.conditional_probability_alive(1, 2.0, 6.0), np.ndarray)
    assert list(m.data.columns) == ["frequency", "recency", "T", "weights"]
    assert repr(m).startswith("<crmcore.clv.BetaGeoFitter: fitted with 400 subjects")


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="recency"):
        BetaGeoFitter().fit([1], [5.0], [4.0])
    with pytest.raises(ValueError, match="non-integer"):
        BetaGeoFitter().fit([1.5], [2.0], [4.0])
    with pytest.raises(ValueError, match="zero"):
        ParetoNBDFitter().fit([0], [1.0], [4.0])
    with pytest.raises(ValueError, match="frequency > 0"):
        GammaGammaFitter().fit([0, 2], [10.0, 12.0])
    with pytest.raises(ValueError, match="not been fit"):
        BetaGeoFitter().conditional_probability_alive(1, 2.0, 3.0)



def test_too_little_data_to_fit_is_a_validation_error_saying_what_is_missing():
    """No customers, no weight, no dated transaction, no repeat buyer: each
    fit and summary raised a bare ValueError (lifetimes' wording, or the
    core's "no customers to fit"); each is a crm.ValidationError naming the
    fitter and the argument (a ValueError still, as lifetimes' callers
    catch)."""
    import crmcore as crm

    cases = [(lambda: BetaGeoFitter().fit([], [], []), "BetaGeoFitter", "frequency", "no customers"),
             (lambda: ModifiedBetaGeoFitter().fit([], [], []), "ModifiedBetaGeoFitter", "frequency", "no customers"),
             (lambda: ParetoNBDFitter().fit([], [], []), "ParetoNBDFitter", "frequency", "no customers"),
             (lambda: BetaGeoBetaBinomFitter().fit([], [], []), "BetaGeoBetaBinomFitter", "frequency", "no customers"),
             (lambda: GammaGammaFitter().fit([], []), "GammaGammaFitter", "frequency", "no customers with repeat"),
             (lambda: GammaGammaFitter().fit([0, 2], [10.0, 12.0]), "GammaGammaFitter", "frequency", "frequency > 0"),
             (lambda: GammaGammaFitter().fit([1, 2], [3.0, 4.0], weights=[0, 0]), "GammaGammaFitter", "weights",
              "all zero"),
             (lambda: BetaGeoFitter().fit([1, 2], [1.0, 2.0], [3.0, 4.0], weights=[0, 0]), "BetaGeoFitter", "weights",
              "all zero"),
             (lambda: clv.summary_data_from_transaction_data(pd.DataFrame({"id": [], "date": []}), "id", "date"),
              "summary_data_from_transaction_data", "date", "no dated transaction")]
    for call, where, field, says in cases:
        with pytest.raises(crm.ValidationError, match=says) as e:
            call()
        assert (e.value.kind, e.value.field) == (where, field), str(e.value)

    db = crm.open()
    c = db.add("customers", name="A")
    db.add("orders", customer_id=c, ordered_at="2024-01-01", amount=10.0)
    with pytest.raises(crm.ValidationError, match="no customer has a repeat purchase") as e:
        db.lifetime_value(as_of="2024-06-01")  # one purchase: nothing for the spend model
    assert e.value.kind == "lifetime_value"
    with pytest.raises(crm.ValidationError, match="observed for a whole") as e:
        db.lifetime_value()  # as_of the end of the data: no time observed yet
    assert e.value.kind == "lifetime_value"
    db.add("orders", customer_id=c, ordered_at="2024-02-01", amount=10.0)
    with pytest.raises(crm.ValidationError, match="1 repeat buyer") as e:
        db.lifetime_value(as_of="2024-06-01")  # one repeat buyer: no spend model to fit
    assert e.value.kind == "lifetime_value"

def test_save_and_load_roundtrip(tmp_path):
    sim = pareto_nbd_model(52.0, 0.55, 10.6, 0.6, 11.7, size=2000, seed=2)
    m = ParetoNBDFitter().fit(sim["frequency"], sim["recency"], sim["T"])
    path = tmp_path / "m.pkl"
    m.save_model(path, save_data=False)
    back = ParetoNBDFitter()
    back.load_model(path)
    assert back.params_.equals(m.params_) and back.data is None
    with pytest.raises(ValueError):
        BetaGeoFitter().load_model(path)


# ---------------------------------------------------------------- transaction summaries


SUMMARY_CASES = [
    {},
    {"monetary_value_col": "dollars"},
    {"monetary_value_col": "dollars", "include_first_transaction": True, "freq": "W"},
    {"freq": "W", "freq_multiplier": 7},
    {"observation_period_end": "1997-09-30", "monetary_value_col": "dollars"},
    {"freq": "h"},
]


@needs_cdnow
@pytest.mark.parametrize("kwargs", SUMMARY_CASES)
def test_summary_data_matches_lifetimes(transactions, kwargs):
    ours = clv.summary_data_from_transaction_data(transactions, "id", "date", **kwargs)
    theirs = quiet(lifetimes.utils.summary_data_from_transaction_data, transactions, "id", "date", **kwargs)
    assert list(ours.columns) == list(theirs.columns)
    assert ours.index.equals(theirs.index) and ours.index.name == "id"
    assert (ours.dtypes == "float64").all()
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12, atol=1e-9)


def test_summary_data_on_strings_and_unsorted_rows():
    tx = pd.DataFrame({
        "cust": ["b", "a", "b", "a", "c", "a", "b"],
        "when": ["2024-03-02 10:00", "2024-03-01 09:00", "2024-03-02 18:00", "2024-03-05 12:00",
                 "2024-03-09 08:00", "2024-03-01 23:00", "2024-03-07 07:00"],
        "spend": [5.0, 1.0, 7.0, 3.0, 9.0, 2.0, 4.0],
    })
    ours = clv.utils.summary_data_from_transaction_data(tx, "cust", "when", "spend")
    theirs = quiet(lifetimes.utils.summary_data_from_transaction_data, tx, "cust", "when", "spend")
    pd.testing.assert_frame_equal(ours, theirs)
    # By hand: a buys on days 1, 1, 5 -> one repeat period (day 5, spend 3), age 8 days at 03-09.
    assert ours.loc["a"].tolist() == [1.0, 4.0, 8.0, 3.0]


def _pandas_holdout(tx, cal_end, obs_end, freq, money):
    """Independent reference for the holdout columns: plain pandas on the definition."""
    hold = tx[(tx["date"] > cal_end) & (tx["date"] <= obs_end)].copy()
    hold["period"] = hold["date"].dt.to_period(freq)
    out = pd.DataFrame({"frequency_holdout": hold.groupby("id")["period"].nunique().astype(float)})
    if money:
        out["monetary_value_holdout"] = hold.groupby("id")["dollars"].mean()
    return out


@needs_cdnow
@pytest.mark.parametrize("freq,money", [("D", False), ("D", True), ("W", True)])
def test_calibration_and_holdout(transactions, freq, money):
    cal_end, obs_end = pd.Timestamp("1997-09-30"), pd.Timestamp("1998-03-31")
    kw = {"monetary_value_col": "dollars"} if money else {}
    ours = clv.calibration_and_holdout_data(transactions, "id", "date", "1997-09-30", "1998-03-31", freq=freq, **kw)
    cal = clv.summary_data_from_transaction_data(transactions[transactions["date"] <= cal_end], "id", "date",
                                                 observation_period_end=cal_end, freq=freq, **kw)
    pd.testing.assert_frame_equal(ours[[c + "_cal" for c in cal.columns]].set_axis(cal.columns, axis=1), cal)
    ref = _pandas_holdout(transactions, cal_end, obs_end, freq, money).reindex(cal.index).fillna(0.0)
    for col in ref.columns:
        np.testing.assert_allclose(ours[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12)
    expected_cols = [c + "_cal" for c in cal.columns] + list(ref.columns) + ["duration_holdout"]
    assert list(ours.columns) == expected_cols
    days = (obs_end - cal_end).days
    assert ours["duration_holdout"].iloc[0] == (days if freq == "D" else
                                                (obs_end.to_period("W") - cal_end.to_period("W")).n)


def test_summary_data_with_store_dtypes():
    # The store's frames: nullable Int64 ids, datetime64[ns] dates, float amounts.
    tx = pd.DataFrame({
        "customer_id": pd.array([7, 3, 7, 7, 3], dtype="Int64"),
        "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-03", "2024-01-09"]),
        "amount": [10.0, 5.0, 4.0, 6.0, 8.0],
    })
    ours = clv.summary_data_from_transaction_data(tx, "customer_id", "ordered_at", "amount")
    assert list(ours.index) == [3, 7]
    # By hand: 7 buys on days 1 and 3 (4 + 6 on day 3); 3 on days 2 and 9; the log ends on day 9.
    assert ours.loc[7].tolist() == [1.0, 2.0, 8.0, 10.0]
    assert ours.loc[3].tolist() == [1.0, 7.0, 7.0, 8.0]
    with_missing = tx.astype({"customer_id": "Int64"})
    with_missing.loc[0, "customer_id"] = pd.NA
    assert list(clv.summary_data_from_transaction_data(with_missing, "customer_id", "ordered_at").index) == [3, 7]


def test_generate_new_data_follows_the_fitted_model():
    sim = beta_geometric_nbd_model(40.0, 0.5, 6.0, 0.9, 2.5, size=20_000, seed=8)
    fit = BetaGeoFitter().fit(sim["frequency"], sim["recency"], sim["T"])
    again = fit.generate_new_data(seed=9)
    assert len(again) == len(sim) and (again["T"].to_numpy() == sim["T"].to_numpy()).all()
    # Simulated repeat-buying matches the model's own expectation at T = 40.
    assert again["frequency"].mean() == pytest.approx(fit.expected_number_of_purchases_up_to_time(40.0), rel=0.05)


@needs_cdnow
def test_store_orders_feed_the_models(tmp_path):
    """The CDNOW cohort's transactions imported as orders give the same summary and fit."""
    import crmcore as crm

    raw = pd.read_csv(CDNOW / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "sample_id", "date", "cds", "dollars"], dtype={"date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    with crm.open(str(tmp_path / "cdnow.crm")) as db:
        cust = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(1, 2358)]}))
        db.import_frame("orders", pd.DataFrame({"customer_id": cust[raw["sample_id"].to_numpy() - 1],
                                                "ordered_at": raw["date"], "amount": raw["dollars"]}))
        from_store = clv.utils.summary_from_store(db, freq="W")
    direct = clv.summary_data_from_transaction_data(raw, "sample_id", "date", "dollars", freq="W")
    np.testing.assert_allclose(from_store.to_numpy(), direct.to_numpy(), rtol=1e-12)
    assert (from_store.index.to_numpy() == cust[direct.index.to_numpy() - 1]).all()
    fit = BetaGeoFitter().fit(from_store["frequency"], from_store["recency"], from_store["T"])
    theirs = quiet(lifetimes.BetaGeoFitter().fit, *(direct[c].to_numpy() for c in ("frequency", "recency", "T")))
    assert_rel(fit.params_, theirs.params_, 1e-5)


def test_summary_calendar_periods_by_hand():
    tx = pd.DataFrame({"id": [1, 1, 1, 2],
                       "d": pd.to_datetime(["2024-01-15", "2024-03-02", "2024-05-20", "2024-02-01"])})
    month = 30.436875
    out = clv.summary_data_from_transaction_data(tx, "id", "d", freq="M")
    # Periods start 01-01, 03-01, 05-01 (customer 1) and 02-01 (customer 2); the log ends in May.
    np.testing.assert_allclose(out.loc[1], [2.0, 121 / month, 121 / month], rtol=1e-12)
    np.testing.assert_allclose(out.loc[2], [0.0, 0.0, 90 / month], rtol=1e-12)
    weekly = clv.summary_data_from_transaction_data(tx, "id", "d", freq="W-MON")
    # Weeks ending on Monday start on Tuesdays: 01-09, 02-27, 05-14 and 01-30.
    assert weekly.loc[1].tolist() == [2.0, 18.0, 18.0] and weekly.loc[2].tolist() == [0.0, 0.0, 15.0]


@needs_cdnow
@pytest.mark.parametrize("t,freq,mult,dates", [(78, "W", 1, False), (546, "D", 7, True), (60, "D", 1, False)])
def test_expected_cumulative_transactions_match_lifetimes(t, freq, mult, dates):
    raw = pd.read_csv(CDNOW / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "id", "date", "cds", "dollars"], dtype={"date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    summary = clv.summary_data_from_transaction_data(raw, "id", "date", freq="W")
    model = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    ours = clv.utils.expected_cumulative_transactions(model, raw, "date", "id", t, freq=freq, freq_multiplier=mult,
                                                      set_index_date=dates)
    theirs = quiet(lifetimes.utils.expected_cumulative_transactions, twin(model, lifetimes.BetaGeoFitter), raw,
                   "date", "id", t, freq=freq, freq_multiplier=mult, set_index_date=dates)
    assert ours.index.equals(theirs.index) and list(ours.columns) == ["actual", "predicted"]
    assert (ours["actual"].to_numpy() == theirs["actual"].to_numpy()).all()
    assert_rel(ours["predicted"], theirs["predicted"], 1e-10)


# -- the ends of observation go through the one date parser ------------------------
_ENDS_TX = pd.DataFrame({"id": [1, 1, 1, 2], "date": ["2024-01-01", "2024-01-05", "2024-01-09", "2024-01-03"]})


@pytest.mark.parametrize("value, says", [
    ("soon", "is not a date"), (pd.NaT, "is missing"), (np.datetime64("NaT"), "is missing"),
    (5, "bare number"), (1.5, "bare number"), (np.int64(3), "bare number"), (True, "bare number"),
    ("1500-01-01", "outside the dates"), ("2300-01-01", "outside the dates"), (None, "is missing"),
])
@pytest.mark.parametrize("function, field", [
    ("summary_data_from_transaction_data", "observation_period_end"),
    ("calibration_and_holdout_data", "calibration_period_end"),
    ("calibration_and_holdout_data", "observation_period_end"),
])
def test_a_bad_end_of_observation_is_refused_naming_the_function_and_argument(function, field, value, says):
    """They raised a bare DateParseError, IndexError, AttributeError or
    OutOfBoundsDatetime, and read a bare number as nanoseconds."""
    if value is None and field == "observation_period_end":
        return  # None is its default: the last transaction
    kwargs = {field: value}
    if function == "calibration_and_holdout_data" and field == "observation_period_end":
        kwargs["calibration_period_end"] = "2024-01-06"
    with pytest.raises(crm.ValidationError, match=says) as caught:
        getattr(clv, function)(_ENDS_TX, "id", "date", **kwargs)
    assert caught.value.kind == function and caught.value.field == field


def test_the_ends_of_observation_read_as_before():
    """Text, a Timestamp, a date, text in datetime_format and a zoned time
    (its wall-clock time, as the transactions' own) give the same summary."""
    import datetime

    want = clv.summary_data_from_transaction_data(_ENDS_TX, "id", "date", observation_period_end="2024-01-20")
    for end, fmt in [(pd.Timestamp("2024-01-20"), None), (datetime.date(2024, 1, 20), None),
                     ("20/01/2024", "%d/%m/%Y"), (pd.Timestamp("2024-01-20", tz="Asia/Shanghai"), None)]:
        tx = _ENDS_TX if fmt is None else _ENDS_TX.assign(date=pd.to_datetime(_ENDS_TX["date"]).dt.strftime(fmt))
        got = clv.summary_data_from_transaction_data(tx, "id", "date", observation_period_end=end, datetime_format=fmt)
        pd.testing.assert_frame_equal(got, want)
    split = clv.calibration_and_holdout_data(_ENDS_TX, "id", "date", "2024-01-06", observation_period_end="2024-01-20")
    assert split.loc[1, "frequency_holdout"] == 1.0 and split.loc[1, "duration_holdout"] == 14.0
