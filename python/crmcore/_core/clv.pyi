"""
lifetime-value kernels behind crmcore.clv
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['Rows', 'bg_conditional_expected', 'bg_probability_alive', 'bg_probability_of_n', 'bgbb_conditional_expected', 'bgbb_probability_alive', 'bgbb_probability_of_x', 'fit', 'floor_to_period', 'log_likelihood_rows', 'pareto_conditional_expected', 'pareto_conditional_probability_of_n', 'pareto_probability_alive', 'summarize_periods']
class Rows:
    """
    customers collapsed into distinct (x, t_x, T) rows with summed weights
    """
    def __init__(self, x: typing.Any, tx: typing.Any, T: typing.Any, w: typing.Any = None) -> None:
        ...
    def log_likelihood(self, model: str, log_params: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex]) -> tuple[float, numpy.typing.NDArray[numpy.float64]]:
        """
        (weighted sum of log-likelihoods, gradient w.r.t. log-params)
        """
    def scale_times(self, factor: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def size(self) -> int:
        ...
    @property
    def total_weight(self) -> float:
        ...
def bg_conditional_expected(arg0: bool, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any, arg4: typing.Any, arg5: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    """
    E[X(T, T+t] | x, t_x, T) under BG/NBD or (modified) MBG/NBD
    """
def bg_probability_alive(arg0: bool, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any, arg4: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    ...
def bg_probability_of_n(arg0: bool, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    ...
def bgbb_conditional_expected(arg0: typing.Any, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any, arg4: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    """
    (params, m, x, tx, n)
    """
def bgbb_probability_alive(arg0: typing.Any, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any, arg4: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    """
    (params, m, x, tx, n)
    """
def bgbb_probability_of_x(arg0: typing.Any, arg1: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    ...
def fit(model: str, rows: Rows, log_params0: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], penalizer: typing.SupportsFloat | typing.SupportsIndex = 0.0, gtol: typing.SupportsFloat | typing.SupportsIndex = 1e-10, max_iter: typing.SupportsInt | typing.SupportsIndex = 500, verbose: bool = False) -> dict:
    ...
def floor_to_period(arg0: typing.Any, arg1: typing.SupportsInt | typing.SupportsIndex, arg2: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int64]:
    ...
def log_likelihood_rows(arg0: str, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any, arg4: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    """
    per-row log-likelihood at natural parameters
    """
def pareto_conditional_expected(arg0: typing.Any, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any, arg4: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    """
    (params, t, x, tx, T)
    """
def pareto_conditional_probability_of_n(arg0: typing.Any, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any, arg4: typing.Any, arg5: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    """
    (params, n, t, x, tx, T)
    """
def pareto_probability_alive(arg0: typing.Any, arg1: typing.Any, arg2: typing.Any, arg3: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    ...
def summarize_periods(codes: typing.Any, period_start: typing.Any, spend: typing.Any, n_customers: typing.SupportsInt | typing.SupportsIndex, observation_end: typing.SupportsInt | typing.SupportsIndex) -> dict:
    ...
