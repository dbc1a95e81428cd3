"""Sales reports (issue 11 item 1-2): time in stage, win rate, cycle length,
slipped deals and the forecast, each checked on a small hand-worked case and
against a plain pandas computation of the same report on random deals."""
import doctest

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
import crmcore.sales
from crmcore.sales import _codes, forecast_table

STAGES = ["lead", "qualified", "proposal", "negotiation"]
DAY = pd.Timedelta(days=1)


def test_doctests():
    assert doctest.testmod(crmcore.sales).failed == 0


@pytest.fixture
def hand():
    """Three deals worked out on paper (as_of 2024-03-01):
    A (Wang, web, organization): lead 01-01, proposal 01-11, won 01-21 (cycle 20 days)
    B (Li, fair, person):        lead 01-01, negotiation 01-06, lost 02-05 (cycle 35 days)
    C (Wang, web, organization): lead 02-01, still in lead on 03-01 (29 days), expected close 02-15
    """
    db = crm.open(":memory:")
    wang, li = db.add("staff", name="Wang", team="north"), db.add("staff", name="Li", team="south")
    web = db.add("customers", name="Acme", source="web", kind="organization")
    fair = db.add("customers", name="Bo", source="fair", kind="person")
    a = db.add("deals", customer_id=web, stage="lead", owner_id=wang, amount=100.0, stage_changed_at="2024-01-01",
               expected_close="2024-01-31")
    db.sales.move(a, "proposal", at="2024-01-11")
    db.sales.move(a, "won", at="2024-01-21")
    b = db.add("deals", customer_id=fair, stage="lead", owner_id=li, amount=40.0, stage_changed_at="2024-01-01")
    db.sales.move(b, "negotiation", at="2024-01-06")
    db.sales.move(b, "lost", at="2024-02-05")
    c = db.add("deals", customer_id=web, stage="lead", owner_id=wang, amount=60.0, stage_changed_at="2024-02-01",
               expected_close="2024-02-15")
    db.ids = dict(wang=wang, li=li, a=a, b=b, c=c)
    return db


def test_time_in_stage_by_hand(hand):
    t = hand.sales.time_in_stage(as_of="2024-03-01")
    assert t.index.tolist() == ["lead", "proposal", "negotiation"]
    assert t.stays.tolist() == [3, 1, 1]
    assert t.mean_days.tolist() == pytest.approx([(10 + 5 + 29) / 3, 10, 30])
    assert t.median_days.tolist() == [10, 10, 30]
    by = hand.sales.time_in_stage(by="owner", as_of="2024-03-01")
    assert by.loc[(hand.ids["wang"], "lead"), "median_days"] == pytest.approx(19.5)
    assert by.loc[(hand.ids["li"], "negotiation"), "mean_days"] == 30
    # Before C existed and while A sat in proposal: history after as_of is not there yet.
    early = hand.sales.time_in_stage(as_of="2024-01-15")
    assert early.stays.tolist() == [2, 1, 1] and early.loc["proposal", "mean_days"] == 4


def test_default_as_of_is_the_end_of_the_data(hand):
    # The last change is B lost on 02-05 and C's lead on 02-01: midnight after 02-05, as for every analysis.
    t = hand.sales.time_in_stage()
    assert t.attrs["as_of"] == pd.Timestamp("2024-02-06") == hand.default_as_of()
    assert t.loc["lead", "mean_days"] == pytest.approx((10 + 5 + 5) / 3)
    assert hand.sales.slipped().empty  # C is due 02-15, after the end of the data


def test_empty_store_and_one_open_deal():
    db = crm.open(":memory:")
    for by in (None, "owner"):
        assert db.sales.time_in_stage(by=by).empty and db.sales.forecast(by=by).empty
        assert db.sales.win_rate(by=by, period="M").empty and db.sales.cycle_length(by=by, period="M").empty
    assert db.sales.slipped().empty
    db.add("deals", customer_id=db.add("customers", name="a"), stage="lead", stage_changed_at="2024-01-01")
    w, c = db.sales.win_rate(), db.sales.cycle_length()
    assert (w.won.tolist(), w.lost.tolist(), c.deals.tolist()) == ([0], [0], [0])
    assert np.isnan(w.win_rate.iloc[0]) and np.isnan(c.mean_days.iloc[0])
    assert db.sales.time_in_stage().stays.tolist() == [1]


def test_win_rate_and_cycle_by_hand(hand):
    w = hand.sales.win_rate()
    assert (w.won.iloc[0], w.lost.iloc[0], w.win_rate.iloc[0]) == (1, 1, 0.5)
    assert hand.sales.win_rate(by="source").win_rate.to_dict() == {"fair": 0.0, "web": 1.0}
    assert hand.sales.win_rate(by="segment").win_rate.to_dict() == {"organization": 1.0, "person": 0.0}
    assert hand.sales.win_rate(by="team").win_rate.to_dict() == {"north": 1.0, "south": 0.0}
    m = hand.sales.win_rate(by="owner", period="M")
    assert m.index.tolist() == [(pd.Period("2024-01", "M"), hand.ids["wang"]),
                                (pd.Period("2024-02", "M"), hand.ids["li"])]
    c = hand.sales.cycle_length()
    assert (c.deals.iloc[0], c.mean_days.iloc[0], c.median_days.iloc[0]) == (2, 27.5, 27.5)
    assert hand.sales.cycle_length(by="owner").mean_days.to_dict() == {hand.ids["wang"]: 20.0, hand.ids["li"]: 35.0}
    assert hand.sales.cycle_length().attrs["deals"].to_dict() == {hand.ids["a"]: 20.0, hand.ids["b"]: 35.0}


def test_slipped_by_hand(hand):
    s = hand.sales.slipped(as_of="2024-03-01")
    assert s.index.tolist() == [hand.ids["c"]] and s.days_late.tolist() == [15.0]  # A closed: not slipped
    assert hand.sales.slipped(as_of="2024-02-15").empty                            # due that very instant: not late


def test_forecast_by_hand(hand):
    d = hand.add("deals", customer_id=hand.frame("customers").index[0], stage="negotiation", amount=200.0,
                 owner_id=hand.ids["li"], expected_close="2024-02-20", probability=0.9)
    f = hand.sales.forecast(period="M", by=None)
    assert f.index.tolist() == [pd.Period("2024-01", "M"), pd.Period("2024-02", "M")]
    assert f.loc["2024-01"].tolist() == [100.0, 0, 0.0, 0.0, 0.0, 0.0]          # A won in January
    # C (lead, 60 x 0.1) and the new deal (200 x 0.9, its own probability) in February; B lost counts nowhere.
    assert f.loc["2024-02"].tolist() == pytest.approx([0.0, 2, 260.0, 186.0, 200.0, 200.0])
    by = hand.sales.forecast(period="Q", by="owner")
    assert by.loc[(pd.Period("2024Q1", "Q"), hand.ids["li"]), "commit"] == 200.0
    assert d in hand.frame("deals").index
    with pytest.raises(crm.ValidationError, match="colour"):
        hand.sales.forecast(by="colour")


# -- against plain pandas on random deals ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rand():
    rng = np.random.default_rng(7)
    db = crm.open(":memory:")
    staff = [db.add("staff", name=f"s{i}", team=f"t{i % 2}") for i in range(4)]
    cust = [db.add("customers", name=f"c{i}", source=["web", "fair", None][i % 3],
                   kind=["organization", "person"][i % 2], region=["North", "South"][i % 2 if i < 8 else 0])
            for i in range(9)]
    start = pd.Timestamp("2024-01-01")
    for _ in range(120):
        at = start + pd.Timedelta(days=int(rng.integers(0, 120)), hours=int(rng.integers(0, 24)))
        step = int(rng.integers(0, 4))
        due = None if rng.random() < 0.1 else at + pd.Timedelta(days=int(rng.integers(10, 90)))
        d = db.add("deals", customer_id=int(rng.choice(cust)), stage=STAGES[step], owner_id=int(rng.choice(staff)),
                   amount=None if rng.random() < 0.05 else float(rng.integers(1, 100) * 10), stage_changed_at=at,
                   expected_close=due, probability=None if rng.random() < 0.7 else float(rng.random()))
        for _ in range(int(rng.integers(0, 5))):
            at = at + pd.Timedelta(hours=int(rng.integers(0, 24 * 40)))  # zero: two changes at one instant
            nxt = rng.choice(STAGES + ["won", "lost"])
            db.sales.move(d, str(nxt), at=at)
            if nxt in ("won", "lost") and rng.random() < 0.7:
                break
    return db


def _deals(db):
    d = db.frame("deals").join(db.frame("customers")[["source", "kind", "region"]], on="customer_id")
    d = d.rename(columns={"kind": "segment"}).assign(owner=d.owner_id)
    d["team"] = d.owner_id.map(db.frame("staff").team)
    d["category"] = d.stage.map({"won": "won", "lost": "lost"}).fillna("open")
    default = d.stage.map(dict(zip(STAGES + ["won", "lost"], [0.1, 0.25, 0.5, 0.75, 1.0, 0.0])))
    d["probability"] = d.probability.fillna(default)
    return d


@pytest.mark.parametrize("by", [None, "owner", "segment"])
def test_time_in_stage_matches_pandas(rand, by):
    as_of = pd.Timestamp("2024-04-01")
    got = rand.sales.time_in_stage(by=by, as_of=as_of)
    h = rand.frame("deal_stages").reset_index().sort_values(["deal_id", "changed_at", "id"])
    h = h[h.changed_at <= as_of]
    h["end"] = h.groupby("deal_id").changed_at.shift(-1).fillna(as_of)
    h["days"] = (h.end - h.changed_at) / DAY
    h = h[~h.stage.isin(["won", "lost"])]
    keys = ["stage"]
    if by is not None:
        h[by] = h.deal_id.map(_deals(rand)[by])
        keys = [by, "stage"]
    want = h.groupby(keys).days.agg(["size", "mean", "median"])
    assert len(got) == len(want) and got.stays.sum() == len(h)
    want = want.reindex(got.index)
    np.testing.assert_array_equal(got.stays, want["size"])
    np.testing.assert_allclose(got.mean_days, want["mean"], rtol=1e-12)
    np.testing.assert_allclose(got.median_days, want["median"], rtol=1e-12)
    stages = got.index.get_level_values("stage").unique().tolist()
    assert stages == [s for s in STAGES if s in stages]


@pytest.mark.parametrize("by, period", [(None, None), ("owner", None), ("source", "M"), ("team", "Q"),
                                        (None, "M")])
def test_win_rate_and_cycle_match_pandas(rand, by, period):
    d = _deals(rand)
    closed = d[d.category != "open"].copy()
    first = rand.frame("deal_stages").groupby("deal_id").changed_at.min()
    closed["days"] = (closed.closed_at - closed.index.map(first)) / DAY
    keys = ([] if period is None else [closed.closed_at.dt.to_period(period).rename("closed")]) + \
        ([] if by is None else [closed[by]])
    grouped = closed.groupby(keys) if keys else closed.groupby(np.zeros(len(closed), dtype=int))
    want = grouped.agg(won=("category", lambda s: int((s == "won").sum())),
                       lost=("category", lambda s: int((s == "lost").sum())),
                       deals=("days", "size"), mean=("days", "mean"), median=("days", "median"))
    w = rand.sales.win_rate(by=by, period=period)
    c = rand.sales.cycle_length(by=by, period=period)
    assert len(w) == len(want) == len(c) and want.won.sum() > 0 and want.lost.sum() > 0
    np.testing.assert_array_equal(w.won, want.won)
    np.testing.assert_array_equal(w.lost, want.lost)
    np.testing.assert_allclose(w.win_rate, want.won / (want.won + want.lost))
    np.testing.assert_array_equal(c.deals, want.deals)
    np.testing.assert_allclose(c.mean_days, want["mean"], rtol=1e-12)
    np.testing.assert_allclose(c.median_days, want["median"], rtol=1e-12)
    if keys:
        assert list(map(tuple, w.index.to_frame().astype(str).values)) == \
            list(map(tuple, want.index.to_frame().astype(str).values))


def test_slipped_matches_pandas(rand):
    as_of = pd.Timestamp("2024-03-15")
    d = _deals(rand)
    want = d[(d.category == "open") & (d.expected_close < as_of)]
    got = rand.sales.slipped(as_of=as_of)
    assert len(got) > 0 and set(got.index) == set(want.index)
    np.testing.assert_allclose(got.days_late, (as_of - want.expected_close.loc[got.index]) / DAY)
    assert got.days_late.is_monotonic_decreasing


@pytest.mark.parametrize("period, by", [("M", "owner"), ("Q", None), ("W", "source"), ("M", "region")])
def test_forecast_matches_pandas(rand, period, by):
    d = _deals(rand)
    d = d[d.category != "lost"].copy()
    is_open = d.category == "open"
    d["period"] = d.expected_close.where(is_open, d.closed_at).dt.to_period(period)
    a = d.amount.fillna(0.0)
    d = d.assign(won=a.where(~is_open, 0.0), open_deals=is_open.astype(int), pipeline=a.where(is_open, 0.0),
                 weighted=(a * d.probability).where(is_open, 0.0),
                 commit=a.where(is_open & (d.probability >= 0.75), 0.0),
                 best_case=a.where(is_open & (d.probability >= 0.5), 0.0))
    keys = ["period"] + ([] if by is None else [by])
    want = d.groupby(keys)[["won", "open_deals", "pipeline", "weighted", "commit", "best_case"]].sum()
    got = rand.sales.forecast(period=period, by=by)
    assert len(got) == len(want) and got.commit.sum() > 0
    assert got.index.tolist() == want.index.tolist()
    np.testing.assert_allclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float), rtol=1e-12)


def test_forecast_table_needs_no_store():
    deals = pd.DataFrame({"category": ["open", "open", "lost"], "amount": [10.0, np.nan, 7.0],
                          "probability": [np.nan, 0.9, 0.0], "owner": [1, 1, 2],
                          "expected_close": pd.to_datetime(["2024-01-09", "2024-01-10", "2024-01-11"]),
                          "closed_at": pd.NaT})
    f = forecast_table(deals, by="owner")
    # An unknown chance weighs nothing and is not commit; a missing amount counts 0.
    assert f.iloc[0].tolist() == [0.0, 2, 10.0, 0.0, 0.0, 0.0] and len(f) == 1


@pytest.mark.parametrize("ids", [np.array([5, 9, 12]), np.array([5, 9, 10**12])])  # a lookup table; a binary search
def test_deal_codes_find_each_id_or_minus_one(ids):
    values = [ids[2], 7, 5, 0, ids[1], 10**13]
    assert _codes(ids, values).tolist() == [2, -1, 0, -1, 1, -1]


@pytest.mark.parametrize("by", [None, "owner", "region"])
def test_velocity_matches_pandas(rand, by):
    d = _deals(rand)
    key = d[by] if by else pd.Series("all", index=d.index)
    first = rand.frame("deal_stages").groupby("deal_id").changed_at.min()
    closed = d.category != "open"
    days = ((d.closed_at - d.index.map(first)) / DAY).where(closed)
    won = (d.category == "won").groupby(key).sum()
    want = pd.DataFrame({"open_deals": (d.category == "open").groupby(key).sum(),
                         "avg_won": d.amount.where(d.category == "won").groupby(key).mean(),
                         "win_rate": won / closed.groupby(key).sum(), "cycle_days": days.groupby(key).mean()})
    want["velocity"] = want.open_deals * want.avg_won * want.win_rate / want.cycle_days
    got = rand.sales.velocity(by=by)
    assert got.index.tolist() == want.index.tolist() and got.velocity.notna().all()
    np.testing.assert_allclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float), rtol=1e-12)


# -- funnel and time in stage per deal group and period of creation (issue 11) -------------------------------------
FUNNEL = STAGES + ["won"]


def _pandas_funnel_groups(db, keys, as_of):
    """The funnel per group in plain pandas: each deal's furthest step in its
    history up to as_of, the deals and amounts at or past each step, the deals
    standing open at each and the lost ones, per group of ``keys`` (columns of
    the deals, ``created`` the month the deal's first stage row is in)."""
    d = _deals(db)
    h = db.frame("deal_stages").reset_index()
    d["created"] = h.groupby("deal_id").changed_at.min().reindex(d.index).dt.to_period("M")
    h = h[h.changed_at <= as_of].sort_values(["deal_id", "changed_at", "id"])
    furthest = h.stage.map({s: i for i, s in enumerate(FUNNEL)}).groupby(h.deal_id).max().reindex(d.index)
    last = h.groupby("deal_id").stage.last().reindex(d.index)
    d = d.dropna(subset=keys)
    out, lost = {}, {}
    for key, g in d.groupby(keys):
        f, a, s = furthest[g.index], g.amount.fillna(0.0), last[g.index]
        out[key] = pd.DataFrame({"deals": [(f >= i).sum() for i in range(len(FUNNEL))],
                                 "amount": [a[f >= i].sum() for i in range(len(FUNNEL))],
                                 "open": [(s == st).sum() if st != "won" else 0 for st in FUNNEL]}, index=FUNNEL)
        lost[key] = (s == "lost").sum()
    return out, lost


@pytest.mark.parametrize("by,period", [("owner", None), ("team", None), ("source", None), ("segment", None),
                                       (None, "month"), ("owner", "M")])
def test_funnel_by_deal_group_and_period_matches_pandas(rand, by, period):
    as_of = pd.Timestamp("2024-04-01")
    got = rand.sales.funnel(by=by, period=period, as_of=as_of)
    keys = (["created"] if period else []) + ([by] if by else [])
    assert got.index.names == keys + ["stage"] and got.attrs["by"] == keys
    want, lost = _pandas_funnel_groups(rand, keys, as_of)
    groups = got.index.droplevel("stage").unique()
    assert sorted(groups) == sorted(k if len(keys) > 1 else k[0] for k in want) and len(want) > 1
    for key, w in want.items():
        key = key if len(keys) > 1 else key[0]
        part = got.loc[key]
        assert part.index.tolist() == FUNNEL, key
        assert part.deals.tolist() == w.deals.tolist() and part.open.tolist() == w.open.tolist(), key
        np.testing.assert_allclose(part.amount, w.amount, rtol=1e-12)
        assert got.attrs["lost"][key] == lost[key if len(keys) > 1 else (key,)]
    # Every deal with history by then counts in exactly one group's first step, unless its key is missing.
    assert got.deals.xs("lead", level="stage").sum() <= rand.sales.funnel(as_of=as_of).loc["lead", "deals"]


def test_funnel_by_owner_is_the_deals_owner_and_errors_are_named(hand):
    f = hand.sales.funnel(by="owner", as_of="2024-03-01")
    assert f.deals.xs("lead", level="stage").to_dict() == {hand.ids["wang"]: 2, hand.ids["li"]: 1}
    assert f.attrs["lost"].to_dict() == {hand.ids["wang"]: 0, hand.ids["li"]: 1}
    q = hand.sales.funnel(period="quarter", by="team", as_of="2024-03-01")
    assert q.loc[(pd.Period("2024Q1", "Q"), "north", "won"), "deals"] == 1
    with pytest.raises(crm.ValidationError, match="period"):
        hand.sales.funnel(period="fortnight")
    with pytest.raises(crm.ValidationError, match="customer dimension"):
        hand.sales.funnel(by="region", period="month")
    empty = crm.open(":memory:").sales.funnel(by="owner")
    assert empty.empty and empty.index.names == ["owner", "stage"]


@pytest.mark.parametrize("by", [None, "source"])
def test_time_in_stage_by_period_matches_pandas(rand, by):
    as_of = pd.Timestamp("2024-04-01")
    got = rand.sales.time_in_stage(by=by, period="month", as_of=as_of)
    h = rand.frame("deal_stages").reset_index().sort_values(["deal_id", "changed_at", "id"])
    created = h.groupby("deal_id").changed_at.min().dt.to_period("M")
    h = h[h.changed_at <= as_of]
    h["end"] = h.groupby("deal_id").changed_at.shift(-1).fillna(as_of)
    h["days"] = (h.end - h.changed_at) / DAY
    h = h[~h.stage.isin(["won", "lost"])]
    h["created"] = h.deal_id.map(created)
    keys = ["created", "stage"]
    if by is not None:
        h[by] = h.deal_id.map(_deals(rand)[by])
        keys = ["created", by, "stage"]
    want = h.groupby(keys).days.agg(["size", "mean", "median"])
    assert got.index.names == keys and len(got) == len(want) > 4
    want = want.reindex(got.index)
    np.testing.assert_array_equal(got.stays, want["size"])
    np.testing.assert_allclose(got.mean_days, want["mean"], rtol=1e-12)
    np.testing.assert_allclose(got.median_days, want["median"], rtol=1e-12)
    outer = got.index.get_level_values("created")
    assert (np.diff(outer.asi8) >= 0).all()  # grouped by month first, stages in order within


def test_velocity_per_close_period_by_hand():
    """velocity(period=...): per month of close, the won amount, win rate and
    cycle of the deals closed in it, times the deals open at its end.
    a (web): lead 01-01, won 01-11 (900, 10 days); b (web): lead 01-01,
    lost 01-31 (30 days); c (web): lead 01-15, won 02-10 (300, 26 days);
    d (fair): lead 02-01, open. January: open at its end c only (d not yet
    made): 1 x 900 x 0.5 / 20 = 22.5. February: open at its end d: 1 x 300
    x 1 / 26; by source web has none open then (velocity 0) and fair closed
    nothing (no row)."""
    db = crm.open(":memory:")
    web = db.add("customers", name="Acme", source="web")
    fair = db.add("customers", name="Bo", source="fair")
    a, b, c = (db.add("deals", customer_id=web, stage="lead", amount=x, stage_changed_at=t)
               for x, t in ((900.0, "2024-01-01"), (900.0, "2024-01-01"), (300.0, "2024-01-15")))
    db.add("deals", customer_id=fair, stage="lead", amount=50.0, stage_changed_at="2024-02-01")
    db.sales.move(a, "won", at="2024-01-11"); db.sales.move(b, "lost", at="2024-01-31")
    db.sales.move(c, "won", at="2024-02-10")
    v = db.sales.velocity(period="M", as_of="2024-03-01")
    assert v.index.astype(str).tolist() == ["2024-01", "2024-02"]
    np.testing.assert_allclose(v.to_numpy(), [[1, 900, 0.5, 20, 22.5], [1, 300, 1.0, 26, 300 / 26]], rtol=1e-12)
    s = db.sales.velocity(by="source", period="M", as_of="2024-03-01")
    assert [(str(p), k) for p, k in s.index] == [("2024-01", "web"), ("2024-02", "web")]
    assert s["open_deals"].tolist() == [1, 0] and s["velocity"].tolist() == pytest.approx([22.5, 0.0])
    early = db.sales.velocity(period="M", as_of="2024-01-20")   # a point inside January: only a closed, b and c open
    np.testing.assert_allclose(early.to_numpy(), [[2, 900, 1.0, 10, 180.0]], rtol=1e-12)
