"""Service and contact of the synthetic CRM: interactions, tickets and the
surveys after them, tasks, and the service fields (birthdays, tiers,
preferred channels, ticket owners, campaign hold-outs). A part of
:class:`crmcore.datasets._synthetic._Generator`, which draws the customers
and orders these follow; positions and times as there.
"""
import numpy as np
import pandas as pd

from . import _vocab as V
from ._draws import _choose, _draw, _frame, _pick_from_lists
from ._pipeline import SALES

SERVICE = 1                 # position in vocab.STAFF_DEPARTMENTS (SALES: 0)


class ServiceDraws:
    """Interactions, tickets, surveys and tasks, drawn around the generator's customers and orders."""

    def interactions(self):
        rng = self.rng
        n = self.n
        lam = np.where(self.org, 2.0 + 1.0 * self.order_count, 0.3 + 0.4 * self.order_count)
        cust = np.repeat(np.arange(n), rng.poisson(lam * self.present))
        m = len(cust)
        b2b = self.org[cust]
        when = self.event_times(cust, 0.5, lambda k: rng.normal(-2.0, 6.0, k))
        chans = list(V.INTERACTION_SUMMARIES)
        ch = np.where(b2b, _draw(rng, m, [30, 15, 25, 10, 12, 8]), _draw(rng, m, [25, 3, 20, 40, 2, 10]))
        flat = [(i, s) for i, c in enumerate(chans) for s in V.INTERACTION_SUMMARIES[c]]
        cnt = np.bincount([i for i, _ in flat], minlength=len(chans))
        summary = _choose([s for _, s in flat], _pick_from_lists(rng, np.cumsum(cnt) - cnt, cnt, ch))
        direction = _choose(["outbound", "inbound"], (rng.random(m) < 0.4).astype(int))
        direction[ch == chans.index("note")] = None
        # Drawn in the order they always were, so the frames after stay as they were.
        contact = self.contact_for(cust, 0.8)
        staff = self.staff_for(cust, 0.7, SERVICE).astype(np.int64)
        outcome = _draw(rng, m, [35, 35, 10, 10, 10])
        step = rng.integers(0, len(V.NEXT_STEPS), m)
        # A promised next contact (schema 15) where a conversation agreed a
        # next step: 7 days for "call back next week", else 1 + Gamma(2, 3)
        # days (a week on average), from a stream of its own for the same reason.
        own = np.random.default_rng([self.seed, 15])
        days = np.where(_choose(V.NEXT_STEPS, step) == "call back next week", 7.0, 1.0 + own.gamma(2.0, 3.0, m))
        promised = (_choose(V.NEXT_STEPS, step) != "none") & (ch != chans.index("note"))
        order = np.argsort(when)
        self.frames["interactions"] = _frame({
            "customer_id": cust.astype(np.int64),
            "contact_id": contact,
            "staff_id": staff,
            "channel": _choose(chans, ch),
            "direction": direction,
            "occurred_at": self.time(when),
            "summary": summary,
            "outcome": _choose(V.INTERACTION_OUTCOMES, outcome),
            "next_step": _choose(V.NEXT_STEPS, step),
            "next_contact_at": self.time(np.where(promised, when + days, np.nan)),
        }).iloc[order].reset_index(drop=True)

    def tickets_and_surveys(self):
        rng = self.rng
        n = self.n
        cust = np.repeat(np.arange(n), rng.poisson((0.05 + 0.12 * self.order_count) * self.present))
        t = len(cust)
        opened = self.event_times(cust, 0.8, lambda k: rng.exponential(10.0, k))
        sev = _draw(rng, t, [45, 35, 15, 5])
        resp_h = np.exp(rng.normal(np.log(np.array([20.0, 8.0, 3.0, 1.0])[sev]), 1.0))
        resolve_d = np.exp(rng.normal(np.log(np.array([3.0, 2.0, 1.5, 1.0])[sev]), 0.9))
        first = opened + resp_h / 24.0
        resolved = first + resolve_d
        reopened = np.minimum(rng.poisson(0.1 + 0.05 * resolve_d), 3)
        resolved = resolved + reopened * rng.exponential(3.0, t)
        # Satisfaction falls with slow handling and with reopenings.
        latent = (4.7 - 0.45 * np.log1p(resolved - opened) - 0.5 * reopened - 0.25 * np.log1p(resp_h / 24)
                  + rng.normal(0, 0.6, t))
        done = resolved < self.span
        rated = done & (rng.random(t) < 0.7)
        sat = np.where(rated, np.clip(np.round(latent), 1, 5), np.nan)
        resolution = np.where(done, _choose(V.TICKET_RESOLUTIONS, rng.integers(0, len(V.TICKET_RESOLUTIONS), t)), None)
        self.frames["tickets"] = _frame({
            "customer_id": cust.astype(np.int64),
            "contact_id": self.contact_for(cust, 0.7),
            "category": _choose(V.TICKET_CATEGORIES, _draw(rng, t, [25, 20, 15, 15, 10, 10, 5])),
            "severity": _choose(["low", "medium", "high", "critical"], sev),
            "opened_at": self.time(opened),
            "first_response_at": self.time(np.where(first < self.span, first, np.nan)),
            "resolved_at": self.time(np.where(done, resolved, np.nan)),
            "resolution": resolution,
            "satisfaction": sat,
            "reopened": reopened.astype(np.int64),
        })

        # Surveys: half the resolved tickets get one (CSAT tracks the ticket),
        # and a few buying customers answer a periodic survey.
        ts = np.flatnonzero(done & (rng.random(t) < 0.5))
        s_cust_t = cust[ts]
        s_at_t = resolved[ts] + rng.exponential(2.0, len(ts))
        csat_t = latent[ts] + rng.normal(0, 0.5, len(ts))
        buyers = np.flatnonzero((self.order_count > 0) & (rng.random(n) < 0.06))
        s_at_b = self.event_times(buyers, 1.0, lambda k: rng.exponential(7.0, k))
        csat_b = rng.normal(4.0, 0.8, len(buyers))
        s_cust = np.concatenate([s_cust_t, buyers])
        s_at = np.concatenate([s_at_t, s_at_b])
        csat = np.clip(np.round(np.concatenate([csat_t, csat_b])), 1, 5)
        keep = s_at < self.span
        s_cust, s_at, csat = s_cust[keep], s_at[keep], csat[keep]
        k = len(s_cust)
        nps = np.clip(np.round(2.2 * csat - 1.0 + rng.normal(0, 1.1, k)), 0, 10).astype(np.int64)
        flat = [(c, s) for c in range(1, 6) for s in V.SURVEY_COMMENTS[c]]
        cnt = np.bincount([c for c, _ in flat], minlength=6)[1:]
        comment = _choose([s for _, s in flat], _pick_from_lists(rng, np.cumsum(cnt) - cnt, cnt, csat.astype(int) - 1))
        comment[rng.random(k) < 0.6] = None
        order = np.argsort(s_at)
        self.frames["surveys"] = _frame({
            "customer_id": s_cust.astype(np.int64),
            "contact_id": self.contact_for(s_cust, 0.5),
            "responded_at": self.time(s_at),
            "csat": csat.astype(float),
            "nps": nps,
            "comment": comment,
        }).iloc[order].reset_index(drop=True)

    def tasks(self):
        rng = self.rng
        n = self.n
        cust = np.repeat(np.arange(n), rng.poisson(np.where(self.org, 1.0, 0.25) * self.present))
        m = len(cust)
        due = self.event_times(cust, 0.3, lambda k: rng.uniform(1, 14, k)) + 2.0
        due = self.clip_days(due)
        done = rng.random(m) < np.where(due < self.span - 7, 0.9, 0.2)
        self.frames["tasks"] = _frame({
            "subject": _choose(V.TASK_SUBJECTS, rng.integers(0, len(V.TASK_SUBJECTS), m)),
            "due_at": self.time(due),
            "assignee_id": self.staff_for(cust, 0.8, SALES).astype(np.int64),
            "customer_id": cust.astype(np.int64),
            "contact_id": self.contact_for(cust, 0.4),
            "done": done,
        })

    def service_fields(self):
        """The fields schema version 9 added (service, care): drawn from a
        generator of their own, so that every other column stays what the
        seed made before. Half the person customers give a birthday (aged
        20-65); the top tenth of buyers by orders are gold, the next fifth
        silver; two in five customers name a preferred channel; a service
        agent holds each ticket that was answered, and half the unanswered
        ones; the status follows (resolved, in_progress, assigned, new). A
        tenth of the members of e-mail, SMS and WeChat campaigns are held out."""
        rng = np.random.default_rng([self.seed, 9])
        n = self.n
        cust = self.frames["customers"]
        birthday = self.time(np.floor(rng.uniform(-65 * 365.25, -20 * 365.25, n)))
        birthday[(cust["kind"] != "person").to_numpy() | (rng.random(n) < 0.5)] = np.datetime64("NaT")
        cust["birthday"] = birthday
        buyers = self.order_count > 0
        rank = pd.Series(np.where(buyers, self.order_count, np.nan)).rank(pct=True, method="first").to_numpy()
        cust["tier"] = np.where(rank > 0.9, "gold", np.where(rank > 0.7, "silver", None))
        channel = _choose(["call", "message", "email", "visit"], _draw(rng, n, [35, 35, 20, 10]))
        cust["preferred_channel"] = np.where(rng.random(n) < 0.4, channel, None)
        tickets = self.frames["tickets"]
        t = len(tickets)
        agents = np.flatnonzero(self.staff_dept == SERVICE)
        answered = tickets["first_response_at"].notna().to_numpy()
        held = answered | (rng.random(t) < 0.5)
        tickets["assignee_id"] = np.where(held, agents[rng.integers(0, len(agents), t)], -1).astype(np.int64)
        resolved = tickets["resolved_at"].notna().to_numpy()
        tickets["status"] = np.where(resolved, "resolved", np.where(answered, "in_progress",
                                                                    np.where(held, "assigned", "new")))
        # A tenth of the mass campaigns' members are held out: sent nothing,
        # so no response is noted, while their own orders go on; each such
        # campaign is then judged against them (db.marketing.campaign_effect).
        members = self.frames["campaign_members"]
        mass = self.frames["campaigns"]["channel"].isin(["email", "sms", "wechat"]).to_numpy()
        out = mass[members["campaign_id"].to_numpy()] & (rng.random(len(members)) < 0.1)
        members["holdout"] = out
        members.loc[out, "responded"] = False
        members.loc[out, "responded_at"] = pd.NaT
        members.loc[out, "response"] = None
