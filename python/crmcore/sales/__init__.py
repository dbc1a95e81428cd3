"""Sales operations, grouped on ``db.sales`` the way pandas groups ``.str``.

Pipelines are data (kinds ``pipelines`` and ``pipeline_stages``); the store's
write path applies the stage rules to every write of a deal's stage, so
:meth:`SalesMethods.move` is a convenience, not the only way to move a deal.
This module holds the pipeline reports; the other parts of ``db.sales`` live
beside it: targets (:mod:`.targets`), contracts, invoices and receivables
(:mod:`.ledger`), projects and the agenda (:mod:`.projects`), each open
deal's chance from history (:mod:`.outlook`) and the seasonal bookings
forecast (:mod:`.seasonal`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._args import _number, _period, _record_id, _record_ids
from ..scoring._columns import as_of_ns, days_between, stamp, times_ns
from .funnel import KERNEL_PERIODS, DealKey, funnel_frame
from .ledger import LedgerMethods
from .outlook import OutlookMethods
from .projects import ProjectMethods
from .seasonal import SeasonalMethods
from .targets import TargetMethods

#: The groupings the sales reports know: the deal's owner (staff id), the
#: owner's team, the customer's source, segment (its kind) and region.
BY = ("owner", "team", "source", "segment", "region")
#: The words of ``period=`` where a report groups deals by when they were made
#: (their first deal_stages row); a pandas period alias ("M", "Q", "Y") works too.
PERIODS = {"month": "M", "quarter": "Q", "year": "Y"}
#: The groupings that are the deal's own (the funnel reads any other ``by`` as customer dimensions).
SALES_BY = ("owner", "team", "source", "segment")
NS_PER_DAY = 86_400 * 10**9


class SalesMethods(TargetMethods, LedgerMethods, ProjectMethods, OutlookMethods, SeasonalMethods):
    """The sales side of a store: ``db.sales.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> deal = db.add("deals", customer_id=db.add("customers", name="Acme"), stage="lead", amount=500.0)
    >>> db.sales.move(deal, "赢单", reason="price")
    >>> db.get("deals", deal)["stage"], db.get("deals", deal)["probability"]
    ('won', 1.0)
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<sales of {self._db!r}>"

    def move(self, deal: int, stage: str, reason: str | None = None, at: Any = None,
             by: int | None = None) -> None:
        """Move `deal` to `stage` (its name or a label such as 谈判): the
        store writes the deal_stages row (from, to, when, by whom, why); won
        and lost also set closed_at and probability 1 or 0. `at` is when the
        change happened (default now), `by` the staff id who made it, `reason`
        why (a lost reason, ...). A stage
        the deal's pipeline lacks raises ValidationError listing its stages.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> deal = db.add("deals", customer_id=db.add("customers", name="Acme"), stage="lead")
        >>> db.sales.move(deal, "proposal", at="2024-03-01")
        >>> db.frame("deal_stages")["stage"].tolist()
        ['lead', 'proposal']
        """
        self._db.update("deals", deal, stage=stage, stage_reason=reason, stage_changed_at=at,
                        stage_changed_by=by)

    def funnel(self, pipeline: "int | str | None" = None, as_of: Any = None, by: Any = None,
               customers: Any = None, period: str | None = None) -> pd.DataFrame:
        """The pipeline as a funnel at ``as_of``: for each open stage of the
        pipeline, in order, then won, the deals that reached it (or a later
        stage) by then. Lost is off the funnel (an exit, not a step).
        Counted in C++ over the deal_stages history of the pipeline's deals
        up to ``as_of`` (default ``db.default_as_of()``, the end of the data,
        as every analysis); a deal with no history by then did not exist yet.

        ``pipeline`` is its id or name (default: the default pipeline).
        ``by`` is one of the words of the other sales reports, the deal's
        ``owner`` (staff id), its owner's ``team``, its customer's
        ``source`` or ``segment`` (the customer's kind), or else customer
        dimensions (region, industry, status, custom.<key>; see
        :mod:`crmcore.scoring.dimensions`). ``period`` (``"month"``,
        ``"quarter"``, ``"year"`` or a pandas alias) groups the deals by
        when they were made (their first stage row), in a level named
        ``created``. Either gives one funnel per group in one frame with a
        MultiIndex: the group levels (``created`` first, then ``by``) lead,
        ``stage`` last; deals whose group value is missing (no owner, ...)
        are left out; ``attrs["by"]`` names the group levels. ``period``
        with a customer dimension raises ValidationError. ``customers``
        (ids) keeps the deals of those customers only (a segment's funnel).

        Returns, indexed by ``stage``: ``deals`` (reached it), ``amount``
        (their amounts), ``conversion`` (share of the stage before's deals
        that got this far), ``to_next`` (share of this stage's deals that
        went on to the next) and ``open`` (deals standing there at
        ``as_of``). ``attrs``: ``lost`` (deals lost by then; with ``by`` a
        Series per group), ``as_of`` and ``window`` (the stage changes read).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> a, b = db.add("deals", customer_id=c, stage="lead"), db.add("deals", customer_id=c, stage="lead")
        >>> db.sales.move(a, "proposal"); db.sales.move(a, "won"); db.sales.move(b, "lost")
        >>> f = db.sales.funnel()
        >>> f["deals"].tolist(), f.attrs["lost"]
        ([2, 1, 1, 1, 1], 1)
        >>> g = db.sales.funnel(by="source", period="month", as_of="2100-01-01")
        >>> g.index.names, g.attrs["by"]
        (FrozenList(['created', 'source', 'stage']), ['created', 'source'])
        """
        period = None if period is None else _period(period, "funnel", words=PERIODS)
        db = self._db
        stages, pid = self._stages(pipeline)
        cut = self._as_of(as_of, where="funnel")
        deals = db.frame("deals", columns=["pipeline_id", "customer_id", "amount", "owner_id"])
        keep = deals.pipeline_id.to_numpy(dtype=np.int64, na_value=-1) == pid
        if customers is not None:
            wanted = _record_ids(customers, "funnel", "customers")
            keep = keep & deals.customer_id.isin(wanted).to_numpy(dtype=bool)
        deals = deals[keep]
        hist = db.frame("deal_stages", columns=["deal_id", "stage", "changed_at"])
        if (isinstance(by, str) and by in SALES_BY) or period is not None:
            if by is not None and not (isinstance(by, str) and by in SALES_BY):
                raise _core.ValidationError(f"sales.funnel: period= groups by the deal's {', '.join(SALES_BY)}; "
                                            f"by={by!r} is a customer dimension, which it does not combine with")
            freq = None if period is None else PERIODS.get(period, period)
            created = None
            if period is not None and freq not in KERNEL_PERIODS:
                created = self._created(period)
            out = funnel_frame(deals, hist, stages, cut, self._deal_key(deals, by),
                               freq if created is None else None, created)
        elif by is None:
            out = funnel_frame(deals, hist, stages, cut)
        else:
            names = db._customer_only(by, "sales.funnel")
            lost: dict[tuple, int] = {}
            first: list[int] = []

            def counted(part: pd.DataFrame, ids: Any) -> pd.DataFrame:
                out = funnel_frame(part, hist, stages, cut)
                if len(part):  # the group's values are on its deals (a group without deals has no funnel)
                    lost[tuple(part[n].iloc[0] for n in names)] = out.attrs["lost"]
                if out.attrs["first_read"] is not None:
                    first.append(out.attrs["first_read"])
                out.attrs = {}
                return out

            out = db._stacked(counted, deals, names, "sales.funnel")
            keys = sorted(lost)
            index = pd.MultiIndex.from_tuples(keys, names=names) if len(names) > 1 else \
                pd.Index([k[0] for k in keys], name=names[0])
            out.attrs["lost"] = pd.Series([lost[k] for k in keys], index=index, name="lost", dtype=np.int64)
            out.attrs["first_read"] = min(first) if first else None
        read = out.attrs.pop("first_read")
        return stamp(out, cut, np.array([] if read is None else [read], dtype=np.int64))

    def _deal_key(self, deals: pd.DataFrame, by: str | None) -> "DealKey | None":
        """The funnel's group key of each of ``deals``: the owner's id, the
        owner's team, the customer's source or segment (its kind)."""
        if by is None:
            return None
        if by == "owner":
            owner = deals.owner_id
            return DealKey(owner.to_numpy(dtype=np.int64, na_value=0), owner.notna().to_numpy(), "owner")
        if by == "team":
            return DealKey.through(deals.owner_id, self._db.frame("staff", columns=["team"]).team, "team")
        column = {"source": "source", "segment": "kind"}[by]
        return DealKey.through(deals.customer_id, self._db.frame("customers", columns=[column])[column], by)

    # -- reports over the deals and their stage history -----------------------
    def time_in_stage(self, by: str | None = None, as_of: Any = None, period: str | None = None) -> pd.DataFrame:
        """How long deals stay in each stage: per stage (in pipeline order)
        the number of stays, their mean and median in days, optionally per
        ``by`` (one of :data:`BY`) as well. A stay lasts from its deal_stages
        row until the deal's next row, or until ``as_of`` for the stage a deal
        is in now (default ``db.default_as_of()``, the end of the data); won and lost
        are where a deal ends, not stays, so they are left out, as is history
        after ``as_of``. Every stay, one row per history row, is in
        ``result.attrs["stays"]`` (deal_id, stage, changed_at, days). Durations
        are measured in C++ over the history columns. ``period``
        (``"month"``, ``"quarter"``, ``"year"`` or a pandas alias) groups the
        stays by when their deal was made (its first stage row), a leading
        index level named ``created``; with ``by`` too the index is
        (created, by, stage).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> d = db.add("deals", customer_id=c, stage="lead", stage_changed_at="2024-01-01")
        >>> db.sales.move(d, "proposal", at="2024-01-11"); db.sales.move(d, "won", at="2024-01-15")
        >>> db.sales.time_in_stage(as_of="2024-02-01")["mean_days"].to_dict()
        {'lead': 10.0, 'proposal': 4.0}
        >>> db.sales.time_in_stage(as_of="2024-02-01", period="quarter")["stays"].to_dict()
        {(Period('2024Q1', 'Q-DEC'), 'lead'): 1, (Period('2024Q1', 'Q-DEC'), 'proposal'): 1}
        """
        period = None if period is None else _period(period, "time_in_stage", words=PERIODS)
        cut = self._as_of(as_of, where="time_in_stage")
        deals = self._deals(by)
        hist = self._db.frame("deal_stages", columns=["deal_id", "stage", "changed_at"])
        ids = deals.index.to_numpy()
        code = _codes(ids, hist.deal_id)  # every history row has its deal: deleting one deletes its history
        category = self._categories()
        terminal = hist.stage.isin(category.index[category != "open"]).to_numpy()
        days = _core.stage_days(code, times_ns(hist.changed_at), terminal.astype(np.uint8), len(ids), cut)
        stays = hist.assign(days=days).loc[~np.isnan(days)].copy()
        groups = [] if by is None else [by]
        if by is not None:
            stays.insert(0, by, deals[by].to_numpy()[_codes(ids, stays.deal_id)])
        if period is not None:
            stays.insert(0, "created", self._created(period).reindex(stays.deal_id).to_numpy())
            groups.insert(0, "created")
        out = _grouped_stats(stays, groups + ["stage"], "days", "stays")
        order = {name: i for i, name in enumerate(category.index)}
        rank = out.index.get_level_values("stage").map(lambda x: order.get(x, len(order)))
        # np.lexsort's last key leads: the group levels, outer first, then the stage's place.
        leading = [pd.factorize(out.index.get_level_values(g), sort=True)[0] for g in reversed(groups)]
        out = out.iloc[np.lexsort([np.asarray(rank)] + leading)]
        out.attrs["stays"] = stays.reset_index(drop=True)
        out.attrs["as_of"] = pd.Timestamp(cut)
        return out

    def win_rate(self, by: str | None = None, period: str | None = None, as_of: Any = None) -> pd.DataFrame:
        """Won / (won + lost) of the deals closed up to ``as_of`` (default
        ``db.default_as_of()``, the end of the data), per ``by`` (one of
        :data:`BY`) and/or per ``period`` of close (a pandas period alias such
        as ``"M"`` or ``"Q"``); open deals (a deal closed after ``as_of`` was
        open then) count nowhere. Counted in C++. One row per group (indexed
        by ``by`` and/or the period), columns ``won``, ``lost`` and
        ``win_rate``; ``attrs["as_of"]`` is the point used.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> a, b, d = (db.add("deals", customer_id=c, stage="lead") for _ in range(3))
        >>> db.sales.move(a, "won", at="2024-01-05"); db.sales.move(b, "lost", at="2024-02-01")
        >>> rates = db.sales.win_rate(period="M")
        >>> rates.index.astype(str).tolist(), rates["win_rate"].tolist(), rates["lost"].tolist()
        (['2024-01', '2024-02'], [1.0, 0.0], [0, 1])
        >>> db.sales.win_rate(as_of="2024-01-31")["won"].tolist()    # the loss came later
        [1]
        """
        period = None if period is None else _period(period, "win_rate", words=PERIODS)
        cut = self._as_of(as_of, where="win_rate")
        deals = self._deals(by, cut)
        outcome = np.where(deals.category == "won", 1, np.where(deals.category == "lost", 0, -1)).astype(np.int8)
        group, index = self._groups(deals, by, period, outcome >= 0)
        won, lost = _core.win_loss(group, outcome, len(index))
        out = pd.DataFrame({"won": won, "lost": lost}, index=index)
        out["win_rate"] = out.won / (out.won + out.lost)
        return stamp(out, cut)

    def cycle_length(self, by: str | None = None, period: str | None = None, as_of: Any = None) -> pd.DataFrame:
        """Days from a closed deal's first stage (its first deal_stages row)
        to its close (closed_at), won and lost alike, over the deals closed
        up to ``as_of`` (default ``db.default_as_of()``): count, mean and
        median per ``by`` (one of :data:`BY`) and/or ``period`` of close.
        Each deal's days are in ``result.attrs["deals"]``, the point used in
        ``attrs["as_of"]``. Counted in C++.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> a = db.add("deals", customer_id=c, stage="lead", stage_changed_at="2024-01-01")
        >>> b = db.add("deals", customer_id=c, stage="lead", stage_changed_at="2024-01-01")
        >>> db.sales.move(a, "won", at="2024-01-11"); db.sales.move(b, "lost", at="2024-01-31")
        >>> db.sales.cycle_length().iloc[0].tolist()
        [2.0, 20.0, 20.0]
        >>> db.sales.cycle_length(as_of="2024-01-20").iloc[0].tolist()
        [1.0, 10.0, 10.0]
        """
        period = None if period is None else _period(period, "cycle_length", words=PERIODS)
        cut = self._as_of(as_of, where="cycle_length")
        deals = self._deals(by, cut)
        hist = self._db.frame("deal_stages", columns=["deal_id", "changed_at"])
        hist = hist[times_ns(hist.changed_at) <= cut]
        ids = deals.index.to_numpy()
        first = _core.first_at(_codes(ids, hist.deal_id),
                               times_ns(hist.changed_at), len(ids))
        closed = deals.category.isin(["won", "lost"]).to_numpy() & deals.closed_at.notna().to_numpy()
        closed &= first != np.iinfo(np.int64).min
        days = np.full(len(ids), np.nan)
        days[closed] = days_between(times_ns(deals.closed_at)[closed], first[closed])
        group, index = self._groups(deals, by, period, closed)
        out = _stats(group, days, index, "deals", "days")
        out.attrs["deals"] = pd.Series(days[closed], index=deals.index[closed], name="days")
        return stamp(out, cut)

    def velocity(self, by: str | None = None, as_of: Any = None, period: str | None = None) -> pd.DataFrame:
        """Sales velocity, the amount the pipeline turns into wins per day:
        ``open_deals`` x ``avg_won`` (mean amount of the won deals) x
        ``win_rate`` / ``cycle_days`` (mean days from first stage to close,
        as :meth:`cycle_length`), per ``by`` (one of :data:`BY`; None: one
        row, "all"), as the deals stood at ``as_of`` (default
        ``db.default_as_of()``; reported in ``attrs["as_of"]``). Groups with
        no closed deal have NaN. With ``period`` (a pandas alias) one row per
        close period (and ``by`` group): the won amount, win rate and cycle
        of the deals closed in it, and the deals open at its end (or at
        ``as_of``, if sooner).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> a, b = (db.add("deals", customer_id=c, stage="lead", amount=900.0, stage_changed_at="2024-01-01")
        ...         for _ in range(2))
        >>> db.sales.move(a, "won", at="2024-01-11"); db.sales.move(b, "lost", at="2024-01-31")
        >>> _ = [db.add("deals", customer_id=c, stage="lead", amount=50.0) for _ in range(4)]
        >>> db.sales.velocity().loc["all"].tolist()    # 4 open x 900 x 0.5 / 20 days
        [4.0, 900.0, 0.5, 20.0, 90.0]
        >>> db.sales.velocity(as_of="2024-01-20").loc["all"].tolist()  # only b open then (the leads came today)
        [1.0, 900.0, 1.0, 10.0, 90.0]
        """
        period = None if period is None else _period(period, "velocity", words=PERIODS)
        cut = self._as_of(as_of, where="velocity")
        if period is not None:
            return self._velocity_by_period(by, period, cut)
        deals = self._deals(by, cut)
        key = deals[by] if by is not None else pd.Series("all", index=deals.index)
        point = pd.Timestamp(cut)  # a date, not the nanoseconds: a bare number is no as_of
        rates, cycle = self.win_rate(by, as_of=point), self.cycle_length(by, as_of=point)
        if by is None:  # one group, positionally indexed there
            rates.index = pd.Index(["all"] * len(rates))
            cycle.index = pd.Index(["all"] * len(cycle))
        out = pd.DataFrame({"open_deals": (deals.category == "open").groupby(key).sum(),
                            "avg_won": deals.amount.astype(float).where(deals.category == "won").groupby(key).mean()})
        out["win_rate"] = rates["win_rate"].reindex(out.index)
        out["cycle_days"] = cycle["mean_days"].reindex(out.index)
        out["velocity"] = out.open_deals * out.avg_won * out.win_rate / out.cycle_days.where(out.cycle_days > 0)
        out.index.name = by
        return stamp(out, cut)

    def _velocity_by_period(self, by: str | None, period: str, cut: int) -> pd.DataFrame:
        """:meth:`velocity` per close period: the closed deals' figures per
        (period, group), the open deals counted as they stood at each
        period's end (a few periods: one look at the deals each)."""
        point = pd.Timestamp(cut)  # a date, not the nanoseconds: a bare number is no as_of
        rates, cycle = self.win_rate(by, period, as_of=point), self.cycle_length(by, period, as_of=point)
        deals = self._deals(by, cut)
        won = deals[(deals.category == "won") & deals.closed_at.notna()]
        keys = [won.closed_at.dt.to_period(period).rename("closed")] + ([won[by]] if by else [])
        avg = won.amount.astype(float).groupby(keys).mean()
        index = rates.index
        closed = index.get_level_values("closed") if by else index
        open_deals = np.zeros(len(index))
        for p in pd.unique(np.asarray(closed, dtype=object)):
            then = self._deals(by, min(int(p.end_time.value), cut))
            is_open = (then.category == "open").astype(np.int64)
            mine = np.asarray(closed == p)
            if by:
                counts = is_open.groupby(then[by]).sum()
                open_deals[mine] = counts.reindex(index[mine].get_level_values(by), fill_value=0).to_numpy()
            else:
                open_deals[mine] = is_open.sum()
        out = pd.DataFrame({"open_deals": open_deals, "avg_won": avg.reindex(index).to_numpy(),
                            "win_rate": rates["win_rate"].to_numpy(),
                            "cycle_days": cycle["mean_days"].reindex(index).to_numpy()}, index=index)
        out["velocity"] = out.open_deals * out.avg_won * out.win_rate / out.cycle_days.where(out.cycle_days > 0)
        return stamp(out, cut)

    def slipped(self, as_of: Any = None, since: Any = None, by: str | None = None,
                period: str | None = None) -> pd.DataFrame:
        """Deals whose close slipped: their expected close was moved later
        (each change is a deal_close_dates row, written by the store on
        every write of the date), or they are still open with that date
        passed on ``as_of`` (default the end of the data), a slip not yet
        written down. Only changes made by ``as_of`` count, and pushes only
        from ``since`` on (default: all).

        One row per deal, the most pushed first: ``owner_id``, ``stage``,
        ``amount``, ``first_close`` (the date before its first push in the
        window), ``expected_close`` (as it stood on ``as_of``), ``pushes``,
        ``days_pushed`` (their total), ``last_moved_at`` and ``days_late``
        (open deals past their date; NaN otherwise). With ``by`` (one of
        :data:`BY`) and/or ``period`` (a pandas alias, the period of the
        last push) the pushed deals are summed per group instead: ``deals``,
        ``mean_days``, ``median_days`` (of days pushed), ``pushes`` and
        ``amount``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> d = db.add("deals", customer_id=c, stage="proposal", amount=9.0, expected_close="2024-01-31",
        ...            close_changed_at="2024-01-02")
        >>> db.update("deals", d, expected_close="2024-03-01", close_changed_at="2024-01-25")
        >>> late = db.add("deals", customer_id=c, stage="lead", expected_close="2024-01-01")
        >>> s = db.sales.slipped(as_of="2024-01-31")
        >>> s[["pushes", "days_pushed", "days_late"]].values.tolist()
        [[1.0, 30.0, nan], [0.0, 0.0, 30.0]]
        """
        period = None if period is None else _period(period, "slipped", words=PERIODS)
        cut = self._as_of(as_of, where="slipped")
        deals = self._deals(by)
        ids = deals.index.to_numpy()
        hist = self._db.frame("deal_close_dates", columns=["deal_id", "expected_close", "previous", "changed_at"])
        slips = close_slips(hist, ids, times_ns(deals.expected_close), cut, as_of_ns(since, "since", "slipped"))
        is_open = (deals.category == "open").to_numpy() & (slips["expected_close"] != _NAT)
        late = _core.days_late(slips["expected_close"], is_open.astype(np.uint8), cut)
        pushed = slips["pushes"] > 0
        if by is not None or period is not None:
            keys = {}
            if period is not None:
                keys["moved"] = pd.Series(slips["last_moved_at"], index=deals.index).where(pushed).astype(
                    "datetime64[ns]").dt.to_period(period)
            if by is not None:
                keys[by] = deals[by]
            group, index = _group_codes(keys, pushed)
            out = _stats(group, slips["days_pushed"], index, "deals", "days")
            mine = group >= 0
            out["pushes"] = np.bincount(group[mine], weights=slips["pushes"][mine], minlength=len(index)).astype(int)
            out["amount"] = np.bincount(group[mine], weights=deals.amount.fillna(0).to_numpy(float)[mine],
                                        minlength=len(index))
            out.attrs["as_of"] = pd.Timestamp(cut)
            return out
        keep = pushed | ~np.isnan(late)
        out = deals.loc[keep, ["owner_id", "stage", "amount"]]
        for name in ("first_close", "expected_close", "last_moved_at"):
            out[name] = slips[name][keep].view("datetime64[ns]")  # int64 min is NaT
        out["pushes"] = slips["pushes"][keep]
        out["days_pushed"] = slips["days_pushed"][keep]
        out["days_late"] = late[keep]
        out = out.sort_values(["days_pushed", "days_late"], ascending=False, kind="stable", na_position="last")
        out.attrs["as_of"] = pd.Timestamp(cut)
        return out

    def forecast(self, period: str = "M", by: str | None = "owner", commit: float = 0.75,
                 best_case: float = 0.5, as_of: Any = None) -> pd.DataFrame:
        """The forecast per close period and ``by`` (one of :data:`BY`, or
        None): open deals fall in the period of their ``expected_close``, won
        deals in that of their ``closed_at``. Columns: ``won`` (closed won
        amount), ``open_deals``, ``pipeline`` (open amount), ``weighted``
        (amount × probability), ``commit`` (open deals with probability ≥
        ``commit``: by default the negotiation stage and later) and
        ``best_case`` (probability ≥ ``best_case``, commit included). A deal
        without a probability takes its stage's default; a missing amount
        counts 0; lost deals and open deals without an expected close are
        left out. The deals are taken as they stood at ``as_of`` (default
        ``db.default_as_of()``; in ``attrs["as_of"]``): a deal closed later
        is open, in the stage it was in then, with that stage's probability.
        Summed in C++.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("deals", customer_id=c, stage="negotiation", amount=100.0, expected_close="2024-03-05")
        >>> _ = db.add("deals", customer_id=c, stage="lead", amount=50.0, expected_close="2024-03-20")
        >>> db.sales.forecast(by=None).loc["2024-03", ["pipeline", "weighted", "commit", "best_case"]].tolist()
        [150.0, 80.0, 100.0, 100.0]
        """
        period = _period(period, "forecast", words=PERIODS)
        cut = self._as_of(as_of, where="forecast")
        return stamp(forecast_table(self._deals(by, cut), period, by, commit, best_case), cut)

    def _as_of(self, as_of: Any, where: str | None = None) -> int:
        given = as_of_ns(as_of, where=where)  # None only when as_of is None
        return given if given is not None else int(self._db.default_as_of().value)

    def _categories(self) -> pd.Series:
        """Category of every stage name of every pipeline (names shared by
        pipelines share a category in the seeded ones)."""
        s = self._db.frame("pipeline_stages", columns=["pipeline_id", "name", "position", "category"])
        s = s.sort_values(["pipeline_id", "position"], kind="stable")
        return s.drop_duplicates("name").set_index("name").category

    def _created(self, period: str) -> pd.Series:
        """The period each deal was made in: the time of its first stage row
        (the store writes one when the deal is added), per deal id."""
        freq = PERIODS.get(period, period)
        h = self._db.frame("deal_stages", columns=["deal_id", "changed_at"])
        first = h.groupby("deal_id").changed_at.min()
        try:
            return first.dt.to_period(freq)
        except (ValueError, TypeError) as e:
            raise _core.ValidationError(f"period={period!r} is not a period (one of: {', '.join(PERIODS)}, "
                                        f"or a pandas alias such as 'M'): {e}") from None

    def _deals(self, by: str | None, cut: int | None = None) -> pd.DataFrame:
        """Every deal with its stage's category, a probability (the stage's
        default where missing) and the ``by`` column; with ``cut`` (ns) as
        the deals stood then (:meth:`_at`)."""
        if by is not None and by not in BY:
            raise _core.ValidationError(f"by={by!r} is not a grouping of the sales reports (one of: {', '.join(BY)})")
        deals = self._db.frame("deals", columns=["customer_id", "pipeline_id", "stage", "amount", "probability",
                                                 "expected_close", "closed_at", "owner_id"])
        s = self._db.frame("pipeline_stages", columns=["pipeline_id", "name", "probability", "category"])
        key = pd.MultiIndex.from_arrays([deals.pipeline_id, deals.stage])
        s = s.set_index(["pipeline_id", "name"])
        at = s.index.get_indexer(key)
        deals["category"] = np.where(at >= 0, s.category.to_numpy()[at], "open")
        default = np.where(at >= 0, s.probability.to_numpy(dtype=float, na_value=np.nan)[at], np.nan)
        deals["probability"] = deals.probability.astype(float).fillna(pd.Series(default, index=deals.index))
        if cut is not None:
            deals = self._at(deals, s, cut)
        if by == "owner":
            deals["owner"] = deals.owner_id
        elif by == "team":
            staff = self._db.frame("staff", columns=["team"]).team
            deals["team"] = deals.owner_id.map(staff)
        elif by in ("source", "segment", "region"):
            column = {"source": "source", "segment": "kind", "region": "region"}[by]
            deals[by] = deals.customer_id.map(self._db.frame("customers", columns=[column])[column])
        return deals

    def _at(self, deals: pd.DataFrame, stages: pd.DataFrame, cut: int) -> pd.DataFrame:
        """``deals`` as they stood at ``cut``, from the histories the store
        keeps in the data's own time. A deal whose first stage row is later
        did not exist yet (a deal without stage rows is kept: its start is
        unknown). A deal that moved or closed later is in the stage of its
        last row up to ``cut`` (its stage now if none), with that stage's
        category, its default probability (the deal's own is today's, unless
        the stage is still the same) and, when that stage closed it, the
        close of that time; a deal closed later without a row up to
        ``cut`` was open then. The expected
        close is the one before its first change after ``cut``
        (deal_close_dates, :meth:`_close_dates_at`). The amount is today's: the store keeps no dated
        history of it (the audit log dates a write by the clock, and an
        imported history is all dated by its import)."""
        if cut >= self._db.default_as_of().value:
            return deals  # nothing is dated after the end of the data (stages, closes, close dates)
        hist = self._db.frame("deal_stages", columns=["deal_id", "stage", "changed_at"])
        at = times_ns(hist.changed_at)
        started = set(hist.deal_id[at <= cut].tolist())
        born_later = deals.index.isin(hist.deal_id) & ~deals.index.isin(list(started))
        deals = deals[~born_later].copy()
        deals = self._close_dates_at(deals, cut)
        closed_later = deals.category.isin(["won", "lost"]).to_numpy(dtype=bool) & (times_ns(deals.closed_at) > cut)
        redo = closed_later | deals.index.isin(hist.deal_id[at > cut])
        if not redo.any():
            return deals
        before = hist[at <= cut].sort_values("changed_at", kind="stable").drop_duplicates("deal_id", keep="last")
        before = before.set_index("deal_id").reindex(deals.index[redo])
        now_stage = deals.stage[redo]
        stage = before.stage.fillna(now_stage)
        key = pd.MultiIndex.from_arrays([deals.pipeline_id[redo], stage])
        pos = stages.index.get_indexer(key)
        category = np.where(pos >= 0, stages.category.to_numpy()[pos], "open")
        # Closed then by its last row up to cut; without rows, a deal that
        # closed later was open.
        closed_then = np.isin(category, ["won", "lost"]) & (before.stage.notna().to_numpy() | ~closed_later[redo])
        category = np.where(np.isin(category, ["won", "lost"]) & ~closed_then, "open", category)
        default = np.where(pos >= 0, stages.probability.to_numpy(dtype=float, na_value=np.nan)[pos], np.nan)
        same = (stage.to_numpy() == now_stage.to_numpy()) & (closed_then | ~closed_later[redo])
        closed_at = deals.closed_at[redo]
        closed_at = closed_at.where(closed_at.notna() & (times_ns(closed_at) <= cut), before.changed_at)
        deals.loc[redo, "stage"] = stage.to_numpy()
        deals.loc[redo, "category"] = category
        deals.loc[redo, "probability"] = np.where(same, deals.probability[redo].to_numpy(dtype=float), default)
        deals.loc[redo, "closed_at"] = closed_at.where(closed_then, pd.NaT).to_numpy()
        return deals

    def _stored_at(self, cut: int) -> pd.DataFrame:
        """The stored deals frame (every field) as it stood at ``cut`` (ns),
        for the customer analyses' deal_quadrants and deal_summary: the
        stage, close and expected close :meth:`_at` reads from the histories
        laid over today's; a deal whose stage then was another has that
        stage's default probability. A deal begun after ``cut`` is kept as it
        is (those analyses always listed every deal, and a deal added without
        ``stage_changed_at`` has a first stage row dated by the clock, after
        every point of an imported history)."""
        deals = self._db.frame("deals")
        then = self._deals(None, cut)
        mine = deals.index.isin(then.index)
        ids = deals.index[mine]
        other = np.zeros(len(deals), dtype=bool)
        other[mine] = then.stage.reindex(ids).to_numpy() != deals.stage[mine].to_numpy()
        for name in ("stage", "closed_at", "expected_close"):
            deals.loc[mine, name] = then[name].reindex(ids).to_numpy()
        deals.loc[other, "probability"] = then.probability.reindex(deals.index[other]).to_numpy()
        return deals

    def _close_dates_at(self, deals: pd.DataFrame, cut: int) -> pd.DataFrame:
        """``deals`` with the expected close each had at ``cut``: the date
        before its first change after ``cut``, where it changed since. A
        date's first writing is no change: a deal added without
        ``close_changed_at`` is dated by the clock, after every point of
        an imported history, and its date was the plan from the start."""
        dates = self._db.frame("deal_close_dates", columns=["deal_id", "previous", "changed_at"])
        dates = dates[dates.previous.notna()]
        after = dates[times_ns(dates.changed_at) > cut].sort_values("changed_at", kind="stable")
        after = after.drop_duplicates("deal_id", keep="first").set_index("deal_id")
        mine = deals.index.isin(after.index)
        if mine.any():
            deals.loc[mine, "expected_close"] = after.previous.reindex(deals.index[mine]).to_numpy()
        return deals

    @staticmethod
    def _groups(deals: pd.DataFrame, by: str | None, period: str | None,
                rows: np.ndarray) -> "tuple[np.ndarray, pd.Index]":
        """Group codes of the chosen ``rows`` (others -1) by ``by`` and the
        period of close, and the index naming each code."""
        keys = {}
        if period is not None:
            keys["closed"] = deals.closed_at.dt.to_period(period)
        if by is not None:
            keys[by] = deals[by]
        return _group_codes(keys, rows)

    def _stages(self, pipeline: "int | str | None") -> "tuple[pd.DataFrame, int]":
        """The pipeline's stages in order, and its id (default: the default pipeline)."""
        p = self._db.frame("pipelines", columns=["name", "is_default"])
        if pipeline is None:
            flagged = p.index[p.is_default.fillna(False).astype(bool)]
            pid = int(flagged[0] if len(flagged) else p.index[0])
        elif isinstance(pipeline, str):
            named = p.index[p.name == pipeline]
            if not len(named):
                raise _core.NotFound(f"no pipeline named {pipeline!r} (pipelines: {', '.join(p.name)})")
            pid = int(named[0])
        else:
            pid = _record_id(pipeline, "funnel", "pipeline")
            if pid not in p.index:
                raise _core.NotFound(f"no pipeline with id {pid} (pipelines: {', '.join(map(str, p.index))})")
        s = self._db.frame("pipeline_stages", columns=["pipeline_id", "name", "position", "probability", "category"])
        s = s[s.pipeline_id == pid].sort_values(["position"], kind="stable")
        return s, pid



def _codes(ids: np.ndarray, values: Any) -> np.ndarray:
    """The position of each of ``values`` in the sorted unique ``ids``, -1
    where absent. Store ids are dense enough for a lookup table, one read per
    value; a binary search per value over a million ids costs ten times more."""
    values = np.asarray(values, dtype=np.int64)
    if not len(ids) or not len(values):
        return np.full(len(values), -1, dtype=np.int64)
    lo, hi = int(min(ids.min(), values.min())), int(max(ids.max(), values.max()))
    if lo >= 0 and hi < 4 * (len(ids) + len(values)) + 1024:
        table = np.full(hi + 1, -1, dtype=np.int64)
        table[ids] = np.arange(len(ids))
        return table[values]
    pos = np.minimum(np.searchsorted(ids, values), len(ids) - 1)
    return np.where(ids[pos] == values, pos, -1).astype(np.int64)


def _group_codes(keys: "dict[str, pd.Series]", rows: np.ndarray) -> "tuple[np.ndarray, pd.Index]":
    """Dense codes for the distinct ``keys`` among ``rows`` (other rows and
    rows with a missing key: -1), in sorted order, and the index naming each
    code; no keys is one group. Each key is factorized on its own and the
    codes combined into one integer, which sorts as the keys do: far cheaper
    than hashing tuples of a MultiIndex."""
    rows = np.asarray(rows, dtype=bool)
    if not keys:
        return np.where(rows, 0, -1).astype(np.int64), pd.RangeIndex(1)
    codes, levels = [], []
    for col in keys.values():
        code, uniques = pd.factorize(col, sort=True)
        codes.append(code)
        levels.append(pd.Index(uniques))
        rows = rows & (code >= 0)
    combined = np.zeros(int(rows.sum()), dtype=np.int64)
    for code, level in zip(codes, levels):  # at most two keys: the product of their sizes stays small
        combined = combined * max(len(level), 1) + code[rows]
    inverse, distinct = pd.factorize(combined, sort=True)  # hashing: cheaper than np.unique's sort
    group = np.full(len(rows), -1, dtype=np.int64)
    group[rows] = inverse
    parts = []
    for level in reversed(levels):
        parts.append(distinct % max(len(level), 1))
        distinct = distinct // max(len(level), 1)
    parts.reverse()
    names = list(keys)
    if len(keys) == 1:
        return group, pd.Index(levels[0].take(parts[0]), name=names[0])
    return group, pd.MultiIndex(levels=levels, codes=parts, names=names)


def _grouped_stats(rows: pd.DataFrame, keys: "list[str]", value: str, count: str) -> pd.DataFrame:
    """Count, mean and median of ``value`` per ``keys``."""
    group, index = _group_codes({k: rows[k] for k in keys}, np.ones(len(rows), dtype=bool))
    return _stats(group, rows[value].to_numpy(dtype=float), index, count, value)


def _stats(group: np.ndarray, values: np.ndarray, index: pd.Index, count: str, value: str) -> pd.DataFrame:
    """Count, mean and median of ``values`` per group code (the scoring
    kernel group_stats, in C++), one row per entry of ``index``."""
    mine = group >= 0
    r = _core.group_stats(group[mine], [values[mine]], True)
    n, total, median = np.zeros(len(index), dtype=np.int64), np.zeros(len(index)), np.full(len(index), np.nan)
    n[r["key"]], total[r["key"]], median[r["key"]] = r["count"][0], r["sum"][0], r["median"][0]
    mean = np.divide(total, n, out=np.full(len(index), np.nan), where=n > 0)
    return pd.DataFrame({count: n, f"mean_{value}": mean, f"median_{value}": median}, index=index)


_NAT = np.iinfo(np.int64).min


def close_slips(history: pd.DataFrame, deal_ids: np.ndarray, current: np.ndarray, as_of: int,
                since: "int | None" = None) -> "dict[str, np.ndarray]":
    """Per deal of the sorted ``deal_ids``, from its expected-close history
    (columns deal_id, expected_close, previous, changed_at): the date as it
    stood at ``as_of`` (nanoseconds; the deal's ``current`` date where it has
    no history by then), and of its pushes (a change to a later date) made
    from ``since`` to ``as_of``: the count, total days, the date before the
    first and when the last was made. Dates are int64 nanoseconds, int64 min
    where there is none.

    >>> h = pd.DataFrame({"deal_id": [1, 1, 1],
    ...                   "changed_at": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-02-01"]),
    ...                   "expected_close": pd.to_datetime(["2024-01-10", "2024-01-20", "2024-01-15"]),
    ...                   "previous": pd.to_datetime([None, "2024-01-10", "2024-01-20"])})
    >>> s = close_slips(h, np.array([1]), np.array([_NAT]), pd.Timestamp("2024-03-01").value)
    >>> s["pushes"].tolist(), s["days_pushed"].tolist(), pd.Timestamp(s["expected_close"][0]).date().isoformat()
    ([1], [10.0], '2024-01-15')
    """
    n = len(deal_ids)
    at = times_ns(history["changed_at"])
    seen = np.flatnonzero(at <= as_of)
    order = seen[np.lexsort((np.asarray(history.index)[seen], at[seen]))]  # by time, then as written
    code = _codes(np.asarray(deal_ids, dtype=np.int64), np.asarray(history["deal_id"])[order])
    at, new, old = at[order], times_ns(history["expected_close"])[order], times_ns(history["previous"])[order]
    close = np.array(current, dtype=np.int64, copy=True)
    mine = code >= 0
    rev_code = code[mine][::-1]
    deals, last = np.unique(rev_code, return_index=True)   # each deal's last change by as_of
    close[deals] = new[mine][::-1][last]
    push = mine & (new != _NAT) & (old != _NAT) & (new > old)
    if since is not None:
        push &= at >= since
    pc = code[push]
    pushes = np.bincount(pc, minlength=n)
    days = np.bincount(pc, weights=days_between(new[push], old[push]), minlength=n)
    first_close, last_moved = np.full(n, _NAT, dtype=np.int64), np.full(n, _NAT, dtype=np.int64)
    d, first = np.unique(pc, return_index=True)
    first_close[d] = old[push][first]
    d, last = np.unique(pc[::-1], return_index=True)
    last_moved[d] = at[push][::-1][last]
    return {"expected_close": close, "pushes": pushes, "days_pushed": days, "first_close": first_close,
            "last_moved_at": last_moved}


def funnel_table(history: pd.DataFrame, deal_ids: np.ndarray, steps: "list[str]") -> pd.DataFrame:
    """The funnel of :meth:`SalesMethods.funnel` from stage-history rows
    (columns deal_id, stage), the sorted ids of the pipeline's deals and its
    funnel steps in order: the work without the store, for benchmarks.

    >>> h = pd.DataFrame({"deal_id": [1, 1, 2], "stage": ["lead", "won", "lead"]})
    >>> funnel_table(h, np.array([1, 2]), ["lead", "proposal", "won"])["deals"].tolist()
    [2, 1, 1]
    """
    ids = np.asarray(deal_ids, dtype=np.int64)
    code = _codes(ids, history["deal_id"])
    mine = code >= 0
    step = pd.Index(steps).get_indexer(history["stage"]).astype(np.int32)
    reached = _core.funnel_reached(code[mine], step[mine], len(ids), len(steps))
    out = pd.DataFrame({"deals": reached}, index=pd.Index(steps, name="stage"))
    nxt = np.append(reached[1:], np.nan).astype(float)
    out["to_next"] = np.divide(nxt, reached, out=np.full(len(reached), np.nan), where=reached > 0)
    return out


def forecast_table(deals: pd.DataFrame, period: str = "M", by: str | None = "owner", commit: float = 0.75,
                   best_case: float = 0.5) -> pd.DataFrame:
    """The forecast of :meth:`SalesMethods.forecast` from a deals frame with
    columns category (open / won / lost), amount, probability,
    expected_close, closed_at and ``by``: the work without the store, so a
    benchmark can time it against pandas on the same frame.

    >>> deals = pd.DataFrame({"category": ["open", "won"], "amount": [10.0, 5.0], "probability": [0.8, 1.0],
    ...                       "expected_close": pd.to_datetime(["2024-01-09", None]),
    ...                       "closed_at": pd.to_datetime([None, "2024-01-02"])})
    >>> forecast_table(deals, by=None).loc["2024-01", ["won", "weighted", "commit"]].tolist()
    [5.0, 8.0, 10.0]
    """
    commit = _number(commit, "forecast", "commit", low=0, high=1)
    best_case = _number(best_case, "forecast", "best_case", low=0, high=1)
    is_open, won = deals["category"].eq("open").to_numpy(dtype=bool), deals["category"].eq("won").to_numpy(dtype=bool)
    code = np.select([is_open, won], [0, 1], 2).astype(np.int8)
    when = deals["expected_close"].where(code == 0, deals["closed_at"])
    keys = {"period": pd.to_datetime(when).dt.to_period(period)}
    if by is not None:
        keys[by] = deals[by]
    group, index = _group_codes(keys, code < 2)
    n, won, pipeline, weighted, committed, best = _core.forecast_sums(
        group, deals["amount"].to_numpy(dtype=float, na_value=np.nan),
        deals["probability"].to_numpy(dtype=float, na_value=np.nan), code, len(index), commit, best_case)
    return pd.DataFrame({"won": won, "open_deals": n, "pipeline": pipeline, "weighted": weighted,
                         "commit": committed, "best_case": best}, index=index)
