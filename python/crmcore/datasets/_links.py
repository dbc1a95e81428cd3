"""The relationship links of the synthetic CRM: who referred whom, who
works for or with which customer, and who reports to whom. A part of
:class:`crmcore.datasets._synthetic._Generator`; positions into the
frames the links name, as there.
"""
import numpy as np
import pandas as pd

from . import _vocab as V
from ._draws import _draw, _frame, _pick_in_group


class LinkDraws:
    """The links between the generator's customers, contacts and staff."""

    def links(self):
        rng = self.rng
        n = self.n
        parts = []

        def add(src, dst, type_, src_kind, dst_kind, directed, role=None, strength=None, since=None):
            k = len(src)
            parts.append(_frame({
                "src": src.astype(np.int64), "dst": dst.astype(np.int64),
                "type": np.full(k, type_, dtype=object),
                "role": role if role is not None else np.full(k, None, dtype=object),
                "strength": strength if strength is not None else np.ones(k),
                "since": self.time(since if since is not None else np.full(k, np.nan)),
                "until": self.time(np.full(k, np.nan)),
                "directed": np.full(k, directed),
                "src_kind": np.full(k, src_kind, dtype=object),
                "dst_kind": np.full(k, dst_kind, dtype=object),
            }))

        home, rank = self.contact_home, self.contact_rank
        works = np.flatnonzero(self.org[home])
        role = np.where(rank[works] == 0, "decision_maker", None).astype(object)
        add(works, home[works], "works_at", "contacts", "customers", True, role=role,
            since=np.maximum(self.acquired[home[works]] - 60.0, 0.0))

        # Colleagues know each other (a chain through each organization's
        # contacts); and contacts meet people at other customers in their region.
        same = np.flatnonzero((rank > 0) & self.org[home])
        m = len(home)
        cross = rng.integers(0, m, int(0.3 * m))
        region_of = np.array([c[0] for c in V.CITIES])
        peer = _pick_in_group(rng, region_of[self.city[home]], region_of[self.city[home[cross]]])
        ok = (peer >= 0) & (home[np.maximum(peer, 0)] != home[cross])
        a = np.concatenate([same - 1, cross[ok]])
        b = np.concatenate([same, peer[ok]])
        pair = np.unique(np.minimum(a, b) * np.int64(m) + np.maximum(a, b))
        add(pair // m, pair % m, "knows", "contacts", "contacts", False,
            strength=np.round(rng.uniform(0.2, 1.0, len(pair)), 2))

        # Referrals: each referred customer names someone acquired earlier,
        # often someone who was referred too, so chains grow several levels deep.
        by_acq = self.by_acquisition
        rank_all = np.empty(n, dtype=np.int64)
        rank_all[by_acq] = np.arange(n)
        referred = by_acq[self.referred[by_acq]]       # in acquisition order
        pos = np.arange(len(referred))
        chain = (rng.random(len(referred)) < 0.6) & (pos > 0)
        via_referred = referred[np.floor(rng.random(len(referred)) * pos).astype(np.int64)]
        earlier = rank_all[referred]
        via_any = by_acq[np.floor(rng.random(len(referred)) * earlier).astype(np.int64)]
        referrer = np.where(chain, via_referred, via_any)
        ok = chain | (earlier > 0)
        add(referred[ok], referrer[ok], "referred_by", "customers", "customers", True,
            since=self.acquired[referred[ok]])

        # Group structure among organizations: groups, subsidiaries, and their subsidiaries.
        orgs = np.flatnonzero(self.org)
        level = _draw(rng, len(orgs), [83, 3, 10, 4])   # none, group, level 1, level 2
        for child_level, parent_level in ((2, 1), (3, 2)):
            kids = orgs[level == child_level]
            cands = orgs[level == parent_level]
            if len(kids) == 0 or len(cands) == 0:
                continue
            parent = _pick_in_group(rng, self.industry[cands], self.industry[kids])
            any_parent = rng.integers(0, len(cands), len(kids))
            parent = cands[np.where(parent >= 0, parent, any_parent)]
            add(kids, parent, "subsidiary_of", "customers", "customers", True)

        if len(orgs) >= 2:
            supplier_ind = [i for i, ind in enumerate(V.INDUSTRIES)
                            if ind[0] in ("manufacturing", "electronics", "logistics", "trading", "food")]
            sup = orgs[np.isin(self.industry[orgs], supplier_ind)]
            sup = sup[rng.random(len(sup)) < 0.15]
            buyer = orgs[rng.integers(0, len(orgs), len(sup))]
            ok = sup != buyer
            add(sup[ok], buyer[ok], "supplier_of", "customers", "customers", True)
            a = orgs[rng.random(len(orgs)) < 0.04]
            b = orgs[np.maximum(_pick_in_group(rng, region_of[self.city[orgs]], region_of[self.city[a]]), 0)]
            ok = a != b
            add(a[ok], b[ok], "partner_of", "customers", "customers", False)
            a = orgs[rng.random(len(orgs)) < 0.02]
            b = orgs[np.maximum(_pick_in_group(rng, self.industry[orgs], self.industry[a]), 0)]
            ok = a != b
            add(a[ok], b[ok], "competitor_of", "customers", "customers", False)

        # Staff report to the first person of their department (its head).
        s = len(self.staff_dept)
        head = np.array([np.flatnonzero(self.staff_dept == k)[0] for k in range(len(V.STAFF_DEPARTMENTS))])
        boss = head[self.staff_dept]
        ok = boss != np.arange(s)
        add(np.arange(s)[ok], boss[ok], "reports_to", "staff", "staff", True)
        self.frames["links"] = pd.concat(parts, ignore_index=True)
