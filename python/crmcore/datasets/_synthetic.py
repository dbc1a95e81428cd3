"""A coherent synthetic CRM, generated column-wise with NumPy.

The story behind the numbers:

* about a third of the customers were there before the period starts (some
  of them gone by then); the others are acquired during it, more of them
  lately and in the busy seasons. They are B2B organizations and B2C persons,
  in Chinese and international cities, with Chinese or Latin names, addresses
  and phones written the many ways people actually type them;
* each buying customer has a purchase rate drawn from a gamma distribution and,
  after every purchase, a chance to drift away for good (the BG/NBD story), so
  some customers buy often, some rarely and some stop;
* purchases follow a calendar intensity (weekday pattern, November/December and
  mid-June peaks), which is applied by mapping each customer's Poisson process
  through the inverse of the cumulative intensity;
* everything else -- contacts, lines, payments, interactions, deals, tickets,
  surveys, campaigns, tasks, relationship links -- is drawn around those
  customers and their orders, so that times, owners and contacts agree; a won
  deal and a campaign's "purchased" response are actual orders.

Names, phones and e-mails are drawn in `_people.py`, deals and campaigns in
`_pipeline.py`, interactions, tickets, surveys and tasks in `_service.py`,
relationship links in `_links.py`; the small vectorized draws shared by the
generators live in `_draws.py`.

Foreign keys are row positions into the referenced frame (-1 for none);
`crmcore.datasets.load` turns them into store ids.
"""
import numpy as np
import pandas as pd

from .._args import _invalid
from ..scoring._columns import FIRST_TIME, LAST_TIME, as_of_timestamp, days_between, shifted
from . import _vocab as V
from ._draws import (_cents, _choose, _draw, _draw_many, _frame, _pick_from_lists, _pick_in_group,
                     _rank_in_group)
from ._converts import late_buyers
from ._links import LinkDraws
from ._people import PeopleDraws
from ._pipeline import SALES, PipelineDraws
from ._service import ServiceDraws
from ._text import (Parts, ascii_slug, assemble, concat, digits, render_by_choice,
                    to_object, vocab)

# Which frame each positional foreign key points into. "links" is special:
# its src/dst columns point into the frames named by src_kind/dst_kind.
REFERENCES = {
    "customer_contacts": {"customer_id": "customers", "contact_id": "contacts"},
    "orders": {"customer_id": "customers", "staff_id": "staff"},
    "order_lines": {"order_id": "orders", "product_id": "products"},
    "payments": {"customer_id": "customers", "order_id": "orders"},
    "interactions": {"customer_id": "customers", "contact_id": "contacts", "staff_id": "staff"},
    "deals": {"customer_id": "customers", "owner_id": "staff"},
    "deal_stages": {"deal_id": "deals"},
    "tickets": {"customer_id": "customers", "contact_id": "contacts", "assignee_id": "staff"},
    "surveys": {"customer_id": "customers", "contact_id": "contacts"},
    "campaign_members": {"campaign_id": "campaigns", "customer_id": "customers", "contact_id": "contacts"},
    "tasks": {"assignee_id": "staff", "customer_id": "customers", "contact_id": "contacts"},
}

# Import order: every kind after the kinds it references.
KINDS = [
    "staff", "customers", "contacts", "products", "campaigns", "customer_contacts",
    "orders", "order_lines", "payments", "interactions", "deals", "deal_stages",
    "tickets", "surveys", "campaign_members", "tasks", "links",
]

# A third of the customers were already there at the start, acquired up to
# this many days before it; their earlier orders are not in the data.
LEAD_DAYS = 730
ORDER_STATUSES = ["completed", "cancelled", "returned", "pending"]
# How far the data reaches around the period: back to the oldest birthdays
# (65 years before the start, _service.py; the lead-in's acquisitions are
# within it), on to the latest expected close of an open deal (120 days
# after the end, _pipeline.py). A start or end that would take them outside
# the store's years is refused: numpy wraps such a datetime64 silently.
REACH_BEFORE_DAYS, REACH_AFTER_DAYS = int(np.ceil(65 * 365.25)), 120  # (a birthday is a whole day: floored)


class SyntheticCRM(dict):
    """Kind name -> DataFrame, plus `truth`: the hidden per-customer parameters.

    `truth` (one row per customer, in the customers frame's order) holds what
    a real CRM never sees, so tests and examples can check estimates against it:

    - acquired_at: when the customer came (before `start` for the existing base);
    - purchase_rate: purchases per year while active (gamma across customers);
    - dropout_p: chance of leaving for good after each purchase (beta);
    - prospect: planned no purchase; buys once, late, only where converted_at is set;
    - converted_at: a prospect's late first order (datasets/_converts.py), else NaT;
    - dropped_at: the last purchase of a customer who has left (NaT if still
      active at the end; may lie before `start`);
    - phone_e164: the customer's phone number in canonical form;
    - organization: B2B (True) or B2C.

    >>> data = synthetic(1000, seed=1)
    >>> data["orders"].columns[:3].tolist()
    ['customer_id', 'ordered_at', 'amount']
    """

    def __init__(self, frames, truth, seed):
        super().__init__(frames)
        self.truth = truth
        self.seed = seed

    def __repr__(self):
        counts = ", ".join(f"{k}={len(v):,}" for k, v in self.items())
        return f"{type(self).__name__}(seed={self.seed}: {counts})"


def synthetic(n_customers=10_000, seed=0, start="2023-01-01", end="2025-12-31"):
    """Generate a coherent synthetic CRM with `n_customers` customers.

    Returns a SyntheticCRM: a dict of DataFrames named and shaped like the
    store's kinds, with foreign keys as row positions (-1 for none); links
    name the kinds their src/dst positions refer to in src_kind/dst_kind.
    Same seed, same data. Per customer there are roughly 2.8 orders (6 order
    lines), 2.4 interactions, 0.6 contacts, 0.3 deals and 0.4 tickets: a
    million customers make about 20 million rows, in seconds. The data
    reaches 65 years before ``start`` (birthdays) and 120 days after ``end``
    (deals' expected close), and the store keeps dates from 1677 to 2262: a
    start before 1742-09-24 or an end after 2261-12-11 is refused.

    >>> import crmcore as crm
    >>> data = crm.datasets.synthetic(2_000, seed=7)
    >>> sorted(data)[:3]
    ['campaign_members', 'campaigns', 'contacts']
    """
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    return _Generator(int(n_customers), seed, start, end).run()


class _Generator(PeopleDraws, PipelineDraws, ServiceDraws, LinkDraws):
    def __init__(self, n, seed, start, end):
        self.n = n
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        # Through the one date parser: garbage, NaT, a bare number or a date
        # beyond the store's years is refused naming the argument.
        first = as_of_timestamp(start, "start", "synthetic")
        last = shifted(as_of_timestamp(end, "end", "synthetic"), 1, "synthetic", "end", "end")  # its whole day
        earliest = (FIRST_TIME + pd.Timedelta(days=REACH_BEFORE_DAYS)).ceil("D")
        if first < FIRST_TIME + pd.Timedelta(days=REACH_BEFORE_DAYS):
            raise _invalid("synthetic", "start", f"{start!r} is too early: the data reaches 65 years before the "
                           f"start (the oldest birthdays) and the store keeps dates from {FIRST_TIME.date()}: "
                           f"give a start on or after {earliest.date()}")
        latest = (LAST_TIME - pd.Timedelta(days=REACH_AFTER_DAYS + 1)).floor("D")  # (its whole day, as `last`)
        if last > LAST_TIME - pd.Timedelta(days=REACH_AFTER_DAYS):  # (the sum could pass 2262)
            raise _invalid("synthetic", "end", f"{end!r} is too late: the data reaches {REACH_AFTER_DAYS} days "
                           f"after the end (open deals' expected close) and the store keeps dates to "
                           f"{LAST_TIME.date()}: give an end on or before {latest.date()}")
        self.t0 = np.datetime64(first, "ns")
        self.span = days_between(last, first)
        if self.span < 60:
            raise _invalid("synthetic", "end", f"the period from start ({first.date()}) to end must cover at least "
                           f"60 days, got {self.span:g}")
        self.frames = {}
        self._digits = {w: (digits(w), digits(w, True)) for w in (2, 3, 4)}

    # ---- time -------------------------------------------------------------

    def time(self, days):
        """Days since start (float, NaN = none) -> datetime64[ns], whole seconds."""
        days = np.asarray(days, dtype=float)
        sec = np.floor(np.nan_to_num(days) * 86_400).astype(np.int64)
        out = self.t0 + sec.astype("timedelta64[s]").astype("timedelta64[ns]")
        out[np.isnan(days)] = np.datetime64("NaT")
        return out

    def clip_days(self, d):
        return np.clip(d, 0.0, self.span - 1e-6)

    def clock(self, business):
        """(days since start, cumulative intensity) on whole days: maps calendar to operational time and back."""
        lam = np.concatenate([[0.0], np.cumsum(self.intensity(business))])
        return np.arange(len(lam)) - float(LEAD_DAYS), lam

    def month_of_day(self):
        """Month (0 = January) of each whole day of the period."""
        dates = self.t0 + np.arange(int(np.ceil(self.span))) * np.timedelta64(1, "D")
        return dates.astype("datetime64[M]").astype(int) % 12

    def hour_of_day(self, n, business):
        """Fraction of a day: office hours for B2B, lunch and evening peaks for B2C."""
        rng = self.rng
        b2b = np.clip(rng.normal(13.0, 2.6, n), 8.0, 19.0)
        peak = rng.random(n) < 0.55
        b2c = np.where(peak, rng.normal(20.5, 1.6, n), rng.normal(12.5, 2.5, n))
        return np.where(business, b2b, np.clip(b2c, 7.0, 23.9)) / 24.0

    def intensity(self, business):
        """Relative purchase intensity per calendar day, from LEAD_DAYS before the start to the end."""
        dates = self.t0 + np.arange(-LEAD_DAYS, int(np.ceil(self.span))) * np.timedelta64(1, "D")
        month = dates.astype("datetime64[M]").astype(int) % 12
        day = (dates - dates.astype("datetime64[M]")).astype("timedelta64[D]").astype(int) + 1
        dow = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
        if business:
            by_month = np.array([0.95, 0.7, 1.0, 1.0, 1.0, 1.05, 0.9, 0.85, 1.05, 0.95, 1.15, 1.4])
            by_dow = np.array([1.2, 1.25, 1.25, 1.2, 1.1, 0.25, 0.15])
            w = by_month[month] * by_dow[dow]
        else:
            by_month = np.array([0.9, 0.75, 0.9, 0.95, 1.0, 1.15, 0.9, 0.9, 1.0, 1.05, 1.55, 1.5])
            by_dow = np.array([0.9, 0.88, 0.9, 0.95, 1.05, 1.2, 1.12])
            w = by_month[month] * by_dow[dow]
            w = w * np.where((month == 10) & (day == 11), 5.0, 1.0)   # Double 11
            w = w * np.where((month == 5) & (day == 18), 3.0, 1.0)    # 618
            w = w * np.where((month == 10) & (day >= 23) & (day <= 29) & (dow == 4), 3.0, 1.0)  # Black Friday
        return w / w.mean()

    # ---- kinds ------------------------------------------------------------

    def staff(self):
        rng = self.rng
        n = int(np.clip(round(self.n / 250), 12, 4000))
        dept = _draw(rng, n, [d[1] for d in V.STAFF_DEPARTMENTS])
        dept[: len(V.STAFF_DEPARTMENTS)] = np.arange(len(V.STAFF_DEPARTMENTS))  # every department staffed
        title = np.empty(n, dtype=object)
        team = np.empty(n, dtype=object)
        for k, (name, _, titles, teams) in enumerate(V.STAFF_DEPARTMENTS):
            rows = np.flatnonzero(dept == k)
            title[rows] = _choose(titles, rng.integers(0, len(titles), len(rows)))
            team[rows] = _choose([f"{name} {t}" if name != "Management" else t for t in teams],
                                 rng.integers(0, len(teams), len(rows)))
        latin = rng.random(n) < 0.12
        name, given, family = self.person_names(n, latin)
        email = concat(given, ".", family, "@crmcore-demo.example")
        shanghai = np.zeros(n, dtype=np.int64)
        phone, _ = self.phones(shanghai, rng.random(n) < 0.8)
        self.staff_dept = dept
        self.staff_name = name
        self.frames["staff"] = _frame({
            "name": to_object(name), "email": to_object(email), "phone": to_object(phone),
            "team": team, "department": _choose([d[0] for d in V.STAFF_DEPARTMENTS], dept),
            "title": title,
        })

    def staff_of(self, department, n):
        pool = np.flatnonzero(self.staff_dept == department)
        return pool[self.rng.integers(0, len(pool), n)]

    def customers(self):
        rng = self.rng
        n = self.n
        city = _draw(rng, n, [c[8] for c in V.CITIES])
        china = np.array([c[3] == "86" for c in V.CITIES])[city]
        org = rng.random(n) < 0.25
        latin = np.where(china, rng.random(n) < np.where(org, 0.0, 0.06), rng.random(n) < np.where(org, 1.0, 0.7))
        self.city, self.org, self.latin, self.china = city, org, latin, china

        # Acquisition: an existing base, then more and more new customers,
        # who also come in with the seasons (promotions bring first orders).
        existing = rng.random(n) < 0.35
        share = rng.random(n) ** 0.7
        self.acquired = -rng.random(n) * LEAD_DAYS
        for business in (True, False):
            grid, lam = self.clock(business)
            rows = np.flatnonzero(~existing & (org == business))
            u_start, u_end = np.interp([0.0, self.span], grid, lam)
            self.acquired[rows] = np.interp(u_start + share[rows] * (u_end - u_start), lam, grid)
        self.by_acquisition = np.argsort(self.acquired)

        persons = np.flatnonzero(~org)
        p_name, p_given, p_family = self.person_names(len(persons), latin[persons])
        industry = _draw(rng, n, [i[3] for i in V.INDUSTRIES])
        brand_cn = rng.integers(0, len(V.CN_BRANDS), n)
        brand_lat = rng.integers(0, len(V.LATIN_BRANDS), n)
        parts = Parts()
        parts.add("city", vocab(c[2] for c in V.CITIES), city)
        parts.add("bcn", vocab(b for b, _ in V.CN_BRANDS), brand_cn)
        parts.add("bpy", vocab(p for _, p in V.CN_BRANDS), brand_cn)
        parts.add("blat", vocab(V.LATIN_BRANDS), brand_lat)
        parts.add("bslug", vocab(map(ascii_slug, V.LATIN_BRANDS)), brand_lat)
        parts.add("icn", vocab(i[1] for i in V.INDUSTRIES), industry)
        parts.add("ilat", vocab(i[2] for i in V.INDUSTRIES), industry)
        parts.add("islug", vocab(i[0] for i in V.INDUSTRIES), industry)
        parts.add("scn", vocab(V.CN_COMPANY_SUFFIXES), rng.integers(0, len(V.CN_COMPANY_SUFFIXES), n))
        parts.add("slat", vocab(V.LATIN_COMPANY_SUFFIXES), rng.integers(0, len(V.LATIN_COMPANY_SUFFIXES), n))
        org_rows = np.flatnonzero(org)
        org_latin = latin[org_rows].astype(int)
        org_names = render_by_choice(parts, ["{city}{bcn}{icn}{scn}", "{blat} {ilat} {slat}"], org_latin, org_rows)
        name = assemble(n, [(persons, p_name), (org_rows, org_names)])
        domain = assemble(n, [(org_rows, render_by_choice(parts, ["{bpy}-{islug}.cn", "{bslug}{islug}.com"],
                                                          org_latin, org_rows))])
        self.domain = domain

        phone, e164 = self.phones(city, np.where(org, rng.random(n) < 0.35, rng.random(n) < 0.93))
        pdom = self.private_mail_domains(latin[persons])
        p_email = self.emails(p_given, p_family, pdom, [
            ("{g}.{f}@{d}", 30), ("{f}{g}{nn}@{d}", 25), ("{i}{f}{yy}@{d}", 20), ("{g}_{f}@{d}", 10),
            ("{g}{f}@{d}", 15)])
        boxes = vocab(V.ORG_MAILBOXES)
        box = rng.integers(0, len(boxes), len(org_rows))
        o_email = concat(boxes[box], "@", domain[org_rows])
        # A tenth have a second address: another mailbox, or a second web-mail account.
        o2 = np.flatnonzero(rng.random(len(org_rows)) < 0.1)
        p2 = np.flatnonzero(rng.random(len(persons)) < 0.1)
        email = assemble(n, [
            (persons, p_email), (org_rows, o_email),
            (org_rows[o2], concat(o_email[o2], ";", boxes[(box[o2] + 1) % len(boxes)], "@", domain[org_rows[o2]])),
            (persons[p2], concat(p_email[p2], ";", p_given[p2], p_family[p2].astype("U1"), "@", pdom[p2])),
        ])
        has_email = rng.random(n) < np.where(org, 0.97, 0.75)

        d_flat = [(ci, d) for ci, c in enumerate(V.CITIES) for d in c[7]]
        d_count = np.bincount([ci for ci, _ in d_flat], minlength=len(V.CITIES))
        d_start = np.cumsum(d_count) - d_count
        parts.add("dist", vocab(d for _, d in d_flat), _pick_from_lists(rng, d_start, d_count, city))
        parts.add("road", vocab(V.CN_ROADS), rng.integers(0, len(V.CN_ROADS), n))
        parts.add("bld", vocab(V.CN_BUILDINGS), rng.integers(0, len(V.CN_BUILDINGS), n))
        parts.add("street", vocab(V.LATIN_STREETS), rng.integers(0, len(V.LATIN_STREETS), n))
        parts.add("no", vocab(str(i) for i in range(1, 1000)), np.minimum(rng.geometric(0.02, n), 999) - 1)
        address = render_by_choice(parts, ["{city}市{dist}{road}{no}号{bld}", "{no} {street}, {city} {dist}"],
                                   (~china).astype(int))

        src_person = ["web", "app", "store", "referral", "ads", "event"]
        src_org = ["referral", "cold_call", "event", "web", "partner", "ads"]
        source = np.where(org, _choose(src_org, _draw(rng, n, [20, 20, 20, 15, 15, 10])),
                          _choose(src_person, _draw(rng, n, [30, 20, 20, 15, 10, 5])))
        self.referred = source == "referral"
        owned = org | (rng.random(n) < 0.25)
        owner = np.where(owned, self.staff_of(SALES, n), -1)
        self.owner = owner
        self.e164 = e164
        self.frames["customers"] = _frame({
            "name": to_object(name),
            "kind": _choose(["person", "organization"], org.astype(int)),
            "phone": to_object(phone),
            "email": to_object(email, ~has_email),
            "address": to_object(address),
            "region": _choose([c[0] for c in V.CITIES], city),
            "industry": np.where(org, _choose([i[0] for i in V.INDUSTRIES], industry), None),
            "source": source,
            "owner": np.where(owned, to_object(self.staff_name)[np.maximum(owner, 0)], None),
            "status": None,     # filled in from the orders
            "tags": None,
        })
        self.industry = industry

    def contacts(self):
        rng = self.rng
        n = self.n
        # Organizations have 1..6 contacts (half of them just one); a fifth of
        # persons have someone else who deals with us (an assistant, a spouse).
        count = np.where(self.org, np.minimum(rng.geometric(0.5, n), 6), (rng.random(n) < 0.2).astype(int))
        home = np.repeat(np.arange(n), count)
        rank = _rank_in_group(count)
        m = len(home)
        city = self.city[home]
        china = self.china[home]
        latin = np.where(china, rng.random(m) < 0.05, rng.random(m) < 0.75)
        name, given, family = self.person_names(m, latin)
        phone, _ = self.phones(city, rng.random(m) < 0.9)
        org_home = self.org[home]
        email = self.emails(given, family, np.where(org_home, self.domain[home], self.private_mail_domains(latin)),
                            [("{g}.{f}@{d}", 50), ("{i}{f}@{d}", 30), ("{f}{g}{nn}@{d}", 20)])
        senior = ["General Manager", "CEO", "CFO", "Purchasing Manager", "Operations Director"]
        title = np.where(rank == 0, _choose(senior, rng.integers(0, len(senior), m)),
                         _choose(V.CONTACT_TITLES, rng.integers(0, len(V.CONTACT_TITLES), m)))
        title = np.where(org_home, title, None)
        birthday = self.time(rng.uniform(-63 * 365.25, -23 * 365.25, m))
        birthday[rng.random(m) < 0.4] = np.datetime64("NaT")
        self.contact_home, self.contact_rank = home, rank
        self.frames["contacts"] = _frame({
            "name": to_object(name),
            "title": title,
            "phone": to_object(phone),
            "email": to_object(email, rng.random(m) < 0.15),
            "preferences": _choose(V.CONTACT_PREFERENCES, rng.integers(0, len(V.CONTACT_PREFERENCES), m)),
            "birthday": birthday,
            "region": _choose([c[0] for c in V.CITIES], city),
        })

        # Customer-contact roles: the first contact is the primary decision maker.
        role = np.where(rank == 0, 0, 1 + (rng.random(m) < 0.6))
        since = np.maximum(self.acquired[home] - rng.uniform(0, 60, m), 0.0)
        # Some contacts also serve a second organization in the same region.
        org_contacts = np.flatnonzero(org_home)
        extra = org_contacts[rng.random(len(org_contacts)) < 0.08]
        orgs = np.flatnonzero(self.org)
        region_of = np.array([c[0] for c in V.CITIES])
        other = orgs[np.maximum(_pick_in_group(rng, region_of[self.city[orgs]], region_of[city[extra]]), 0)]
        keep = other != home[extra]
        extra, other = extra[keep], other[keep]
        e_since = np.maximum(self.acquired[other], since[extra]) + rng.uniform(0, 200, len(extra))
        e_since = np.minimum(e_since, self.span - 1)
        cust = np.concatenate([home, other])
        cont = np.concatenate([np.arange(m), extra])
        roles = np.concatenate([role, 1 + (rng.random(len(extra)) < 0.7)])
        since = np.concatenate([since, e_since])
        primary = np.concatenate([rank == 0, np.zeros(len(extra), bool)])
        left = ~primary & (rng.random(len(cust)) < 0.06)
        until = np.where(left, since + rng.random(len(cust)) * (self.span - since), np.nan)
        order = np.argsort(cust, kind="stable")
        self.frames["customer_contacts"] = _frame({
            "customer_id": cust[order].astype(np.int64),
            "contact_id": cont[order].astype(np.int64),
            "role": _choose(["decision_maker", "executor", "participant"], roles[order]),
            "is_primary": primary[order],
            "since": self.time(since[order]),
            "until": self.time(until[order]),
        })
        # The primary contact per customer (-1 for customers without one).
        self.primary_contact = np.full(n, -1, dtype=np.int64)
        self.primary_contact[home[rank == 0]] = np.flatnonzero(rank == 0)

    def products(self):
        rng = self.rng
        per_cat = int(np.clip(self.n // 400, 15, 120))
        cat = np.repeat(np.arange(len(V.PRODUCT_CATEGORIES)), per_cat)
        k = len(cat)
        median = np.array([c[1] for c in V.PRODUCT_CATEGORIES])[cat]
        sigma = np.array([c[2] for c in V.PRODUCT_CATEGORIES])[cat]
        margin = np.array([c[3] for c in V.PRODUCT_CATEGORIES])[cat]
        price = np.round(median * np.exp(rng.normal(0, sigma)), 0) - 0.01
        price = np.maximum(price, 1.99)
        margin = np.clip(margin + rng.normal(0, 0.08, k), 0.03, 0.92)
        cost = np.round(price * (1 - margin), 2)
        base = np.concatenate([c[4] for c in V.PRODUCT_CATEGORIES])
        base_start = np.cumsum([0] + [len(c[4]) for c in V.PRODUCT_CATEGORIES])[:-1]
        base_n = np.array([len(c[4]) for c in V.PRODUCT_CATEGORIES])
        parts = Parts()
        parts.add("base", vocab(base), _pick_from_lists(rng, base_start, base_n, cat))
        parts.add("model", vocab(V.PRODUCT_MODELS), rng.integers(0, len(V.PRODUCT_MODELS), k))
        parts.add("no", digits(3), np.arange(k) % 1000)
        parts.add("sku", digits(4), np.arange(k) % 10_000)
        name = parts.render("{base} {model} {no}", np.arange(k))
        self.product_cat, self.price, self.unit_cost = cat, price, cost
        self.popularity = rng.pareto(1.2, k) + 0.05
        self.frames["products"] = _frame({
            "sku": to_object(parts.render("SKU-{sku}", np.arange(k))),
            "name": to_object(name),
            "category": _choose([c[0] for c in V.PRODUCT_CATEGORIES], cat),
            "list_price": price,
            "unit_cost": cost,
        })

    def orders(self):
        rng = self.rng
        n = self.n
        org = self.org
        # BG/NBD-style heterogeneity: purchase rate ~ gamma, dropout p ~ beta.
        prospect = rng.random(n) < 0.12
        rate = rng.gamma(0.9, np.where(org, 1 / 40.0, 1 / 90.0) / 0.9)  # purchases per day
        p_drop = rng.beta(np.where(org, 1.2, 1.5), np.where(org, 8.0, 4.5))
        planned = np.minimum(rng.geometric(p_drop), 60)          # purchases before dropping out
        planned[prospect] = 0
        # Each customer's purchase clock runs in operational days (calendar
        # days weighted by the intensity); where it stands at acquisition and at the end.
        u_acq, u_end = np.empty(n), np.empty(n)
        for business in (True, False):
            grid, lam = self.clock(business)
            rows = org == business
            u_acq[rows] = np.interp(self.acquired[rows], grid, lam)
            u_end[rows] = np.interp(self.span, grid, lam)
        # Purchases after the end are never seen: simulate only as many as
        # could fall before it (a Poisson bound exceeded by about one customer in a million).
        expected = rate * (u_end - u_acq)
        simulated = np.minimum(planned, np.ceil(expected + 5 * np.sqrt(expected) + 5).astype(np.int64))
        cust = np.repeat(np.arange(n), simulated)
        rank = _rank_in_group(simulated)
        gaps = rng.exponential(1.0, len(cust)) / rate[cust]
        gaps[rank == 0] = 0.0
        cum = np.cumsum(gaps)
        some = simulated > 0
        offs = (np.cumsum(simulated) - simulated)[some]
        op_time = cum - np.repeat(cum[offs] - gaps[offs], simulated[some])

        # Map each customer's clock back to calendar time.
        when = np.empty(len(cust))
        for business in (True, False):
            grid, lam = self.clock(business)
            sel = org[cust] == business
            when[sel] = np.interp(u_acq[cust[sel]] + op_time[sel], lam, grid, right=np.inf)
        before_end = when < self.span
        cust = cust[before_end]
        when = np.floor(when[before_end]) + self.hour_of_day(len(cust), org[cust])

        # The hidden truth: who dropped out (made all planned purchases) and when.
        last_any = np.full(n, np.nan)
        np.fmax.at(last_any, cust, when)
        dropped = (np.bincount(cust, minlength=n) == planned) & (planned > 0)
        self.truth = _frame({
            "acquired_at": self.time(self.acquired),
            "purchase_rate": rate * 365.25,
            "dropout_p": p_drop,
            "prospect": prospect,
            "dropped_at": self.time(np.where(dropped, last_any, np.nan)),
            "phone_e164": to_object(self.e164),
            "organization": org,
        })
        self.prospect = prospect
        # Active window: interactions etc. happen while the customer is around.
        self.active_end = np.where(dropped, np.minimum(last_any + 120.0, self.span - 1e-6),
                                   np.where(prospect, np.minimum(self.acquired + 180.0, self.span - 1e-6),
                                            self.span - 1e-6))
        self.present = self.active_end > 0      # still around at some time in the period

        # Only orders inside the period are on record.
        inside = when >= 0
        cust, when = cust[inside], when[inside]
        made = np.bincount(cust, minlength=n)
        last = np.full(n, np.nan)
        np.fmax.at(last, cust, when)
        self.last_order = last
        self.order_count = made

        # Rows so far are grouped by customer; the frame lists orders by time.
        # (Times are random fractions of a second apart: the plain, fast
        # argsort is as deterministic as a stable one here.)
        order = np.argsort(when)
        cust, when = cust[order], when[order]
        k = len(cust)
        b2b = org[cust]
        # Lines: which products, how many, at what price.
        n_lines = 1 + rng.poisson(np.where(b2b, 2.0, 0.7))
        line_order = np.repeat(np.arange(k), n_lines)
        line_b2b = b2b[line_order]
        n_line = len(line_order)
        b2b_affinity = np.array([1.0, 1.6, 1.5, 1.4, 1.2, 1.3, 0.2, 0.3])
        b2c_affinity = np.array([1.0, 0.3, 0.4, 0.2, 0.5, 1.0, 1.6, 1.5])
        product = np.empty(n_line, dtype=np.int64)
        for flag, affinity in ((True, b2b_affinity), (False, b2c_affinity)):
            sel = np.flatnonzero(line_b2b == flag)
            product[sel] = _draw_many(rng, len(sel), self.popularity * affinity[self.product_cat])
        bulk = np.isin(self.product_cat[product], [1, 5])
        qty = rng.geometric(np.where(line_b2b, 0.3, 0.75)) * np.where(line_b2b & bulk, 5, 1)
        tier = np.array([0.0, 0.05, 0.1, 0.15])[_draw(rng, n, [40, 30, 20, 10])]
        month = self.month_of_day()[when.astype(np.int64)]
        promo = (~line_b2b) & np.isin(month[line_order], [5, 10]) & (rng.random(n_line) < 0.5)
        discount = np.where(line_b2b, tier[cust[line_order]], np.where(promo, rng.choice([0.1, 0.15, 0.2], n_line), 0.0))
        price_c = np.round(_cents(self.price[product]) * (1 - discount)).astype(np.int64)
        cost_c = _cents(self.unit_cost[product])
        amount_c = np.bincount(line_order, weights=qty * price_c, minlength=k)
        order_cost_c = np.bincount(line_order, weights=qty * cost_c, minlength=k)

        # Categories stay integer codes until the frame is built: comparing
        # millions of Python strings is what would make this slow.
        channels = ["sales_rep", "online_store", "phone", "distributor", "app", "wechat_mini", "retail_store"]
        channel = np.where(b2b, np.array([0, 1, 2, 3])[_draw(rng, k, [50, 15, 15, 20])],
                           np.array([1, 4, 5, 6, 2])[_draw(rng, k, [45, 20, 15, 15, 5])])
        status = _draw(rng, k, [93, 4, 3])
        status[(when > self.span - 5) & (status == 0)] = 3
        staff = np.where(b2b, self.owner[cust], -1)
        in_store = channel == 6
        staff[in_store] = self.staff_of(SALES, in_store.sum())
        self.order_cust, self.order_time, self.order_status = cust, when, status
        self.order_amount_c = amount_c.astype(np.int64)
        self.frames["orders"] = _frame({
            "customer_id": cust.astype(np.int64),
            "ordered_at": self.time(when),
            "amount": amount_c / 100.0,
            "cost": order_cost_c / 100.0,
            "channel": _choose(channels, channel),
            "location": _choose([c[1] for c in V.CITIES], self.city[cust]),
            "status": _choose(ORDER_STATUSES, status),
            "staff_id": staff.astype(np.int64),
        })
        self.frames["order_lines"] = _frame({
            "order_id": line_order.astype(np.int64),
            "product_id": product,
            "quantity": qty.astype(float),
            "unit_price": price_c / 100.0,
            "unit_cost": cost_c / 100.0,
        })
        # Per-customer lists of their orders: where each customer-grouped row went.
        by_cust = np.empty(k, dtype=np.int64)
        by_cust[order] = np.arange(k)
        self.orders_by_cust = by_cust
        self.orders_start = np.cumsum(made) - made
        self.payments()

    def payments(self):
        rng = self.rng
        paid = np.flatnonzero((self.order_status == 0) | (self.order_status == 2))   # completed, returned
        b2b = self.org[self.order_cust[paid]]
        split = b2b & (rng.random(len(paid)) < 0.2)
        reps = 1 + split
        rows = np.repeat(paid, reps)
        part = np.zeros(len(rows), dtype=np.int64)          # 0 = first or only payment, 1 = second
        part[(np.cumsum(reps) - 1)[split]] = 1
        amt = self.order_amount_c[rows]
        half = amt // 2
        amount_c = np.where(np.repeat(split, reps), np.where(part == 0, half, amt - half), amt)
        b2b_r = np.repeat(b2b, reps)
        delay = np.where(b2b_r, rng.gamma(2.0, 10.0, len(rows)) + part * 30.0,
                         rng.exponential(10.0, len(rows)) / 1440.0)
        at = self.order_time[rows] + delay
        keep = at < self.span
        method = np.where(b2b_r, _choose(["bank_transfer", "card", "alipay"], _draw(rng, len(rows), [80, 10, 10])),
                          _choose(["alipay", "wechat_pay", "card", "cash"], _draw(rng, len(rows), [35, 35, 20, 10])))
        self.frames["payments"] = _frame({
            "customer_id": self.order_cust[rows][keep].astype(np.int64),
            "order_id": rows[keep].astype(np.int64),
            "paid_at": self.time(at[keep]),
            "amount": amount_c[keep] / 100.0,
            "method": method[keep],
        })

    def event_times(self, cust, anchor_share, lag):
        """Times near one of the customer's orders (shifted by `lag` days), else anywhere in their active window."""
        rng = self.rng
        m = len(cust)
        lo = np.maximum(self.acquired[cust] - 30.0, 0.0)
        t = lo + rng.random(m) * (self.active_end[cust] - lo)
        anchored = (rng.random(m) < anchor_share) & (self.order_count[cust] > 0)
        rows = np.flatnonzero(anchored)
        pick = _pick_from_lists(rng, self.orders_start, self.order_count, cust[rows])
        t[rows] = self.order_time[self.orders_by_cust[pick]] + lag(len(rows))
        day = np.floor(self.clip_days(t))
        return day + self.hour_of_day(m, self.org[cust])

    def first_order_between(self, cust, lo, hi):
        """Position of each customer's first order in [lo, hi) (days), -1 if none.

        One searchsorted over (customer, second) keys: the orders grouped by
        customer are in time order within each customer already.
        """
        if not hasattr(self, "_order_keys"):
            self._key_shift = np.int64(1) << int(np.ceil(np.log2(self.span * 86_400 + 2)))
            g = self.orders_by_cust
            self._order_keys = self.order_cust[g] * self._key_shift + np.floor(self.order_time[g] * 86_400).astype(np.int64)
        keys, shift, g = self._order_keys, self._key_shift, self.orders_by_cust
        base = np.asarray(cust, dtype=np.int64) * shift
        idx = np.searchsorted(keys, base + np.ceil(np.asarray(lo) * 86_400).astype(np.int64))
        found = idx < len(keys)
        found[found] = keys[idx[found]] < (base + np.ceil(np.asarray(hi) * 86_400).astype(np.int64))[found]
        return np.where(found, g[np.minimum(idx, len(g) - 1)], -1)

    def contact_for(self, cust, share):
        """The customer's primary contact for a share of rows, else -1."""
        c = self.primary_contact[cust]
        return np.where(self.rng.random(len(cust)) < share, c, -1)

    def staff_for(self, cust, owner_share, department):
        own = self.owner[cust]
        fallback = self.staff_of(department, len(cust))
        return np.where((own >= 0) & (self.rng.random(len(cust)) < owner_share), own, fallback)

    def finish_customers(self):
        """Status and tags follow from the orders, as a CRM would derive them."""
        n = self.n
        cust = self.frames["customers"]
        since_last = self.span - self.last_order
        # No order on record: a prospect, or a customer who left before the period.
        status = np.where(self.order_count == 0, np.where(self.prospect, 0, 3),
                          np.where(since_last <= 180, 1, np.where(since_last <= 540, 2, 3)))
        revenue = np.bincount(self.order_cust, weights=self.order_amount_c, minlength=n)
        vip = revenue >= np.quantile(revenue, 0.95) if n > 1 else revenue > 0
        flags = np.stack([vip, self.rng.random(n) < 0.3, self.rng.random(n) < 0.1, self.referred]).T
        names = ["vip", "newsletter", "price_sensitive", "referral"]
        combos = [";".join(t for t, bit in zip(names, range(4)) if code >> bit & 1) or None for code in range(16)]
        code = (flags * (1 << np.arange(4))).sum(axis=1)
        cust["status"] = _choose(["prospect", "active", "inactive", "lost"], status)
        cust["tags"] = np.asarray(combos, dtype=object)[code]

    def run(self):
        self.staff()
        self.customers()
        self.contacts()
        self.products()
        self.orders()
        self.interactions()
        self.deals()
        self.tickets_and_surveys()
        self.campaigns()
        self.tasks()
        self.links()
        late_buyers(self)
        self.finish_customers()
        self.service_fields()
        frames = {k: self.frames[k] for k in KINDS}
        return SyntheticCRM(frames, self.truth, self.seed)
