"""db.service.check_timeline: the three consistency checks of the record of
contact, by hand and against a plain loop over the interactions."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from old_store import downgrade

T = pd.Timestamp


def test_a_contact_is_checked_against_the_tie_at_the_time():
    db = crm.open(":memory:")
    acme = db.add("customers", name="Acme")
    li, wang, zhao, sun = (db.add("contacts", name=n) for n in ("Li", "Wang", "Zhao", "Sun"))
    db.add("customer_contacts", customer_id=acme, contact_id=li, since="2024-01-01", until="2024-06-01")
    db.add("customer_contacts", customer_id=acme, contact_id=zhao, since="2024-05-01")
    gone = db.add("customer_contacts", customer_id=acme, contact_id=sun)
    # Wang's tie is a works_at link as well as a customer_contacts row.
    kept = db.add("customer_contacts", customer_id=acme, contact_id=wang)
    db.link(wang, acme, "works_at")
    ok = db.add("interactions", customer_id=acme, contact_id=li, channel="call", occurred_at="2024-03-01")
    after = db.add("interactions", customer_id=acme, contact_id=li, channel="call", occurred_at="2024-07-01")
    removed = db.add("interactions", customer_id=acme, contact_id=sun, channel="visit", occurred_at="2024-03-02")
    early = db.add("interactions", customer_id=acme, contact_id=zhao, channel="email", occurred_at="2024-04-01")
    fine = db.add("interactions", customer_id=acme, contact_id=zhao, channel="email", occurred_at="2024-05-02")
    by_link = db.add("interactions", customer_id=acme, contact_id=wang, channel="call", occurred_at="2024-05-03")
    db.delete("customer_contacts", gone)
    db.delete("customer_contacts", kept)
    found = db.service.check_timeline(acme, as_of="2024-08-01")
    found = found[found.check == "contact_not_linked"].set_index("id")
    assert sorted(found.index) == sorted([after, removed, early])
    assert not {ok, fine, by_link} & set(found.index)
    assert found.loc[after, "detail"] == f"contact {li} was not tied to the customer at the time"
    assert found.loc[removed, "detail"] == f"contact {sun} has no tie to the customer (removed since)"
    assert found.loc[early, "time"] == T("2024-04-01") and (found.customer_id == acme).all()


def _missed_by_loop(talks, as_of, grace):
    """For each promise, the first later non-note interaction with the same
    customer (or contact, without one), kept or not: a loop, no merge."""
    rows = {}
    for i, t in talks.iterrows():
        if pd.isna(t.next_contact_at):
            continue
        same = talks.customer_id == t.customer_id if pd.notna(t.customer_id) else \
            talks.customer_id.isna() & (talks.contact_id == t.contact_id)
        later = talks[same & (talks.channel != "note") & (talks.occurred_at > t.occurred_at)]
        first = later.occurred_at.min()
        deadline = t.next_contact_at + grace
        if (pd.isna(first) or first > deadline) and deadline < as_of:
            rows[i] = None if pd.isna(first) else (first - t.next_contact_at).days
    return rows


@pytest.mark.parametrize("grace", [0, 3])
def test_next_contacts_missed_against_a_loop(grace):
    rng = np.random.default_rng(grace)
    db = crm.open(":memory:")
    customers = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(25)]}))
    loner = db.add("contacts", name="no customer")
    n = 300
    when = T("2024-01-01") + pd.to_timedelta(rng.integers(0, 200 * 24, n), "h")
    promise = when + pd.to_timedelta(rng.integers(1, 30, n), "D")
    frame = pd.DataFrame({"customer_id": pd.array(rng.choice(customers, n), dtype="Int64"),
                          "channel": rng.choice(["call", "visit", "email", "note"], n, p=[0.4, 0.2, 0.2, 0.2]),
                          "occurred_at": when, "next_contact_at": promise.where(rng.random(n) < 0.4)})
    frame.loc[:9, "customer_id"] = pd.NA  # with a contact only
    frame["contact_id"] = pd.array(np.where(frame.customer_id.isna(), loner, None), dtype="Int64")
    db.import_frame("interactions", frame)
    as_of = T("2024-07-01")
    got = db.service.check_timeline(as_of=as_of, grace_days=grace)
    got = got[got.check == "next_contact_missed"].set_index("id")
    talks = db.frame("interactions")
    want = _missed_by_loop(talks, as_of, pd.Timedelta(days=grace))
    assert sorted(got.index) == sorted(want) and len(want) > 10
    for i, late in want.items():
        tail = "none since" if late is None else f"made {late} days late"
        assert got.loc[i, "detail"].endswith(tail)
        assert got.loc[i, "time"] == talks.loc[i, "next_contact_at"]
    assert any(v is None for v in want.values()) and any(v is not None for v in want.values())


def test_price_changes_are_the_third_check_and_all_sort_by_customer():
    db = crm.open(":memory:")
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    tea = db.add("products", sku="T", name="Tea")
    for c, prices in ((a, (10.0, 12.0)), (b, (10.0, 10.5))):
        for day, price in zip(("2024-01-01", "2024-02-01"), prices):
            o = db.add("orders", customer_id=c, ordered_at=day, amount=price)
            db.add("order_lines", order_id=o, product_id=tea, quantity=1.0, unit_price=price)
    db.add("interactions", customer_id=b, channel="call", occurred_at="2024-01-05", next_contact_at="2024-01-10")
    out = db.service.check_timeline(as_of="2024-03-01")
    assert out.check.tolist() == ["price_changed", "next_contact_missed"]
    assert out.customer_id.tolist() == [a, b]
    assert out.detail[0] == f"product {tea}: 12.00 after 10.00 (+20%)"
    assert out.id[0] == db.service.price_changes(a).index[0]
    assert db.service.check_timeline(a, threshold=0.25).empty
    with pytest.raises(crm.NotFound):
        db.service.check_timeline(999)


def test_timeline_shows_the_promised_next_contact():
    db = crm.open(":memory:")
    c = db.add("customers", name="A")
    db.add("interactions", customer_id=c, channel="call", occurred_at="2024-01-05", summary="quote sent",
           next_contact_at="2024-01-12")
    assert db.service.timeline(c).summary.tolist() == ["call: quote sent (next contact by 2024-01-12)"]


def test_an_older_store_gains_next_contact_at(tmp_path):
    path = str(tmp_path / "v12.crm")
    with crm.open(path) as db:
        c = db.add("customers", name="A")
        i = db.add("interactions", customer_id=c, channel="call", occurred_at="2024-01-05")
    downgrade(path, 12)
    with crm.open(path) as db:
        assert db.schema_version() == crm.open().schema_version() and db.integrity_check() == "ok"
        assert db.get("interactions", i)["next_contact_at"] is None
        db.update("interactions", i, next_contact_at="2024-02-01")
        assert db.get("interactions", i)["next_contact_at"] == T("2024-02-01")


def test_the_generator_promises_next_contacts_the_checks_can_follow():
    db = crm.open(":memory:")
    crm.datasets.load(db, crm.datasets.synthetic(300, seed=2))
    talks = db.frame("interactions")
    promised = talks.next_contact_at.notna()
    assert 0.4 < promised.mean() < 0.9
    assert not promised[(talks.channel == "note") | (talks.next_step == "none")].any()
    lead = (talks.next_contact_at - talks.occurred_at)[promised].dt.days
    assert lead.min() >= 1 and 5 <= lead.mean() <= 9
    missed = db.service.check_timeline(as_of=talks.occurred_at.max())
    assert (missed.check == "next_contact_missed").sum() > 0


def test_timeline_view_reads_newest_first_by_day_and_escapes_text():
    db = crm.open(":memory:")
    c = db.add("customers", name="A&B <Ltd>")
    db.add("orders", customer_id=c, ordered_at="2024-03-01 09:00", amount=10.0)
    db.add("interactions", customer_id=c, channel="call", occurred_at="2024-03-02 15:00", summary="<b>price</b> agreed")
    db.add("interactions", customer_id=c, channel="note", occurred_at="2024-03-02 16:00", summary="ok")
    view = db.service.timeline_view(c)
    page = view._repr_html_()
    assert "A&amp;B &lt;Ltd&gt;" in page and "&lt;b&gt;price&lt;/b&gt; agreed" in page and "<b>price" not in page
    assert page.index("2024-03-02 (Sat)") < page.index("2024-03-01 (Fri)")  # newest day first
    assert page.count("<th") == 2
    text = repr(view).splitlines()
    assert text[0] == "A&B <Ltd>: 3 events" and text[1].startswith("2024-03-02 16:00  note")
    assert text[3].startswith("2024-03-01 09:00  order")
    view.SHOWN = 2
    assert "the latest 2 shown" in view._repr_html_() and len(repr(view).splitlines()) == 3
