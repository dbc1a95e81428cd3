"""Pictures of the customer analyses: each takes the result of a ``db.``
analysis (or of the same-named :mod:`crmcore.scoring` function), draws on
``ax`` (a new figure when None) and returns the axes."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._fonts import drawing

__all__ = ["cohort_heatmap", "lifecycle_flow", "performance_bars", "pipeline_funnel", "profit_tiers",
           "retention_curves", "rfm_grid"]


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)[1]


def _annotate(ax: Any, values: np.ndarray, fmt: str) -> None:
    """Writes each cell's value on a heatmap, dark on light cells."""
    finite = values[np.isfinite(values)]
    top = finite.max() if len(finite) else 0
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=8,
                    color="white" if v < top / 2 else "black")


@drawing
def rfm_grid(rfm: pd.DataFrame, ax: Any = None, title: str = "Customers per R/F cell", bins: int | None = None) -> Any:
    """Customers per (R score, F score) cell of an RFM result, as a heatmap
    with the count written in each cell (R rows, 5 at the top; F columns).
    ``rfm`` is the result of ``db.rfm()`` (its ``r_score`` and ``f_score``);
    ``bins`` the number of score levels (default: the highest score found).
    Customers without purchases (score 0) are left out. ``title`` heads the picture; it is drawn on ``ax`` (a new figure when None).

    >>> rfm = pd.DataFrame({"r_score": [5, 5, 1], "f_score": [5, 4, 1]})
    >>> ax = rfm_grid(rfm, bins=5)
    >>> [t.get_text() for t in ax.texts if t.get_text() != "0"]
    ['1', '1', '1']
    """
    scored = rfm[(rfm["r_score"] > 0) & (rfm["f_score"] > 0)]
    if bins is None:  # the highest score given: quantile scores always reach the top one
        bins = int(max(scored["r_score"].max(), scored["f_score"].max())) if len(scored) else 5
    grid = pd.crosstab(scored["r_score"], scored["f_score"]).reindex(
        index=range(bins, 0, -1), columns=range(1, bins + 1), fill_value=0)
    ax = _axes(ax, (5.5, 4.5))
    image = ax.imshow(grid.to_numpy(), cmap="viridis")
    ax.set_xticks(range(bins), [str(c) for c in grid.columns])
    ax.set_yticks(range(bins), [str(r) for r in grid.index])
    ax.set_xlabel("F score (frequency)")
    ax.set_ylabel("R score (recency)")
    ax.set_title(title)
    _annotate(ax, grid.to_numpy(dtype=float), ".0f")
    ax.figure.colorbar(image, ax=ax, label="customers")
    return ax


@drawing
def lifecycle_flow(flow: pd.DataFrame, ax: Any = None, title: str | None = None) -> Any:
    """How customers moved between lifecycle stages: ``flow``, the table of
    ``db.lifecycle_flow(start, end)``, drawn as two stacked columns of stages
    (start left, end right) joined by one band per pair of stages, its width
    the number of customers. Each column's blocks are labelled with the
    stage and count. ``title`` heads the picture (default: the two dates);
    it is drawn on ``ax`` (a new figure when None).

    >>> flow = pd.DataFrame([[3, 2], [0, 4]], index=["new", "lost"], columns=["new", "lost"])
    >>> ax = lifecycle_flow(flow)
    >>> len(ax.collections)  # one band per non-empty pair
    3
    """
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    ax = _axes(ax, (7, 5))
    counts = flow.to_numpy(dtype=float)
    total = counts.sum()
    colors = colormaps["tab10"]
    gap = 0.02 * total if total else 1.0
    stages = list(dict.fromkeys([*flow.index, *flow.columns]))
    color = {s: colors(i % 10) for i, s in enumerate(stages)}

    def blocks(sizes: np.ndarray) -> np.ndarray:
        tops = np.cumsum(sizes + gap) - gap  # from the top down, with gaps
        return total + gap * len(sizes) - tops

    left, right = counts.sum(axis=1), counts.sum(axis=0)
    left_base, right_base = blocks(left), blocks(right)
    out_used, in_used = np.zeros(len(left)), np.zeros(len(right))
    x = np.linspace(0.1, 0.9, 50)
    ease = 3 * ((x - 0.1) / 0.8) ** 2 - 2 * ((x - 0.1) / 0.8) ** 3  # a smooth S from one side to the other
    for i in range(len(left)):
        for j in range(len(right)):
            n = counts[i, j]
            if n <= 0:
                continue
            y0 = left_base[i] + left[i] - out_used[i] - n
            y1 = right_base[j] + right[j] - in_used[j] - n
            out_used[i] += n
            in_used[j] += n
            low = y0 + (y1 - y0) * ease
            ax.fill_between(x, low, low + n, color=color[flow.index[i]], alpha=0.45, linewidth=0)
    for side, base, sizes, labels in ((0.0, left_base, left, flow.index), (0.9, right_base, right, flow.columns)):
        for b, n, label in zip(base, sizes, labels):
            if n > 0:
                ax.add_patch(Rectangle((side, b), 0.1, n, color=color[label]))
                ax.text(side + (-0.01 if side == 0 else 0.11), b + n / 2, f"{label} ({int(n)})",
                        ha="right" if side == 0 else "left", va="center", fontsize=8)
    start, end = flow.attrs.get("start"), flow.attrs.get("end")
    when = f" from {pd.Timestamp(start).date()} to {pd.Timestamp(end).date()}" if start is not None and end is not None \
        else ""
    ax.set_title(title or f"Lifecycle flow{when}")
    ax.set_xlim(-0.35, 1.35)
    ax.set_ylim(0, total + gap * max(len(left), len(right)))
    ax.set_axis_off()
    return ax


@drawing
def cohort_heatmap(retention: pd.DataFrame, ax: Any = None, title: str = "Cohort retention") -> Any:
    """Cohort retention (``db.cohorts()``) as a heatmap: cohorts down, age
    in periods across, the share of the cohort buying written in each cell.
    ``retention`` is the table of ``db.cohorts()``. ``title`` heads the picture; it is drawn on ``ax`` (a new figure when None).

    >>> retention = pd.DataFrame({0: [1.0, 1.0], 1: [0.5, np.nan]}, index=["2024-01", "2024-02"])
    >>> ax = cohort_heatmap(retention)
    >>> [t.get_text() for t in ax.texts]
    ['100%', '50%', '100%']
    """
    ax = _axes(ax, (max(6.0, 0.45 * retention.shape[1] + 2), max(3.0, 0.3 * len(retention) + 1.5)))
    values = retention.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="YlGnBu", vmin=0, vmax=1, aspect="auto")
    # Every tick labelled while they fit, else every n-th.
    step_x, step_y = max(1, retention.shape[1] // 16), max(1, len(retention) // 24)
    ax.set_xticks(range(0, retention.shape[1], step_x), [str(c) for c in retention.columns[::step_x]])
    ax.set_yticks(range(0, len(retention), step_y), [str(i) for i in retention.index[::step_y]])
    ax.set_xlabel("periods since the first purchase")
    ax.set_ylabel("cohort (first purchase)")
    ax.set_title(title)
    if values.size <= 600:  # beyond that the numbers cannot be read
        _annotate(ax, values * 100, ".0f")
        for t in ax.texts:
            t.set_text(t.get_text() + "%")
    ax.figure.colorbar(image, ax=ax, label="share buying")
    return ax


@drawing
def retention_curves(retention: pd.DataFrame, ax: Any = None, title: str = "Retention curves",
                     cohorts: int | None = 8) -> Any:
    """Cohort retention as curves: one line per cohort (the latest
    ``cohorts`` of them; None for all) of the share buying at each age, and
    the mean over all cohorts, thick. ``retention`` is the table of
    ``db.cohorts()``. ``title`` heads the picture; it is drawn on ``ax`` (a new figure when None).

    >>> retention = pd.DataFrame({0: [1.0, 1.0], 1: [0.5, 0.3]}, index=["2024-01", "2024-02"])
    >>> [line.get_label() for line in retention_curves(retention).get_lines()]
    ['2024-01', '2024-02', 'mean']
    """
    ax = _axes(ax, (7, 4))
    shown = retention if cohorts is None else retention.tail(cohorts)
    for cohort, row in shown.iterrows():
        ax.plot(row.index, row.to_numpy(dtype=float), lw=1, alpha=0.7, label=str(cohort))
    ax.plot(retention.columns, retention.mean().to_numpy(dtype=float), color="black", lw=2.5, label="mean")
    ax.set_xlabel("periods since the first purchase")
    ax.set_ylabel("share of the cohort buying")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return ax


@drawing
def pipeline_funnel(funnel: pd.DataFrame, ax: Any = None, title: str = "Sales pipeline") -> Any:
    """The pipeline funnel (``db.sales.funnel()``): one centred bar per stage,
    as wide as the deals that reached it, labelled with the count and the
    conversion from the stage before. ``funnel`` is the table of
    ``db.sales.funnel()``. ``title`` heads the picture; it is drawn on ``ax`` (a new figure when None).

    >>> funnel = pd.DataFrame({"deals": [10, 4], "conversion": [np.nan, 0.4]}, index=["potential", "won"])
    >>> ax = pipeline_funnel(funnel)
    >>> len(ax.patches), [t.get_text() for t in ax.texts]
    (2, ['10', '4 (40%)'])
    """
    ax = _axes(ax, (7, 0.55 * len(funnel) + 1.5))
    deals = funnel["deals"].to_numpy(dtype=float)
    y = np.arange(len(funnel))[::-1]
    ax.barh(y, deals, left=-deals / 2, color="tab:blue", height=0.8)
    widest = deals.max() if len(deals) else 0
    for yi, n, rate in zip(y, deals, funnel.get("conversion", pd.Series(np.nan, index=funnel.index))):
        label = f"{int(n)}" + ("" if pd.isna(rate) else f" ({rate:.0%})")
        if n >= 0.25 * widest:  # inside the bar
            ax.text(0, yi, label, ha="center", va="center", color="white", fontsize=9)
        else:  # too narrow to hold it: beside the bar
            ax.text(n / 2, yi, " " + label, ha="left", va="center", color="black", fontsize=9)
    ax.set_yticks(y, [str(s) for s in funnel.index])
    ax.set_xticks([])
    ax.set_title(title)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax


@drawing
def profit_tiers(tiers: pd.DataFrame, ax: Any = None, title: str = "Profit contribution (Pareto)") -> Any:
    """Profit tiers (``db.profit_tiers()``): the Pareto curve of the share of
    profit made by the share of customers ranked by profit, the ABC cut at
    80%, and the customers of each tier marked on it. ``tiers`` is the
    result of ``db.profit_tiers()``. ``title`` heads the picture; it is drawn on ``ax`` (a new figure when None).

    >>> tiers = pd.DataFrame({"rank": [1, 2, 3], "cum_contribution": [0.7, 0.95, 1.0],
    ...                       "tier": ["super", "VIP", "normal"], "abc": ["A", "B", "C"]})
    >>> [line.get_label() for line in profit_tiers(tiers).get_lines()][:2]
    ['cumulative share of profit', '80%']
    """
    ax = _axes(ax, (6.5, 4.5))
    ranked = tiers.sort_values("rank")
    share = np.arange(1, len(ranked) + 1) / max(len(ranked), 1)
    cum = ranked["cum_contribution"].to_numpy(dtype=float)
    ax.plot(share, cum, color="tab:blue", label="cumulative share of profit")
    ax.axhline(0.8, ls="--", color="grey", label="80%")
    tier = ranked["tier"].astype(str).to_numpy()
    for name, color in (("super", "tab:red"), ("VIP", "tab:orange")):
        mark = tier == name
        if mark.any():
            ax.scatter(share[mark], cum[mark], s=12, color=color, label=f"{name} ({int(mark.sum())})", zorder=3)
    ax.set_xlabel("share of customers (ranked by profit)")
    ax.set_ylabel("share of profit")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return ax


@drawing
def performance_bars(perf: pd.DataFrame, value: str = "revenue", ax: Any = None, top: int = 12,
                     title: str | None = None) -> Any:
    """Sales performance (``db.performance(by)``) as horizontal bars of
    ``value`` (revenue, profit, ...) per group, the ``top`` largest, with
    the margin written beside each bar when known. ``perf`` is the table of
    ``db.performance(by)``; ``title`` heads the picture (default: the value
    and the dimensions); it is drawn on ``ax`` (a new figure when None).

    >>> perf = pd.DataFrame({"revenue": [30.0, 10.0], "margin": [0.5, 0.2]}, index=["web", "shop"])
    >>> ax = performance_bars(perf)
    >>> [t.get_text() for t in ax.get_yticklabels()], len(ax.patches)
    (['shop', 'web'], 2)
    """
    ax = _axes(ax, (7, 0.35 * min(top, len(perf)) + 1.5))
    shown = perf.nlargest(top, value).iloc[::-1]
    labels = [" / ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in shown.index]
    ax.barh(range(len(shown)), shown[value].to_numpy(dtype=float), color="tab:green")
    ax.set_yticks(range(len(shown)), labels)
    if "margin" in shown.columns:
        for y, (v, m) in enumerate(zip(shown[value], shown["margin"])):
            if pd.notna(m):
                ax.text(v, y, f" {m:.0%}", va="center", fontsize=8)
    names = [n for n in perf.index.names if n is not None]
    ax.set_xlabel(value)
    ax.set_title(title or f"{value} by {' / '.join(names) or 'group'}")
    return ax
