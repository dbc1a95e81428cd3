"""Stock: the write path's rules and the ledger analyses, checked against a
plain pandas ledger and hand-worked cases."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from old_store import downgrade

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

SIGN = {"receipt": 1.0, "shipment": -1.0, "return": 1.0, "adjustment": 1.0}


@pytest.fixture
def shop():
    db = crm.open(":memory:")
    supplier = db.add("customers", name="Tea Co", kind="organization", is_supplier=True)
    north = db.add("locations", name="North")
    south = db.add("locations", name="South", allows_backorders=True)
    tea = db.add("products", sku="TEA", name="Tea", category="drinks", supplier_id=supplier, reorder_point=5,
                 reorder_quantity=20)
    cup = db.add("products", sku="CUP", name="Cup", category="ware")
    yield db, dict(supplier=supplier, north=north, south=south, tea=tea, cup=cup)
    db.close()


def pandas_deltas(moves: pd.DataFrame) -> pd.DataFrame:
    """The plain ledger: one row per movement and location it changes."""
    out = moves[moves["type"] != "transfer"].assign(
        delta=lambda m: m["quantity"] * m["type"].map(SIGN).astype(np.float64))
    out = out[["product_id", "location_id", "moved_at", "delta"]]
    t = moves[moves["type"] == "transfer"]
    away = t.assign(delta=-t["quantity"])[["product_id", "location_id", "moved_at", "delta"]]
    into = t.assign(location_id=t["to_location_id"], delta=t["quantity"])[["product_id", "location_id", "moved_at",
                                                                            "delta"]]
    return pd.concat([out, away, into]).astype({"location_id": np.int64, "delta": np.float64})


def never_negative(deltas: pd.DataFrame, backorder_locations: set) -> bool:
    d = deltas.reset_index(names="id").sort_values(["moved_at", "id"], kind="stable")
    running = d.groupby(["product_id", "location_id"])["delta"].cumsum()
    strict = ~d["location_id"].isin(backorder_locations)
    return bool((running[strict] >= -1e-9).all())


# -- the write path ---------------------------------------------------------------

def test_random_movements_match_a_pandas_ledger(shop):
    """Random movements, some back-dated: each is accepted exactly when the
    pandas ledger with it stays at or above zero wherever backorders are not
    taken; afterwards on_hand on several dates is the ledger's sum."""
    db, ids = shop
    rng = np.random.default_rng(7)
    locations, products = [ids["north"], ids["south"]], [ids["tea"], ids["cup"]]
    accepted: dict = {}  # movement id -> its row
    refused = 0
    for step in range(160):
        kind = rng.choice(["receipt", "shipment", "shipment", "return", "adjustment", "transfer"])
        src = int(rng.choice(locations))
        row = {"type": kind, "product_id": int(rng.choice(products)), "location_id": src,
               "to_location_id": np.nan, "quantity": float(rng.integers(1, 8)),
               "moved_at": pd.Timestamp("2025-01-01") + pd.Timedelta(hours=int(rng.integers(0, 24 * 60)))}
        fields = {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
        if kind == "adjustment":
            row["quantity"] = fields["quantity"] = float(rng.choice([-1, 1]) * row["quantity"])
            fields["reason"] = "count"
        if kind == "transfer":
            row["to_location_id"] = fields["to_location_id"] = locations[1 - locations.index(src)]
        candidate = pd.DataFrame([*accepted.values(), row], index=[*accepted, 10**9 + step])
        should = never_negative(pandas_deltas(candidate), {ids["south"]})
        try:
            mid = db.add("stock_movements", **fields)
        except crm.ValidationError as e:
            assert not should, e
            assert "would hold" in str(e) and "no backorders" in str(e)
            refused += 1
            continue
        assert should
        accepted[mid] = row
    assert refused > 5 and len(accepted) > 100  # both branches were exercised
    stored = db.frame("stock_movements")
    assert len(stored) == len(accepted)
    deltas = pandas_deltas(stored)
    assert never_negative(deltas, {ids["south"]})
    for as_of in ["2025-01-01", "2025-01-20 13:00", "2025-02-10", None]:
        ours = db.stock.on_hand(as_of=as_of).set_index(["product_id", "location_id"])["on_hand"]
        cut = deltas if as_of is None else deltas[deltas["moved_at"] <= pd.Timestamp(as_of)]
        theirs = cut.groupby(["product_id", "location_id"])["delta"].sum()
        pd.testing.assert_series_equal(ours.sort_index(), theirs.sort_index(), check_names=False)


def moving_average_reference(moves: pd.DataFrame, as_of) -> dict:
    """The moving average written out in plain Python over the sorted movements."""
    qty, avg = {}, {}
    m = moves.reset_index(names="id").sort_values(["moved_at", "id"], kind="stable")
    for r in m[m["moved_at"] <= as_of].itertuples():
        if r.type == "transfer":
            continue
        q = r.quantity * SIGN[r.type]
        before = qty.get(r.product_id, 0.0)
        qty[r.product_id] = before + q
        if q > 0 and not np.isnan(r.unit_cost):
            w = before if before > 0 and not np.isnan(avg.get(r.product_id, np.nan)) else 0.0
            avg[r.product_id] = (w * avg.get(r.product_id, 0.0) + q * r.unit_cost) / (w + q)
    return {p: (qty[p], avg.get(p, np.nan)) for p in qty}


def test_moving_average_cost_matches_a_plain_recomputation(shop):
    db, ids = shop
    rng = np.random.default_rng(11)
    n = 400
    types = rng.choice(["receipt", "shipment", "return", "adjustment", "transfer"], n)
    frame = pd.DataFrame({
        "type": types, "product_id": rng.choice([ids["tea"], ids["cup"]], n),
        "location_id": ids["south"], "quantity": rng.integers(1, 20, n).astype(float),
        "unit_cost": np.where(rng.random(n) < 0.8, rng.uniform(1, 10, n).round(2), np.nan),
        "moved_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 90 * 24, n), unit="h"),
        "reason": "count"})
    frame["to_location_id"] = np.where(types == "transfer", ids["north"], np.nan)
    # North takes no backorders: only what came there by transfer leaves it (none here), so it never goes short.
    frame.loc[types == "shipment", "unit_cost"] = np.nan
    db.import_frame("stock_movements", frame)
    stored = db.frame("stock_movements")
    for as_of in ["2025-02-01", "2025-03-15", None]:
        cut = pd.Timestamp.max if as_of is None else pd.Timestamp(as_of)
        ref = moving_average_reference(stored, cut)
        ours = db.stock.valuation(as_of=as_of).set_index("product_id")
        assert set(ours.index) == set(ref)
        for p, (qty, avg) in ref.items():
            assert ours.loc[p, "on_hand"] == pytest.approx(qty)
            assert ours.loc[p, "average_cost"] == pytest.approx(avg, rel=1e-12, nan_ok=True)
            assert ours.loc[p, "value"] == pytest.approx(qty * avg, rel=1e-12, nan_ok=True)


def test_hand_checked_valuation_with_a_backorder():
    """10 @ 2, ship 15 (5 short), 10 @ 4: the short stock weighs nothing, so
    the average is 4; then 5 @ 1 on top of 5: (5*4 + 5*1) / 10 = 2.5."""
    db = crm.open(":memory:")
    loc = db.add("locations", name="Back", allows_backorders=True)
    p = db.add("products", sku="X", name="x")
    db.stock.adjust(p, loc, 10, reason="open", unit_cost=2.0, at="2025-01-01")
    db.stock.ship(p, loc, 15, at="2025-01-02")
    db.stock.adjust(p, loc, 10, reason="found", unit_cost=4.0, at="2025-01-03")
    db.stock.adjust(p, loc, 5, reason="found", unit_cost=1.0, at="2025-01-04")
    got = db.stock.valuation().iloc[0]
    assert (got["on_hand"], got["average_cost"], got["value"]) == (10.0, 2.5, 25.0)
    assert db.stock.valuation(as_of="2025-01-03").iloc[0]["average_cost"] == 4.0
    assert db.stock.valuation(as_of="2025-01-02").iloc[0]["on_hand"] == -5.0


def test_refusals_name_the_record_and_change_nothing(shop):
    db, ids = shop
    po = db.add("purchase_orders", supplier_id=ids["supplier"], location_id=ids["north"], ordered_at="2025-01-01")
    line = db.add("purchase_lines", purchase_order_id=po, product_id=ids["tea"], quantity=10, unit_cost=2.0)
    db.stock.receive(line, 6, at="2025-01-05")
    before = db.frame("stock_movements")
    cases = [
        (dict(type="receipt", product_id=ids["tea"], location_id=ids["north"], quantity=5,
              purchase_line_id=line), "quantity", "receipts of 11 exceed the 10 ordered"),
        (dict(type="receipt", product_id=ids["cup"], location_id=ids["north"], quantity=1,
              purchase_line_id=line), "product_id", "orders product 'TEA'"),
        (dict(type="adjustment", product_id=ids["tea"], location_id=ids["north"], quantity=-1), "reason",
         "needs a reason"),
        (dict(type="adjustment", product_id=ids["tea"], location_id=ids["north"], quantity=0, reason="x"),
         "quantity", "changes the stock"),
        (dict(type="shipment", product_id=ids["tea"], location_id=ids["north"], quantity=-2), "quantity",
         "positive quantity"),
        (dict(type="transfer", product_id=ids["tea"], location_id=ids["north"], quantity=1), "to_location_id",
         "needs the location"),
        (dict(type="transfer", product_id=ids["tea"], location_id=ids["north"], to_location_id=ids["north"],
              quantity=1), "to_location_id", "another location"),
        (dict(type="shipment", product_id=ids["tea"], location_id=ids["north"], to_location_id=ids["south"],
              quantity=1), "to_location_id", "only a transfer"),
        (dict(type="shipment", product_id=ids["tea"], location_id=ids["north"], quantity=7), "quantity",
         "location 'North'"),
        (dict(type="transfer", product_id=ids["tea"], location_id=ids["north"], to_location_id=ids["south"],
              quantity=6.5), "quantity", "would hold -0.5 of product 'TEA'"),
    ]
    for fields, field, reason in cases:
        with pytest.raises(crm.ValidationError) as e:
            db.add("stock_movements", moved_at="2025-01-06", **fields)
        assert e.value.field == field and reason in e.value.reason, str(e.value)
        assert e.value.kind == "stock_movements" and e.value.record_id is not None
    pd.testing.assert_frame_equal(db.frame("stock_movements"), before)
    assert db.get("purchase_lines", line)["received_quantity"] == 6.0
    # A back-dated shipment that fits on its day but breaks a later one is refused too.
    db.stock.ship(ids["tea"], ids["north"], 6, at="2025-01-09")
    with pytest.raises(crm.ValidationError, match="on 2025-01-09"):
        db.stock.ship(ids["tea"], ids["north"], 1, at="2025-01-07")
    # The same shipment lands where backorders are taken.
    db.stock.ship(ids["tea"], ids["south"], 3, at="2025-01-07")
    assert db.stock.on_hand().set_index("location")["on_hand"].to_dict() == {"North": 0.0, "South": -3.0}


def test_the_ledger_is_never_changed_or_deleted(shop):
    db, ids = shop
    m = db.stock.adjust(ids["tea"], ids["north"], 4, reason="count", at="2025-01-01")
    with pytest.raises(crm.ValidationError, match="ledger"):
        db.update("stock_movements", m, quantity=40)
    with pytest.raises(crm.ValidationError, match="ledger"):
        db.delete("stock_movements", m)
    assert db.get("stock_movements", m)["quantity"] == 4.0
    # What the stock does not depend on may change.
    db.update("stock_movements", m, tags=["counted twice"], reason="count of the back room")
    assert db.get("stock_movements", m)["tags"] == ["counted twice"]
    # Importing the same export again changes nothing and is no change; a changed quantity is.
    frame = pd.DataFrame({"type": ["receipt"], "product_id": ids["tea"], "location_id": ids["north"],
                          "quantity": [3.0], "moved_at": ["2025-01-02"], "external_source": "erp",
                          "external_id": ["R1"]})
    db.import_frame("stock_movements", frame)
    again = db.import_frame("stock_movements", frame, mode="upsert")
    assert again.updated_count == 1 and db.count("stock_movements") == 2
    with pytest.raises(crm.ValidationError, match="ledger"):
        db.import_frame("stock_movements", frame.assign(quantity=30.0), mode="upsert")
    # Every movement has its audit entry.
    log = db.audit_log()
    assert (log["kind"] == "stock_movements").sum() >= 3
    # Deleting the product takes its history with it (on request), as for any record.
    db.delete_many("products", [ids["tea"]], dependants="delete")
    assert db.count("stock_movements") == 0


def test_every_movement_has_its_audit_entry_and_a_refused_one_none(shop):
    """Each path that writes a movement (add, the conveniences, an import)
    leaves an insert entry covering its id; a receipt's change to its
    purchase line has its update entry; a refused movement leaves no entry."""
    db, ids = shop
    tea, north, south = ids["tea"], ids["north"], ids["south"]
    po = db.add("purchase_orders", supplier_id=ids["supplier"], location_id=north, ordered_at="2025-01-01")
    line = db.add("purchase_lines", purchase_order_id=po, product_id=tea, quantity=10, unit_cost=2.0)
    made = [db.stock.receive(line, 6, at="2025-01-05"),
            db.stock.ship(tea, north, 1, at="2025-01-06"),
            db.stock.adjust(tea, north, -1, reason="damaged", at="2025-01-07"),
            db.stock.transfer(tea, north, south, 2, at="2025-01-08"),
            db.stock.take_back(tea, south, 1, at="2025-01-09"),
            db.add("stock_movements", type="shipment", product_id=tea, location_id=south, quantity=9,
                   moved_at="2025-01-10")]
    imported = db.import_frame("stock_movements", pd.DataFrame({
        "type": ["receipt", "shipment"], "product_id": tea, "location_id": north, "quantity": [4.0, 1.0],
        "moved_at": ["2025-01-11", "2025-01-12"]}))
    entries_before = len(db.audit_log(limit=10_000))
    with pytest.raises(crm.ValidationError, match="no backorders"):
        db.stock.ship(tea, north, 50, at="2025-01-13")
    log = db.audit_log(limit=10_000)
    assert len(log) == entries_before  # the refusal wrote nothing, the audit included
    inserts = log[(log["kind"] == "stock_movements") & (log["op"] == "insert")]
    covered = {i for a, b in zip(inserts["first_id"], inserts["last_id"]) for i in range(int(a), int(b) + 1)}
    movements = set(db.frame("stock_movements").index)
    assert movements == covered and set(made) <= movements and len(movements) == len(made) + len(imported)
    line_updates = log[(log["kind"] == "purchase_lines") & (log["op"] == "update")]
    assert float(line_updates["changes"].iloc[0]["received_quantity"][1]) == 6.0


def test_an_import_with_one_bad_movement_lands_nothing(shop):
    db, ids = shop
    frame = pd.DataFrame({"type": ["adjustment", "shipment", "shipment"], "product_id": ids["tea"],
                          "location_id": ids["north"], "quantity": [5.0, 3.0, 3.0], "reason": ["count", None, None],
                          "moved_at": ["2025-01-01", "2025-01-02", "2025-01-03"]})
    with pytest.raises(crm.ValidationError) as e:
        db.import_frame("stock_movements", frame)
    assert e.value.row == 2 and "would hold -1" in e.value.reason
    assert db.count("stock_movements") == 0


def test_receipts_keep_the_purchase_line(shop):
    db, ids = shop
    po = db.add("purchase_orders", supplier_id=ids["supplier"], location_id=ids["north"], ordered_at="2025-01-01",
                expected_at="2025-01-08")
    line = db.add("purchase_lines", purchase_order_id=po, product_id=ids["tea"], quantity=10, unit_cost=2.5)
    db.stock.receive(line, 4, at="2025-01-06")
    db.stock.receive(line, 6, at="2025-01-09", unit_cost=3.0)
    got = db.get("purchase_lines", line)
    assert got["received_quantity"] == 10.0 and got["received_at"] == pd.Timestamp("2025-01-09")
    assert db.frame("stock_movements")["unit_cost"].tolist() == [2.5, 3.0]
    # Lowering the quantity ordered below what came is refused.
    with pytest.raises(crm.ValidationError, match="exceed the 8 ordered"):
        db.update("purchase_lines", line, quantity=8)
    assert db.get("purchase_lines", line)["quantity"] == 10.0


# -- analyses -----------------------------------------------------------------------

def test_reorder_list_counts_what_is_on_order(shop):
    db, ids = shop
    db.update("products", ids["cup"], reorder_point=2)
    db.stock.adjust(ids["tea"], ids["north"], 3, reason="count", at="2025-01-01")
    db.stock.adjust(ids["cup"], ids["north"], 1, reason="count", at="2025-01-01")
    po = db.add("purchase_orders", supplier_id=ids["supplier"], location_id=ids["north"], ordered_at="2025-01-02")
    db.add("purchase_lines", purchase_order_id=po, product_id=ids["cup"], quantity=5, unit_cost=1.0)
    got = db.stock.reorder_list()
    # Tea: 3 on hand, point 5, reorder quantity 20. Cup: 1 + 5 on order is above its point 2.
    assert got[["sku", "on_hand", "on_order", "suggested"]].values.tolist() == [["TEA", 3.0, 0.0, 20.0]]
    assert db.stock.reorder_list(as_of="2024-12-31")["suggested"].tolist() == [20.0]


def test_stockouts_and_the_orders_they_touched(shop):
    db, ids = shop
    c = db.add("customers", name="Buyer")
    tea, north, south = ids["tea"], ids["north"], ids["south"]
    db.stock.adjust(tea, north, 2, reason="count", at="2025-01-01")
    db.stock.ship(tea, north, 2, at="2025-01-03")                        # North out from the 3rd
    during = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=10.0)
    db.add("order_lines", order_id=during, product_id=tea, quantity=1, unit_price=10.0)
    before = db.add("orders", customer_id=c, ordered_at="2025-01-02", amount=10.0)
    db.add("order_lines", order_id=before, product_id=tea, quantity=1, unit_price=10.0)
    db.stock.adjust(tea, north, 5, reason="count", at="2025-01-09")     # back on the 9th
    back = db.add("orders", customer_id=c, ordered_at="2025-01-20", amount=10.0)
    db.stock.ship(tea, south, 1, at="2025-01-20", order=back)            # South short from the 20th, still
    got = db.stock.stockouts()
    assert got[["location", "start", "end", "lowest"]].values.tolist() == [
        ["North", pd.Timestamp("2025-01-03"), pd.Timestamp("2025-01-09"), 0.0],
        ["South", pd.Timestamp("2025-01-20"), pd.NaT, -1.0]]
    assert got["orders"].tolist() == [[during], [back]]
    assert len(db.stock.stockouts(as_of="2025-01-02")) == 0


def test_days_of_cover_against_pandas(shop):
    db, ids = shop
    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame({"type": "shipment", "product_id": rng.choice([ids["tea"], ids["cup"]], n),
                          "location_id": ids["south"], "quantity": rng.integers(1, 5, n).astype(float),
                          "moved_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 120, n), "D")})
    frame = pd.concat([pd.DataFrame({"type": "adjustment", "product_id": [ids["tea"], ids["cup"]],
                                     "location_id": ids["south"], "quantity": [900.0, 50.0], "reason": "count",
                                     "moved_at": pd.Timestamp("2024-12-31")}), frame])
    db.import_frame("stock_movements", frame)
    as_of, window = pd.Timestamp("2025-03-01"), 30
    got = db.stock.days_of_cover(window=window, as_of=as_of).set_index("product_id")
    m = frame[frame["moved_at"] <= as_of]
    on_hand = (m["quantity"] * m["type"].map(SIGN)).groupby(m["product_id"]).sum()
    recent = m[(m["type"] == "shipment") & (m["moved_at"] > as_of - pd.Timedelta(days=window))]
    rate = recent.groupby("product_id")["quantity"].sum() / window
    for p in on_hand.index:
        assert got.loc[p, "on_hand"] == pytest.approx(on_hand[p])
        expected = on_hand[p] / rate[p] if on_hand[p] > 0 else 0.0
        assert got.loc[p, "days_of_cover"] == pytest.approx(expected)


def test_suppliers_are_a_role_of_customers(shop):
    db, ids = shop
    both = db.add("customers", name="Both Ltd", kind="organization", is_supplier=True, is_partner=True)
    db.add("customers", name="Just a customer")
    assert sorted(db.find("customers", is_supplier=True).index) == sorted([ids["supplier"], both])
    assert db.find("customers", is_partner=True).index.tolist() == [both]
    assert sorted(db.find("customers", role="supplier").index) == sorted([ids["supplier"], both])
    assert db.find("customers", role="partner", name="Both").index.tolist() == [both]
    with pytest.raises(crm.ValidationError, match="role is one of supplier, partner, not 'vendor'"):
        db.find("customers", role="vendor")
    with pytest.raises(crm.ValidationError, match="no roles"):
        db.find("orders", role="supplier")
    # Typed links between records stay as they were.
    db.link(both, ids["supplier"], "supplier_of")
    assert db.frame("links")["type"].tolist() == ["supplier_of"]


def test_a_version_6_store_gains_the_stock_kinds(tmp_path):
    
    path = tmp_path / "old.crm"
    with crm.open(path) as db:
        cid = db.add("customers", name="Old Co", kind="organization")
    downgrade(path, 6)
    with crm.open(path) as db:
        assert db.schema_version() == crm.open().schema_version() and db.integrity_check() == "ok"
        assert db.get("customers", cid)["is_supplier"] is None
        db.update("customers", cid, is_supplier=True)
        loc = db.add("locations", name="North")
        p = db.add("products", sku="A", name="a", supplier_id=cid)
        db.stock.adjust(p, loc, 2, reason="count", at="2025-01-01")
        with pytest.raises(crm.ValidationError, match="no backorders"):
            db.stock.ship(p, loc, 3, at="2025-01-02")
        assert db.find("customers", is_supplier=True).index.tolist() == [cid]


def test_the_distributor_season_keeps_the_rules():
    """The generated season went in through the write path whole; its stock
    is the pandas ledger's and never short where backorders are not taken."""
    db = crm.open(":memory:")
    made = crm.datasets.distributor(db, seed=3, days=45, customers=40, products=12)
    moves = db.frame("stock_movements")
    strict = db.frame("locations").query("allows_backorders != True").index
    backorders = set(made["locations"]) - set(strict)
    deltas = pandas_deltas(moves)
    assert never_negative(deltas, backorders)
    ours = db.stock.on_hand().set_index(["product_id", "location_id"])["on_hand"].sort_index()
    pd.testing.assert_series_equal(ours, deltas.groupby(["product_id", "location_id"])["delta"].sum().sort_index(),
                                   check_names=False)
    lines = db.frame("purchase_lines")
    receipts = moves[moves["type"] == "receipt"].groupby("purchase_line_id")["quantity"].sum()
    np.testing.assert_allclose(lines["received_quantity"].reindex(receipts.index), receipts)
    assert (lines["received_quantity"].fillna(0) <= lines["quantity"]).all()
    assert len(db.stock.stockouts()) > 0 and len(db.partners.supplier_scorecard()) > 0


def test_ledger_codes_match_a_binary_search_on_both_paths():
    """The ids' codes come from a table over their span, or from a search
    when the ids are too scattered for one; both give searchsorted's answer,
    and -1 for a value that is no id (which the kernels refuse).
    The type codes are the positions in TYPES, pd.Categorical's answer."""
    from crmcore.stock import TYPES, _codes, _type_codes
    rng = np.random.default_rng(5)
    for ids in [np.arange(100, 300, 3, dtype=np.int64),                        # near each other: the table
                np.sort(rng.choice(10**12, 50, replace=False)).astype(np.int64)]:  # scattered: the search
        values = rng.choice(ids, 400)
        np.testing.assert_array_equal(_codes(ids, values), np.searchsorted(ids, values))
        strangers = np.array([ids[0] - 1, ids[-1] + 1, ids[0] + 1, 0], np.int64)  # none of them is an id
        assert _codes(ids, strangers).tolist() == [-1, -1, -1, -1]
    assert _codes(np.array([], np.int64), np.array([], np.int64)).tolist() == []
    types = pd.Series(rng.choice(TYPES, 200), dtype="string")
    np.testing.assert_array_equal(_type_codes(types), pd.Categorical(types, categories=TYPES).codes)


def test_the_distributor_season_goes_into_a_store_that_has_products_already():
    """Its reorder points were read for every product of the store, so a
    store with products of its own failed with NumPy's "operands could not
    be broadcast together" (crm.datasets.sales_team first, say)."""
    db = crm.open()
    db.add("products", sku="OWN-1", name="Own", reorder_point=1e9)
    made = crm.datasets.distributor(db, seed=1, days=30, customers=20, products=8)
    assert len(made["products"]) == 8 and db.count("products") == 9
    ordered = db.frame("purchase_lines", columns=["product_id"])["product_id"]
    assert ordered.isin(made["products"]).all()  # the store's own product is none of the season's
