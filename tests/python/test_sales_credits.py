"""Customer credit (issue 11, part 4): an overpayment is refused unless the
payment keeps it as the customer's credit, and credit is spent on later
invoices. Checked by hand, through every write that can change a balance,
and against a plain pandas allocation on random payments."""

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from old_store import downgrade

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

T = pd.Timestamp


@pytest.fixture
def db():
    db = crm.open(":memory:")
    db.cust = db.add("customers", name="Acme")
    db.other = db.add("customers", name="Beta")
    return db


def _invoice(db, amount, issued="2024-01-01", customer=None):
    return db.add("invoices", customer_id=customer or db.cust, issued_at=issued,
                  due_at=T(issued) + pd.Timedelta(days=30), amount=amount)


def _pay(db, invoice, amount, at="2024-01-10", customer=None, **fields):
    return db.add("payments", customer_id=customer or db.cust, invoice_id=invoice, paid_at=at, amount=amount,
                  **fields)


def test_an_overpayment_is_refused_unless_kept_as_credit(db):
    inv = _invoice(db, 100.0)
    before = db.counts()
    with pytest.raises(crm.ValidationError, match='exceed what is open.*overpayment="credit"') as e:
        _pay(db, inv, 130.0)
    assert e.value.kind == "payments" and e.value.field == "amount"
    assert db.counts().equals(before)
    p = _pay(db, inv, 130.0, overpayment="credit")
    assert db.get("payments", p)["credit"] == 30.0 and db.get("invoices", inv)["status"] == "paid"
    assert db.sales.credits().loc[db.cust].tolist() == [30.0, 0.0, 30.0]
    assert inv not in db.sales.open_invoices().index
    # a credit the caller writes is the store's to fill
    q = _pay(db, None, 5.0, credit=99.0)
    assert db.get("payments", q)["credit"] is None
    order = db.add("orders", customer_id=db.cust, ordered_at="2024-01-01", amount=10.0)
    with pytest.raises(crm.ValidationError, match=r"order .* \(an overpayment is refused\)"):
        db.add("payments", customer_id=db.cust, order_id=order, paid_at="2024-01-02", amount=11.0,
               overpayment="credit")                                   # credit is kept on invoices, not orders
    on_account = _pay(db, None, 12.5, overpayment="credit")                      # no invoice: credit whole
    assert db.get("payments", on_account)["credit"] == 12.5
    assert db.sales.credits(as_of="2024-12-31").loc[db.cust, "balance"] == 42.5


def test_credit_is_spent_on_later_invoices_and_never_beyond(db):
    first = _invoice(db, 100.0)
    p = _pay(db, first, 130.0, overpayment="credit")
    later = _invoice(db, 50.0, issued="2024-02-01")
    a = db.sales.apply_credit(later, at="2024-02-02")
    assert db.get("credit_applications", a)["amount"] == 30.0
    assert db.sales.open_invoices(as_of="2024-02-10").loc[later, ["paid", "balance"]].tolist() == [30.0, 20.0]
    assert db.sales.credits().loc[db.cust].tolist() == [30.0, 30.0, 0.0]
    before = db.counts()
    with pytest.raises(crm.ValidationError, match="has credit 30 from overpayments but would have 35") as e:
        db.add("credit_applications", customer_id=db.cust, invoice_id=later, amount=5.0, applied_at="2024-02-03")
    assert e.value.kind == "credit_applications" and e.value.field == "amount"
    with pytest.raises(crm.ValidationError, match="nothing to apply"):
        db.sales.apply_credit(later)
    # what would leave spent credit uncovered: the payment gone, smaller, or its invoice larger
    with pytest.raises(crm.ValidationError, match="take the applications back first"):
        db.delete("payments", p)
    with pytest.raises(crm.ValidationError, match="has credit 10 .* would have 30"):
        db.update("payments", p, amount=110.0)
    with pytest.raises(crm.ValidationError, match="has credit 0"):
        db.update("payments", p, overpayment="refuse", amount=100.0)
    with pytest.raises(crm.ValidationError, match="has credit 20") as e:
        db.update("invoices", first, amount=110.0)
    assert e.value.kind == "invoices" and e.value.field == "amount"
    assert db.counts().equals(before) and db.get("payments", p)["credit"] == 30.0
    # taken back in order, both go
    db.delete("credit_applications", a)
    assert db.sales.open_invoices(as_of="2024-02-10").loc[later, "balance"] == 50.0
    db.update("invoices", first, amount=110.0)
    assert db.get("payments", p)["credit"] == 20.0
    db.delete("payments", p)
    assert db.sales.credits().empty and db.get("invoices", first)["status"] == "issued"
    assert db.audit_check().empty


def test_credit_goes_to_its_own_customer_and_open_invoices_only(db):
    _pay(db, _invoice(db, 10.0), 40.0, overpayment="credit")
    theirs = _invoice(db, 50.0, customer=db.other)
    small = _invoice(db, 5.0, issued="2024-03-01")
    void = _invoice(db, 8.0, issued="2024-03-01")
    db.update("invoices", void, status="void")
    before = db.counts()
    for invoice, amount, match in [(theirs, 10.0, "another customer"), (small, 6.0, "exceeds what is open"),
                                   (void, 1.0, "is void")]:
        with pytest.raises(crm.ValidationError, match=match) as e:
            db.add("credit_applications", customer_id=db.cust, invoice_id=invoice, amount=amount,
                   applied_at="2024-03-05")
        assert e.value.kind == "credit_applications"
    with pytest.raises(crm.ValidationError):                         # an import: all or nothing
        db.import_frame("credit_applications", pd.DataFrame({
            "customer_id": [db.cust] * 2, "invoice_id": [small, small], "amount": [3.0, 3.0],
            "applied_at": [T("2024-03-05")] * 2}))
    assert db.counts().equals(before)
    db.add("credit_applications", customer_id=db.cust, invoice_id=small, amount=5.0, applied_at="2024-03-05")
    assert db.get("invoices", small)["status"] == "paid"


def test_the_latest_payment_keeps_the_excess(db):
    """An invoice of 100 paid 60 (credit allowed) on 01-05, 30 (no credit) on 01-06, 50 (credit) on 01-07:
    the excess of 40 is kept by the last payment; lowering the invoice to 40 moves 100 to credit, the last
    payment keeping 50 and the first 50; the payment without credit keeps none, so below 30 is refused."""
    inv = _invoice(db, 100.0)
    a = _pay(db, inv, 60.0, at="2024-01-05", overpayment="credit")
    b = _pay(db, inv, 30.0, at="2024-01-06")
    c = _pay(db, inv, 50.0, at="2024-01-07", overpayment="credit")
    credit = lambda: [db.get("payments", p)["credit"] for p in (a, b, c)]  # noqa: E731
    assert credit() == [0.0, None, 40.0]
    db.update("invoices", inv, amount=40.0)
    assert credit() == [50.0, None, 50.0]
    with pytest.raises(crm.ValidationError, match="would ask 25 but has payments totalling 30"):
        db.update("invoices", inv, amount=25.0)                    # 30 without credit cannot shrink below
    assert db.sales.credits().loc[db.cust, "kept"] == 100.0


def test_credit_against_pandas_on_random_payments():
    rng = np.random.default_rng(3)
    db = crm.open(":memory:")
    custs = list(db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(30)]})))
    n = 150
    issued = T("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n), "D")
    inv_cust = rng.choice(custs, n)
    inv = db.import_frame("invoices", pd.DataFrame({"customer_id": inv_cust, "issued_at": issued,
                                                    "due_at": issued + pd.Timedelta(days=30),
                                                    "amount": rng.integers(10, 200, n).astype(float)}))
    amounts = db.frame("invoices").amount
    rows = []
    for i, c, at in zip(inv, inv_cust, issued):
        credit_ok = rng.random() < 0.5
        left = amounts[i]
        for k in range(int(rng.integers(0, 4))):
            allowed = credit_ok and rng.random() < 0.7
            amount = float(rng.integers(1, 120)) if allowed else float(min(left, rng.integers(1, 80)))
            if amount <= 0:
                continue
            left -= amount if not allowed else 0
            rows.append({"customer_id": c, "invoice_id": i, "paid_at": at + pd.Timedelta(days=int(rng.integers(0, 90))),
                         "amount": amount, "overpayment": "credit" if allowed else None})
    pay = pd.DataFrame(rows)
    # payments without credit must not overshoot on their own: keep those that fit
    plain = pay[pay.overpayment.isna()]
    fits = plain.groupby("invoice_id").amount.cumsum() <= plain.invoice_id.map(amounts)
    pay = pay.drop(plain.index[~fits.to_numpy()])
    ids = db.import_frame("payments", pay)
    got = db.frame("payments").loc[ids]

    # plain pandas: per invoice the excess over its amount, kept by its credit payments, latest first
    p = got.reset_index()
    p["excess"] = (p.groupby("invoice_id").amount.transform("sum") - p.invoice_id.map(amounts)).clip(lower=0)
    ok = p[p.overpayment == "credit"].sort_values(["paid_at", "id"], ascending=False)
    before = ok.groupby("invoice_id").amount.cumsum() - ok.amount
    want = (ok.excess - before).clip(lower=0).combine(ok.amount, min).round(6)
    np.testing.assert_allclose(got.loc[want.index.map(ok.id), "credit"].to_numpy(dtype=float), want.to_numpy())
    assert got.loc[got.overpayment.isna(), "credit"].isna().all()
    assert (want > 0).sum() > 10
    settled = (p.amount - p.credit.fillna(0)).groupby(p.invoice_id).sum()
    status = db.frame("invoices").status
    paid_up = settled.to_numpy() >= amounts[settled.index].to_numpy() - 1e-9
    assert (status[settled.index].to_numpy() == np.where(paid_up, "paid", "issued")).all() and paid_up.sum() > 20
    kept = got.groupby("customer_id").credit.sum(min_count=1).dropna()
    pd.testing.assert_series_equal(db.sales.credits().kept, kept[kept.index.isin(db.sales.credits().index)],
                                   check_names=False)


def test_a_version_12_store_gains_credit(tmp_path):
    path = str(tmp_path / "v12.crm")
    with crm.open(path) as db:
        c = db.add("customers", name="A")
        i = db.add("invoices", customer_id=c, amount=10.0, issued_at="2024-01-01", due_at="2024-01-31")
        db.add("payments", customer_id=c, invoice_id=i, amount=4.0, paid_at="2024-01-02")
    downgrade(path, 12)
    with crm.open(path) as db:
        assert db.schema_version() == crm.open().schema_version() and db.integrity_check() == "ok"
        assert db.frame("payments").credit.isna().all() and db.count("credit_applications") == 0
        db.add("payments", customer_id=c, invoice_id=i, amount=10.0, paid_at="2024-01-03", overpayment="credit")
        assert db.sales.credits().loc[c, "balance"] == 4.0
