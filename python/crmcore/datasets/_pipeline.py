"""The sales pipeline of the synthetic CRM: deals moving through the
stages of the store's default pipeline (won when the customer actually
orders, at that order), and the campaigns whose members respond (a
"purchased" response is a real order in the campaign's window).

A part of :class:`crmcore.datasets._synthetic._Generator`, which draws the
customers and orders these ride on; positions and times as there.
"""
import numpy as np
import pandas as pd

from . import _vocab as V
from ._draws import _choose, _draw, _frame, _rank_in_group

SALES = 0  # position in vocab.STAFF_DEPARTMENTS
# The stages of the store's default pipeline, "new business", with its default probabilities.
DEAL_STAGES = ["lead", "qualified", "proposal", "negotiation"]
STAGE_PROBABILITY = {"lead": 0.1, "qualified": 0.25, "proposal": 0.5,
                     "negotiation": 0.75, "won": 1.0, "lost": 0.0}


class PipelineDraws:
    """Deals and campaigns, drawn around the generator's customers and orders."""

    def deals(self):
        rng = self.rng
        n = self.n
        count = np.where(self.org, rng.poisson(1.2, n), (rng.random(n) < 0.03).astype(int)) * self.present
        cust = np.repeat(np.arange(n), count)
        d = len(cust)
        lo = np.maximum(self.acquired[cust] - 60.0, 0.0)
        created = lo + rng.random(d) * (self.active_end[cust] - lo)
        furthest = _draw(rng, d, [30, 25, 20, 25])
        won = (furthest == 3) & (rng.random(d) < 0.8)
        closes = rng.random(d) < np.where(furthest == 3, 0.9, 0.45)
        steps = furthest + 1 + closes
        deal = np.repeat(np.arange(d), steps)
        rank = _rank_in_group(steps)
        gap = np.where(rank == 0, 0.0, rng.exponential(12.0, len(deal)))
        cum = np.cumsum(gap)
        first = np.cumsum(steps) - steps
        at = created[deal] + cum - np.repeat(cum[first], steps)
        final = rank == (furthest[deal] + 1)
        # A deal is won when the customer orders within 120 days of negotiating:
        # it closes at that order, for that order's amount. No order, no win.
        closing = np.flatnonzero(final & won[deal])
        negotiated = at[closing - 1]
        order = self.first_order_between(cust[deal[closing]], negotiated, np.minimum(negotiated + 120, self.span))
        got = order >= 0
        at[closing[got]] = self.order_time[order[got]]
        won[deal[closing[~got]]] = False
        amount = np.round(np.exp(rng.normal(np.log(np.where(self.org[cust], 12_000, 1_500)), 0.9)), -1)
        amount[deal[closing[got]]] = self.order_amount_c[order[got]] / 100.0
        stage = np.where(final, np.where(won[deal], "won", "lost"),
                         _choose(DEAL_STAGES, np.minimum(rank, 3))).astype(object)
        keep = at < self.span
        deal, stage, at, final = deal[keep], stage[keep], at[keep], final[keep]
        last = np.zeros(d, dtype=np.int64)
        np.maximum.at(last, deal, np.arange(len(deal)))   # rows are in deal order, time order within
        current = stage[last]
        closed_at = np.full(d, np.nan)
        closed_at[deal[final]] = at[final]
        names = ["Annual supply contract", "Office refit", "Software renewal", "Pilot project",
                 "Expansion order", "Service agreement", "Equipment upgrade"]
        self.frames["deals"] = _frame({
            "customer_id": cust.astype(np.int64),
            "name": _choose(names, rng.integers(0, len(names), d)),
            "stage": current,
            "amount": amount,
            "probability": pd.Series(current).map(STAGE_PROBABILITY).to_numpy(float),
            "expected_close": self.time(created + rng.uniform(45, 120, d)),
            "owner_id": self.staff_for(cust, 0.9, SALES).astype(np.int64),
            "closed_at": self.time(closed_at),
        })
        self.frames["deal_stages"] = _frame({
            "deal_id": deal.astype(np.int64), "stage": stage, "changed_at": self.time(at),
        })


    def campaigns(self):
        rng = self.rng
        first = pd.Timestamp(self.t0).year
        last = (pd.Timestamp(self.t0) + pd.Timedelta(days=self.span)).year
        rows = []
        for year in range(first, last + 1):
            for name, channel, month, day, length, scale in V.CAMPAIGN_THEMES:
                s = float((np.datetime64(f"{year}-{month:02d}-{day:02d}", "ns") - self.t0) / np.timedelta64(1, "D"))
                if 0 <= s < self.span:
                    rows.append((f"{name} {year}", channel, s, length, scale))
        c = len(rows)
        start = np.array([r[2] for r in rows])
        length = np.array([r[3] for r in rows], dtype=float)
        budget = np.round(np.array([r[4] for r in rows]) * 20_000 * np.sqrt(self.n / 10_000)
                          * np.exp(rng.normal(0, 0.2, c)), -2)
        channel = np.array([r[1] for r in rows], dtype=object)
        self.frames["campaigns"] = _frame({
            "name": np.array([r[0] for r in rows], dtype=object), "channel": channel,
            "started_at": self.time(start), "ended_at": self.time(np.minimum(start + length, self.span - 1e-6)),
            "budget": budget,
        })
        # Members: a sample of the customers known when the campaign starts.
        by_acq = self.by_acquisition
        known = np.searchsorted(self.acquired[by_acq], start)
        size = np.minimum(known, np.round(known * rng.uniform(0.02, 0.06, c))).astype(np.int64)
        camp = np.repeat(np.arange(c), size)
        cust = by_acq[np.floor(rng.random(len(camp)) * known[camp]).astype(np.int64)]
        pair = np.unique(camp * np.int64(self.n) + cust)       # a customer joins a campaign once
        camp, cust = pair // self.n, pair % self.n
        rate = pd.Series(channel).map({"email": 0.05, "sms": 0.03, "wechat": 0.09, "event": 0.15,
                                       "webinar": 0.1, "ads": 0.02, "phone": 0.12}).to_numpy(float)
        alive = self.active_end[cust] > start[camp]
        m = len(camp)
        # A member who orders during the campaign is often credited to it: the
        # "purchased" responses are real orders, at the order's time.
        window_end = np.minimum(start[camp] + length[camp], self.span)
        bought = self.first_order_between(cust, start[camp], window_end)
        purchased = (bought >= 0) & (rng.random(m) < 0.6)
        reacted = ~purchased & (rng.random(m) < rate[camp] * np.where(alive, 1.5, 0.3))
        at = np.where(reacted, start[camp] + rng.random(m) * (window_end - start[camp]), np.nan)
        at[purchased] = self.order_time[bought[purchased]]
        responded = purchased | reacted
        others = [r for r in V.CAMPAIGN_RESPONSES if r != "purchased"]
        response = np.where(purchased, "purchased", _choose(others, _draw(rng, m, [45, 25, 20, 10]))).astype(object)
        response[~responded] = None
        self.frames["campaign_members"] = _frame({
            "campaign_id": camp.astype(np.int64),
            "customer_id": cust.astype(np.int64),
            "contact_id": self.contact_for(cust, 0.6),
            "responded": responded,
            "responded_at": self.time(at),
            "response": response,
        })
