"""The kept monthly stock balances: after any sequence of writes (adds,
imports, skipped rows, rolled-back transactions, merges, deletions) they
equal the sum of the ledger's movements per product, location and month,
and stock on a date read through them equals a plain pandas ledger; old
stores get them built from their movements."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crmcore as crm
from crmcore import _core
from old_store import downgrade

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

SIGN = {"receipt": 1.0, "shipment": -1.0, "return": 1.0, "adjustment": 1.0, "transfer": -1.0}


def ledger(db) -> pd.DataFrame:
    """The plain pandas ledger: one row per movement and location it changes."""
    m = db.frame("stock_movements", columns=["type", "product_id", "location_id", "to_location_id", "quantity",
                                             "moved_at"])
    own = m.assign(delta=m["quantity"] * m["type"].map(SIGN).astype(np.float64))[["product_id", "location_id", "moved_at", "delta",
                                                                "type", "quantity"]]
    t = m[m["type"] == "transfer"]
    into = t.assign(location_id=t["to_location_id"], delta=t["quantity"], type="transfer in")
    out = pd.concat([own, into[own.columns]])
    return out.astype({"product_id": np.int64, "location_id": np.int64, "delta": np.float64})


def expected_balances(d: pd.DataFrame) -> pd.DataFrame:
    month = d["moved_at"].dt.year * 12 + d["moved_at"].dt.month - 1
    d = d.assign(shipped=d["quantity"].where(d["type"] == "shipment", 0.0))
    out = d.groupby([d["product_id"], d["location_id"], month.rename("period")]).agg(
        change=("delta", "sum"), shipped=("shipped", "sum"), moves=("delta", "size"))
    return out.reset_index()


def kept(db) -> pd.DataFrame:
    b = db.stock.balances()
    period = b["month"].dt.year * 12 + b["month"].dt.month - 1
    return pd.DataFrame({"product_id": b["product_id"], "location_id": b["location_id"], "period": period,
                         "change": b["change"], "shipped": b["shipped"], "moves": b["moves"]})


def check(db, dates) -> None:
    """Balances = the ledger's monthly sums; on_hand and days of cover on
    each date = the pandas ledger's."""
    d = ledger(db)
    theirs = expected_balances(d).astype({"period": np.int64})
    ours = kept(db).astype({"period": np.int64})
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True), check_dtype=False,
                                  atol=1e-9)
    for as_of in dates:
        cut = d if as_of is None else d[d["moved_at"] <= as_of]
        want = cut.groupby(["product_id", "location_id"])["delta"].sum()
        got = db.stock.on_hand(as_of=as_of).set_index(["product_id", "location_id"])["on_hand"]
        pd.testing.assert_series_equal(got, want, check_names=False, atol=1e-9)
        window = 20
        cover = db.stock.days_of_cover(window=window, as_of=as_of).set_index(["product_id", "location_id"])
        if as_of is None:  # the default: the latest movement
            as_of = d["moved_at"].max()
            if pd.isna(as_of):
                assert cover.empty
                continue
        recent = cut[(cut["type"] == "shipment") & (cut["moved_at"] > as_of - pd.Timedelta(days=window))]
        shipped = recent.groupby(["product_id", "location_id"])["quantity"].sum().reindex(want.index, fill_value=0.0)
        pd.testing.assert_series_equal(cover["shipped"], shipped, check_names=False, atol=1e-9)


START = pd.Timestamp("2025-01-01")
# Times near month ends too: a nanosecond before midnight of the 31st belongs to its month.
EDGES = [pd.Timestamp("2025-01-31 23:59:59.999999999"), pd.Timestamp("2025-02-01"),
         pd.Timestamp("2025-02-28 23:59:59.999999999"), pd.Timestamp("2025-03-01")]

# Dates early in a month (read forward from the month's start) and late in
# one (the month's balance less the movements after the date).
DATES = [None, START + pd.Timedelta(days=15), *EDGES, pd.Timestamp("2025-04-20 07:00"), pd.Timestamp("2024-06-01"),
         pd.Timestamp("2025-01-03"), pd.Timestamp("2025-01-27 13:00"), pd.Timestamp("2025-02-25"),
         pd.Timestamp("2025-03-30 23:00"), pd.Timestamp("2025-04-28")]

movement = st.fixed_dictionaries({
    "type": st.sampled_from(["receipt", "shipment", "shipment", "return", "adjustment", "transfer"]),
    "product": st.integers(0, 2), "location": st.integers(0, 2), "quantity": st.integers(1, 9),
    "when": st.one_of(st.integers(0, 110 * 24).map(lambda h: START + pd.Timedelta(hours=h)), st.sampled_from(EDGES)),
})
operation = st.one_of(
    st.tuples(st.just("add"), movement),
    st.tuples(st.just("import"), st.lists(movement, min_size=1, max_size=6)),
    st.tuples(st.just("skip"), st.lists(movement, min_size=1, max_size=6)),
    st.tuples(st.just("rollback"), movement),
    st.tuples(st.just("merge"), st.integers(0, 2)),
    st.tuples(st.just("delete_location"), st.integers(0, 2)),
)


def fields_of(m: dict, products: list, locations: list) -> dict:
    src = m["location"] % len(locations)  # (merges and deletions shorten the lists)
    out = {"type": m["type"], "product_id": products[m["product"] % len(products)], "location_id": locations[src],
           "quantity": float(m["quantity"]), "moved_at": m["when"]}
    if m["type"] == "adjustment":
        out["quantity"] = float(m["quantity"] if m["quantity"] % 2 else -m["quantity"])
        out["reason"] = "count"
    if m["type"] == "transfer":
        out["to_location_id"] = locations[(src + 1) % len(locations)]
    return out


def run(db, ops, products, locations) -> None:
    for op, arg in ops:
        try:
            if op == "add":
                db.add("stock_movements", **fields_of(arg, products, locations))
            elif op in ("import", "skip"):
                frame = pd.DataFrame([fields_of(m, products, locations) for m in arg])
                db.import_frame("stock_movements", frame, on_error="skip" if op == "skip" else "raise")
            elif op == "rollback":
                with pytest.raises(RuntimeError):
                    with db.transaction():
                        db.add("stock_movements", **fields_of(arg, products, locations))
                        raise RuntimeError("undo")
            elif op == "merge" and len(products) > 1:
                gone = products.pop(arg % len(products))
                db.merge("products", products[0], [gone])
            elif op == "delete_location" and len(locations) > 2:
                db.delete("locations", locations.pop(arg % len(locations)))
        except crm.ValidationError:
            pass  # refused (short stock, ...): the write changed nothing, which check() sees


def a_shop(path=":memory:"):
    db = crm.open(path)
    locations = [db.add("locations", name="North"), db.add("locations", name="South", allows_backorders=True),
                 db.add("locations", name="East", allows_backorders=True)]
    products = [db.add("products", sku=f"P{i}", name=f"p{i}") for i in range(3)]
    return db, products, locations


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=12))
def test_kept_balances_follow_every_write(backend, ops):
    if backend == "postgresql":  # merges do not run there yet (docs/backends.md): the other writes are held to it
        ops = [o for o in ops if o[0] != "merge"]
    db, products, locations = a_shop()
    run(db, ops, products, locations)
    check(db, DATES)
    db.close()


def test_month_edges_and_before_1970_on_both_paths(tmp_path):
    """The write path (C++ months) and the migration (SQL months) put an
    instant in the same month as pandas does, at a month's last nanosecond
    and before 1970."""
    path = tmp_path / "edges.crm"
    db, products, locations = a_shop(path)
    times = [pd.Timestamp("1969-12-31 23:59:59.999999999"), pd.Timestamp("1970-01-01"),
             pd.Timestamp("1969-11-30 23:59:59.5"), *EDGES]
    for i, t in enumerate(times):
        db.stock.adjust(products[i % 3], locations[1], i + 1, reason="count", at=t)
    db.stock.transfer(products[0], locations[1], locations[2], 1, at=times[0])
    assert [_core.stock_period(int(t.value)) for t in times] == [t.year * 12 + t.month - 1 for t in times]
    check(db, [None, *times])
    incremental = kept(db)
    db.close()
    downgrade(path, 19)
    with crm.open(path) as db:  # the migration builds them from the movements in SQL
        pd.testing.assert_frame_equal(kept(db), incremental)
        check(db, [None, *times])


def test_an_old_store_gets_balances_built_from_its_movements(tmp_path):
    path = tmp_path / "old.crm"
    db, products, locations = a_shop(path)
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame({"type": "adjustment", "product_id": rng.choice(products, n),
                          "location_id": rng.choice(locations[1:], n), "quantity": rng.integers(-5, 9, n) + 0.5,
                          "reason": "count",
                          "moved_at": START + pd.to_timedelta(rng.integers(0, 200 * 24, n), "h")})
    db.import_frame("stock_movements", frame)
    db.close()
    downgrade(path, 19)
    with crm.open(path) as db:
        assert db.schema_version() == crm.open().schema_version() and db.integrity_check() == "ok"
        check(db, [None, pd.Timestamp("2025-03-15 12:00")])
    downgrade(path, 20)  # balances without the months' shipments and counts
    with crm.open(path) as db:
        assert db.integrity_check() == "ok"
        check(db, [None, pd.Timestamp("2025-03-15 12:00")])
        db.stock.ship(products[0], locations[1], 1, at="2025-02-02")  # and they go on following writes
        check(db, [None, pd.Timestamp("2025-02-02")])


def test_late_in_a_month_a_pair_first_moved_after_the_date_is_left_out():
    """Read back from a month's end, a pair whose only movements of the
    month come after the date has not moved yet (its count says so), one
    with a movement before the date has, and the window's shipments at both
    ends are those of the ledger; worked by hand."""
    db, (tea, cup, jam), (north, south, _) = a_shop()
    db.stock.adjust(tea, south, 10, reason="count", at="2025-03-02")
    db.stock.ship(tea, south, 4, at="2025-03-05")  # before the window
    db.stock.ship(tea, south, 1, at="2025-03-20")  # in it
    db.stock.adjust(cup, south, 5, reason="count", at="2025-03-29")  # after the date
    db.stock.ship(jam, south, 2, at="2025-03-27")  # on the 27th: in by the 28th
    db.stock.ship(jam, south, 3, at="2025-03-30")
    as_of = pd.Timestamp("2025-03-28")
    got = db.stock.on_hand(as_of=as_of)
    assert got[["sku", "location", "on_hand"]].values.tolist() == [["P0", "South", 5.0], ["P2", "South", -2.0]]
    cover = db.stock.days_of_cover(window=20, as_of=as_of)  # since the 8th: that end read forward
    assert cover["shipped"].tolist() == [1.0, 2.0]
    cover = db.stock.days_of_cover(window=5, as_of=as_of)  # since the 23rd: both ends read back
    assert cover["shipped"].tolist() == [0.0, 2.0]
    check(db, [as_of, pd.Timestamp("2025-03-29"), pd.Timestamp("2025-03-31")])


def test_a_scoped_handle_reads_the_ledger_and_agrees():
    db, products, locations = a_shop()
    db.stock.adjust(products[0], locations[0], 5, reason="count", at="2025-01-03")
    db.stock.transfer(products[0], locations[0], locations[1], 2, at="2025-02-03")
    boss = db.add("staff", name="Boss", role="admin")
    scoped = db.as_user(boss)
    for as_of in [None, "2025-01-31", "2025-02-03"]:
        pd.testing.assert_frame_equal(scoped.stock.on_hand(as_of=as_of), db.stock.on_hand(as_of=as_of))
        pd.testing.assert_frame_equal(scoped.stock.days_of_cover(window=10, as_of=as_of),
                                      db.stock.days_of_cover(window=10, as_of=as_of))
    with pytest.raises(crm.Error, match="unscoped"):
        scoped.stock.balances()


def test_the_kernel_marks_seen_cells_by_hand():
    """The levels kernel keeps `seen` in the sign of a zero sum: a pair whose
    movements cancel is seen with 0.0 (not -0.0), one moved only after
    as_of is not, a transfer's destination is; worked by hand."""
    ns = pd.Timestamp("2025-01-10").value
    day = 86_400 * 10**9
    # product, location: (0,0) +5 -5; (0,1) after as_of only; (1,0) +2 then -2 by transfer to (1,1); (1,2) -3.
    types = np.array([0, 1, 0, 0, 4, 3], np.int8)
    product = np.array([0, 0, 0, 1, 1, 1], np.int64)
    location = np.array([0, 0, 1, 0, 0, 2], np.int64)
    to = np.array([-1, -1, -1, -1, 1, -1], np.int64)
    qty = np.array([5.0, 5.0, 7.0, 2.0, 2.0, -3.0])
    at = np.array([ns - 3 * day, ns - day, ns + day, ns - 2 * day, ns, ns], np.int64)
    on_hand, shipped, seen = _core.stock_levels(types, product, location, to, qty, np.full(6, np.nan), at, 2, 3,
                                                ns, ns - 2 * day)
    assert on_hand.tolist() == [0.0, 0.0, 0.0, 0.0, 2.0, -3.0] and not np.signbit(on_hand[on_hand == 0]).any()
    assert seen.tolist() == [1, 0, 0, 1, 1, 1]
    assert shipped.tolist() == [5.0, 0, 0, 0, 0, 0]
