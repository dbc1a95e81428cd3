"""The buy-till-you-die fitters of crmcore.clv, with lifetimes' API.

Likelihoods, gradients, the optimizer and the predictions run in C++
(``crmcore._core.clv``); this module validates inputs, keeps lifetimes'
conventions (time rescaled by 1/max(T) during the fit, penalizer on the
rescaled parameters, ``_negative_log_likelihood_`` as lifetimes reports it)
and shapes the results as lifetimes does.
"""
from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from .._args import _integer, _invalid, _number
from .._core import clv as _k

__all__ = [
    "BaseFitter",
    "BetaGeoFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "BetaGeoBetaBinomFitter",
    "GammaGammaFitter",
    "ConvergenceError",
]


# One month in each time unit customer_lifetime_value accepts (lifetimes' lengths).
_MONTH_IN = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24, "h": 30.0 * 24}


class ConvergenceError(ValueError):
    """The maximum-likelihood fit did not converge (lifetimes' exception, a ValueError).

    >>> issubclass(ConvergenceError, ValueError)
    True
    """


def _flat(*arrays):
    """Broadcast the inputs to one shape; return that shape and flat float arrays."""
    b = np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in arrays])
    shape = b[0].shape
    return shape, [np.ascontiguousarray(a).ravel() for a in b]


def _shape_like(values, shape, *inputs):
    """Results shaped as numpy/pandas arithmetic on the inputs would shape them:
    a Series (indexed like the first Series input) if any input is one, a
    scalar for scalar inputs, else an array."""
    for a in inputs:
        if isinstance(a, pd.Series):
            return pd.Series(np.reshape(values, shape), index=a.index)
    if shape == ():
        return float(values[0])
    return np.reshape(values, shape)


def _times(where, name, values):
    """Refuses times (t, a horizon) that are negative, NaN or infinite."""
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        bad = float(arr[~(np.isfinite(arr) & (arr >= 0))].ravel()[0])
        raise _invalid(where, name, f"must be finite and >= 0, got {bad!r}")
    return values


def _counts(where, name, values):
    """Refuses counts of periods or purchases that are not whole numbers >= 0."""
    arr = np.asarray(values, dtype=float)
    ok = np.isfinite(arr) & (arr >= 0) & (arr == np.floor(arr))
    if not np.all(ok):
        raise _invalid(where, name, f"must be whole numbers >= 0, got {float(arr[~ok].ravel()[0])!r}")
    return values


def _demo_rfm(size=2000, seed=1):
    """(frequency, recency, T) of simulated BG/NBD customers, for the examples."""
    from .generate_data import beta_geometric_nbd_model

    d = beta_geometric_nbd_model(39.0, 0.25, 4.4, 0.8, 2.4, size=size, seed=seed)
    return d["frequency"], d["recency"], d["T"]


# Example: six yearly donation opportunities (frequency, recency, n_periods, customers).
_DEMO_BGBB = ([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6], [0, 1, 4, 2, 6, 3, 6, 4, 6, 6, 6], [6] * 11,
              [3000, 900, 200, 250, 300, 150, 300, 100, 350, 450, 800])
def _demo_spend(size=1000, seed=1):
    """(frequency, mean spend) of simulated Gamma-Gamma repeat buyers, for the examples."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, size)
    nu = rng.gamma(4.0, 1 / 15.0, size)
    return x, rng.gamma(6.0 * x, 1.0) / (nu * x)


def _check_rfm(where, frequency, recency, T, weights, t_name="T"):
    """(frequency, recency, T, weights) as arrays, or a ValidationError
    naming ``where`` (the fitter) and the argument: no customers at all
    (lifetimes' bare ValueError, then the core's "no customers to fit"), or
    columns that contradict each other (lifetimes' wording kept)."""
    frequency = np.asarray(frequency, dtype=float)
    recency = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    if not (frequency.shape == recency.shape == T.shape) or frequency.ndim != 1:
        raise _invalid(where, "frequency", f"frequency, recency and {t_name} must be 1-d and of the same length")
    if frequency.shape[0] == 0:
        raise _invalid(where, "frequency", "is empty: no customers to fit (There exists a zero length vector in "
                       f"one of frequency, recency or {t_name}.)")
    # Integer, finite and non-negative values are checked in C++ while the rows are collapsed.
    if np.any(recency > T):
        raise _invalid(where, "recency", f"Some values in recency vector are larger than {t_name} vector.")
    if np.any((frequency == 0) & (recency != 0)):
        raise _invalid(where, "recency", "There exist non-zero recency values when frequency is zero.")
    if weights is not None:
        weights = np.asarray(weights)
        if weights.shape != frequency.shape:
            raise _invalid(where, "weights", "weights must have the same length as frequency")
    return frequency, recency, T, weights


class BaseFitter:
    """What the fitters share: the fit driver, standard errors, summary, save/load.

    ``penalizer_coef`` (>= 0) adds an L2 penalty on the parameters to the
    fit, as in lifetimes. After ``fit``: ``params_`` (a Series by parameter
    name), ``standard_errors_``, ``confidence_intervals_``, ``summary``,
    ``log_likelihood_`` and ``data`` (the fitted columns).

    >>> BetaGeoFitter(penalizer_coef=0.1).penalizer_coef
    0.1
    """

    _param_names: tuple = ()
    _model: str = ""
    _scaled_params: tuple = ()  # parameters in units of time, rescaled during the fit

    def __init__(self, penalizer_coef=0.0):
        self.penalizer_coef = penalizer_coef

    def __repr__(self):
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"<crmcore.clv.{name}>"
        subjects = f" fitted with {self.data.shape[0]:d} subjects," if hasattr(self, "data") else ""
        params = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(self.params_.items()))
        return f"<crmcore.clv.{name}:{subjects} {params}>"

    def _unload_params(self, *names):
        if not hasattr(self, "params_"):
            raise ValueError("Model has not been fit yet. Please call the .fit method first.")
        return [self.params_[x] for x in names]

    def _params_array(self):
        return np.array(self._unload_params(*self._param_names), dtype=float)

    def _fit_rows(self, x, tx, T, weights, scale, initial_log_params, verbose, tol, max_iter=500):
        where = type(self).__name__
        penalizer = _number(self.penalizer_coef, where, "penalizer_coef", low=0)
        tol = _number(tol, where, "tol", low=0, low_open=True)
        max_iter = _integer(max_iter, where, "max_iter", low=1, high=2**31 - 1)
        # No weights: the C++ side counts rows (an array of ones would be read at random).
        if weights is not None and len(weights) and not np.any(np.asarray(weights, dtype=float) != 0):
            raise _invalid(where, "weights", "are all zero: no customer to fit")
        rows = _k.Rows(x, tx, T, None if weights is None else np.asarray(weights, dtype=float))
        if scale != 1.0:
            rows.scale_times(scale)
        x0 = np.full(len(self._param_names), 0.1) if initial_log_params is None else np.asarray(
            initial_log_params, dtype=float)
        if x0.shape != (len(self._param_names),):
            raise ValueError(f"initial_params must have {len(self._param_names)} values")
        res = _k.fit(self._model, rows, x0, penalizer=penalizer, gtol=min(tol, 1e-9), max_iter=max_iter,
                     verbose=bool(verbose))
        if verbose:
            print(res["message"])
        if not res["converged"]:
            raise ConvergenceError(
                "The model did not converge (" + res["message"] + "). Try adding a larger penalizer "
                "to see if that helps convergence.")
        params = np.exp(res["log_params"])
        for name in self._scaled_params:
            params[self._param_names.index(name)] /= scale
        self.params_ = pd.Series(params, index=list(self._param_names))
        self._hessian_ = res["hessian"]
        self._fit_result = res
        self._compute_uncertainty(rows.total_weight)
        return res

    def _compute_uncertainty(self, total_weight):
        # Delta method from the Hessian of the mean objective in log-parameters:
        # Cov(p_i, p_j) = p_i p_j [H^-1]_ij / N. lifetimes multiplies by p_j^2
        # instead of p_i p_j, which only its off-diagonal entries feel.
        p = self.params_.to_numpy()
        try:
            inv = np.linalg.inv(self._hessian_)
        except np.linalg.LinAlgError:  # a flat direction (degenerate fit): no finite errors
            inv = np.full_like(self._hessian_, np.nan)
        cov = np.outer(p, p) * inv / total_weight
        self.variance_matrix_ = pd.DataFrame(cov, index=self.params_.index, columns=self.params_.index)
        # A tiny or degenerate data set can leave the Hessian indefinite: those errors are nan.
        with np.errstate(invalid="ignore"):
            se = np.sqrt(np.diag(cov))
        self.standard_errors_ = pd.Series(se, index=self.params_.index)
        self.confidence_intervals_ = pd.DataFrame(
            {
                "lower 95% bound": self.params_ - 1.96 * self.standard_errors_,
                "upper 95% bound": self.params_ + 1.96 * self.standard_errors_,
            },
            index=self.params_.index,
        )

    @property
    def summary(self):
        """Fitted parameters with standard errors and 95% bounds.

        >>> BetaGeoFitter().fit(*_demo_rfm()).summary.columns.tolist()
        ['coef', 'se(coef)', 'lower 95% bound', 'upper 95% bound']
        """
        df = pd.DataFrame(index=self.params_.index)
        df["coef"] = self.params_
        df["se(coef)"] = self.standard_errors_
        df["lower 95% bound"] = self.confidence_intervals_["lower 95% bound"]
        df["upper 95% bound"] = self.confidence_intervals_["upper 95% bound"]
        return df

    def print_summary(self):
        """Prints :attr:`summary` as text.

        >>> BetaGeoFitter().fit(*_demo_rfm()).print_summary()  # doctest: +NORMALIZE_WHITESPACE, +ELLIPSIS
        coef  se(coef)  lower 95% bound  upper 95% bound
        r ...
        """
        print(self.summary.to_string())

    def save_model(self, path, save_data=True, save_generate_data_method=True, values_to_save=None):
        """Pickle the fitted model to ``path`` (optionally without its data).

        >>> import tempfile, os
        >>> m = BetaGeoFitter().fit(*_demo_rfm())
        >>> p = os.path.join(tempfile.mkdtemp(), "m.pkl"); m.save_model(p)
        >>> BetaGeoFitter().load_model(p) is None
        True
        """
        state = dict(self.__dict__)
        if not save_data:
            state["data"] = values_to_save[0] if values_to_save else None
        with open(path, "wb") as f:
            pickle.dump((type(self).__name__, state), f)

    def load_model(self, path):
        """Load a model saved by :meth:`save_model` into this instance (a
        model of another class is refused with ValueError).

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "m.pkl"); BetaGeoFitter().fit(*_demo_rfm()).save_model(p)
        >>> m = BetaGeoFitter(); m.load_model(p); sorted(m.params_.index)
        ['a', 'alpha', 'b', 'r']
        """
        with open(path, "rb") as f:
            name, state = pickle.load(f)
        if name != type(self).__name__:
            raise ValueError(f"{path} holds a {name}, not a {type(self).__name__}")
        self.__dict__.update(state)


class _RfmFitter(BaseFitter):
    """Fitters on (frequency, recency, T): BG/NBD, MBG/NBD and Pareto/NBD."""

    def _fit_rfm(self, frequency, recency, T, weights, initial_log_params, verbose, tol, index, max_iter=500):
        x, tx, T_, weights = _check_rfm(type(self).__name__, frequency, recency, T, weights)
        if not T_.max() > 0:
            raise _invalid(type(self).__name__, "T", "is 0 for every customer (no one has been observed for a whole "
                           "time unit yet): use a shorter time unit or a later end of observation")
        self._scale = 1.0 / T_.max()
        res = self._fit_rows(x, tx, T_, weights, self._scale, initial_log_params, verbose, tol, max_iter)
        weights = np.ones(x.shape[0], dtype=np.int64) if weights is None else weights
        # lifetimes reports the objective it minimised (on rescaled time); the log-likelihood in
        # the caller's time unit differs by the Jacobian of the rescaling of each purchase time.
        self._negative_log_likelihood_ = res["objective"]
        self.log_likelihood_ = res["log_likelihood"] + float(np.dot(weights, x)) * np.log(self._scale)
        self.data = pd.DataFrame({"frequency": x.astype(int), "recency": tx, "T": T_, "weights": weights},
                                 index=index, copy=False)
        return self

    def predict(self, t, frequency, recency, T):
        """Alias of :meth:`conditional_expected_number_of_purchases_up_to_time`."""
        return self.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T)

    def generate_new_data(self, size=1, seed=None):
        """Customers simulated from the fitted model, one per fitted customer's T
        (as lifetimes, which also ignores ``size`` then).

        >>> m = BetaGeoFitter().fit(*_demo_rfm())
        >>> len(m.generate_new_data(seed=1))
        2000
        """
        from . import generate_data

        size = _integer(size, type(self).__name__, "size", low=1)
        simulate = getattr(generate_data, self._simulator)
        return simulate(self.data["T"].to_numpy(), *self._params_array(), size=size, seed=seed)

    def conditional_probability_alive_matrix(self, max_frequency=None, max_recency=None):
        """P(alive) on the grid recency 0..max_recency (rows) x frequency 0..max_frequency
        (columns), for customers of age T = max_recency.

        >>> m = BetaGeoFitter().fit(*_demo_rfm())
        >>> m.conditional_probability_alive_matrix(3, 5).shape
        (6, 4)
        """
        where = type(self).__name__
        max_frequency = (int(self.data["frequency"].max()) if max_frequency is None
                         else _integer(max_frequency, where, "max_frequency", low=0))
        max_recency = int(self.data["T"].max()) if max_recency is None else _integer(max_recency, where, "max_recency",
                                                                                      low=0)
        rec, freq = np.meshgrid(np.arange(max_recency + 1), np.arange(max_frequency + 1), indexing="ij")
        out = self.conditional_probability_alive(freq.ravel(), rec.ravel(), np.full(freq.size, max_recency))
        return np.asarray(out, dtype=float).reshape(rec.shape)


class BetaGeoFitter(_RfmFitter):
    """BG/NBD model (Fader, Hardie & Lee 2005), a drop-in for ``lifetimes.BetaGeoFitter``.

    Purchases follow a Poisson process with a gamma(r, alpha) distributed rate;
    after each purchase a customer drops out with a beta(a, b) distributed
    probability.

    Differences from lifetimes that are fixes:

    - ``conditional_expected_number_of_purchases_up_to_time`` uses Euler's
      transformation of the hypergeometric function so the series stays small
      for any frequency: lifetimes returns nan or inf for frequent buyers
      (hundreds of purchases) and large horizons; here results stay finite
      and accurate. It is also finite at a = 1, where the textbook formula is
      0/0 (lifetimes returns -inf or nan there): the limit is evaluated as one
      expression, continuous on both sides of a = 1.
    - ``probability_of_n_purchases_up_to_time`` sums the smaller tail of the
      negative binomial, so small probabilities keep their digits, and accepts
      arrays of t and n.
    - frequency must hold integers (lifetimes truncates silently).
    - ``variance_matrix_`` off-diagonal entries use p_i p_j (delta method);
      standard errors are the same as lifetimes'.
    - ``log_likelihood_`` is the total log-likelihood in the caller's time
      unit (the published figure, -9582.4 on CDNOW);
      ``_negative_log_likelihood_`` keeps lifetimes' meaning (mean over
      customers, on time rescaled by 1/max(T), plus penalty).

    >>> bgf = BetaGeoFitter().fit(*_demo_rfm())
    >>> sorted(bgf.params_.index)
    ['a', 'alpha', 'b', 'r']
    """

    _param_names = ("r", "alpha", "a", "b")
    _scaled_params = ("alpha",)
    _model = "beta_geo"
    _modified = False
    _simulator = "beta_geometric_nbd_model"

    def fit(self, frequency, recency, T, weights=None, initial_params=None, verbose=False, tol=1e-7,
            index=None, **kwargs):
        """Fit by maximum likelihood; ``initial_params`` are log-parameters (as in lifetimes).

        >>> BetaGeoFitter().fit(*_demo_rfm()).params_.size
        4
        """
        return self._fit_rfm(frequency, recency, T, weights, initial_params, verbose, tol, index)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """Expected repeat purchases in (T, T + t] for a customer with history (frequency, recency, T).

        >>> bgf = BetaGeoFitter().fit(*_demo_rfm())
        >>> bgf.conditional_expected_number_of_purchases_up_to_time(10, 3, 5.0, 7.0) > 0
        True
        """
        shape, (t_, x, tx, T_) = _flat(_times(type(self).__name__, "t", t), frequency, recency, T)
        out = _k.bg_conditional_expected(self._modified, self._params_array(), t_, x, tx, T_)
        return _shape_like(out, shape, t, frequency, recency, T)

    def conditional_probability_alive(self, frequency, recency, T):
        """P(customer still alive | frequency, recency, T), always an array (as lifetimes).

        >>> bgf = BetaGeoFitter().fit(*_demo_rfm())
        >>> float(bgf.conditional_probability_alive(0, 0, 7.0)[0])
        1.0
        """
        shape, (x, tx, T_) = _flat(frequency, recency, T)
        out = _k.bg_probability_alive(self._modified, self._params_array(), x, tx, T_)
        return np.atleast_1d(out.reshape(shape))

    def expected_number_of_purchases_up_to_time(self, t):
        """Expected repeat purchases in (0, t] of a new customer.

        >>> bgf = BetaGeoFitter().fit(*_demo_rfm())
        >>> float(bgf.expected_number_of_purchases_up_to_time(0)) == 0.0
        True
        """
        shape, (t_,) = _flat(_times(type(self).__name__, "t", t))
        zero = np.zeros_like(t_)
        out = _k.bg_conditional_expected(self._modified, self._params_array(), t_, zero, zero, zero)
        return _shape_like(out, shape, t)

    def probability_of_n_purchases_up_to_time(self, t, n):
        """P(exactly n repeat purchases in (0, t]) for a new customer.

        >>> bgf = BetaGeoFitter().fit(*_demo_rfm())
        >>> 0 < bgf.probability_of_n_purchases_up_to_time(5, 1) < 1
        True
        """
        shape, (t_, n_) = _flat(_times(type(self).__name__, "t", t), _counts(type(self).__name__, "n", n))
        out = _k.bg_probability_of_n(self._modified, self._params_array(), t_, n_)
        return _shape_like(out, shape, t, n)


class ModifiedBetaGeoFitter(BetaGeoFitter):
    """MBG/NBD model (Batislam et al. 2007), a drop-in for ``lifetimes.ModifiedBetaGeoFitter``.

    As BG/NBD, but a customer may also drop out right after the first
    purchase, so P(alive) < 1 even without repeat purchases. The fixes listed
    for :class:`BetaGeoFitter` apply here too.

    >>> mbg = ModifiedBetaGeoFitter().fit(*_demo_rfm())
    >>> bool(mbg.conditional_probability_alive(0, 0, 7.0)[0] < 1)
    True
    """

    _model = "modified_beta_geo"
    _modified = True
    _simulator = "modified_beta_geometric_nbd_model"


class ParetoNBDFitter(_RfmFitter):
    """Pareto/NBD model (Schmittlein et al. 1987), a drop-in for ``lifetimes.ParetoNBDFitter``.

    Purchases at a gamma(r, alpha) distributed Poisson rate; an exponential
    lifetime with a gamma(s, beta) distributed rate.

    Differences from lifetimes that are fixes:

    - the fit maximises the likelihood with exact gradients (lifetimes uses
      Nelder-Mead from a random start, so its estimates move between runs and
      carry ~1e-4 relative error); ``iterative_fitting`` and ``fit_method``
      are accepted and ignored, ``maxiter`` bounds the iterations.
    - the hypergeometric terms of A_0 are evaluated in log space after Euler's
      transformation (series with positive terms shrinking at least
      geometrically) in both branches of Fader & Hardie's alpha-vs-beta split;
      lifetimes' scipy ``hyp2f1`` on raw arguments returns nan/inf for frequent
      buyers, and so did its P(alive) and conditional expectations.
    - standard errors, ``variance_matrix_``, ``confidence_intervals_`` and
      ``summary`` are provided (lifetimes has none for this model).
    - ``initial_params`` are natural (rescaled-time) parameters, as lifetimes.

    >>> pnbd = ParetoNBDFitter().fit(*_demo_rfm())
    >>> sorted(pnbd.params_.index)
    ['alpha', 'beta', 'r', 's']
    """

    _param_names = ("r", "alpha", "s", "beta")
    _scaled_params = ("alpha", "beta")
    _model = "pareto_nbd"
    _simulator = "pareto_nbd_model"

    def fit(self, frequency, recency, T, weights=None, iterative_fitting=1, initial_params=None, verbose=False,
            tol=1e-4, index=None, fit_method="Nelder-Mead", maxiter=2000, **kwargs):
        """Fit by maximum likelihood (gradient-based whatever ``fit_method`` says).

        >>> ParetoNBDFitter().fit(*_demo_rfm()).params_.size
        4
        """
        _integer(iterative_fitting, "ParetoNBDFitter", "iterative_fitting", low=1)  # accepted and ignored
        maxiter = _integer(maxiter, "ParetoNBDFitter", "maxiter", low=1, high=2**31 - 1)
        init = None if initial_params is None else np.log(np.asarray(initial_params, dtype=float))
        self._fit_rfm(frequency, recency, T, weights, init, verbose, 1e-9, index, max_iter=maxiter)
        # lifetimes divides the summed log-likelihood by the mean weight for this model.
        w = self.data["weights"].to_numpy(dtype=float)
        self._negative_log_likelihood_ = self._negative_log_likelihood_ * w.sum() / w.mean()
        return self

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """Expected purchases in (T, T + t] given the history (frequency, recency, T).

        >>> pnbd = ParetoNBDFitter().fit(*_demo_rfm())
        >>> pnbd.conditional_expected_number_of_purchases_up_to_time(10, 3, 5.0, 7.0) > 0
        True
        """
        shape, (t_, x, tx, T_) = _flat(_times("ParetoNBDFitter", "t", t), frequency, recency, T)
        out = _k.pareto_conditional_expected(self._params_array(), t_, x, tx, T_)
        return _shape_like(out, shape, t, frequency, recency, T)

    def conditional_probability_alive(self, frequency, recency, T):
        """P(alive | frequency, recency, T).

        >>> pnbd = ParetoNBDFitter().fit(*_demo_rfm())
        >>> 0 < pnbd.conditional_probability_alive(1, 2.0, 7.0) < 1
        True
        """
        shape, (x, tx, T_) = _flat(frequency, recency, T)
        out = _k.pareto_probability_alive(self._params_array(), x, tx, T_)
        return _shape_like(out, shape, frequency, recency, T)

    def expected_number_of_purchases_up_to_time(self, t):
        """Expected purchases in (0, t] of a new customer.

        >>> pnbd = ParetoNBDFitter().fit(*_demo_rfm())
        >>> pnbd.expected_number_of_purchases_up_to_time(0)
        0.0
        """
        shape, (t_,) = _flat(_times("ParetoNBDFitter", "t", t))
        zero = np.zeros_like(t_)  # a customer with no history: alive, nothing bought yet
        out = _k.pareto_conditional_expected(self._params_array(), t_, zero, zero, zero)
        return _shape_like(out, shape, t)

    def conditional_probability_of_n_purchases_up_to_time(self, n, t, frequency, recency, T):
        """P(exactly n purchases in (T, T + t] | frequency, recency, T).

        >>> pnbd = ParetoNBDFitter().fit(*_demo_rfm())
        >>> 0 < pnbd.conditional_probability_of_n_purchases_up_to_time(1, 5.0, 1, 2.0, 7.0) < 1
        True
        """
        shape, (n_, t_, x, tx, T_) = _flat(_counts("ParetoNBDFitter", "n", n), _times("ParetoNBDFitter", "t", t),
                                           frequency, recency, T)
        out = _k.pareto_conditional_probability_of_n(self._params_array(), n_, t_, x, tx, T_)
        return _shape_like(out, shape, n, t, frequency, recency, T)


class BetaGeoBetaBinomFitter(BaseFitter):
    """BG/BB model for discrete purchase opportunities (Fader, Hardie & Shang 2010),
    a drop-in for ``lifetimes.BetaGeoBetaBinomFitter``.

    Differences from lifetimes that are fixes: the likelihood has no 1e-15
    floor added inside its log; the conditional expectation is right at
    gamma = 1 (a 0/0 in the textbook formula, evaluated as its limit); ``expected_number_of_transactions_in_first_n_periods``
    sums over opportunities i = x .. n-1 for each x (lifetimes' index
    arithmetic is right only when the observed frequencies are 0, 1, 2, ...
    without gaps).

    >>> bb = BetaGeoBetaBinomFitter().fit(*_DEMO_BGBB)
    >>> sorted(bb.params_.index)
    ['alpha', 'beta', 'delta', 'gamma']
    """

    _param_names = ("alpha", "beta", "gamma", "delta")
    _model = "beta_geo_beta_binom"

    def fit(self, frequency, recency, n_periods, weights=None, initial_params=None, verbose=False, tol=1e-7,
            index=None, **kwargs):
        """Fit by maximum likelihood; ``initial_params`` are log-parameters.

        >>> BetaGeoBetaBinomFitter().fit(*_DEMO_BGBB).params_.size
        4
        """
        x, tx, n, weights = _check_rfm("BetaGeoBetaBinomFitter", frequency, recency, n_periods, weights, "n_periods")
        if np.any(tx != np.floor(tx)) or np.any(n != np.floor(n)):
            raise _invalid("BetaGeoBetaBinomFitter", "recency",
                           "recency and n_periods count discrete periods and must be integers")
        res = self._fit_rows(x, tx, n, weights, 1.0, initial_params, verbose, tol)
        weights = np.ones(x.shape[0], dtype=np.int64) if weights is None else weights
        self._negative_log_likelihood_ = res["objective"]
        self.log_likelihood_ = res["log_likelihood"]
        self.data = pd.DataFrame({"frequency": x.astype(int), "recency": tx.astype(int),
                                  "n_periods": n.astype(int), "weights": weights}, index=index)
        return self

    def conditional_expected_number_of_purchases_up_to_time(self, m_periods_in_future, frequency, recency,
                                                             n_periods):
        """Expected purchases in the next m periods given (frequency, recency, n_periods).

        >>> bb = BetaGeoBetaBinomFitter().fit(*_DEMO_BGBB)
        >>> bb.conditional_expected_number_of_purchases_up_to_time(5, 2, 3, 6) > 0
        True
        """
        m_periods_in_future = _counts("BetaGeoBetaBinomFitter", "m_periods_in_future", m_periods_in_future)
        shape, (m, x, tx, n) = _flat(m_periods_in_future, frequency, recency, n_periods)
        out = _k.bgbb_conditional_expected(self._params_array(), m, x, tx, n)
        return _shape_like(out, shape, m_periods_in_future, frequency, recency, n_periods)

    def conditional_probability_alive(self, m_periods_in_future, frequency, recency, n_periods):
        """P(alive at period n_periods + m_periods_in_future | history).

        >>> bb = BetaGeoBetaBinomFitter().fit(*_DEMO_BGBB)
        >>> 0 < bb.conditional_probability_alive(0, 2, 3, 6) <= 1
        True
        """
        m_periods_in_future = _counts("BetaGeoBetaBinomFitter", "m_periods_in_future", m_periods_in_future)
        shape, (m, x, tx, n) = _flat(m_periods_in_future, frequency, recency, n_periods)
        out = _k.bgbb_probability_alive(self._params_array(), m, x, tx, n)
        return _shape_like(out, shape, m_periods_in_future, frequency, recency, n_periods)

    def expected_number_of_transactions_in_first_n_periods(self, n):
        """Expected number of customers with each observed frequency after n periods.

        >>> bb = BetaGeoBetaBinomFitter().fit(*_DEMO_BGBB)
        >>> bb.expected_number_of_transactions_in_first_n_periods(6).columns.tolist()
        ['model']
        """
        n = _integer(n, "BetaGeoBetaBinomFitter", "n", low=0, high=2**31 - 2)
        counts = self.data.groupby("frequency")["weights"].sum()
        x = counts.index.to_numpy(dtype=int)
        probs = _k.bgbb_probability_of_x(self._params_array(), n)
        p = np.where(x <= n, probs[np.clip(x, 0, int(n))], 0.0)
        return pd.DataFrame(p * counts.sum(), index=pd.Index(x, name="frequency"), columns=["model"])


class GammaGammaFitter(BaseFitter):
    """Gamma-Gamma spend model (Fader & Hardie 2013 note), a drop-in for
    ``lifetimes.GammaGammaFitter``.

    Differences from lifetimes that are fixes:

    - frequency must be > 0 (customers with repeat purchases); lifetimes
      fails to converge with a nan likelihood instead.
    - ``customer_lifetime_value`` accepts arrays as well as Series and the
      pandas 3 spelling ``freq="h"``; ``time`` is in months and
      ``discount_rate`` is per month whatever ``freq`` (the model's time
      unit) is, with lifetimes' month lengths (30 days, 4.345 weeks), so
      results equal lifetimes'.
    - ``q_constraint=True`` raises ConvergenceError if the unconstrained
      optimum has q < 1 (lifetimes re-optimises on the bound).

    >>> ggf = GammaGammaFitter().fit(*_demo_spend())
    >>> sorted(ggf.params_.index)
    ['p', 'q', 'v']
    """

    _param_names = ("p", "q", "v")
    _model = "gamma_gamma"

    def fit(self, frequency, monetary_value, weights=None, initial_params=None, verbose=False, tol=1e-7,
            index=None, q_constraint=False, **kwargs):
        """Fit by maximum likelihood; ``initial_params`` are log-parameters.

        >>> GammaGammaFitter().fit(*_demo_spend()).params_.size
        3
        """
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        where = "GammaGammaFitter"
        if x.shape != m.shape or x.ndim != 1:
            raise _invalid(where, "frequency", "frequency and monetary_value must be 1-d and of the same length")
        if not len(x):
            raise _invalid(where, "frequency", "is empty: no customers with repeat purchases to fit (the spend "
                           "model needs customers with frequency > 0)")
        if np.any(x != np.floor(x)):
            raise _invalid(where, "frequency", "There exist non-integer values in the frequency vector.")
        if np.any(m <= 0):
            raise _invalid(where, "monetary_value", "There exist non-positive (<= 0) values in the monetary_value "
                           "vector.")
        if np.any(x <= 0):
            raise _invalid(where, "frequency", "Gamma-Gamma needs frequency > 0: fit it on customers with repeat "
                           "purchases")
        weights = None if weights is None else np.asarray(weights)
        res = self._fit_rows(x, m, np.zeros_like(x), weights, 1.0, initial_params, verbose, tol)
        weights = np.ones(x.shape[0], dtype=np.int64) if weights is None else weights
        if q_constraint and self.params_["q"] < 1:
            raise ConvergenceError("the unconstrained optimum has q < 1; q_constraint is not supported there")
        self._negative_log_likelihood_ = res["objective"]
        self.log_likelihood_ = res["log_likelihood"]
        self.data = pd.DataFrame({"monetary_value": m, "frequency": x, "weights": weights}, index=index)
        return self

    def conditional_expected_average_profit(self, frequency=None, monetary_value=None):
        """Posterior mean spend per transaction: a weighted average of the customer's
        own mean and the population mean.

        >>> ggf = GammaGammaFitter().fit(*_demo_spend())
        >>> float(ggf.conditional_expected_average_profit(2, 20.0)) > 0
        True
        """
        if monetary_value is None:
            monetary_value = self.data["monetary_value"]
        if frequency is None:
            frequency = self.data["frequency"]
        p, q, v = self._unload_params("p", "q", "v")
        individual_weight = p * frequency / (p * frequency + q - 1)
        population_mean = v * p / (q - 1)
        return (1 - individual_weight) * population_mean + individual_weight * monetary_value

    def customer_lifetime_value(self, transaction_prediction_model, frequency, recency, T, monetary_value, time=12,
                                discount_rate=0.01, freq="D"):
        """Discounted value of the next ``time`` months: expected purchases per month
        (from the BG/NBD-like model, in its time unit ``freq``) times the expected
        spend, discounted at ``discount_rate`` per month.

        >>> ggf = GammaGammaFitter().fit(*_demo_spend())
        >>> bgf = BetaGeoFitter().fit(*_demo_rfm())
        >>> ggf.customer_lifetime_value(bgf, [2, 1], [20.0, 10.0], [40.0, 40.0], [20.0, 11.5], freq="W").shape
        (2,)
        """
        if freq not in _MONTH_IN:
            raise _invalid("GammaGammaFitter", "freq", f"must be one of {sorted(_MONTH_IN)}, the time unit of the "
                           f"model, got {freq!r}")
        time = _integer(time, "GammaGammaFitter", "time", low=0, high=100_000)
        discount_rate = _number(discount_rate, "GammaGammaFitter", "discount_rate", low=0)
        factor = _MONTH_IN[freq]
        index = frequency.index if isinstance(frequency, pd.Series) else None
        f, r, t_, m = (np.asarray(a, dtype=float) for a in (frequency, recency, T, monetary_value))
        adjusted = np.asarray(self.conditional_expected_average_profit(f, m), dtype=float)
        clv = np.zeros(np.broadcast(f, r, t_).shape)
        previous = np.zeros_like(clv)
        for month in range(1, time + 1):
            cumulative = np.asarray(transaction_prediction_model.predict(month * factor, f, r, t_), dtype=float)
            clv += adjusted * (cumulative - previous) / (1 + discount_rate) ** month
            previous = cumulative
        if index is None:
            index = pd.RangeIndex(clv.shape[0])
        return pd.Series(clv, index=index, name="clv")
