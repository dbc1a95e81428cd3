"""The 7P report: one self-contained HTML page of the seven analyses the
source material names (profiling, persistency, profitability, performance,
prospecting, product, promotion), tables and pictures, for a period and an
optional segment of customers.

``db.report_7p(period="2025", segment={"kind": "B2B"}, by="region",
path="report.html")`` writes the page (pictures embedded as PNG, no file or
network beside it) and returns a :class:`Report`, which shows itself in
Jupyter.
"""
from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._args import _invalid
from .scoring import campaign_effect, cohort_retention, performance, product_affinity
from .scoring._columns import as_of_timestamp
from .scoring.dimensions import _names

__all__ = ["SECTIONS", "Report", "report_7p"]

#: The sections of the report, in order: (id, title, what it answers).
SECTIONS = (
    ("profiling", "Profiling", "Who the customers are: kinds, regions, sources, lifecycle stages, RFM segments."),
    ("persistency", "Persistency", "Do they stay: the share of each cohort buying again, period after period."),
    ("profitability", "Profitability", "Who makes the profit: tiers, the Pareto curve, the top customers."),
    ("performance", "Performance", "Sales by product category, channel and location."),
    ("prospecting", "Prospecting", "Where it is going: monthly trends, new customers and the pipeline."),
    ("product", "Product", "What sells with what: product margins and products bought together."),
    ("promotion", "Promotion", "What the campaigns did: response, lift over non-members, return on budget."),
)

_STYLE = """
.crm7p { font-family: "DejaVu Sans", "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; color: #222;
         max-width: 1100px; margin: auto; }
.crm7p h1 { font-size: 1.6em; } .crm7p h2 { border-bottom: 2px solid #4a7ab5; padding-bottom: 3px; }
.crm7p table { border-collapse: collapse; margin: 6px 0 14px; font-size: 0.85em; }
.crm7p th, .crm7p td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
.crm7p thead th { vertical-align: bottom; }
.crm7p td { white-space: nowrap; } .crm7p td .text { white-space: normal; display: block; text-align: left; }
.crm7p .block { max-width: 100%; overflow-x: auto; }
.crm7p th { background: #eef2f8; } .crm7p td:first-child, .crm7p th:first-child { text-align: left; }
.crm7p img { max-width: 100%; display: block; margin: 6px 0 14px; } .crm7p .note { color: #666; }
.crm7p .figures { display: flex; flex-wrap: wrap; gap: 12px; } .crm7p .figures img { max-width: 540px; }
.crm7p .blocks { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.crm7p .blocks > .figures, .crm7p .blocks > p { flex-basis: 100%; }
"""


@dataclass
class Report:
    """A 7P report: ``html`` is the whole page; ``sections`` maps each
    section id of :data:`SECTIONS` to its HTML; ``tables`` holds the
    DataFrames shown, by section. Shows itself in Jupyter; :meth:`save`
    writes the page.

    >>> r = Report(html="<html><body><p>hi</p></body></html>", sections={"profiling": "<p>hi</p>"})
    >>> r._repr_html_()
    '<p>hi</p>'
    """

    html: str
    sections: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    title: str = "7P report"

    def _repr_html_(self) -> str:
        body = self.html.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
        return body

    def save(self, path: str | os.PathLike) -> str:
        """Writes the page to ``path`` (UTF-8) and returns the path.

        >>> import os, tempfile
        >>> path = Report(html="<html><body></body></html>").save(os.path.join(tempfile.mkdtemp(), "r.html"))
        >>> with open(path, encoding="utf-8") as f:
        ...     f.read()
        '<html><body></body></html>'
        """
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.html)
        return os.fspath(path)


def _window(db: Any, period: Any) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """(start, end, label) of the report's period: the year up to the end of
    the data by default, a pandas period ("2025", "2025Q2", "2025-06") or a
    (start, end) pair, end exclusive."""
    if period is None:
        end = db.default_as_of()
        return end - pd.DateOffset(years=1), end, f"the 12 months to {(end - pd.Timedelta(days=1)).date()}"
    if isinstance(period, (tuple, list)) and len(period) == 2:
        start, end = (as_of_timestamp(p, "period", "report_7p") for p in period)
        if not start < end:
            raise _invalid("report_7p", "period", f"must run forward, got {period!r}")
        return start, end, f"{start.date()} to {end.date()}"
    try:
        p = pd.Period(period)
    except (ValueError, TypeError) as e:
        raise _invalid("report_7p", "period", f"{period!r} is not a period (e.g. '2025', '2025Q2'): {e}") from None
    return p.start_time, (p + 1).start_time, str(p)


def _segment_ids(db: Any, segment: Any) -> tuple[pd.Index, str]:
    """The customer ids of ``segment`` and its description: every customer
    (None), those whose dimensions have the given values ({dimension:
    value or list}) or the ids given."""
    everyone = db.frame("customers", columns=[]).index
    if segment is None:
        return everyone, "all customers"
    if isinstance(segment, dict):
        values = db.dimension(list(segment))
        keep = np.ones(len(values), dtype=bool)
        for name, wanted in segment.items():
            wanted = [wanted] if isinstance(wanted, str) or not isinstance(wanted, Iterable) else list(wanted)
            keep &= values[name].isin([str(w) for w in wanted]).to_numpy()
        text = ", ".join(f"{k} = {v}" for k, v in segment.items())
        return values.index[keep], text
    ids = pd.Index(np.asarray(list(segment), dtype=np.int64))
    return everyone.intersection(ids), f"{len(ids)} chosen customers"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


# Columns that are shares of something: shown as percentages.
_PERCENT = ("share", "share_of_profit", "contribution", "margin", "conversion", "response_rate", "support",
            "confidence")


def _table(frame: pd.DataFrame, rows: int = 15) -> str:
    """The first ``rows`` of ``frame`` as an HTML table that fits the page:
    shares as percentages, days as dates, and column names with spaces for
    underscores so that a long name wraps under its column instead of
    widening the table (the campaign table's lift was cut off at 1200 px)."""
    shown = frame.head(rows).copy()
    # Numbers and days keep to one line; text (names, rules) wraps in its
    # cell and reads from the left. Everything written is escaped here,
    # since the cells carry that mark-up.
    for name in shown.columns:
        column = shown[name]
        if name in _PERCENT:
            shown[name] = column.map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        elif pd.api.types.is_datetime64_any_dtype(column):
            shown[name] = column.map(_day)
        elif not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            shown[name] = column.map(lambda v: "" if _missing(v) else f'<span class="text">{html.escape(str(v))}</span>')
    shown.columns = [_label(c) for c in shown.columns]
    shown.index = shown.index.set_names([_label(n) for n in shown.index.names])
    if isinstance(shown.index, pd.MultiIndex):
        shown.index = pd.MultiIndex.from_tuples([tuple(html.escape(str(x)) for x in v) for v in shown.index],
                                                names=shown.index.names)
    elif not pd.api.types.is_numeric_dtype(shown.index):
        shown.index = shown.index.map(lambda v: html.escape(str(v)))
    return shown.to_html(float_format=lambda v: f"{v:,.2f}", na_rep="", border=0, escape=False)


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, tuple, np.ndarray)) and bool(pd.isna(value)))


def _label(name: Any) -> Any:
    """A column or index name as shown: escaped, underscores as spaces."""
    return html.escape(name.replace("_", " ")) if isinstance(name, str) else name


def _day(value: Any) -> str:
    """A time as its day, with the time of day only when it has one."""
    if pd.isna(value):
        return ""
    t = pd.Timestamp(value)
    return t.strftime("%Y-%m-%d %H:%M") if (t.hour or t.minute) else t.strftime("%Y-%m-%d")


def _figure(draw: Any, size: tuple[float, float] = (7, 4.2)) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    draw(ax)
    return _png(fig)


class _Builder:
    """Collects the sections' HTML and tables."""

    def __init__(self) -> None:
        self.parts: dict[str, list[str]] = {}
        self.tables: dict[str, dict[str, pd.DataFrame]] = {}

    def add(self, section: str, html_text: str) -> None:
        self.parts.setdefault(section, []).append(html_text)

    def table(self, section: str, title: str, frame: pd.DataFrame, rows: int = 15) -> None:
        self.tables.setdefault(section, {})[title] = frame
        self.add(section, f'<div class="block"><h3>{html.escape(title)}</h3>{_table(frame, rows)}</div>')

    def figures(self, section: str, *images: str) -> None:
        """Pictures side by side, on a line of their own."""
        self.add(section, '<div class="figures">' + "".join(images) + "</div>")

    def note(self, section: str, text: str) -> None:
        self.add(section, f'<p class="note">{html.escape(text)}</p>')


def report_7p(db: Any, period: Any = None, segment: Any = None, by: Any = None,
              path: str | os.PathLike | None = None, top: int = 10) -> Report:
    """Writes the 7P report of a store ``db``: see :meth:`crmcore.Database.report_7p`
    for the parameters; returns the :class:`Report` (saved to ``path`` when given).

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> cid = db.add("customers", name="Ann")
    >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-05-01", amount=20.0, cost=5.0, channel="web")
    >>> "Sales by channel" in report_7p(db).tables["performance"]
    True
    """
    from . import plotting

    start, end, label = _window(db, period)
    ids, who = _segment_ids(db, segment)
    names = _names(by, "report_7p") if by is not None else None
    b = _Builder()
    mine = pd.Index(ids)

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        level = frame.index.get_level_values("customer_id")
        return frame[level.isin(mine)]

    orders_all, cut = db._costed_purchases(end, where="report_7p")
    orders_all = orders_all[orders_all["customer_id"].isin(mine).to_numpy(dtype=bool)]
    times = orders_all["ordered_at"]
    in_period = orders_all[((times >= start) & (times < end)).to_numpy(dtype=bool)]

    # -- profiling -----------------------------------------------------------
    dims = db.dimension(["kind", "region", "source"] + ([n for n in names if n not in ("kind", "region", "source")]
                                                           if names else []))
    dims = dims.loc[dims.index.isin(mine)]
    stages = rows(db.lifecycle(as_of=end))
    rfm = rows(db.rfm(as_of=end))
    b.note("profiling", f"{len(mine):,} customers ({who}); {len(in_period):,} purchases in {label}.")
    for n in ["kind", "region", "source"]:
        counts = dims[n].value_counts().rename("customers").to_frame()
        counts["share"] = counts["customers"] / max(len(dims), 1)
        b.table("profiling", f"Customers by {n}", counts, top)
    if names:
        cut_by = dims[names].agg(" / ".join, axis=1) if len(names) > 1 else dims[names[0]]
        b.table("profiling", f"Lifecycle stage by {' / '.join(names)}",
                pd.crosstab(cut_by.reindex(stages.index).rename(" / ".join(names)), stages["stage"]), 30)
    b.table("profiling", "Lifecycle stages", stages["stage"].value_counts(sort=False).rename("customers").to_frame())
    b.table("profiling", "RFM segments", rfm["segment"].value_counts().rename("customers").to_frame())
    b.figures("profiling", _figure(lambda ax: plotting.rfm_grid(rfm, ax=ax), (6, 4.5)),
              _figure(lambda ax: plotting.lifecycle_flow(db.lifecycle_flow(start, end, customers=mine), ax=ax),
                      (7, 4.5)))

    # -- persistency -----------------------------------------------------------
    freq = "M" if (end - start) <= pd.Timedelta(days=400) else "Q"
    retention = cohort_retention(orders_all, "customer_id", "ordered_at", freq, pd.Timestamp(cut))
    retention = retention[retention.index.to_timestamp() >= start - pd.DateOffset(years=1)]
    if len(retention):
        b.figures("persistency", _figure(lambda ax: plotting.cohort_heatmap(retention, ax=ax), (8, 5)),
                  _figure(lambda ax: plotting.retention_curves(retention, ax=ax)))
        latest = retention.tail(12).iloc[:, :13]  # the picture has them all; the table the latest year
        b.table("persistency", "Cohort retention, latest cohorts (share buying, by periods since the first "
                "purchase)", latest.map(lambda v: "" if pd.isna(v) else f"{v:.0%}"), 12)
    else:
        b.note("persistency", "No purchases: no cohorts.")
    loyal = rows(db.loyalty(as_of=end))
    b.note("persistency", f"Mean loyalty {loyal['loyalty'].mean():.2f} (0-1); repeat buyers "
                          f"{(loyal['purchases'] > 1).sum():,} of {(loyal['purchases'] > 0).sum():,} buyers.")

    # -- profitability -----------------------------------------------------------
    tiers = rows(db.profit_tiers(as_of=end))
    summary = tiers.groupby("tier", observed=False).agg(customers=("profit", "size"), profit=("profit", "sum"))
    summary["share_of_profit"] = summary["profit"] / summary["profit"].clip(lower=0).sum()
    b.table("profitability", f"Profit tiers (profit of the year to {(end - pd.Timedelta(days=1)).date()})",
            summary)
    best = tiers.sort_values("rank").head(top)[["name", "profit", "contribution", "abc", "tier"]]
    b.table("profitability", f"Top {top} customers by profit", best)
    b.figures("profitability", _figure(lambda ax: plotting.profit_tiers(tiers, ax=ax), (6.5, 4.5)))
    quarterly = performance(in_period.assign(all="all"), "all", "customer_id", "ordered_at", "amount", "cost", "Q", pd.Timestamp(cut))
    b.table("profitability", "Revenue and profit by quarter", quarterly.droplevel(0)[
        ["orders", "customers", "revenue", "profit", "margin"]])

    # -- performance ---------------------------------------------------------------
    cuts = [[n] for n in ("category", "channel", "location")] + ([names] if names else [])
    figures = []
    for dims_ in cuts:
        tagged = db._tagged(in_period, dims_)
        perf = performance(tagged, dims_, "customer_id", "ordered_at", "amount", "cost", None, pd.Timestamp(cut))
        perf = perf.sort_values("revenue", ascending=False)
        b.table("performance", f"Sales by {' / '.join(dims_)}", perf[["orders", "customers", "revenue", "profit",
                                                                      "margin", "share"]], top)
        if len(perf):
            figures.append(_figure(lambda ax, perf=perf: plotting.performance_bars(perf, "revenue", ax=ax, top=top),
                                   (6, 4)))
    b.figures("performance", *figures)

    # -- prospecting ---------------------------------------------------------------
    monthly = performance(in_period.assign(all="all"), "all", "customer_id", "ordered_at", "amount", "cost", "M",
                          pd.Timestamp(cut)).droplevel(0)
    first = orders_all.groupby("customer_id")["ordered_at"].min()
    new = first[(first >= start) & (first < end)].dt.to_period("M").value_counts().rename("new_customers")
    monthly = monthly.join(new, how="left").fillna({"new_customers": 0})
    monthly = monthly[monthly.index.to_timestamp() >= start]
    b.table("prospecting", "Month by month", monthly[["orders", "customers", "new_customers", "revenue", "change"]],
            24)
    if len(monthly):
        b.figures("prospecting", _figure(lambda ax: _trend(ax, monthly), (8, 3.8)))
    funnel = db.sales.funnel(as_of=end, customers=mine)
    prospects = int((stages["stage"] == "prospect").sum())
    b.note("prospecting", f"{prospects:,} prospects (customers who have not bought yet); "
                          f"{funnel['open'].sum() if len(funnel) else 0:,} open deals; {funnel.attrs.get('lost', 0):,} lost.")
    if len(funnel):
        b.table("prospecting", "Sales pipeline", funnel.drop(columns="to_next"))  # conversion says it from the other side
        b.figures("prospecting", _figure(lambda ax: plotting.pipeline_funnel(funnel, ax=ax), (6.5, 3.8)))

    # -- product -------------------------------------------------------------------------
    lines = db._lines(in_period)
    lines = lines[lines["product_id"].notna().to_numpy(dtype=bool)]  # a line naming no product is no product's
    products = db.frame("products", columns=["sku", "name", "category"])
    if len(lines):
        from .scoring import product_profit

        margins = product_profit(lines)
        margins = products.reindex(margins.index).join(margins).sort_values("profit", ascending=False)
        b.table("product", f"Top {top} products by profit", margins[["sku", "name", "category", "quantity",
                                                                     "revenue", "profit", "margin", "abc"]], top)
        by_name = margins.set_index(margins["name"].fillna(margins["sku"]).astype(str).rename("product"))
        b.figures("product", _figure(lambda ax: plotting.performance_bars(by_name, "profit", ax=ax, top=top,
                                                                          title="Most profitable products"),
                                     (7, 4)))
        # five orders, or every order of a store with fewer (a support is at most 1)
        support = min(1.0, max(0.002, 5 / max(lines["order_id"].nunique(), 1)))
        rules = product_affinity(lines, min_support=support)
        if len(rules):
            named = products["name"]
            rules = rules.head(top).assign(
                buyers_of=lambda r: r["antecedent"].map(lambda ids: ", ".join(map(str, named.reindex(list(ids))))),
                also_buy=lambda r: r["consequent"].map(lambda ids: ", ".join(map(str, named.reindex(list(ids))))))
            b.table("product", "Bought together (who buys these also buys those)",
                    rules[["buyers_of", "also_buy", "support", "confidence", "lift"]], top)
        else:
            b.note("product", f"No products bought together in at least {support:.1%} of the orders.")
    else:
        b.note("product", "No order lines naming a product in the period.")

    # -- promotion -----------------------------------------------------------------------------
    campaigns = db.frame("campaigns", columns=["name", "channel", "started_at", "ended_at", "budget"])
    campaigns = campaigns[((campaigns["started_at"] >= start) & (campaigns["started_at"] < end)).to_numpy(dtype=bool)]
    if len(campaigns):
        # The treated members, as db.marketing.campaigns counts them: held-out
        # members were not touched (they count among the others), and a
        # response is the flag or its time.
        members = db.frame("campaign_members", columns=["campaign_id", "customer_id", "responded", "responded_at",
                                                        "holdout"])
        members = members[(members["customer_id"].isin(mine)
                           & ~members["holdout"].fillna(False).astype(bool)).to_numpy(dtype=bool)]
        members = members.assign(responded=members["responded"].fillna(False).astype(bool)
                                 | members["responded_at"].notna())
        effect = campaign_effect(campaigns, members, orders_all, mine, 30.0, "customer_id", "ordered_at", "amount")
        b.table("promotion", "Campaigns of the period (revenue over the campaign and 30 days after)",
                effect.drop(columns=["before_per_member"]), 30)
        b.figures("promotion", _figure(lambda ax: _lift(ax, effect), (7, 0.35 * len(effect) + 1.6)))
    else:
        b.note("promotion", "No campaign started in the period.")

    title = f"7P report - {label}" + ("" if segment is None else f" - {who}")
    report = _assemble(title, b, label, who, names)
    if path is not None:
        report.save(path)
    return report


def _trend(ax: Any, monthly: pd.DataFrame) -> None:
    x = monthly.index.to_timestamp()
    ax.bar(x, monthly["revenue"].to_numpy(dtype=float), width=20, color="tab:blue", label="revenue")
    ax.set_ylabel("revenue")
    twin = ax.twinx()
    twin.plot(x, monthly["new_customers"].to_numpy(dtype=float), color="tab:orange", marker="o",
              label="new customers")
    twin.set_ylabel("new customers")
    ax.set_title("Revenue and new customers per month")
    ax.legend(loc="upper left", fontsize=8)
    twin.legend(loc="upper right", fontsize=8)


def _lift(ax: Any, effect: pd.DataFrame) -> None:
    shown = effect.iloc[::-1]
    ax.barh([str(n) for n in shown["name"]], shown["lift"].to_numpy(dtype=float), color="tab:purple")
    ax.axvline(1.0, color="grey", ls="--")
    ax.set_xlabel("revenue per member / revenue per non-member")
    ax.set_title("Campaign lift")


def _assemble(title: str, b: _Builder, label: str, who: str, names: list[str] | None) -> Report:
    sections = {}
    toc = []
    for key, heading, question in SECTIONS:
        body = "".join(b.parts.get(key, [])) or '<p class="note">Nothing to show.</p>'
        sections[key] = (f'<section id="{key}"><h2>{html.escape(heading)}</h2>'
                         f'<p class="note">{html.escape(question)}</p><div class="blocks">{body}</div></section>')
        toc.append(f'<a href="#{key}">{html.escape(heading)}</a>')
    cut = f"; cut by {html.escape(' / '.join(names))}" if names else ""
    head = (f'<h1>{html.escape(title)}</h1><p class="note">Period: {html.escape(label)}; customers: '
            f'{html.escape(who)}{cut}. Made by crmcore.</p><p>{" · ".join(toc)}</p>')
    body = f'<div class="crm7p"><style>{_STYLE}</style>{head}{"".join(sections.values())}</div>'
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body>{body}</body></html>")
    return Report(html=page, sections=sections, tables=b.tables, title=title)
