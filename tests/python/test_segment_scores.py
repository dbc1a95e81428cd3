"""Segment rules on order scores, evaluated over the orders' columns read in
C++ (crmcore/_segments.py): the members against plain pandas on the
stored frames (purchases told apart by a status list written here), the RFM
scores against db.rfm(), on both the candidates' read and the full read, and
through a scoped handle."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _segments

# Statuses that are not purchases, listed here rather than taken from crmcore.
NOT_PURCHASES = {"已取消", "cancelled", "Refunded", "退货"}
STATUSES = [None, "Completed", "已取消", "cancelled", "Refunded", "退货", "on hold", "已完成"]


def _shop(n=400, seed=5, db=None, statuses=STATUSES):
    db = db if db is not None else crm.open(":memory:")
    rng = np.random.default_rng(seed)
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(n)],
                                                     "region": rng.choice(["East", "North", "West"], n),
                                                     "tier": rng.choice(["gold", "silver", None], n)}))
    db.add_tags("customers", ids[rng.random(n) < 0.4].tolist(), "vip")
    m = 5 * n
    buyers = ids[: int(n * 0.8)]  # a fifth never buys
    db.import_frame("orders", pd.DataFrame({
        "customer_id": rng.choice(buyers, m),
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, m), "h"),
        # Amounts with cents, so sums depend on how they are added.
        "amount": rng.gamma(2.0, 37.0, m).round(2) + 0.01,
        "status": rng.choice(np.array(statuses, dtype=object), m)}))
    return db, ids


def _pandas_totals(db):
    o = db.frame("orders", columns=["customer_id", "amount", "status"])
    o = o[~o.status.isin(NOT_PURCHASES).to_numpy(bool)]
    c = db.frame("customers", columns=["region", "tier", "tags"])
    g = o.groupby("customer_id").amount
    return c, g.size().reindex(c.index, fill_value=0), g.sum().reindex(c.index, fill_value=0.0)


@pytest.mark.parametrize("filters, criteria", [
    (None, {}),  # every customer: the full read
    ([("region", "==", "East")], {"tag": "vip", "tier": "gold"}),  # a few: the candidates' orders only
    ([("region", "!=", "West")], {}),  # most of them: the full read again
])
def test_frequency_and_monetary_members_match_pandas(filters, criteria):
    db, _ = _shop()
    c, frequency, monetary = _pandas_totals(db)
    keep = pd.Series(True, index=c.index)
    for field, op, value in filters or []:
        keep &= (c[field] == value) if op == "==" else (c[field] != value)
    if "tag" in criteria:
        keep &= c.tags.map(lambda t: "vip" in t)
    if "tier" in criteria:
        keep &= c.tier == "gold"
    threshold = float(monetary[monetary > 0].median())
    for scores, mask in (([("frequency", ">=", 4)], frequency >= 4),
                         ([("monetary", ">", threshold)], monetary > threshold),
                         ([("frequency", "==", 0)], frequency == 0),
                         ([("frequency", "in", [2, 3]), ("monetary", "<=", threshold)],
                          frequency.isin([2, 3]) & (monetary <= threshold))):
        rule = {"filters": filters or [], "criteria": criteria, "scores": scores}
        got = _segments.evaluate(db, rule)
        want = c.index[(keep & mask).to_numpy(bool)]
        assert len(want) > 0 and got.tolist() == sorted(want.tolist()), scores


def test_order_score_values_equal_pandas_and_db_rfm_on_both_reads(monkeypatch):
    db, ids = _shop()
    _, frequency, monetary = _pandas_totals(db)
    rfm = db.rfm()
    few = pd.Index(np.sort(ids[::7]))
    assert len(few) * _segments._FEW <= db.count("customers")
    for among in (few, pd.Index(np.sort(ids))):
        got = _segments._order_scores(db, among, {"frequency", "monetary"})
        assert got["frequency"].tolist() == frequency.reindex(among).tolist()
        # Summed in the same order with the same compensation: equal to the bit.
        assert got["monetary"].tolist() == monetary.reindex(among).tolist()
        assert got["monetary"].tolist() == rfm.monetary.reindex(among).tolist()
        ranked = _segments._order_scores(db, among, set(_segments._TOTALS + _segments._RANKED))
        for name in ("frequency", "monetary", "r_score", "f_score", "m_score"):
            assert ranked[name].tolist() == rfm[name].reindex(among).tolist(), name
        assert ranked["rfm_segment"].tolist() == rfm.segment.astype(object).reindex(among).tolist()
    # The threshold between the two reads does not change the answer.
    monkeypatch.setattr(_segments, "_FEW", 10**9)
    assert _segments._order_scores(db, few, {"monetary"})["monetary"].tolist() == monetary.reindex(few).tolist()
    # Each score named alone (fewer columns read) is the same as with all.
    for name in _segments._TOTALS + _segments._RANKED:
        for among in (few, pd.Index(np.sort(ids))):
            alone = _segments._order_scores(db, among, {name})
            column = "segment" if name == "rfm_segment" else name
            assert alone[name].tolist() == rfm[column].astype(object).reindex(among).tolist(), name
    # Only what is named is computed.
    assert set(_segments._order_scores(db, few, {"m_score", "frequency"})) == {"m_score", "frequency"}


def test_rfm_scores_when_every_order_is_a_purchase():
    """No status to leave out: the columns go to the RFM kernel unmasked."""
    db, ids = _shop(statuses=[None, "Completed"])
    rfm = db.rfm()
    among = pd.Index(np.sort(ids))
    got = _segments._order_scores(db, among, set(_segments._RANKED + _segments._TOTALS))
    for name in ("frequency", "monetary", "r_score", "f_score", "m_score"):
        assert got[name].tolist() == rfm[name].reindex(among).tolist(), name
    assert got["rfm_segment"].tolist() == rfm.segment.astype(object).reindex(among).tolist()


def test_rfm_score_rules_match_db_rfm_and_a_later_deal_moves_the_end_of_data():
    db, _ = _shop()
    # A deal closed after the last order moves every analysis' as_of, so recency.
    db.add("deals", name="late", customer_id=int(db.frame("customers").index[0]), stage="won",
           closed_at="2025-06-30")
    rfm = db.rfm()
    assert rfm.attrs["as_of"] == pd.Timestamp("2025-07-01")
    c = db.frame("customers", columns=["region"])
    east = c.region == "East"
    for score, op, value, column in (("r_score", ">=", 4, "r_score"), ("f_score", "<", 3, "f_score"),
                                     ("m_score", "==", 5, "m_score"), ("rfm_segment", "in",
                                                                        ["champions", "loyal"], "segment"),
                                     ("rfm_segment", "==", "no purchase", "segment")):
        values = rfm[column].astype(object) if column == "segment" else rfm[column]
        mask = values.isin(value) if op == "in" else values == value if op == "==" else \
            values >= value if op == ">=" else values < value
        want = c.index[(east & mask.reindex(c.index)).to_numpy(bool)]
        got = _segments.evaluate(db, {"filters": [["region", "==", "East"]], "criteria": {},
                                      "scores": [[score, op, value]]})
        assert len(want) > 0 and got.tolist() == sorted(want.tolist()), score


def test_a_scoped_handle_counts_what_it_may_see():
    db = crm.open(":memory:", mode="decentralized")
    rep = db.add("staff", name="Li Lei", role="sales")
    other = db.add("staff", name="Zhao Min", role="sales")
    _, ids = _shop(db=db)
    for i in ids:
        db.update("customers", int(i), owner_id=rep if i % 2 == 0 else other)
    scoped = db.as_user(rep)
    _, frequency, _ = _pandas_totals(scoped)
    rfm = scoped.rfm()
    assert len(frequency) < len(ids)
    got = _segments.evaluate(scoped, {"filters": [], "criteria": {}, "scores": [["frequency", ">=", 5]]})
    assert got.tolist() == sorted(frequency.index[frequency >= 5].tolist())
    got = _segments.evaluate(scoped, {"filters": [], "criteria": {}, "scores": [["f_score", "==", 5]]})
    assert got.tolist() == sorted(rfm.index[rfm.f_score == 5].tolist())


def test_a_rule_is_checked_before_anything_is_read_and_empty_candidates_read_nothing(monkeypatch):
    db, _ = _shop(n=30)
    calls = []
    monkeypatch.setattr(_segments._core, "segment_orders", lambda *a: calls.append(a))
    with pytest.raises(ValueError, match="unknown operator '=>'"):
        _segments.evaluate(db, {"filters": [], "criteria": {}, "scores": [["frequency", "=>", 1]]})
    got = _segments.evaluate(db, {"filters": [["region", "==", "Mars"]], "criteria": {},
                                  "scores": [["frequency", ">", 0]]})
    assert got.tolist() == [] and calls == []


def test_a_lifecycle_rule_beside_an_order_score_matches_the_analyses():
    db, _ = _shop()
    life = db.lifecycle()
    _, frequency, _ = _pandas_totals(db)
    stages = life.stage.astype(object)
    wanted = [s for s in stages.unique() if s != "prospect"][:2]
    got = _segments.evaluate(db, {"filters": [], "criteria": {},
                                  "scores": [["lifecycle", "in", wanted], ["frequency", ">=", 3]]})
    want = life.index[(stages.isin(wanted) & (frequency.reindex(life.index) >= 3)).to_numpy(bool)]
    assert len(want) > 0 and got.tolist() == sorted(want.tolist())
    assert _segments.evaluate(db, {"filters": [], "criteria": {}, "scores": [["lifecycle", "==", "prospect"]]}
                              ).tolist() == sorted(life.index[(stages == "prospect").to_numpy()].tolist())
