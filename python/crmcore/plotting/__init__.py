"""Pictures of crmcore's analyses, drawn with matplotlib (headless too).

Every function takes the result of an analysis, draws on ``ax`` (a new
figure when None) and returns the axes, so figures can be combined and
saved. Text in any script is drawn: a CJK font is used when installed.

Customers: :func:`rfm_grid`, :func:`lifecycle_flow`, :func:`cohort_heatmap`,
:func:`retention_curves`, :func:`pipeline_funnel`, :func:`profit_tiers`,
:func:`performance_bars`. Lifetime value (the pictures of
``lifetimes.plotting``, same names and arguments):
:func:`plot_frequency_recency_matrix`, :func:`plot_probability_alive_matrix`,
:func:`plot_period_transactions`,
:func:`plot_calibration_purchases_vs_holdout_purchases`,
:func:`plot_history_alive`, :func:`plot_cumulative_transactions`,
:func:`plot_incremental_transactions`. Relationships: :func:`ego_network`.

>>> import crmcore as crm
>>> db = crm.open(":memory:")
>>> _ = crm.datasets.load(db, crm.datasets.synthetic(200, seed=1))
>>> crm.plotting.rfm_grid(db.rfm()).get_xlabel()
'F score (frequency)'
"""
from ..clv.plotting import (plot_calibration_purchases_vs_holdout_purchases, plot_cumulative_transactions,
                            plot_frequency_recency_matrix, plot_history_alive, plot_incremental_transactions,
                            plot_period_transactions, plot_probability_alive_matrix)
from ._fonts import cjk_font
from .customers import (cohort_heatmap, lifecycle_flow, performance_bars, pipeline_funnel, profit_tiers,
                        retention_curves, rfm_grid)
from .network import ego_network

__all__ = [
    "cjk_font",
    "cohort_heatmap",
    "ego_network",
    "lifecycle_flow",
    "performance_bars",
    "pipeline_funnel",
    "plot_calibration_purchases_vs_holdout_purchases",
    "plot_cumulative_transactions",
    "plot_frequency_recency_matrix",
    "plot_history_alive",
    "plot_incremental_transactions",
    "plot_period_transactions",
    "plot_probability_alive_matrix",
    "profit_tiers",
    "retention_curves",
    "rfm_grid",
]
