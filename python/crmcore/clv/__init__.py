"""Lifetime-value models, a drop-in for ``lifetimes``.

Change ``from lifetimes import BetaGeoFitter`` to
``from crmcore.clv import BetaGeoFitter`` (and ``lifetimes.utils`` to
``crmcore.clv.utils``); the classes, ``fit`` signatures, ``params_`` keys,
prediction methods and utilities keep lifetimes' names and return types.
Likelihoods with exact gradients, the optimizer (BFGS + Newton over
log-parameters, identical customers collapsed into weighted rows) and the
predictions run in C++ with the GIL released.

>>> from crmcore.clv import BetaGeoFitter
>>> bgf = BetaGeoFitter().fit([2, 1, 0, 0], [30.4, 1.7, 0, 0], [38.9, 38.9, 38.9, 38.9])
>>> list(bgf.params_.index)
['r', 'alpha', 'a', 'b']

Differences from lifetimes 0.11.3 (all fixes; details in each class docstring):

- Hypergeometric terms (BG/NBD and MBG/NBD conditional expectations,
  Pareto/NBD likelihood, P(alive) and expectations) are evaluated in log space
  after Euler's transformation, where the series has small terms for any
  frequency. lifetimes returns nan/inf or wrong values for frequent buyers
  (hundreds or thousands of purchases); crmcore stays finite and agrees with
  mpmath to ~1e-12.
- Fits converge to the maximum-likelihood point to ~1e-9 in gradient (BFGS
  then Newton), so the parameters are reproducible to many digits; Pareto/NBD
  no longer depends on a random Nelder-Mead start and gets standard errors.
- ``log_likelihood_`` is the total log-likelihood in the caller's time unit
  (the figure papers publish); ``_negative_log_likelihood_`` keeps lifetimes'
  meaning (the minimised objective, on time rescaled by 1/max(T)).
- The covariance of the parameters uses p_i p_j [H^-1]_ij / N (delta method);
  lifetimes' off-diagonal entries use p_j^2. Standard errors are identical.
- Non-integer frequencies raise ValueError (lifetimes truncates silently).
- When the likelihood has no finite maximum (small or homogeneous cohorts:
  parameters run off to infinity along a ridge), the fit stops once the
  gradient of the mean log-likelihood is below 1e-5 and reports the large
  parameters with their (larger) standard errors; lifetimes does the same or
  raises ConvergenceError, depending on where its optimizer stalls.
- ``customer_lifetime_value``: ``time`` is in months and ``discount_rate`` is
  per month whatever ``freq`` (the time unit of the transaction model) is;
  arrays are accepted as well as Series and ``freq="h"`` as well as "H".
- ``summary_data_from_transaction_data`` / ``calibration_and_holdout_data``
  work in C++ over columns and run with pandas 3; rows with a missing customer
  id or date are ignored.
- Not provided: ``lifetimes.plotting`` beyond the two matrix plots in
  ``crmcore.clv.plotting``; ``utils.calculate_alive_path``; BG/BB
  ``generate_new_data``.
"""
from .fitters import (
    BaseFitter,
    BetaGeoBetaBinomFitter,
    BetaGeoFitter,
    ConvergenceError,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from .utils import (
    calibration_and_holdout_data,
    expected_cumulative_transactions,
    summary_data_from_transaction_data,
    summary_from_store,
)
from . import generate_data, utils

__all__ = [
    "BaseFitter",
    "BetaGeoBetaBinomFitter",
    "BetaGeoFitter",
    "ConvergenceError",
    "GammaGammaFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "calibration_and_holdout_data",
    "expected_cumulative_transactions",
    "generate_data",
    "summary_data_from_transaction_data",
    "summary_from_store",
    "utils",
]
