"""Marketing, grouped on ``db.marketing``: segments saved as queries (over
fields, tags and scores), campaign effect against a control group with
confidence intervals, and prospects (customers who never bought) scored by
look-alike buyers with the products those buyers took.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from . import _core, _segments
from ._args import _count, _days, _number
from ._convert import empty_frame, typed
from ._segments import SCORES
from .scoring._columns import LAST_TIME, as_of_timestamp, shifted, stamp, times_ns
from .scoring.dimensions import NONE

_Z95 = 1.959963984540054
#: The columns of a portrait and their dtypes, with or without customers
#: (every row is a customer's: customer_id is never missing).
PORTRAIT_DTYPES = {"customer_id": "int64", "tag": "str", "reason": "str"}


class MarketingMethods:
    """The marketing side of a store: ``db.marketing.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> a = db.add("customers", name="Ann", region="East", tags=["vip"])
    >>> _ = db.marketing.save_segment("east vip", [("region", "==", "East")], tag="vip")
    >>> db.marketing.segment("east vip").tolist() == [a]
    True
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<marketing of {self._db!r}>"

    # -- segments ------------------------------------------------------------
    def save_segment(self, name: str, filters: Any = None, *, scores: Any = None, description: str | None = None,
                     **criteria: Any) -> int:
        """Save (or replace) the customer segment `name`: a saved query in
        the form of ``db.find`` (``filters`` as (field, op, value) tuples,
        keyword criteria such as ``tag="vip"`` or ``region=[...]``) and
        `scores`, conditions on computed scores as (score, op, value) with a
        score from :data:`SCORES` (rfm_segment, r_score, ..., lifecycle,
        lifetime_value, p_alive, health); ``description`` is kept with it.
        The rule is checked by running it once: an unknown field or score
        raises and nothing is saved. Returns the segment's id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.marketing.save_segment("buyers", scores=[("frequency", ">", 0)])
        >>> db.frame("segments")["name"].tolist()
        ['buyers']
        """
        rule = {"filters": [list(f) for f in _as_list(filters)], "criteria": criteria,
                "scores": [list(s) for s in _as_list(scores)]}
        _segments.evaluate(self._db, rule)  # refuses a bad rule before anything is written
        text = json.dumps(rule, ensure_ascii=False, default=str)
        found = self._db.find("segments", name=name)
        found = found[found.name == name]
        if len(found):
            self._db.update("segments", int(found.index[0]), filters=text, description=description)
            return int(found.index[0])
        return self._db.add("segments", name=name, kind="customers", filters=text, description=description)

    def segment(self, name: str) -> pd.Index:
        """The ids of the customers in segment `name` now.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.add("customers", name="Ann", tier="gold")
        >>> _ = db.marketing.save_segment("gold", tier="gold")
        >>> len(db.marketing.segment("gold"))
        1
        """
        return _segments.evaluate(self._db, self._rule(name)[1])

    def refresh_segment(self, name: str, tag: bool = True) -> pd.DataFrame:
        """Evaluate segment `name`, compare with its last evaluation and keep
        the members: returns one row per customer who is in it now or was
        before, with ``change`` "entered", "stayed" or "left". With `tag`,
        members carry the tag ``segment:<name>`` (and leavers lose it), so
        ``db.find("customers", tag="segment:<name>")`` finds them.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a = db.add("customers", name="Ann", tier="gold")
        >>> _ = db.marketing.save_segment("gold", tier="gold")
        >>> db.marketing.refresh_segment("gold")["change"].tolist()
        ['entered']
        >>> db.update("customers", a, tier="silver")
        >>> db.marketing.refresh_segment("gold")["change"].tolist()
        ['left']
        """
        sid, rule, before = self._rule(name)
        now = _segments.evaluate(self._db, rule)
        ids = sorted(set(before) | set(now.tolist()))
        change = ["stayed" if i in before and i in now else "entered" if i in now else "left" for i in ids]
        out = pd.DataFrame({"change": change}, index=pd.Index(ids, name="customer_id"))
        with self._db.transaction():
            if tag:
                label = "segment:" + name
                left = out.index[out.change == "left"].tolist()
                if len(now):
                    self._db.add_tags("customers", now.tolist(), label)
                if left:
                    self._db.remove_tags("customers", left, label)
            self._db.update("segments", sid, members=json.dumps(now.tolist()),
                            evaluated_at=pd.Timestamp.now("UTC"))
        return out

    def _rule(self, name: str) -> "tuple[int, dict, list]":
        found = self._db.find("segments", name=name)
        found = found[found.name == name]
        if found.empty:
            known = ", ".join(self._db.frame("segments").name.tolist()) or "none saved"
            raise _core.NotFound(f"no segment {name!r} (segments: {known})")
        row = found.iloc[0]
        members = json.loads(row.members) if isinstance(row.members, str) else []
        return int(found.index[0]), json.loads(row.filters), members

    # -- portraits ------------------------------------------------------------
    def portrait(self, as_of: Any = None) -> pd.DataFrame:
        """Tags made from data, each with the reason behind it, so that a
        customer's portrait is a few lines: spend level (``spend:top 25%``,
        ``spend:upper middle``, ``spend:lower middle``, ``spend:bottom 25%``
        by quartile of the buyers' spend, ``spend:none``), age band from a
        birthday (``age:30s``), purchase rhythm from the mean gap between
        orders (``rhythm:weekly`` up to 10 days, ``monthly`` up to 45,
        ``quarterly`` up to 120, else ``occasional``; one order:
        ``rhythm:once``), preferred channel (the field, else the most used
        channel of the customer's interactions) and lifecycle stage. One
        row per customer and tag: customer_id, tag, reason. Apply them with
        ``db.add_tags`` per tag if they should be stored. Spend, rhythm, age
        and stage are those at ``as_of`` (default ``db.default_as_of()``,
        the end of the data).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a = db.add("customers", name="Ann", birthday="1990-06-01", preferred_channel="message")
        >>> for day in ("2024-01-01", "2024-01-31", "2024-03-01"):
        ...     _ = db.add("orders", customer_id=a, ordered_at=day, amount=50.0)
        >>> db.marketing.portrait(as_of="2024-03-10").tag.tolist()
        ['spend:top 25%', 'age:30s', 'rhythm:monthly', 'channel:message', 'lifecycle:new']
        """
        db = self._db
        cut = as_of_timestamp(as_of, where="portrait") if as_of is not None else db.default_as_of()
        customers = db.frame("customers", columns=["birthday", "preferred_channel"])
        life = db.lifecycle(as_of=cut)
        if life.empty:  # no customers: the text columns below would be empty floats
            return empty_frame(PORTRAIT_DTYPES)
        spend = life.amount.where(life.purchases > 0)
        rank = spend.rank(pct=True)
        levels = pd.cut(rank, [0, 0.25, 0.5, 0.75, 1.0], labels=["bottom 25%", "lower middle", "upper middle",
                                                                 "top 25%"], include_lowest=True)
        parts = [pd.DataFrame({"tag": "spend:" + levels.astype(object).fillna("none"),
                               "reason": np.where(spend.notna(), "spent " + spend.map("{:.2f}".format) +
                                                  " (percentile " + (rank * 100).round().astype("Int64").astype(str)
                                                  + ")", "no purchase")}, index=life.index)]
        born = customers.birthday.dropna()
        # In seconds: as_of and a birthday may lie more than 292 years apart,
        # past what a difference in nanoseconds holds (a bare OverflowError).
        age = ((cut.as_unit("s") - born.astype("datetime64[s]")).dt.days // 365.2425).astype(int)
        parts.append(pd.DataFrame({"tag": "age:" + (age // 10 * 10).astype(str) + "s",
                                   "reason": "born " + born.dt.date.astype(str) + ", " + age.astype(str) + " years"},
                                  index=born.index))
        gap = life.mean_gap.where(life.purchases > 1)
        rhythm = pd.cut(gap, [0, 10, 45, 120, np.inf], labels=["weekly", "monthly", "quarterly", "occasional"],
                        include_lowest=True).astype(object)
        rhythm = rhythm.where(life.purchases != 1, "once").dropna()
        parts.append(pd.DataFrame({"tag": "rhythm:" + rhythm, "reason": np.where(
            rhythm == "once", "one order", "an order every " + gap.reindex(rhythm.index).round(1).astype(str) +
            " days")}, index=rhythm.index))
        talks = db.frame("interactions", columns=["customer_id", "channel"])
        usual = talks[talks.channel != "note"].groupby("customer_id").channel.agg(lambda c: c.value_counts().index[0])
        channel = customers.preferred_channel.dropna()
        usual = usual[~usual.index.isin(channel.index)]
        parts.append(pd.DataFrame({"tag": "channel:" + channel, "reason": "preferred channel"}, index=channel.index))
        parts.append(pd.DataFrame({"tag": "channel:" + usual, "reason": "most used in interactions"},
                                  index=usual.index))
        parts.append(pd.DataFrame({"tag": "lifecycle:" + life.stage.astype(str), "reason": life.reason.astype(str)},
                                  index=life.index))
        out = pd.concat([p.rename_axis("customer_id") for p in parts]).reset_index()
        order = {i: n for n, i in enumerate(("spend", "age", "rhythm", "channel", "lifecycle"))}
        out["rank"] = out.tag.str.split(":").str[0].map(order)
        out = out.sort_values(["customer_id", "rank"], kind="stable").drop(columns="rank").reset_index(drop=True)
        # Cast: the parts' dtypes follow their rows (an id from interactions is Int64, text of none object).
        return typed(out, PORTRAIT_DTYPES)

    # -- campaign effect -----------------------------------------------------
    def campaign_effect(self, campaign: int, days: float = 30.0, control: str = "auto",
                        by: Any = None, as_of: Any = None) -> pd.DataFrame:
        """What campaign `campaign` achieved in the `days` after each
        member's touch (touched_at, else the campaign's start): response
        rate, conversion (share who ordered) and revenue per member, for the
        treated members against a control group, with the difference and
        its 95 % confidence interval (normal approximation; Welch for
        revenue). The control is the members held out (``holdout``) when
        there are any (``control="holdout"``), else matched non-members
        (``control="matched"``): customers outside the campaign with the
        same prior-spend band (none, or the quartile of their revenue in
        the `days` before the start), reweighted to the members' mix. The
        frame's ``attrs["control"]`` says which was used.

        With `by`, the same per segment, each segment's members against the
        control in that segment (matched controls reweighted to that
        segment's own mix): `by` is a customer field ("tier", "region",
        ...), "team", "kind" (B2B / B2C), "custom.<key>", a score from
        :data:`SCORES` ("rfm_segment", "lifecycle", ...) or a list of saved
        segment names (a customer may be in several). Rows are then indexed
        by (segment, measure); customers without a value of the field are
        left out. Outcomes are the purchases up to ``as_of`` (default
        ``db.default_as_of()``, the end of the data; cancelled and returned
        orders are none), reported in ``result.attrs`` with the window read.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> camp = db.add("campaigns", name="Spring", started_at="2024-03-01")
        >>> for i in range(4):
        ...     c = db.add("customers", name=f"c{i}")
        ...     _ = db.add("campaign_members", campaign_id=camp, customer_id=c, holdout=i >= 2)
        ...     if i < 2: _ = db.add("orders", customer_id=c, ordered_at="2024-03-05", amount=50.0)
        >>> e = db.marketing.campaign_effect(camp)
        >>> e.attrs["control"], e.loc["conversion", ["treated", "control", "difference"]].tolist()
        ('holdout', [1.0, 0.0, 1.0])
        """
        days = _days(days, "campaign_effect", "days")
        db = self._db
        camp = db.get("campaigns", campaign)
        start = camp["started_at"]
        members = db.find("campaign_members", campaign_id=campaign)
        members = members.dropna(subset=["customer_id"])
        if start is None and members.touched_at.isna().any():
            raise ValueError(f"campaign {campaign} has no started_at and some members no touched_at")
        touch = members.touched_at.fillna(start)
        holdout = members.holdout.fillna(False).astype(bool)
        if control == "auto":
            control = "holdout" if holdout.any() else "matched"
        # The purchases up to as_of (default the end of the data): cancelled and
        # returned orders are no outcome (one rule for status and time).
        orders, cut = db._purchases(as_of, where="campaign_effect")
        window = pd.Timedelta(days=days)
        treated = pd.DataFrame({"customer_id": members.customer_id[~holdout].astype(np.int64).to_numpy(),
                                "touch": touch[~holdout].to_numpy(),
                                "responded": members.responded_at[~holdout].notna().to_numpy() |
                                members.responded[~holdout].fillna(False).astype(bool).to_numpy()})
        t = _outcomes(treated, orders, window)
        if control == "holdout":
            ctrl = pd.DataFrame({"customer_id": members.customer_id[holdout].astype(np.int64).to_numpy(),
                                 "touch": touch[holdout].to_numpy(), "responded": False})
            c = _outcomes(ctrl, orders, window).assign(weight=1.0)
        elif control == "matched":
            c = _matched(db, members, orders, pd.Timestamp(start if start is not None else touch.min()), window, t)
        else:
            raise ValueError(f"control is 'auto', 'holdout' or 'matched', not {control!r}")
        if by is None:
            out = _effect(t, c)
        else:
            groups = self._groups(by)
            parts = {}
            for name, ids in groups.groupby("segment", sort=True).customer_id:
                tg, cg = t[t.customer_id.isin(ids)], c[c.customer_id.isin(ids)]
                if control == "matched":  # the segment's own mix of spend bands
                    cg = cg.assign(weight=_reweight(cg.band, tg.band))
                parts[name] = _effect(tg, cg)
            out = pd.concat(parts, names=["segment", "measure"]) if parts else \
                _effect(t.iloc[:0], c.iloc[:0]).iloc[:0]
        out.attrs["control"] = control
        out.attrs["revenue"] = float(t.revenue.sum())
        return stamp(out, cut, times_ns(orders.ordered_at))

    def _groups(self, by: Any) -> pd.DataFrame:
        """customer_id and segment for each customer's segment(s) under `by`
        (see :meth:`campaign_effect`)."""
        db = self._db
        if isinstance(by, str):
            if by in SCORES:
                analysis, column = SCORES[by]
                values = getattr(db, analysis)()[column]
            elif by in ("team", "kind") or by.startswith("custom."):  # read as every analysis reads them (B2B / B2C)
                values = db._customer_dimensions([by])[by]
                values = values[values != NONE]
            else:
                values = db.frame("customers", columns=[by])[by]
            values = values.dropna()
            return pd.DataFrame({"customer_id": values.index.to_numpy(np.int64),
                                 "segment": values.astype(object).to_numpy()})
        parts = [pd.DataFrame({"customer_id": self.segment(name).to_numpy(np.int64), "segment": name})
                 for name in by]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["customer_id", "segment"])

    def campaigns(self, days: float = 30.0, by: Any = None, as_of: Any = None) -> pd.DataFrame:
        """Every campaign started up to ``as_of`` (default
        ``db.default_as_of()``, the end of the data, as every analysis), over
        its treated members (held-out ones left out), on the purchases up to
        then (cancelled and returned orders are not purchases:
        :data:`crmcore.scoring.ORDER_STATUS`).

        Columns, per campaign: ``name``, ``channel``, ``started_at``,
        ``members``, ``responded``, ``response_rate``, ``converted``
        (members with a purchase in the `days` after their touch),
        ``conversion``, ``revenue`` (of those purchases), ``budget``, ``roi``
        ((revenue - budget) / budget), ``cost_per_acquisition`` (budget /
        converted); and the promotion measures of the 7P report over the
        campaign's window (its start to `days` after its end,
        :func:`crmcore.scoring.campaign_effect`): ``revenue_per_member``,
        ``before_per_member`` (as long a window just before the start),
        ``revenue_per_other`` (customers who were not members, held-out ones
        among them), ``lift`` (per member / per other),
        ``incremental_revenue`` ((per member - per other) x members) and
        ``return_on_budget`` (incremental revenue / budget).

        ``by`` sums the campaigns per group instead (members, responded,
        converted, revenue, budget, incremental_revenue, and the rates
        again from the sums): a campaign field such as "channel", or a
        customer segment as in :meth:`campaign_effect` (a customer field, a
        dimension such as "team" or "custom.<key>", a score or a list of
        saved segment names), where each campaign's members of the segment
        are compared with the segment's customers who were not members and
        the budget is the members' share of each campaign's (a campaign
        costs the same per member). The point and window read are in
        ``result.attrs``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> camp = db.add("campaigns", name="Spring", channel="sms", started_at="2024-03-01", budget=100.0)
        >>> for i in range(4):
        ...     c = db.add("customers", name=f"c{i}")
        ...     _ = db.add("campaign_members", campaign_id=camp, customer_id=c, responded=i == 0)
        ...     if i < 2: _ = db.add("orders", customer_id=c, ordered_at="2024-03-05", amount=150.0)
        >>> _ = db.add("customers", name="not a member")
        >>> row = db.marketing.campaigns().loc[camp]
        >>> row[["response_rate", "conversion", "roi", "cost_per_acquisition"]].astype(float).tolist()
        [0.25, 0.5, 2.0, 50.0]
        >>> row[["revenue_per_member", "revenue_per_other", "incremental_revenue"]].astype(float).tolist()
        [75.0, 0.0, 300.0]
        """
        from .scoring import campaign_effect

        days = _days(days, "campaigns", "days")
        db = self._db
        orders, cut = db._purchases(as_of, where="campaigns")
        camps = db.frame("campaigns", columns=["name", "channel", "started_at", "ended_at", "budget"])
        camps = camps[~(times_ns(camps.started_at) > cut)]  # a campaign without a start is dated by its touches
        members = db.frame("campaign_members").dropna(subset=["customer_id"])
        members = members[~members.holdout.fillna(False).astype(bool) & members.campaign_id.isin(camps.index)]
        # reindex keeps the time type when no campaign is left (map would not)
        start = pd.Series(camps.started_at.reindex(members.campaign_id.to_numpy()).to_numpy(), index=members.index)
        people = pd.DataFrame({"campaign_id": members.campaign_id.to_numpy(),
                               "customer_id": members.customer_id.astype(np.int64).to_numpy(),
                               "touch": members.touched_at.fillna(start).to_numpy(),
                               "responded": (members.responded.fillna(False).astype(bool) |
                                             members.responded_at.notna()).to_numpy()})
        done = _outcomes(people.dropna(subset=["touch"]), orders, pd.Timedelta(days=days))
        dated = camps[camps.started_at.notna()]
        treated = people[["campaign_id", "customer_id", "responded"]]

        def promotion(customers: pd.Index) -> pd.DataFrame:
            """The 7P measures of every dated campaign, its members among
            ``customers`` against the others of ``customers``."""
            mine = treated[treated.customer_id.isin(customers)]
            bought = orders[orders.customer_id.isin(customers).to_numpy(dtype=bool)]
            return campaign_effect(dated, mine, bought, customers, days, "customer_id", "ordered_at", "amount")

        key = "campaign_id" if by is None else by if isinstance(by, str) and by in camps else "segment"
        if key == "segment":
            groups = self._groups(by)
            size = done.groupby("campaign_id").size()
            done["budget"] = done.campaign_id.map(camps.budget / size)  # each member's share
            done = done.merge(groups, on="customer_id")
            extra = pd.Series({name: promotion(pd.Index(ids)).incremental_revenue.sum(min_count=1)
                               for name, ids in groups.groupby("segment", sort=True).customer_id}, dtype=float)
        else:
            effect = promotion(db.frame("customers", columns=[]).index)
            if key == by:
                done[by] = done.campaign_id.map(camps[by])
                extra = effect.incremental_revenue.groupby(camps[by].reindex(effect.index)).sum(min_count=1)
        g = done.groupby(key)
        out = pd.DataFrame({"members": g.size(), "responded": g.responded.sum(),
                            "converted": g.converted.sum().astype(np.int64), "revenue": g.revenue.sum()})
        budget = camps.budget if by is None else g.budget.sum(min_count=1) if key == "segment" \
            else camps.groupby(by).budget.sum(min_count=1)
        out["budget"] = budget.reindex(out.index)
        out["response_rate"] = out.responded / out.members
        out["conversion"] = out.converted / out.members
        out["roi"] = (out.revenue - out.budget) / out.budget.where(out.budget > 0)
        out["cost_per_acquisition"] = out.budget / out.converted.where(out.converted > 0)
        if by is None:
            out.index.name = "campaign_id"
            out = camps[["name", "channel", "started_at"]].loc[out.index].join(out)
            seven = ["revenue_per_member", "before_per_member", "revenue_per_other", "lift", "incremental_revenue",
                     "return_on_budget"]
            out = out.join(effect[seven])
        else:
            out["incremental_revenue"] = extra.reindex(out.index)
            out["return_on_budget"] = out.incremental_revenue / out.budget.where(out.budget > 0)
        out.attrs.update(orders.attrs)
        return stamp(out, cut, times_ns(orders.ordered_at))

    def attribution(self, days: float = 30.0, model: str = "last", as_of: Any = None) -> pd.DataFrame:
        """Orders credited to campaign touches: each order goes to the
        customer's latest (``model="last"``) or earliest (``"first"``)
        touch in the `days` before it (held-out members are not touched; a
        touch is touched_at, else the campaign's start; of touches at the
        same time, the later or earlier member row). Matched in C++ over
        the columns. Per campaign:
        orders, revenue, customers (distinct buyers), budget, roi. The
        credited orders, one row each, are in ``result.attrs["orders"]``.
        The orders are the purchases up to ``as_of`` (default
        ``db.default_as_of()``, the end of the data; cancelled and returned
        orders are none), reported in ``result.attrs`` with the window read.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Ann")
        >>> a = db.add("campaigns", name="A", started_at="2024-03-01")
        >>> b = db.add("campaigns", name="B", started_at="2024-03-10")
        >>> for camp in (a, b): _ = db.add("campaign_members", campaign_id=camp, customer_id=c)
        >>> _ = db.add("orders", customer_id=c, ordered_at="2024-03-12", amount=80.0)
        >>> db.marketing.attribution(model="last")["revenue"].to_dict() == {b: 80.0}
        True
        >>> db.marketing.attribution(model="first")["revenue"].to_dict() == {a: 80.0}
        True
        """
        if model not in ("first", "last"):
            raise ValueError(f"model is 'first' or 'last', not {model!r}")
        days = _days(days, "attribution", "days")
        db = self._db
        camps = db.frame("campaigns", columns=["name", "started_at", "budget"])
        m = db.frame("campaign_members", columns=["campaign_id", "customer_id", "holdout", "touched_at"])
        m = m[m.customer_id.notna() & ~m.holdout.fillna(False).astype(bool)]
        touches = pd.DataFrame({"customer_id": m.customer_id.astype(np.int64).to_numpy(),
                                "campaign_id": m.campaign_id.to_numpy(),
                                # (reindex, not map: map casts an empty table of times to float and fails)
                                "touch": m.touched_at.fillna(pd.Series(camps.started_at.reindex(
                                    m.campaign_id.to_numpy()).to_numpy(), index=m.index)).to_numpy()})
        touches = touches.dropna(subset=["touch"])
        bought, cut = db._purchases(as_of, where="attribution")
        orders = bought[["customer_id", "ordered_at", "amount"]].rename_axis("order_id")
        orders = orders.reset_index().dropna(subset=["ordered_at"])
        # The matching runs in C++ (marketing/attribution.cpp) over the columns.
        pick = _core.attribute_orders(orders.customer_id.to_numpy(np.int64), times_ns(orders.ordered_at),
                                      touches.customer_id.to_numpy(np.int64), times_ns(touches.touch),
                                      int(pd.Timedelta(days=days).value), model == "last")
        hit = pick >= 0
        credited = orders[hit].assign(campaign_id=touches.campaign_id.to_numpy()[pick[hit]],
                                      touch=touches.touch.to_numpy()[pick[hit]])
        credited = credited.astype({"campaign_id": np.int64})
        g = credited.groupby("campaign_id")
        out = pd.DataFrame({"orders": g.size(), "revenue": g.amount.sum(), "customers": g.customer_id.nunique()})
        out.insert(0, "name", camps.name.reindex(out.index))
        out["budget"] = camps.budget.reindex(out.index)
        out["roi"] = (out.revenue - out.budget) / out.budget.where(out.budget > 0)
        out.attrs["orders"] = credited.sort_values("order_id").set_index("order_id")[
            ["customer_id", "ordered_at", "amount", "campaign_id", "touch"]]
        return stamp(out, cut, times_ns(orders.ordered_at))

    # -- prospects -----------------------------------------------------------
    def prospects(self, by: Any = ("industry", "region", "source"), top: int = 3, as_of: Any = None,
                  graph: bool = True, good: Any = None, decay: float = 0.5) -> pd.DataFrame:
        """Customers who never bought, scored by look-alikes and by closeness
        to good customers in the relationship graph.

        attribute_score: among the other customers who share a prospect's
        value of each `by` field, the share who bought (each field a vote,
        averaged; 0 with no vote). graph_score: ``decay ** hops``, hops being
        the shortest distance to the nearest good customer over links and
        customer-contact ties (a customer sharing a contact with a buyer is
        2 hops away), 0 where none is reachable; `good` is the ids of the
        good customers (a segment, say), default every buyer. score combines
        both as ``1 - (1 - attribute) * (1 - graph)``, so either kind of
        evidence counts and, without ties, score is the attribute score.
        Also: hops, nearest (that good customer), pagerank (personalized
        PageRank seeded on the good customers), lookalikes (buyers sharing
        at least one field), reasons (each field's buyer share, the graph
        path) and products (the `top` products those look-alikes bought
        most; ties by product id). With `as_of`, only orders before it
        count (who was a prospect then; see :meth:`backtest_prospects`).
        Scored in C++ over columns; ``graph=False`` leaves the graph out.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> buyer = db.add("customers", name="A", industry="tea")
        >>> new = db.add("customers", name="B", industry="tea")
        >>> _ = db.add("orders", customer_id=buyer, ordered_at="2024-01-01", amount=5.0)
        >>> float(db.marketing.prospects().loc[new, "score"])
        1.0
        >>> friend = db.add("customers", name="C", industry="steel")
        >>> _ = db.link(friend, buyer, "referred_by")
        >>> db.marketing.prospects().loc[friend, ["score", "hops", "nearest"]].tolist() == [0.5, 1, buyer]
        True
        """
        from . import _prospects

        by = [by] if isinstance(by, str) else list(by)
        top = _count(top, "prospects", "top", low=1, high=1_000_000)
        decay = _number(decay, "prospects", "decay", low=0, high=1)
        return _prospects.score(self._db, by, top, as_of, graph, good, decay)

    def backtest_prospects(self, as_of: Any = None, days: float = 180.0,
                           by: Any = ("industry", "region", "source"), among: Any = None) -> pd.Series:
        """How well :meth:`prospects` would have ranked the prospects of
        `as_of` (customers with no order before it): the AUC of their
        scores against whether they ordered in the `days` after, beside the
        AUC of a simple baseline (the buyer share of the first `by` field
        alone) and of the attribute score without the graph
        (attribute_auc: what the graph adds is auc - attribute_auc). AUC is
        the chance that a converter outranks a non-converter (ties count
        half); 0.5 is guessing. `as_of` defaults to `days` before
        :meth:`default_as_of` (the latest cut with a whole window after it).
        `among`: the ids of the customers to judge, those who were in the
        book at `as_of`; by default the customers created by then, or, when
        none was (a store loaded at once after the fact has no record of
        when each customer came), every customer with no order before
        `as_of`: then customers who arrived after the cut and bought at
        once count as prospects who converted, so pass `among` (see
        ``notebooks/service_desk.ipynb``). Prints nothing; returns auc,
        baseline_auc, attribute_auc, as_of, prospects, converted.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> for i, (industry, buys) in enumerate([("tea", 1), ("tea", 1), ("tea", 0), ("steel", 0), ("steel", 0)]):
        ...     c = db.add("customers", name=f"c{i}", industry=industry)
        ...     if buys: _ = db.add("orders", customer_id=c, ordered_at="2024-01-01" if i == 0 else "2024-03-01", amount=1.0)
        >>> round(float(db.marketing.backtest_prospects("2024-02-01", by=["industry"])["auc"]), 3)  # c1 ties c2
        0.833
        """
        by = [by] if isinstance(by, str) else list(by)
        days = _days(days, "backtest_prospects", "days")
        cut = (shifted(self._db.default_as_of(), -days, "backtest_prospects", "days", "the end of the data")
               if as_of is None else as_of_timestamp(as_of, where="backtest_prospects"))
        end = shifted(cut, days, "backtest_prospects", "days")  # the window the prospects are judged in
        scored = self.prospects(by=by, as_of=cut)
        if among is None:
            created = self._db.frame("customers", columns=["created_at"]).created_at
            there = created.index[(created <= cut).to_numpy()]
            among = there if len(there) else None
        if among is not None:
            scored = scored[scored.index.isin(np.asarray(_as_list(among), dtype=np.int64))]
        baseline = self.prospects(by=by[:1], as_of=cut, graph=False)
        orders = self._db._purchases(None)[0]
        later = orders[(orders.ordered_at >= cut) & (orders.ordered_at < end)]
        converted = scored.index.isin(later.customer_id)
        return pd.Series({"auc": _auc(scored.score.to_numpy(float), converted),
                          "baseline_auc": _auc(baseline.score.reindex(scored.index).to_numpy(float), converted),
                          "attribute_auc": _auc(scored.attribute_score.to_numpy(float), converted),
                          "as_of": cut, "prospects": len(scored), "converted": int(converted.sum())})


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    """The Mann-Whitney AUC: mean rank of the positives, ties averaged."""
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, tuple) else list(value)


def _outcomes(people: pd.DataFrame, orders: pd.DataFrame, window: pd.Timedelta) -> pd.DataFrame:
    """Per person: ordered (0/1) and revenue in [touch, touch + window)."""
    joined = orders.merge(people[["customer_id", "touch"]].reset_index(), on="customer_id")
    # touch + window in int64 nanoseconds, held at the last time the store
    # keeps (no order is later): a touch near 2262 plus the window made
    # pandas raise a bare "Overflow in int64 addition".
    touch, last, width = times_ns(joined.touch), int(LAST_TIME.value), int(window.value)
    # (np.where reckons both sides: the one not taken may wrap, unread. A NaT touch stays before every order.)
    until = np.where(touch > last - width, last + 1, touch + width)
    inside = (joined.ordered_at >= joined.touch) & (times_ns(joined.ordered_at) < until)
    revenue = joined[inside].groupby("index").amount.sum()
    out = people.reset_index(drop=True).copy()
    out["revenue"] = revenue.reindex(out.index, fill_value=0.0).to_numpy()
    out["converted"] = out.index.isin(revenue.index).astype(float)
    return out


def _matched(db: Any, members: pd.DataFrame, orders: pd.DataFrame, start: pd.Timestamp, window: pd.Timedelta,
             treated: pd.DataFrame) -> pd.DataFrame:
    """Non-members touched at `start`, weighted so that their prior-spend
    bands have the treated members' shares."""
    everyone = db.frame("customers", columns=[]).index
    others = everyone[~everyone.isin(members.customer_id.astype(np.int64))]
    prior = orders[(orders.ordered_at >= shifted(start, -window, "campaign_effect", "days", "the campaign's start"))
                   & (orders.ordered_at < start)]
    spend = prior.groupby("customer_id").amount.sum()
    positive = spend[spend > 0]
    edges = np.unique(np.quantile(positive, [0.25, 0.5, 0.75])) if len(positive) else np.array([])

    def band(ids: Any) -> np.ndarray:
        s = spend.reindex(ids, fill_value=0.0).to_numpy()
        return np.where(s > 0, 1 + np.searchsorted(edges, s, side="right"), 0)

    ctrl = pd.DataFrame({"customer_id": others.to_numpy(np.int64), "touch": start, "responded": False})
    ctrl = _outcomes(ctrl, orders, window)
    ctrl["band"] = band(ctrl.customer_id)
    treated["band"] = band(treated.customer_id)
    ctrl["weight"] = _reweight(ctrl.band, treated.band)
    return ctrl


def _reweight(ctrl_band: pd.Series, treated_band: pd.Series) -> np.ndarray:
    """Weights that give the control the treated members' shares of the
    spend bands (0 for a band no member is in)."""
    want = treated_band.value_counts(normalize=True)
    have = ctrl_band.value_counts(normalize=True)
    return ctrl_band.map(want / have).fillna(0.0).to_numpy(float)


def _effect(t: pd.DataFrame, c: pd.DataFrame) -> pd.DataFrame:
    """The rows of campaign_effect for treated outcomes `t` against control
    outcomes `c` (with their weights)."""
    c = c[c.weight > 0]
    rows = {}
    for measure in ("converted", "revenue"):
        rows["conversion" if measure == "converted" else "revenue_per_member"] = _difference(
            t[measure].to_numpy(float), c[measure].to_numpy(float), c.weight.to_numpy(float))
    rows["response_rate"] = (float(t.responded.mean()) if len(t) else math.nan, math.nan, math.nan,
                             math.nan, math.nan)
    out = pd.DataFrame(rows, index=["treated", "control", "difference", "ci_low", "ci_high"]).T
    out["treated_n"], out["control_n"] = len(t), len(c)
    return out


def _difference(t: np.ndarray, c: np.ndarray, w: np.ndarray) -> tuple:
    """Means of treated and (weighted) control, their difference and its 95 %
    normal interval (Welch's standard error, the control's from its
    effective sample size)."""
    if not len(t) or not len(c) or w.sum() == 0:
        mt = float(t.mean()) if len(t) else math.nan
        return mt, math.nan, math.nan, math.nan, math.nan
    mt = float(t.mean())
    mc = float(np.average(c, weights=w))
    vt = float(t.var(ddof=1)) if len(t) > 1 else 0.0
    vc = float(np.average((c - mc) ** 2, weights=w))
    n_eff = w.sum() ** 2 / (w ** 2).sum()
    vc = vc * n_eff / (n_eff - 1) if n_eff > 1 else 0.0
    se = math.sqrt(vt / len(t) + vc / n_eff)
    d = mt - mc
    return mt, mc, d, d - _Z95 * se, d + _Z95 * se
