"""db.marketing.prospects: the C++ look-alike scoring against the per-prospect
pandas loop it replaced, and graph proximity against NetworkX."""
import networkx as nx
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

BY = ["industry", "region", "source"]


def _old_prospects(db, by, top=3):
    """The loop prospects() ran before it moved to C++ (one pass per
    prospect over the buyers, in pandas), kept here as the reference; its
    only change is that products with equal counts are ordered by id, which
    value_counts left to its sort."""
    customers = db.frame("customers", columns=by)
    orders = db.frame("orders", columns=["customer_id", "ordered_at"])
    bought = customers.index.isin(orders.customer_id.unique())
    customers["bought"] = bought
    prospects = customers[~bought]
    lines = db.frame("order_lines", columns=["order_id", "product_id"])
    lines = lines.assign(customer_id=lines.order_id.map(orders.customer_id))
    rows = {}
    buyers = customers[bought]
    for pid in prospects.index:
        votes, reasons, same = [], [], np.zeros(len(buyers), dtype=bool)
        for field in by:
            value = prospects.at[pid, field]
            if pd.isna(value):
                continue
            others = (customers[field] == value).sum() - 1
            if others > 0:
                share = (buyers[field] == value).sum() / others
                votes.append(share)
                reasons.append(f"{field}={value}: {share:.0%} of the others bought")
            same |= (buyers[field] == value).to_numpy()
        who = buyers.index[same]
        taken = lines[lines.customer_id.isin(who)].product_id.dropna().astype(np.int64)
        counts = taken.value_counts().rename("n").reset_index().sort_values(["n", "product_id"],
                                                                           ascending=[False, True])
        rows[pid] = {"score": float(np.mean(votes)) if votes else 0.0, "lookalikes": len(who), "reasons": reasons,
                     "products": counts.product_id.head(top).tolist()}
    return pd.DataFrame.from_dict(rows, orient="index")


@pytest.fixture
def market():
    """A fixed market: 400 customers over a few industries, regions and
    sources (some missing), half of them buyers of 12 products."""
    rng = np.random.default_rng(5)
    n = 400
    db = crm.open(":memory:")
    frame = pd.DataFrame({"name": [f"c{i}" for i in range(n)],
                          "industry": rng.choice(["tea", "steel", "toys", "glass", None], n),
                          "region": rng.choice(["East", "North", "South", None], n),
                          "source": rng.choice(["fair", "web", "referral"], n)})
    ids = db.import_frame("customers", frame)
    products = db.import_frame("products", pd.DataFrame({"sku": [f"p{i}" for i in range(12)],
                                                         "name": [f"p{i}" for i in range(12)]}))
    # Buying leans on industry, so the scores differ from prospect to prospect.
    lean = frame.industry.map({"tea": 0.8, "steel": 0.5, "toys": 0.3, "glass": 0.2}).fillna(0.4).to_numpy()
    buyers = ids[rng.random(n) < lean]
    orders = pd.DataFrame({"customer_id": rng.choice(buyers, 600), "amount": 10.0,
                           "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, 600), "D")})
    order_ids = db.import_frame("orders", orders)
    db.import_frame("order_lines", pd.DataFrame({"order_id": np.repeat(order_ids, 2),
                                                 "product_id": rng.choice(products, 2 * len(order_ids)),
                                                 "quantity": 1.0, "unit_price": 5.0}))
    db.ids_all = ids
    return db


def test_kernel_scores_as_the_old_loop_did(market):
    new = market.marketing.prospects(by=BY, graph=False)
    old = _old_prospects(market, BY)
    assert sorted(new.index) == sorted(old.index) and len(new) > 100
    old = old.loc[new.index]
    np.testing.assert_allclose(new.score.to_numpy(), old.score.to_numpy(float), rtol=0, atol=1e-12)
    assert (new.score == new.attribute_score).all() and (new.graph_score == 0).all()
    assert new.lookalikes.tolist() == old.lookalikes.tolist()
    assert new.reasons.tolist() == old.reasons.tolist()
    assert new.products.tolist() == old.products.tolist()
    assert new.score.is_monotonic_decreasing


def test_one_field_and_as_of_keep_the_old_answers(market):
    new = market.marketing.prospects(by="industry", top=2, graph=False)
    old = _old_prospects(market, ["industry"], top=2).loc[new.index]
    assert new.products.tolist() == old.products.tolist() and new.lookalikes.tolist() == old.lookalikes.tolist()
    # Before any order everyone is a prospect and nobody has bought.
    early = market.marketing.prospects(by=BY, as_of="2023-12-31")
    assert len(early) == len(market.ids_all) and (early.score == 0).all() and early.hops.isna().all()


def _tie_graph(db, rng):
    """Contacts tying customers together (customer_contacts and works_at
    links) and a few referrals between customers; returns the NetworkX graph
    of the same ties, built from the records directly."""
    ids = db.ids_all
    contacts = db.import_frame("contacts", pd.DataFrame({"name": [f"k{i}" for i in range(120)]}))
    pairs = pd.DataFrame({"customer_id": rng.choice(ids, 150), "contact_id": rng.choice(contacts, 150)})
    pairs = pairs.drop_duplicates()
    first = ~pairs.contact_id.duplicated()
    db.import_frame("customer_contacts", pairs[first])
    works = pairs[~first]
    for c, k in zip(works.customer_id, works.contact_id):
        db.link(int(k), int(c), "works_at")
    refer = rng.choice(ids, (40, 2))
    refer = refer[refer[:, 0] != refer[:, 1]]
    for a, b in refer:
        db.link(int(a), int(b), "referred_by")
    # One tie that ended: it must not count.
    gone = db.add("contacts", name="left")
    db.link(gone, int(ids[0]), "works_at", until="2020-01-01")
    db.link(gone, int(ids[1]), "works_at", until="2020-01-01")
    G = nx.Graph()
    G.add_edges_from(zip(pairs.customer_id.tolist(), pairs.contact_id.tolist()))
    G.add_edges_from(map(tuple, refer.tolist()))
    return G


def test_graph_proximity_against_networkx(market):
    G = _tie_graph(market, np.random.default_rng(9))
    out = market.marketing.prospects(by=BY)
    orders = market.frame("orders", columns=["customer_id"])
    good = set(orders.customer_id.unique().tolist()) & set(G.nodes)
    hops = nx.multi_source_dijkstra_path_length(G, good)  # unit weights: hop counts
    for pid, row in out.iterrows():
        if pid in hops:
            assert row.hops == hops[pid]
            assert row.nearest in good and nx.shortest_path_length(G, row.nearest, pid) == hops[pid]
            assert row.graph_score == pytest.approx(0.5 ** hops[pid])
        else:
            assert pd.isna(row.hops) and pd.isna(row.nearest) and row.graph_score == 0
    assert out.hops.notna().sum() > 20 and (out.hops.dropna() >= 2).any()  # via a shared contact
    ppr = nx.pagerank(G, personalization={n: 1.0 for n in good})
    np.testing.assert_allclose(out.pagerank.to_numpy(), [ppr.get(p, 0.0) for p in out.index], rtol=1e-6, atol=1e-9)
    combined = 1 - (1 - out.attribute_score) * (1 - out.graph_score)
    np.testing.assert_allclose(out.score.to_numpy(), combined.to_numpy())
    reached = out[out.hops.notna()].iloc[0]
    assert "hops from buyer c" in reached.reasons[-1] and f"({reached.nearest})" in reached.reasons[-1]


def test_graph_proximity_to_a_chosen_segment(market):
    _tie_graph(market, np.random.default_rng(9))
    vip = market.ids_all[:5]
    out = market.marketing.prospects(by=BY, good=vip, decay=0.3)
    near = out.nearest.dropna()
    assert near.isin(vip).all() and len(near)
    np.testing.assert_allclose(out.graph_score[near.index].to_numpy(), 0.3 ** out.hops[near.index].to_numpy(float))
    assert all("good customer" in r[-1] for r in out.reasons[near.index])


def test_backtest_reports_what_the_graph_adds():
    """Prospects tied to buyers convert; the attribute score cannot see it,
    the graph score can."""
    db = crm.open(":memory:")
    rng = np.random.default_rng(3)
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(200)],
                                                     "industry": rng.choice(["tea", "steel"], 200)}))
    early, later = ids[:60], ids[60:]
    db.import_frame("orders", pd.DataFrame({"customer_id": early, "ordered_at": "2024-01-05", "amount": 1.0}))
    friends = later[:50]
    for f, b in zip(friends, early[:50]):
        db.link(int(f), int(b), "referred_by")
    converting = np.concatenate([friends[:40], later[100:105]])
    db.import_frame("orders", pd.DataFrame({"customer_id": converting, "ordered_at": "2024-03-01", "amount": 1.0}))
    bt = db.marketing.backtest_prospects("2024-02-01", days=90, by=["industry"])
    assert bt.auc > 0.8 and bt.auc > bt.attribute_auc + 0.2 and bt.prospects == 140 and bt.converted == 45


@pytest.mark.parametrize("seed", [0, 1])
def test_the_backtest_on_generated_data_beats_the_baseline(seed):
    """The generator's late buyers (datasets/_converts.py) depend on their
    region and source and on links to buyers; the backtest, judged on the
    customers who were there at the cut (the truth's acquired_at), must
    rank them well above the one-field baseline and above guessing."""
    data = crm.datasets.synthetic(3000, seed=seed)
    db = crm.open(":memory:")
    ids = crm.datasets.load(db, data)["customers"]
    cut = db.default_as_of() - pd.Timedelta(days=180)
    there = ids[(data.truth.acquired_at < cut).to_numpy()]
    got = db.marketing.backtest_prospects(among=there)
    assert got["as_of"] == cut and got["converted"] >= 40
    assert got["auc"] > got["baseline_auc"] + 0.08 and got["auc"] > 0.65
    # The late buyers the generator made are among those counted as converted.
    late = ids[data.truth.converted_at.notna().to_numpy()]
    assert got["converted"] >= len(late) > 0


def test_the_backtest_judges_only_the_customers_named_among():
    db = crm.open(":memory:")
    tea = [db.add("customers", name=f"t{i}", industry="tea") for i in range(4)]
    _ = db.add("orders", customer_id=tea[0], ordered_at="2024-01-01", amount=1.0)
    _ = db.add("orders", customer_id=tea[1], ordered_at="2024-03-01", amount=1.0)
    # tea[3] arrived after the cut and bought at once: not a prospect of the cut.
    _ = db.add("orders", customer_id=tea[3], ordered_at="2024-03-02", amount=1.0)
    everyone = db.marketing.backtest_prospects("2024-02-01", by=["industry"])
    assert (everyone["prospects"], everyone["converted"]) == (3, 2)
    known = db.marketing.backtest_prospects("2024-02-01", by=["industry"], among=tea[:3])
    assert (known["prospects"], known["converted"]) == (2, 1)


def test_by_default_the_backtest_judges_the_customers_created_by_the_cut():
    db = crm.open(":memory:")
    early = [db.add("customers", name=f"e{i}", industry="tea") for i in range(2)]
    cut = db.frame("customers", columns=["created_at"]).created_at.max() + pd.Timedelta(microseconds=1)
    while pd.Timestamp.now(tz="UTC").tz_localize(None) <= cut:
        pass  # the next customers are created strictly after the cut
    late = [db.add("customers", name=f"l{i}", industry="tea") for i in range(2)]
    after = cut + pd.Timedelta(days=1)
    _ = db.add("orders", customer_id=early[1], ordered_at=after, amount=1.0)
    _ = db.add("orders", customer_id=late[0], ordered_at=after, amount=1.0)  # came after the cut, bought at once
    got = db.marketing.backtest_prospects(cut, by=["industry"])
    assert (got["prospects"], got["converted"]) == (2, 1)
    everyone = db.marketing.backtest_prospects(cut, by=["industry"], among=early + late)
    assert (everyone["prospects"], everyone["converted"]) == (4, 2)
