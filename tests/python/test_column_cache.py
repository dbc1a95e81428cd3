"""The store's data mark and column cache (cpp/src/records/column_cache.cpp),
and segments evaluated from it: kept until any committed write, by this
connection or another, and never shown to a scoped handle.

References: SQLite's own answer (db.ids) for conditions on cached columns,
plain pandas on the frames the test wrote for segment results."""
import random

import numpy as np
import pandas as pd
import pytest

import crmcore as crm

REGIONS = ["华东", "华北", "South", None]
TIERS = ["gold", "silver", "bronze", None]
TAGS = ["vip", "b2b", "new", "lapsed"]
STATUSES = ["paid", "已取消", "refunded", None, "completed", "shipped"]


def reads(db):
    return db._core.column_cache_stats()["reads"]


def make_store(db, rng: random.Random, n=300, orders=1500):
    """A random book written through the store; returns the frames written."""
    customers = pd.DataFrame({
        "name": [f"c{i}" for i in range(n)],
        "region": [rng.choice(REGIONS) for _ in range(n)],
        "tier": [rng.choice(TIERS) for _ in range(n)],
        "kind": [rng.choice(["organization", "person"]) for _ in range(n)],
        "birthday": [None if rng.random() < 0.2 else pd.Timestamp("1960-01-01") + pd.Timedelta(days=rng.randrange(15000))
                     for _ in range(n)],
        "tags": [rng.sample(TAGS, rng.randint(0, 3)) for _ in range(n)],
    })
    customers["birthday"] = pd.to_datetime(customers["birthday"])
    ids = db.import_frame("customers", customers)
    customers.index = pd.Index(ids)
    o = pd.DataFrame({
        "customer_id": [int(ids[rng.randrange(n // 2, n) if rng.random() < 0.2 else rng.randrange(n)])
                        for _ in range(orders)],
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta([rng.randrange(365) for _ in range(orders)], "D"),
        "amount": [round(rng.uniform(1, 500), 2) for _ in range(orders)],
        "status": [rng.choice(STATUSES) for _ in range(orders)],
    })
    db.import_frame("orders", o)
    return customers, o


@pytest.fixture()
def book(tmp_path):
    path = str(tmp_path / "book.crm")
    db = crm.open(path)
    customers, orders = make_store(db, random.Random(5))
    yield db, path, customers, orders
    db.close()


def test_the_data_mark_moves_on_every_committed_write_by_anyone_and_only_then(book):
    db, path, _, _ = book
    m0 = db._core.data_mark()
    db.frame("customers")
    assert db._core.data_mark() == m0  # reads change nothing
    cid = db.add("customers", name="Mark")
    m1 = db._core.data_mark()
    assert m1 != m0
    other = crm.open(path)
    other.update("customers", cid, tier="gold")
    m2 = db._core.data_mark()
    assert m2 != m1
    other.close()
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.update("customers", cid, tier="silver")
            inside = db._core.data_mark()
            assert inside != m2
            raise RuntimeError("undo")
    assert db._core.data_mark() == m2  # the rolled-back write is gone, and so is its mark
    db.update("customers", cid, tier="silver")
    redone = db._core.data_mark()
    # The redone write takes the rolled-back one's audit number: its hash tells them apart.
    assert redone[0] == inside[0] and redone != inside and redone != m2


def test_a_write_from_a_program_without_crmcore_moves_the_mark(book):
    import sqlite3
    db, path, _, _ = book
    m0 = db._core.data_mark()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE customers SET region = 'West' WHERE id = (SELECT min(id) FROM customers)")
    raw.commit()
    raw.close()
    assert db._core.data_mark() != m0


def segment(db, name):
    """The segment's members, evaluated three times: after a write the first
    reads only what it needs from the store, the second fills the cache and
    the third answers from it; all three must agree (and a stale cache would
    show in the second or third)."""
    got = [sorted(db.marketing.segment(name).tolist()) for _ in range(3)]
    assert got[0] == got[1] == got[2]
    return got[0]


def test_the_first_evaluation_after_a_write_reads_no_whole_column_and_the_second_fills_the_cache(book):
    db, _, customers, _ = book
    db.marketing.save_segment("gold vip", [("region", "in", ["华东", "华北"])], tier="gold", tag="vip",
                              scores=[("frequency", ">=", 2)])
    before = reads(db)
    first = sorted(db.marketing.segment("gold vip").tolist())
    assert reads(db) == before  # the narrow read: one query and the candidates' orders
    assert sorted(db.marketing.segment("gold vip").tolist()) == first
    assert reads(db) == before + 2  # customers' fields and tags, the orders' columns
    assert sorted(db.marketing.segment("gold vip").tolist()) == first
    assert reads(db) == before + 2  # warm
    db.update("customers", first[0], tier="silver")
    after = sorted(db.marketing.segment("gold vip").tolist())
    assert first[0] not in after and reads(db) == before + 2
    assert sorted(db.marketing.segment("gold vip").tolist()) == after and reads(db) == before + 4
    # A score ranked among every buyer reads every order anyway: into the cache at once.
    db.marketing.save_segment("top f", scores=[("f_score", ">=", 4)])
    db.update("customers", first[0], tier="gold")
    now = reads(db)
    top = sorted(db.marketing.segment("top f").tolist())
    assert reads(db) == now + 2 and top  # every customer's id, every order's columns
    assert sorted(db.marketing.segment("top f").tolist()) == top and reads(db) == now + 2


def test_segments_are_read_once_and_again_after_each_kind_of_write(book):
    db, path, customers, _ = book
    db.marketing.save_segment("gold vip", [("region", "in", ["华东", "华北"])], tier="gold", tag="vip",
                              scores=[("frequency", ">=", 2)])
    first = segment(db, "gold vip")
    before = reads(db)
    assert segment(db, "gold vip") == first
    assert reads(db) == before  # nothing read from the store the second time

    def expected():
        c = db.frame("customers", columns=["region", "tier", "tags"])
        o = db.frame("orders", columns=["customer_id", "status"])
        bought = o[~o.status.isin(["已取消", "refunded"])].groupby("customer_id").size()
        keep = (c.region.isin(["华东", "华北"]) & (c.tier == "gold") & c.tags.map(lambda t: "vip" in t)
                & (bought.reindex(c.index, fill_value=0) >= 2))
        return sorted(c.index[keep.to_numpy()].tolist())

    assert first == expected() and first
    # A write in this handle.
    one = first[0]
    db.update("customers", one, tier="silver")
    assert one not in segment(db, "gold vip") and reads(db) > before
    # A write from another connection to the same file.
    other = crm.open(path)
    other.update("customers", one, tier="gold")
    other.close()
    assert one in segment(db, "gold vip")
    # A rolled-back write, seen inside its transaction and gone after, then redone.
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.remove_tags("customers", [one], "vip")
            assert one not in segment(db, "gold vip")
            raise RuntimeError("undo")
    assert one in segment(db, "gold vip")
    db.remove_tags("customers", [one], "vip")
    assert one not in segment(db, "gold vip")
    assert segment(db, "gold vip") == expected()
    # Orders count too: two cancelled ones do not bring a customer in, two paid ones do.
    out = next(i for i in customers.index if i not in set(segment(db, "gold vip")))
    db.update("customers", int(out), region="华东", tier="gold", tags=["vip"])
    db.import_frame("orders", pd.DataFrame({"customer_id": [int(out)] * 2, "amount": 5.0, "status": "已取消",
                                            "ordered_at": pd.Timestamp("2024-06-01")}))
    assert segment(db, "gold vip") == expected()
    db.import_frame("orders", pd.DataFrame({"customer_id": [int(out)] * 2, "amount": 5.0, "status": "paid",
                                            "ordered_at": pd.Timestamp("2024-06-01")}))
    assert int(out) in segment(db, "gold vip") and segment(db, "gold vip") == expected()


def test_a_scoped_handle_sees_only_its_rows():
    db = crm.open(":memory:", mode="decentralized")
    reps = [db.add("staff", name=f"S{i}", role="sales") for i in range(3)]
    rng = random.Random(3)
    customers = pd.DataFrame({"name": [f"c{i}" for i in range(60)], "tier": "gold",
                              "owner_id": [rng.choice(reps) for _ in range(60)]})
    ids = db.import_frame("customers", customers)
    db.import_frame("orders", pd.DataFrame({"customer_id": np.repeat(ids, 2), "amount": 10.0,
                                            "ordered_at": pd.Timestamp("2024-01-01")}))
    db.marketing.save_segment("gold buyers", tier="gold", scores=[("frequency", ">=", 1)])
    everyone = segment(db, "gold buyers")  # fills the store's cache first
    assert everyone == sorted(ids.tolist())
    for rep in reps:
        scoped = db.as_user(rep)
        mine = sorted(int(i) for i, owner in zip(ids, customers.owner_id) if owner == rep)
        assert sorted(scoped.frame("customers", columns=[]).index.tolist()) == mine  # what the rules allow
        assert segment(scoped, "gold buyers") == mine
        for score in ("f_score", "monetary"):
            assert set(scoped.marketing.segment("gold buyers").tolist()) <= set(mine), score


def rfm_reference(orders, as_of_ids):
    """Per customer: purchases, their total and the F and M scores as the
    RFM docs define them (quintiles of the ranks among buyers, ties by id)."""
    bought = orders[~orders.status.isin(["已取消", "refunded"])]
    g = bought.groupby("customer_id")
    frequency, monetary = g.size().sort_index(), g.amount.sum().sort_index()
    f = pd.qcut(frequency.rank(method="first"), 5, labels=False) + 1
    m = pd.qcut(monetary.rank(method="first"), 5, labels=False) + 1
    out = pd.DataFrame({"frequency": frequency, "monetary": monetary, "f_score": f, "m_score": m})
    return out.reindex(as_of_ids).fillna({"frequency": 0, "monetary": 0.0, "f_score": 0, "m_score": 0})


@pytest.mark.parametrize("seed", [1, 2])
def test_segment_results_equal_pandas_on_a_random_store(seed):
    rng = random.Random(seed)
    db = crm.open(":memory:")
    customers, orders = make_store(db, rng, n=400, orders=2500)
    ref = rfm_reference(orders, customers.index)
    has = customers.tags.map(set)
    rules = {
        "east gold": ([("region", "==", "华东")], {"tier": "gold"}, [], lambda: (customers.region == "华东")
                      & (customers.tier == "gold")),
        "tagged": ([("tags", "all", ["vip", "b2b"])], {}, [("f_score", ">=", 4)],
                   lambda: has.map(lambda t: {"vip", "b2b"} <= t) & (ref.f_score >= 4)),
        "not lapsed": ([("tags", "none", ["lapsed"]), ("birthday", ">=", "1980-06-01")], {"kind": "企业"},
                       [("monetary", ">", 400.0)],
                       lambda: ~has.map(lambda t: "lapsed" in t) & (customers.birthday >= "1980-06-01")
                       & (customers.kind == "organization") & (ref.monetary > 400.0)),
        "no tier": ([("tier", "is null", None)], {"tag": "new"}, [("m_score", "in", [1, 5])],
                    lambda: customers.tier.isna() & has.map(lambda t: "new" in t) & ref.m_score.isin([1, 5])),
        "regulars": ([], {}, [("frequency", ">=", 6)], lambda: ref.frequency >= 6),
        "either": ([("region", "!=", "华东"), ("tier", "in", ["silver", None]),
                    ("birthday", "between", ("1970-01-01", "1985-12-31"))], {}, [],
                   lambda: (customers.region.notna() & (customers.region != "华东")
                            & (customers.tier.isna() | (customers.tier == "silver"))
                            & customers.birthday.between("1970-01-01", "1985-12-31"))),
    }
    for name, (filters, criteria, scores, pandas_rule) in rules.items():
        db.marketing.save_segment(name, filters, scores=scores, **criteria)
        expected = sorted(customers.index[pandas_rule().to_numpy(bool)].tolist())
        assert segment(db, name) == expected, name
        assert segment(db, name) == expected, name  # again, from the cache


FIELDS = {"region": REGIONS[:3] + ["West"], "tier": TIERS[:3], "kind": ["企业", "person", "organization"],
          "birthday": ["1965-01-01", pd.Timestamp("1975-06-30"), "1990-12-31"], "name": ["c1", "c20"],
          "id": None, "created_at": None}
OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "not null", "between"]


def random_condition(rng, ids):
    field = rng.choice(list(FIELDS) + ["tags"])
    if field == "tags":
        op = rng.choice(["any", "all", "none", "is null", "not null"])
        return ("tags", op, None if "null" in op else rng.sample(TAGS + ["absent"], rng.randint(1, 3)))
    values = FIELDS[field] or ([int(rng.choice(ids)) for _ in range(4)] if field == "id"
                               else [pd.Timestamp("2020-01-01"), pd.Timestamp("2100-01-01")])
    op = rng.choice(OPS)
    if op in ("is null", "not null"):
        return (field, op, None)
    if op in ("in", "not in"):
        return (field, op, rng.sample(values, rng.randint(1, len(values))) + ([None] if rng.random() < 0.3 else []))
    if op == "between":
        low, high = sorted(rng.sample(values, 2), key=lambda v: (str(type(v)), v))
        return (field, op, (low, high))
    return (field, op, None if op in ("==", "!=") and rng.random() < 0.1 else rng.choice(values))


def test_conditions_on_cached_columns_give_what_sqlite_gives():
    rng = random.Random(11)
    db = crm.open(":memory:")
    customers, _ = make_store(db, rng, n=200, orders=10)
    ids = customers.index.tolist()
    from crmcore import _query
    answered = 0
    for _ in range(400):
        groups = [[random_condition(rng, ids) for _ in range(rng.randint(1, 3))] for _ in range(rng.randint(1, 2))]
        try:
            expected = db.ids("customers", groups).tolist()
        except crm.ValidationError:
            with pytest.raises(crm.ValidationError):
                db._core.cached_ids("customers", _query.groups("customers", groups, {}))
            continue
        got = db._core.cached_ids("customers", _query.groups("customers", groups, {}))
        if got is not None:
            answered += 1
            assert got.tolist() == expected, groups
    assert answered > 200  # the cache answered most (name contains, custom keys: the store)


def test_the_cache_keeps_within_its_budget_and_goes_with_the_store():
    db = crm.open(":memory:")
    make_store(db, random.Random(2), n=100, orders=300)
    db.marketing.save_segment("buyers", scores=[("monetary", ">", 100.0)])
    full = segment(db, "buyers")
    assert db._core.column_cache_stats()["bytes"] > 0
    db._core.set_column_cache_budget(0)
    assert db._core.column_cache_stats()["bytes"] == 0
    before = reads(db)
    assert segment(db, "buyers") == full  # read for the caller, kept by no one
    assert db._core.column_cache_stats()["bytes"] == 0 and reads(db) > before
    cols = db._core.cached_columns("orders", ["amount"])
    with pytest.raises(ValueError):
        cols["amount"][0] = 1.0  # the cache's own memory: read-only


# -- issue 12 as a new user meets it on the demo store ---------------------------

def test_the_prospect_backtest_runs_without_a_date_and_cuts_a_window_before_the_end():
    """A new user calls backtest_prospects() with no date: the cut is the
    window before the end of the data, and the answer is the one asked with it."""
    db = crm.open(":memory:")
    ids = [db.add("customers", name=f"c{i}", industry="tea" if i % 3 else "steel") for i in range(30)]
    for i, cid in enumerate(ids):
        if i % 3:
            db.add("orders", customer_id=cid, ordered_at="2024-01-10" if i % 2 else "2024-05-10", amount=1.0)
    end = db.default_as_of()
    bt = db.marketing.backtest_prospects(by=["industry"], days=90)
    assert bt.as_of == end - pd.Timedelta(days=90)
    given = db.marketing.backtest_prospects(end - pd.Timedelta(days=90), by=["industry"], days=90)
    assert bt.drop("as_of").tolist() == given.drop("as_of").tolist() and bt.converted > 0


def test_the_demo_store_has_sla_policies_so_its_tickets_are_measured(tmp_path):
    from crmcore import demo
    db, _, _, _ = demo.build(str(tmp_path / "d.crm"), customers=300, seed=1)
    policies = db.frame("sla_policies")
    assert sorted(policies[policies.tier.isna()].severity) == sorted(s for s, _, _ in demo.DEMO_SLA)
    sla = db.service.sla(as_of=db.default_as_of())
    tickets = db.frame("tickets")
    assert len(sla) == (tickets.opened_at <= db.default_as_of()).sum() > 0  # every ticket has a severity
    assert "SLA in business hours" in demo.store_report(db)
    db.close()


def test_a_rule_with_an_unknown_score_or_operator_is_the_package_s_validation_error():
    db = crm.open(":memory:")
    with pytest.raises(crm.ValidationError, match="unknown score 'rfmm'"):
        db.marketing.save_segment("x", scores=[("rfmm", ">", 1)])
    with pytest.raises(crm.ValidationError, match="unknown operator '=>'"):
        db.marketing.save_segment("x", tier="gold", scores=[("r_score", "=>", 1)])
    assert db.count("segments") == 0


def test_the_generator_holds_out_a_tenth_of_mass_campaign_members_and_the_effect_uses_them():
    data = crm.datasets.synthetic(3000, seed=2)
    members, campaigns = data["campaign_members"], data["campaigns"]
    channel = campaigns["channel"].to_numpy()[members["campaign_id"].to_numpy()]
    mass = pd.Series(channel).isin(["email", "sms", "wechat"]).to_numpy()
    held = members["holdout"].to_numpy(bool)
    assert not held[~mass].any()
    assert 0.06 < held[mass].mean() < 0.14
    assert not members.responded[held].any() and members.response[held].isna().all()
    db = crm.open(":memory:")
    ids = crm.datasets.load(db, data, progress=None)
    camp = int(ids["campaigns"][int(members.campaign_id[held].iloc[0])])
    effect = db.marketing.campaign_effect(camp)
    stored = db.find("campaign_members", campaign_id=camp)
    assert effect.attrs["control"] == "holdout"
    assert effect.loc["conversion", "control_n"] == stored.holdout.fillna(False).astype(bool).sum()


def test_tags_written_oddly_by_another_program_are_read_as_the_store_reads_them(tmp_path):
    """Tag text as no crmcore write leaves it (spaces around a tag, empty
    tags, the older form without a leading separator), written with sqlite3:
    the cached tag lists equal the store's own read (db.frame) and, for the
    separator form, a plain Python split."""
    import sqlite3

    path = str(tmp_path / "odd.crm")
    db = crm.open(path)
    ids = db.import_frame("customers", pd.DataFrame({"name": list("abcde")}))
    odd = ["\x1f vip \x1f\x1fb2b", "\x1f\x1f", "\x1fnew\t", "vip;b2b", None]
    with sqlite3.connect(path) as con:
        con.executemany("UPDATE customers SET tags=? WHERE id=?", [(t, int(i)) for t, i in zip(odd, ids)])
    offsets, codes, labels = db._core.cached_columns("customers", ["tags"])["tags"]
    cached = [[labels[c] for c in codes[offsets[r]:offsets[r + 1]]] for r in range(len(ids))]
    assert cached == [list(t) for t in db.frame("customers", columns=["tags"]).tags]
    for r, text in enumerate(odd[:3]):
        assert cached[r] == [t.strip(" \t\r\n") for t in text.split("\x1f")[1:] if t.strip(" \t\r\n")]
    db.close()
