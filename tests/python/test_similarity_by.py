"""similar_customers and cross_sell cut by a business dimension (by=),
checked against set arithmetic in plain pandas over the same records and
against NetworkX for Adamic-Adar on each group's graph."""
import networkx as nx
import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore.scoring import NONE


@pytest.fixture(scope="module")
def db():
    rng = np.random.default_rng(13)
    db = crm.open(":memory:")
    db.import_frame("staff", pd.DataFrame({"name": ["Wang", "Zhao"], "team": ["North", "South"]}))
    n = 40
    customers = db.import_frame("customers", pd.DataFrame({
        "name": [f"C{i}" for i in range(n)],
        "kind": rng.choice(["organization", "person"], n),
        "region": rng.choice(["East", "West", None], n),
        "owner": rng.choice(["Wang", "Zhao"], n)}))
    products = db.import_frame("products", pd.DataFrame({
        "sku": [f"K{i}" for i in range(14)], "name": [f"Product {i}" for i in range(14)],
        "category": rng.choice(["tea", "cups", None], 14)}))
    orders = db.import_frame("orders", pd.DataFrame({
        "customer_id": rng.choice(customers, 220),
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, 220), unit="D"),
        "amount": 10.0, "channel": rng.choice(["web", "store", None], 220),
        "status": rng.choice(["paid", "paid", "paid", "已取消", "returned"], 220)}))
    db.import_frame("order_lines", pd.DataFrame({
        "order_id": rng.choice(orders, 500), "product_id": rng.choice(products, 500),
        "quantity": 1.0, "unit_price": 2.0}))
    return db


def lines_by(db, dim):
    """Purchase lines with the dimension's value, in plain pandas."""
    orders = db.frame("orders")
    orders = orders[orders["status"] == "paid"]
    lines = db.frame("order_lines")
    lines = lines[lines["order_id"].isin(orders.index)]
    out = pd.DataFrame({"customer_id": orders.loc[lines["order_id"], "customer_id"].to_numpy(),
                        "product_id": lines["product_id"].to_numpy(),
                        "channel": orders.loc[lines["order_id"], "channel"].fillna(NONE).to_numpy()})
    customers = db.frame("customers")
    staff = db.frame("staff").set_index("name")["team"]
    per_customer = {"region": customers["region"].fillna(NONE),
                    "kind": customers["kind"].map({"organization": "B2B", "person": "B2C"}),
                    "team": customers["owner"].map(staff)}
    if dim in per_customer:
        out[dim] = per_customer[dim].reindex(out["customer_id"]).to_numpy()
    if dim == "category":
        out[dim] = db.frame("products")["category"].fillna(NONE).reindex(out["product_id"]).to_numpy()
    return out


def sets(lines):
    return {c: set(g["product_id"]) for c, g in lines.groupby("customer_id")}


@pytest.mark.parametrize("dim", ["region", "kind", "team", "channel", "category"])
def test_similar_and_cross_sell_by_a_dimension_match_pandas(db, dim):
    lines = lines_by(db, dim)
    order_dim = dim in ("channel", "category")
    names = db.frame("customers")["name"]
    checked = 0
    for target in lines["customer_id"].unique()[:6]:
        sim = db.similar_customers(target, top=None, by=dim)
        sell = db.cross_sell(target, top=None, neighbors=4, by=dim)
        assert sim.index.names == [dim, "customer_id"] and sell.index.names == [dim, "product_id"]
        expected_groups = set()
        for value, group in lines.groupby(dim):
            mine = lines[lines["customer_id"] == target]
            if order_dim:
                mine = mine[mine[dim] == value]
            if mine.empty:
                continue
            bought = sets(group)
            bought[target] = set(mine["product_id"])
            me = bought[target]
            jac = {o: len(me & p) / len(me | p) for o, p in bought.items() if o != target and me & p}
            if jac:
                expected_groups.add(value)
            got = sim.xs(value, level=dim) if value in sim.index.get_level_values(dim) else sim.iloc[:0]
            assert set(got.index) == set(jac), (dim, value)
            for o, v in jac.items():
                assert got.loc[o, "jaccard"] == pytest.approx(v)
                assert got.loc[o, "name"] == names[o]
            ranked = sorted(jac.values(), reverse=True)
            if len(ranked) > 4 and ranked[3] == ranked[4]:
                continue  # a tie at the cut of the neighbours: either peer is right
            peers = sorted(jac, key=lambda o: -jac[o])[:4]
            score = {}
            for o in peers:
                for p in bought[o] - me:
                    score[p] = score.get(p, 0.0) + jac[o]
            offered = sell.xs(value, level=dim) if value in sell.index.get_level_values(dim) else sell.iloc[:0]
            assert offered["score"].to_dict() == pytest.approx(score)
            assert (offered["name"] == db.frame("products")["name"].reindex(offered.index)).all()
            checked += len(offered)
        assert set(sim.index.get_level_values(dim)) == expected_groups
    assert checked > 0


def test_adamic_adar_by_a_dimension_matches_networkx_on_each_group(db):
    lines = lines_by(db, "channel")
    target = int(lines["customer_id"].value_counts().index[0])
    got = db.similar_customers(target, top=None, method="adamic_adar", by="channel")
    for value, group in lines.groupby("channel"):
        if not (group["customer_id"] == target).any():
            continue
        G = nx.Graph(list(zip(group["customer_id"], group["product_id"])))
        others = [c for c in group["customer_id"].unique() if c != target]
        want = {v: s for _, v, s in nx.adamic_adar_index(G, [(target, o) for o in others]) if s > 0}
        have = got.xs(value, level="channel")["adamic_adar"].to_dict() if value in got.index.get_level_values(0) else {}
        assert have == pytest.approx(want)


def test_by_two_dimensions_and_the_whole_store(db):
    target = int(lines_by(db, "region")["customer_id"].iloc[0])
    both = db.similar_customers(target, top=None, by=["region", "channel"])
    assert both.index.names == ["region", "channel", "customer_id"]
    assert both.attrs["by"] == ["region", "channel"]
    region = db.dimension("region")["region"]
    assert (region.reindex(both.index.get_level_values("customer_id")).to_numpy()
            == both.index.get_level_values("region")).all()
    # top= is per group.
    assert db.similar_customers(target, top=1, by="region").groupby(level="region").size().max() == 1


def test_by_on_a_customer_without_purchases_is_empty_and_bad_dimensions_are_refused(db):
    silent = db.add("customers", name="Nobody")
    assert db.similar_customers(silent, by="region").empty
    assert db.cross_sell(silent, by="channel").empty
    with pytest.raises(crm.ValidationError, match="not a dimension"):
        db.cross_sell(silent, by="colour")
