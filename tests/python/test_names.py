"""Names beside ids where a person reads them (issue 13, item 3)."""
import pandas as pd
import pytest

import crmcore as crm


@pytest.fixture(scope="module")
def db():
    d = crm.open(":memory:")
    crm.datasets.load(d, crm.datasets.synthetic(300, seed=9))
    return d


def every_name(db):
    kinds = {"customers": "name", "contacts": "name", "staff": "name", "products": "name", "deals": "name",
             "campaigns": "name", "tasks": "subject"}
    return pd.concat([db.frame(k)[f].astype(object).rename("name").to_frame().assign(kind=k)
                      for k, f in kinds.items()])


def test_names_reads_any_record_by_id(db):
    known = every_name(db)
    ids = known.sample(50, random_state=1).index.tolist() + [10**12]
    got = db.names(ids)
    assert got.index.tolist() == ids
    assert got["name"].iloc[:-1].tolist() == known.loc[ids[:-1], "name"].tolist()
    assert got["kind"].iloc[:-1].tolist() == known.loc[ids[:-1], "kind"].tolist()
    assert got.iloc[-1].isna().all()


def test_graph_rankings_and_ties_carry_names(db):
    known = every_name(db)["name"]
    g = db.graph().simplify("max")
    ranking = g.named(g.pagerank().nlargest(5))
    assert ranking["name"].tolist() == known.reindex(ranking.index).tolist()
    assert ranking.columns.tolist() == ["name", "pagerank"]
    assert g.subgraph(g.nodes[:10]).labels is g.labels  # derived graphs keep the names
    ties = db.relationship_strength()
    assert ties["src_name"].tolist() == known.reindex(ties["src"]).tolist()
    assert ties["dst_name"].tolist() == known.reindex(ties["dst"]).tolist()
    pairs = db.connected_customers()
    assert pairs["name_a"].tolist() == known.reindex(pairs["customer_a"]).tolist()


def test_rules_deals_and_rankings_name_what_they_list(db):
    products = db.frame("products")["name"]
    rules = db.product_affinity(min_support=0.005)
    assert len(rules)
    for ids, names in zip(rules["antecedent"], rules["antecedent_names"]):
        assert names == tuple(products[list(ids)])
    for ids, names in zip(rules["consequent"], rules["consequent_names"]):
        assert names == tuple(products[list(ids)])
    customers = db.frame("customers")["name"]
    deals = db.deal_quadrants()
    assert deals["customer"].tolist() == customers.reindex(deals["customer_id"]).tolist()
    tiers = db.profit_tiers().sort_values("rank").head(10)
    assert tiers["name"].tolist() == customers.reindex(tiers.index).tolist()


def test_customer_card_shows_the_scores_and_open_deals(db):
    deals = db.frame("deals")
    open_stage = deals["stage"].isin(["lead", "qualified", "proposal", "negotiation"])
    cid = int(deals.loc[open_stage, "customer_id"].value_counts().index[0])
    c = db.customer_card(cid)
    assert c.record["id"] == cid and c.scores.name == db.get("customers", cid)["name"]
    rfm, profit, stages = db.rfm(), db.profit(), db.lifecycle()
    assert c.scores["RFM segment"] == rfm.loc[cid, "segment"]
    assert c.scores["profit"] == pytest.approx(profit.loc[cid, "profit"])
    assert c.scores["lifecycle stage"] == stages.loc[cid, "stage"] and c.scores["why"] == stages.loc[cid, "reason"]
    mine = deals[(deals["customer_id"] == cid) & open_stage & deals["closed_at"].isna()]
    assert sorted(c.open_deals.index) == sorted(mine.index)
    assert c.open_deals["days_to_close"].is_monotonic_increasing
    shown = c._repr_html_()
    assert c.record["name"] in shown and "Open deals" in shown and all(n in shown for n in c.open_deals["name"])
