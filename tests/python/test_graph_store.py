"""The store's relationship analyses (db.graph, shared contacts, hierarchy
roll-up, referrals, relationship strength, cross-sell) checked against
plain-Python and NetworkX computations over the same records."""
from datetime import timedelta

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

AS_OF = pd.Timestamp("2024-06-30")


@pytest.fixture(scope="module")
def store():
    rng = np.random.default_rng(7)
    db = crm.open(":memory:")
    customers = db.import_frame("customers", pd.DataFrame({"name": [f"C{i}" for i in range(30)]}))
    contacts = db.import_frame("contacts", pd.DataFrame({"name": [f"P{i}" for i in range(40)]}))
    staff = db.import_frame("staff", pd.DataFrame({"name": [f"S{i}" for i in range(5)]}))
    products = db.import_frame("products", pd.DataFrame({"sku": [f"K{i}" for i in range(12)],
                                                          "name": [f"Product {i}" for i in range(12)]}))

    def day(lo, hi, size):
        return pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(lo, hi, size), unit="D")

    cc = pd.DataFrame({"customer_id": rng.choice(customers, 50), "contact_id": rng.choice(contacts, 50),
                       "role": rng.choice(["decision_maker", "executor", "participant"], 50)})
    cc = cc.drop_duplicates(["customer_id", "contact_id"])
    cc["until"] = pd.Series(day(300, 800, len(cc))).where(rng.random(len(cc)) < 0.2).to_numpy()
    db.import_frame("customer_contacts", cc.reset_index(drop=True))

    links = []
    for i in range(25):  # works_at
        links.append((int(rng.choice(contacts)), int(rng.choice(customers)), "works_at", 1.0))
    for i in range(60):  # knows between contacts
        a, b = rng.choice(contacts, 2, replace=False)
        links.append((int(a), int(b), "knows", float(rng.uniform(0.1, 1.0))))
    for i in range(1, 30):  # a forest of subsidiaries and of referrals
        if rng.random() < 0.5:
            links.append((int(customers[i]), int(customers[rng.integers(0, i)]), "subsidiary_of", 1.0))
        if rng.random() < 0.5:
            links.append((int(customers[i]), int(customers[rng.integers(0, i)]), "referred_by", 1.0))
    frame = pd.DataFrame(links, columns=["src", "dst", "type", "strength"])
    windows = rng.random(len(frame))
    frame["since"] = pd.Series(day(0, 900, len(frame))).where(windows < 0.3).to_numpy()
    frame["until"] = pd.Series(day(0, 900, len(frame))).where((windows > 0.6) & (windows < 0.8)).to_numpy()
    frame.loc[frame["type"].isin(["subsidiary_of", "referred_by"]), ["since", "until"]] = pd.NaT
    db.import_frame("links", frame)

    orders = pd.DataFrame({"customer_id": rng.choice(customers, 120), "ordered_at": day(0, 540, 120),
                           "amount": rng.gamma(2.0, 100.0, 120).round(2),
                           "status": rng.choice(["paid", "paid", "paid", "cancelled"], 120)})
    order_ids = db.import_frame("orders", orders)
    lines = pd.DataFrame({"order_id": rng.choice(order_ids, 300), "product_id": rng.choice(products, 300),
                          "quantity": 1.0, "unit_price": 10.0})
    db.import_frame("order_lines", lines)

    inter = pd.DataFrame({"staff_id": rng.choice(staff, 200), "channel": rng.choice(
        ["call", "meeting", "message", "email", "note", "visit"], 200), "occurred_at": day(0, 600, 200)})
    inter["contact_id"] = pd.array(np.where(rng.random(200) < 0.7, rng.choice(contacts, 200), 0), dtype="Int64")
    inter.loc[inter["contact_id"] == 0, "contact_id"] = pd.NA
    inter["customer_id"] = pd.array(rng.choice(customers, 200), dtype="Int64")
    # The store refuses an interaction whose contact does not work at its
    # customer: a contact's interaction is with one of its customers, or none.
    customer_of = cc.groupby("contact_id")["customer_id"].first()
    talked = inter["contact_id"].notna()
    inter.loc[talked, "customer_id"] = inter.loc[talked, "contact_id"].map(customer_of).astype("Int64")
    db.import_frame("interactions", inter)
    yield db
    db.close()


def valid(row, as_of):
    since, until = row["since"], row["until"]
    return (pd.isna(since) or since <= as_of) and (pd.isna(until) or as_of < until)


def reference_links(db, as_of, types=None):
    rows = []
    for _, r in db.frame("links").iterrows():
        if (types is None or r["type"] in types) and valid(r, as_of):
            rows.append(r)
    return rows


@pytest.mark.parametrize("as_of", ["2023-03-01", "2024-06-30", "2030-01-01"])
@pytest.mark.parametrize("types", [None, ["knows"], ["knows", "works_at"]])
def test_graph_holds_exactly_the_links_valid_then(store, as_of, types):
    as_of = pd.Timestamp(as_of)
    g = store.graph(types=types, as_of=as_of)
    ref = nx.MultiGraph()
    for r in reference_links(store, as_of, types):
        ref.add_edge(int(r["src"]), int(r["dst"]), weight=r["strength"], type=r["type"])
    assert set(g.nodes) == set(ref.nodes)
    ours = sorted((min(a, b), max(a, b), round(w, 12), t) for a, b, w, t in g.edges().itertuples(index=False))
    theirs = sorted((min(a, b), max(a, b), round(d["weight"], 12), d["type"]) for a, b, d in ref.edges(data=True))
    assert ours == theirs


def test_validity_windows_change_the_graph(store):
    sizes = [store.graph(as_of=a).num_edges for a in ("2023-03-01", "2024-06-30", "2030-01-01")]
    assert len(set(sizes)) == 3 and max(sizes) < len(store.frame("links"))


def test_directed_graph_keeps_direction_and_includes_kinds(store):
    g = store.graph(types="referred_by", as_of=AS_OF, directed=True, include="customers")
    assert g.directed and g.num_nodes == store.count("customers")
    for a, b in g.edges()[["src", "dst"]].itertuples(index=False):
        assert b in g.neighbors(a).tolist()


def reference_ties(db, as_of):
    ties = {}
    for _, r in db.frame("customer_contacts").iterrows():
        if valid(r, as_of):
            ties.setdefault(int(r["customer_id"]), set()).add(int(r["contact_id"]))
    contacts, customers = set(db.frame("contacts").index), set(db.frame("customers").index)
    for r in reference_links(db, as_of, ["works_at"]):
        if r["src"] in contacts and r["dst"] in customers:
            ties.setdefault(int(r["dst"]), set()).add(int(r["src"]))
    return ties


def test_shared_and_connected_customers_match_set_arithmetic(store):
    ties = reference_ties(store, AS_OF)
    customers = list(store.frame("customers").index)
    for a in customers[:10]:
        expected = {b: len(ties.get(a, set()) & ties.get(b, set())) for b in customers if b != a}
        expected = {b: k for b, k in expected.items() if k}
        assert store.connected_customers(a, as_of=AS_OF).to_dict() == expected
        for b in customers[10:15]:
            shared = store.shared_contacts(a, b, as_of=AS_OF)
            assert set(shared.index) == ties.get(a, set()) & ties.get(b, set())
    pairs = store.connected_customers(as_of=AS_OF)
    assert (pairs["customer_a"] < pairs["customer_b"]).all()
    row = pairs.iloc[0]
    assert row["shared"] == len(ties[row["customer_a"]] & ties[row["customer_b"]])


def test_hierarchy_rollup_matches_networkx_descendants(store):
    orders = store.frame("orders")
    own = {}
    for _, o in orders.iterrows():
        if o["status"] != "cancelled":
            own[o["customer_id"]] = own.get(o["customer_id"], 0.0) + o["amount"]
    tree = nx.DiGraph()
    tree.add_nodes_from(store.frame("customers").index)
    for r in reference_links(store, AS_OF, ["subsidiary_of"]):
        tree.add_edge(int(r["dst"]), int(r["src"]))  # parent -> child
    roll = store.hierarchy_rollup(as_of=AS_OF)
    assert roll["depth"].max() >= 2  # the data has real chains
    for c in tree.nodes:
        below = nx.descendants(tree, c)
        assert roll.loc[c, "total"] == pytest.approx(own.get(c, 0.0) + sum(own.get(d, 0.0) for d in below))
        assert roll.loc[c, "descendants"] == len(below)
        ancestors = nx.ancestors(tree, c)
        assert roll.loc[c, "depth"] == len(ancestors)
        top = [a for a in ancestors | {c} if tree.in_degree(a) == 0]
        assert roll.loc[c, "root"] == top[0]


def test_referrals_match_networkx_tree(store):
    tree = nx.DiGraph()
    tree.add_nodes_from(store.frame("customers").index)
    for r in reference_links(store, AS_OF, ["referred_by"]):
        tree.add_edge(int(r["dst"]), int(r["src"]))  # referrer -> referred
    ref = store.referrals(as_of=AS_OF)
    assert ref["depth"].max() >= 2
    for c in tree.nodes:
        assert ref.loc[c, "referrals"] == tree.out_degree(c)
        assert ref.loc[c, "referrals_total"] == len(nx.descendants(tree, c))
        assert ref.loc[c, "depth"] == len(nx.ancestors(tree, c))
        preds = list(tree.predecessors(c))
        assert (pd.isna(ref.loc[c, "referred_by"]) if not preds else ref.loc[c, "referred_by"] == preds[0])
    names = store.frame("customers")["name"]
    assert (ref["name"].reindex(names.index) == names).all()


def test_cycles_and_two_parents_are_refused():
    db = crm.open()
    a, b, c = (db.add("customers", name=n) for n in "ABC")
    db.link(a, b, "referred_by")
    db.link(b, a, "referred_by")
    with pytest.raises(ValueError, match="cycle"):
        db.referrals()
    db.link(c, a, "subsidiary_of")
    db.link(c, b, "subsidiary_of")
    with pytest.raises(ValueError, match="more than one parent"):
        db.hierarchy_rollup()


def test_relationship_strength_matches_a_plain_loop(store):
    weights = {"meeting": 1.0, "visit": 1.0, "call": 0.6, "message": 0.3, "email": 0.2, "note": 0.0}
    expected = {}
    for _, r in store.frame("interactions").iterrows():
        if r["occurred_at"] > AS_OF:
            continue
        age_days = (AS_OF - r["occurred_at"]) / timedelta(days=1)
        v = weights[r["channel"]] * 0.5 ** (age_days / 30)
        for peer in ("contact_id", "customer_id"):
            if not pd.isna(r[peer]):
                key = (int(r["staff_id"]), int(r[peer]))
                expected[key] = expected.get(key, 0.0) + v
    expected = {k: v for k, v in expected.items() if v > 0}
    out = store.relationship_strength(half_life_days=30, as_of=AS_OF)
    got = {(a, b): s for a, b, s in out[["src", "dst", "score"]].itertuples(index=False)}
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-12)
    assert np.allclose(out["strength"], 1 - np.exp(-out["score"]))
    assert ((out["strength"] > 0) & (out["strength"] < 1)).all()
    g = crm.Graph.from_edges(out["src"], out["dst"], weight=out["strength"])
    a, b = out["src"].iloc[0], out["dst"].iloc[-1]
    path, strength = g.strongest_path(a, b)
    assert path is None or strength > 0


def purchases(db):
    orders = db.frame("orders")
    ok = orders[orders["status"] != "cancelled"]
    bought = {}
    for _, l in db.frame("order_lines").iterrows():
        if l["order_id"] in ok.index:
            bought.setdefault(int(ok.loc[l["order_id"], "customer_id"]), set()).add(int(l["product_id"]))
    return bought


def test_similar_customers_and_cross_sell_match_set_arithmetic(store):
    bought = purchases(store)
    suggested = 0
    for c in list(bought)[:8]:
        jac = {o: len(bought[c] & p) / len(bought[c] | p) for o, p in bought.items() if o != c and bought[c] & p}
        sim = store.similar_customers(c, top=None)
        assert set(sim.index) == set(jac)
        for o, v in jac.items():
            assert sim.loc[o, "jaccard"] == pytest.approx(v)
        names = store.frame("customers")["name"]
        assert (sim["name"] == names.reindex(sim.index)).all()
        peers = sorted(jac, key=lambda o: (-jac[o], o))[:5]
        score = {}
        for o in peers:
            for p in bought[o] - bought[c]:
                score[p] = score.get(p, 0.0) + jac[o]
        got = store.cross_sell(c, top=100, neighbors=5)
        assert set(got.index) == set(score)
        for p, v in score.items():
            assert got.loc[p, "score"] == pytest.approx(v)
        assert got["score"].is_monotonic_decreasing
        suggested += len(got)
    assert suggested > 0
    assert store.cross_sell(-1).empty
