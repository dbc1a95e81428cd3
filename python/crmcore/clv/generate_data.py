"""Vectorized simulation of customers from the buy-till-you-die models.

Used to test parameter recovery and to build benchmark populations of millions
of customers. Same function names and arguments as ``lifetimes.generate_data``
(plus ``seed``); each returns a DataFrame with frequency, recency, T and the
hidden per-customer draws.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["beta_geometric_nbd_model", "modified_beta_geometric_nbd_model", "pareto_nbd_model"]


def _observe(T, rate, purchases_before_dropout, rng):
    """Repeat purchases seen in (0, T] of a Poisson(rate) process stopped after
    purchases_before_dropout purchases: x and the time of the x-th purchase.

    Given n purchases of the unstopped process in (0, T], their times are
    sorted uniforms, so the x-th of them is T * Beta(x, n - x + 1).
    """
    n = rng.poisson(rate * T)
    x = np.minimum(n, purchases_before_dropout)
    safe_x = np.maximum(x, 1)
    t_x = np.where(x > 0, T * rng.beta(safe_x, np.maximum(n - safe_x + 1, 1)), 0.0)
    return x, t_x, n < purchases_before_dropout


def _geometric_bg(T, r, alpha, a, b, size, seed, first_purchase_can_drop):
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (size,)) if np.ndim(T) == 0 else np.asarray(T, dtype=float)
    size = T.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, size)
    p = rng.beta(a, b, size)
    # Purchases made before dropping out: geometric on {1, 2, ...} (BG/NBD) or {0, 1, ...} (MBG/NBD).
    k = rng.geometric(p) - (1 if first_purchase_can_drop else 0)
    x, t_x, alive = _observe(T, lam, k, rng)
    return pd.DataFrame({"frequency": x.astype(float), "recency": t_x, "T": T, "lambda": lam, "p": p,
                         "alive": alive, "customer_id": np.arange(size)})


def beta_geometric_nbd_model(T, r, alpha, a, b, size=1, seed=None):
    """Customers drawn from BG/NBD(r, alpha, a, b) observed for T each.

    >>> df = beta_geometric_nbd_model(52.0, 0.25, 4.4, 0.8, 2.4, size=5, seed=1)
    >>> df.columns[:3].tolist()
    ['frequency', 'recency', 'T']
    """
    return _geometric_bg(T, r, alpha, a, b, size, seed, first_purchase_can_drop=False)


def modified_beta_geometric_nbd_model(T, r, alpha, a, b, size=1, seed=None):
    """Customers drawn from MBG/NBD(r, alpha, a, b) observed for T each.

    >>> len(modified_beta_geometric_nbd_model(52.0, 0.5, 6.2, 0.9, 1.6, size=3, seed=1))
    3
    """
    return _geometric_bg(T, r, alpha, a, b, size, seed, first_purchase_can_drop=True)


def pareto_nbd_model(T, r, alpha, s, beta, size=1, seed=None):
    """Customers drawn from Pareto/NBD(r, alpha, s, beta) observed for T each.

    >>> len(pareto_nbd_model(52.0, 0.55, 10.6, 0.6, 11.7, size=4, seed=1))
    4
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=float), (size,)) if np.ndim(T) == 0 else np.asarray(T, dtype=float)
    size = T.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, size)
    mu = rng.gamma(s, 1.0 / beta, size)
    lifetime = rng.exponential(1.0 / mu)
    seen = np.minimum(lifetime, T)
    x = rng.poisson(lam * seen)
    t_x = np.where(x > 0, seen * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": t_x, "T": T, "lambda": lam, "mu": mu,
                         "alive": lifetime > T, "customer_id": np.arange(size)})
