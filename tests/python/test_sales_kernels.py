"""The sales kernels that take the store's columns as they come (issue 11,
bulk work in C++): the funnel of every group in one pass, text coded in
C++, each checked against a plain pandas computation, with the edge cases:
groups left empty by as_of, a deal with no stage rows, rows on a period
boundary and at as_of itself, a row without a time (NaT), rows of other
deals, stages the pipeline lacks, two rows at one instant."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import crmcore as crm
from crmcore.sales._text import text_codes
from crmcore.sales.funnel import DealKey, funnel_frame
from crmcore.sales.ledger import BUCKETS, aging_sums, open_invoices_table
from crmcore.sales.targets import attainment_table, reporting_below, target_period
from crmcore import _core

STAGES = pd.DataFrame({"name": ["lead", "qualified", "proposal", "won", "lost"],
                       "category": ["open", "open", "open", "won", "lost"]})
STEPS = ["lead", "qualified", "proposal", "won"]
AS_OF = pd.Timestamp("2024-06-30")


def _data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    deals = pd.DataFrame({"amount": rng.gamma(2.0, 100.0, n).round(2),
                          "owner": rng.integers(1, 6, n).astype(float)}, index=pd.RangeIndex(10, 10 + n))
    deals.loc[deals.index[::17], "amount"] = np.nan
    deals.loc[deals.index[::23], "owner"] = np.nan           # a missing key: left out of the groups
    rows = []
    for d in deals.index[:-5]:                              # the last five deals have no stage rows
        t = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
        path = ["lead"] + list(rng.choice(["qualified", "proposal", "won", "lost", "renewal"],
                                           int(rng.integers(0, 4)), replace=False))
        for stage in path:
            rows.append((d, stage, t))
            t += pd.Timedelta(days=int(rng.integers(0, 40)))
    h = pd.DataFrame(rows, columns=["deal_id", "stage", "changed_at"])
    edge = pd.DataFrame({
        "deal_id": [deals.index[0], deals.index[0], deals.index[1], deals.index[1], deals.index[2], 99_999,
                    deals.index[3], deals.index[3]],
        "stage": ["lead", "won", "lead", "qualified", "proposal", "won", "lead", "lost"],
        "changed_at": pd.to_datetime(["2024-03-31 23:59:59.999999999", "2024-04-01", "2024-01-01", None,
                                      "2024-06-30", "2024-02-01", "2024-05-05", "2024-05-05"], format="ISO8601")})
    h = pd.concat([edge, h], ignore_index=True)             # the edge rows first: deal 3's tie keeps input order
    return deals, h


def _pandas_funnel(deals, h, as_of, key=None, freq=None):
    """Plain pandas: per group the deals whose furthest step is at least
    each step, their amounts, who stands at each open stage, who is lost."""
    h = h[h.changed_at.notna() & h.deal_id.isin(deals.index)]
    g = pd.DataFrame(index=deals.index)
    if freq is not None:
        g["created"] = h.groupby("deal_id").changed_at.min().dt.to_period(freq)
    if key is not None:
        g[key] = deals[key]
    g = g.dropna()
    seen = h[h.changed_at <= as_of]
    order = {s: i for i, s in enumerate(STEPS)}
    furthest = seen.stage.map(order).groupby(seen.deal_id).max()
    last = seen.sort_values(["deal_id", "changed_at"], kind="stable").groupby("deal_id").tail(1)
    last = last.set_index("deal_id").stage
    out = {}
    cols = list(g.columns)
    parts = [(tuple(v), m.index) for v, m in g.groupby(cols)] if cols else [((), g.index)]
    for values, members in parts:
        f = furthest.reindex(members)
        amount = deals.amount.reindex(members).fillna(0.0)
        now = last.reindex(members)
        out[values if isinstance(values, tuple) else (values,)] = {
            "deals": [int((f >= i).sum()) for i in range(len(STEPS))],
            "amount": [float(amount[f >= i].sum()) for i in range(len(STEPS))],
            "open": [int((now == s).sum()) if s != "won" else 0 for s in STEPS],
            "lost": int((now == "lost").sum())}
    return out


def _check(got, want, grouped):
    if not grouped:
        (w,) = want.values()
        assert got.index.tolist() == STEPS
        assert got.deals.tolist() == w["deals"] and got.open.tolist() == w["open"]
        np.testing.assert_allclose(got.amount, w["amount"], rtol=1e-12)
        assert got.attrs["lost"] == w["lost"]
        return
    groups = got.index.droplevel("stage").unique()
    assert sorted(map(lambda k: k if isinstance(k, tuple) else (k,), groups)) == sorted(want)
    for k, w in want.items():
        part = got.loc[k if len(k) > 1 else k[0]]
        assert part.index.tolist() == STEPS
        assert part.deals.tolist() == w["deals"], k
        assert part.open.tolist() == w["open"], k
        np.testing.assert_allclose(part.amount, w["amount"], rtol=1e-12, atol=1e-9)
        assert got.attrs["lost"][k if len(k) > 1 else k[0]] == w["lost"], k


@pytest.mark.parametrize("key", [None, "owner"])
@pytest.mark.parametrize("freq", [None, "M", "Q", "Y", "W"])
def test_funnel_of_every_group_matches_pandas(key, freq):
    deals, h = _data()
    for as_of in (AS_OF, pd.Timestamp("2024-03-31 23:59:59.999999999"), pd.Timestamp("2023-01-01")):
        k = None if key is None else DealKey(deals.owner.fillna(0).to_numpy(np.int64), deals.owner.notna(), "owner")
        created = None
        if freq == "W":  # an alias the kernel does not group by itself: the periods come from pandas
            created = h[h.changed_at.notna()].groupby("deal_id").changed_at.min().dt.to_period("W")
        got = funnel_frame(deals, h, STAGES, as_of.value, k, freq if freq != "W" else None, created)
        want = _pandas_funnel(deals, h, as_of, key, freq)
        _check(got, want, key is not None or freq is not None)
        if freq is not None:
            assert got.index.names[0] == "created"
            assert got.attrs["by"] == (["created"] + ([key] if key else []))
        # conversion and to_next from the counts, NaN where the stage before had none
        first = got.groupby(level=list(range(got.index.nlevels - 1))) if got.index.nlevels > 1 else None
        if first is None:
            d = got.deals.to_numpy(float)
            np.testing.assert_allclose(got.conversion.to_numpy()[1:],
                                       np.where(d[:-1] > 0, d[1:] / np.where(d[:-1] > 0, d[:-1], 1), np.nan))


def test_funnel_edge_cases_by_hand():
    deals, h = _data()
    got = funnel_frame(deals, h, STAGES, AS_OF.value, period="Q")
    d0, d1, d2, d3 = deals.index[:4]
    # d0's first row is the last instant of Q1: it belongs to Q1, and its won row (Q2) to its funnel.
    assert h[h.deal_id == d0].changed_at.min() == pd.Timestamp("2024-03-31 23:59:59.999999999")
    # The row at as_of itself counts (d2 reached proposal on 06-30); rows after do not.
    single = funnel_frame(deals.loc[[d2]], h, STAGES, AS_OF.value)
    assert single.loc["proposal", "deals"] >= 1
    before = funnel_frame(deals.loc[[d2]], h, STAGES, (AS_OF - pd.Timedelta(1, "ns")).value)
    assert before.loc["proposal", "deals"] == (h[(h.deal_id == d2) & (h.changed_at < AS_OF)].stage
                                               .isin(["proposal", "won"]).any())
    # d1's qualified row has no time: it is not read, d1 stands in lead.
    one = funnel_frame(deals.loc[[d1]], h[h.deal_id == d1].iloc[:2], STAGES, AS_OF.value)
    assert one.deals.tolist() == [1, 0, 0, 0] and one.open.tolist() == [1, 0, 0, 0]
    # d3: lead and lost at one instant; the later row in the input is where it stands.
    three = funnel_frame(deals.loc[[d3]], h[h.deal_id == d3].iloc[:2], STAGES, AS_OF.value)
    assert three.attrs["lost"] == 1 and three.open.sum() == 0
    # Deals with no rows, and as_of before everything: every group is there, with nothing in it.
    none = funnel_frame(deals.iloc[-5:], h, STAGES, AS_OF.value)
    assert none.deals.sum() == 0 and none.attrs["lost"] == 0 and none.attrs["first_read"] is None
    early = funnel_frame(deals, h, STAGES, pd.Timestamp("2023-01-01").value, period="Q")
    assert early.deals.sum() == 0 and len(early) == len(got)
    # No deal at all: one empty funnel, or no group.
    empty = funnel_frame(deals.iloc[:0], h, STAGES, AS_OF.value)
    assert empty.deals.tolist() == [0, 0, 0, 0]
    grouped = funnel_frame(deals.iloc[:0], h, STAGES, AS_OF.value, period="M")
    assert grouped.empty and grouped.index.names == ["created", "stage"]


def test_funnel_refuses_a_stage_category_it_does_not_know():
    deals, h = _data(n=20)
    bad = STAGES.assign(category=["open", "open", "open", "won", "gone"])
    with pytest.raises(crm.ValidationError, match="category"):
        funnel_frame(deals, h, bad, AS_OF.value)


@pytest.mark.parametrize("storage", ["arrow", "chunked", "object", "sliced"])
def test_text_codes_match_pandas(storage):
    rng = np.random.default_rng(1)
    allowed = ["issued", "paid", "void", "草稿", ""]
    values = np.array(allowed + ["draft", "paid ", "Paid", None], dtype=object)[rng.integers(0, 9, 5000)]
    if storage == "object":
        s = pd.Series(values, dtype=object)
        s.iloc[3] = np.nan
    elif storage == "chunked":
        s = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([pa.array(values[:1234].tolist()),
                                                                       pa.array(values[1234:].tolist())])))
    else:
        s = pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
        if storage == "sliced":
            s = s.iloc[777:3333]
    want = pd.Index(allowed).get_indexer(s.astype(object).where(s.notna(), None))
    want = np.where(s.isna().to_numpy(), -1, want)
    assert text_codes(s, allowed).tolist() == want.tolist()
    assert text_codes(s.iloc[:0], allowed).tolist() == []
    assert (text_codes(s, []) == -1).all()


def _ledger(seed=0, n=600, sparse=False):
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1) * (1_000_003 if sparse else 1)
    issued = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n), "D")
    inv = pd.DataFrame({"customer_id": pd.array(rng.integers(1, 40, n), dtype="Int64"), "issued_at": issued,
                        "due_at": issued + pd.to_timedelta(rng.choice([0, 30, 45], n), "D"),
                        "amount": rng.integers(0, 1000, n).astype(float),
                        "status": pd.array(rng.choice(["issued", "paid", "void", "draft", "odd", None], n,
                                                      p=[0.5, 0.3, 0.05, 0.05, 0.05, 0.05]), dtype="str")},
                       index=pd.Index(ids, name="id"))
    inv.loc[inv.index[::29], "customer_id"] = pd.NA                # no customer: in no group
    inv.loc[inv.index[::31], "amount"] = np.nan                    # no amount: nothing owed
    inv.loc[inv.index[5], "due_at"] = pd.NaT                       # no due date: current
    which = rng.choice(ids, n)
    pay = pd.DataFrame({"invoice_id": pd.array(which, dtype="Int64"),
                        "paid_at": inv.issued_at.reindex(which).to_numpy()
                        + pd.to_timedelta(rng.integers(0, 150, n), "D").to_numpy(),
                        "amount": rng.integers(0, 800, n).astype(float),
                        "credit": np.where(rng.random(n) < 0.1, 50.0, np.nan)})
    pay.loc[pay.index[::13], "invoice_id"] = pd.NA                 # a payment on account
    pay.loc[pay.index[7], "invoice_id"] = 424_242                  # naming no invoice
    return inv, pay


def _pandas_aging(inv, pay, as_of, key):
    at = pd.Timestamp(as_of)
    settles = pay.amount.fillna(0.0) - pay.credit.fillna(0.0)
    paid = settles[pay.paid_at <= at].groupby(pay.invoice_id[pay.paid_at <= at]).sum()
    live = inv[(inv.issued_at <= at) & ~inv.status.isin(["draft", "void"])]
    amount = live.amount.fillna(0.0)
    balance = amount - paid.reindex(live.index, fill_value=0.0)
    mine = balance > 1e-9 * amount.abs().clip(lower=1.0)
    live, balance = live[mine], balance[mine]
    late = ((at - live.due_at).dt.total_seconds() / 86_400).fillna(0.0)
    bucket = pd.cut(late, [-np.inf, 0, 30, 60, 90, np.inf], labels=list(BUCKETS))
    group = live[key] if key else pd.Series("all", index=live.index)
    out = balance.groupby([group, bucket], observed=False).sum().unstack(fill_value=0.0)
    return out.reindex(columns=list(BUCKETS), fill_value=0.0)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("key", ["customer_id", None, "numpy", "far keys"])
def test_aging_of_every_group_matches_pandas(sparse, key):
    inv, pay = _ledger(sparse=sparse)
    if key == "numpy":  # a NumPy int64 key: no missing-key mask is handed to the kernel
        inv["customer_id"], key = inv["customer_id"].fillna(7).astype(np.int64), "customer_id"
    if key == "far keys":  # keys spread too far for a row per value: the kernel groups them by sorting
        inv["customer_id"], key = inv["customer_id"] * 10**12, "customer_id"
    # as_of on a bucket's edge for some invoices (due exactly 30 days before), and before any invoice
    for as_of in ("2024-05-01", "2024-07-31", "2023-06-01"):
        got = aging_sums(inv, pay, pd.Timestamp(as_of).value, key)
        want = _pandas_aging(inv, pay, as_of, key)
        if key is None and want.empty:
            want = pd.DataFrame([[0.0] * 5], index=["all"], columns=list(BUCKETS))
        assert got.index.tolist() == want.index.tolist()
        np.testing.assert_allclose(got[list(BUCKETS)].to_numpy(), want.to_numpy(), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(got["total"], want.sum(axis=1), rtol=1e-12, atol=1e-9)
        # The total comes from C++ beside the buckets: to the bit what pandas' sum across the row gives.
        assert got.columns.tolist() == [*BUCKETS, "total"]
        np.testing.assert_array_equal(got["total"].to_numpy(), got[list(BUCKETS)].sum(axis=1).to_numpy())
        if key:
            assert got.index.name == key


def test_aging_of_payments_without_credit_and_missing_amounts_matches_pandas():
    """Payments with no credit column hand their amounts to C++ as they are:
    a missing amount (NaN) settles nothing, as a filled 0.0 did."""
    inv, pay = _ledger(seed=3)
    pay["amount"] = pay["amount"].where(np.arange(len(pay)) % 7 != 3)  # every seventh amount missing
    plain = pay.drop(columns=["credit"])
    for as_of in ("2024-05-01", "2024-07-31"):
        got = aging_sums(inv, plain, pd.Timestamp(as_of).value, "customer_id")
        want = _pandas_aging(inv, pay.assign(credit=np.nan), as_of, "customer_id")
        assert got.index.tolist() == want.index.tolist()
        np.testing.assert_allclose(got[list(BUCKETS)].to_numpy(), want.to_numpy(), rtol=1e-12, atol=1e-9)
        opened = open_invoices_table(inv, plain, pd.Timestamp(as_of).value)
        assert not opened["paid"].isna().any()


def test_aging_by_hand_on_the_bucket_edges():
    """Due 2024-01-31; on 2024-03-01 it is 30 days late (1-30), on 03-02 31 (31-60); not yet due is current."""
    inv = pd.DataFrame({"customer_id": [7, 7, 8], "issued_at": pd.to_datetime(["2024-01-01"] * 3),
                        "due_at": pd.to_datetime(["2024-01-31", "2024-12-31", None]),
                        "amount": [100.0, 50.0, 20.0], "status": ["issued", "issued", None]}, index=[1, 2, 3])
    pay = pd.DataFrame({"invoice_id": [1, 1], "paid_at": pd.to_datetime(["2024-02-01", "2024-03-05"]),
                        "amount": [40.0, 60.0]})
    on = aging_sums(inv, pay, pd.Timestamp("2024-03-01").value, "customer_id")
    assert on.loc[7].tolist() == [50.0, 60.0, 0.0, 0.0, 0.0, 110.0]
    assert on.loc[8].tolist() == [20.0, 0.0, 0.0, 0.0, 0.0, 20.0]     # no due date, no status: owed, current
    after = aging_sums(inv, pay, pd.Timestamp("2024-03-02").value, None)
    assert after.loc["all"].tolist() == [70.0, 0.0, 60.0, 0.0, 0.0, 130.0]
    paid = aging_sums(inv, pay, pd.Timestamp("2024-03-05").value, "customer_id")
    assert paid.loc[7].tolist() == [50.0, 0.0, 0.0, 0.0, 0.0, 50.0]    # invoice 1 paid in full on the day


def test_text_codes_of_many_values_match_pandas():
    """Beyond four allowed values the codes come from a hash table: same answers, repeated values keep the first."""
    rng = np.random.default_rng(2)
    allowed = [f"team {i}" for i in range(40)] + ["东区", "", "team 3"]
    values = np.array(allowed + ["team 40", "team", None], dtype=object)[rng.integers(0, 46, 20_000)]
    s = pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    want = pd.Index(allowed[:-1]).get_indexer(s.astype(object).where(s.notna(), None))
    want = np.where(s.isna().to_numpy(), -1, want)
    assert text_codes(s, allowed).tolist() == want.tolist()


@pytest.mark.parametrize("count", [3, 40, 400])
def test_text_codes_through_each_table_match_pandas(count):
    """A table with a slot per value is looked for first (a few values: one
    is found; hundreds: none is, and the codes come from the open-addressing
    table or the turn-by-turn comparison): the same answers either way, on
    values alike in size and prefix."""
    rng = np.random.default_rng(count)
    allowed = [f"s{i:04d}" for i in range(count)] + ["s0001"]
    values = np.array(allowed + ["s9999x", "s", None], dtype=object)[rng.integers(0, count + 4, 30_000)]
    s = pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    want = pd.Index(allowed[:-1]).get_indexer(s.astype(object).where(s.notna(), None))
    assert text_codes(s, allowed).tolist() == np.where(s.isna().to_numpy(), -1, want).tolist()


def _one_byte_off(texts):
    """Each text with one character changed at each position, and with one more at the end."""
    changed = []
    for t in texts:
        for i in range(len(t)):
            changed.append(t[:i] + ("q" if t[i] != "q" else "r") + t[i + 1:])
        changed.append(t + "a")
    return changed


def _codes_match_first_places(s, values, allowed):
    """text_codes of the Arrow series `s` and of `values` as objects: each
    value's first place in `allowed`, -1 for others and nulls."""
    first = {}
    for k, a in enumerate(allowed):
        first.setdefault(a, k)
    want = [first.get(v, -1) if isinstance(v, str) else -1 for v in values]
    assert text_codes(s, allowed).tolist() == want
    assert text_codes(pd.Series(values, dtype=object), allowed).tolist() == want


@pytest.mark.parametrize("few", [True, False])
def test_text_codes_see_every_byte_at_every_length(few):
    """Short texts are compared as two words (overlapping loads), longer ones
    in full: texts of every length 0-20 against the same text with one
    byte changed at each position (a byte the words missed would match),
    repeated allowed values (the first wins), a few values and many."""
    rng = np.random.default_rng(7)
    alphabet = list("abcxyz09-_ ") + ["é", "东"]
    texts = ["".join(rng.choice(alphabet, n)) for n in range(21)]
    allowed = (texts[:1] + texts[3:10:3] + texts[17:18] + texts[3:4]) if few else texts + texts[5:7]
    assert (len(allowed) <= 8) == few
    changed = _one_byte_off(texts)
    values = np.array(texts + changed + [None], dtype=object)[rng.permutation(len(texts) + len(changed) + 1)]
    s = pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    _codes_match_first_places(s, values, allowed)


@pytest.mark.parametrize("sliced", [False, True])
def test_text_codes_by_length_see_every_byte(sliced):
    """Allowed values of at most 8 bytes, two at most of each length (a
    status), are coded by length and one 8-byte word per row, masked to the
    row's length: texts of every length 0-10 against the same text with one
    byte changed at each position, a NUL byte inside and at the end (a
    shorter text padded with zeros must not match), a 9-byte text whose
    first 8 bytes are allowed, a repeated value (the first wins), nulls, and
    the last rows short (their word is copied byte by byte: 8 bytes would
    leave the data)."""
    rng = np.random.default_rng(11)
    alphabet = list("abcxyz09-_ ") + ["é"]
    texts = ["".join(rng.choice(alphabet, n)) for n in range(11)]
    texts = [t.encode()[:n].decode(errors="ignore") for n, t in enumerate(texts)]  # at most n bytes
    eight = next(t for t in texts if len(t.encode()) == 8)
    allowed = [t for t in texts if 0 < len(t.encode()) <= 8 and len(t.encode()) not in (3, 4, 8)]
    allowed += ["ab\x00", "paid", "void", "paid", eight]
    lengths = pd.Series([len(a.encode()) for a in set(allowed)])
    assert lengths.max() <= 8 and lengths.value_counts().max() == 2  # the by-length table, full at 4 bytes
    changed = _one_byte_off(texts + ["ab\x00"])
    extra = ["ab", "ab\x00\x00", "pai", "paid\x00", eight + "z", "", None]
    values = np.array(texts + changed + extra, dtype=object)[rng.permutation(len(texts) + len(changed) + len(extra))]
    values = np.concatenate([values, np.array(["paid", "x", "void", "ab\x00"], dtype=object)])  # short last rows
    s = pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    if sliced:
        s, values = s.iloc[5:], values[5:]
    _codes_match_first_places(s, values, allowed)


def test_months_match_numpy_across_1970_leap_days_and_nat():
    rng = np.random.default_rng(3)
    near = pd.Timestamp("2024-01-01").value + rng.integers(-10**17, 10**17, 20_000)     # a day table
    wide = rng.integers(-3 * 10**18, 3 * 10**18, 20_000)                               # per row
    edges = np.array([pd.Timestamp(t).value for t in ("1969-12-31 23:59:59.999999999", "1970-01-01",
                                                      "2024-02-29 23:59:59.999999999", "2024-03-01")]
                     + [np.iinfo(np.int64).min], dtype=np.int64)
    for at in (near, wide, edges, np.concatenate([near, edges]), edges[:0]):
        want = at.view("datetime64[ns]").astype("datetime64[M]").view(np.int64)
        assert _core.months(at).tolist() == want.tolist()
    assert _core.months(edges).tolist()[:4] == [-1, 0, 649, 650]


@pytest.mark.parametrize("sparse", [False, True])
def test_id_positions_match_pandas(sparse):
    rng = np.random.default_rng(4)
    ids = rng.permutation(np.arange(1, 3000)) * (7_000_001 if sparse else 1)
    values = np.concatenate([rng.choice(ids, 5000), [0, -5, ids.max() + 1, np.iinfo(np.int64).min]])
    assert _core.id_positions(ids, values).tolist() == pd.Index(ids).get_indexer(values).tolist()
    in_order = np.arange(10, 20)
    assert _core.id_positions(in_order, np.array([9, 10, 19, 20])).tolist() == [-1, 0, 9, -1]
    assert _core.id_positions(in_order[:0], np.array([1])).tolist() == [-1]
    # In order up to a gap (the run of sequential ids breaks late), and ids at the top of int64.
    gap = np.array([5, 6, 7, 9, 8])
    assert _core.id_positions(gap, np.array([4, 5, 8, 9, 10])).tolist() == [-1, 0, 4, 3, -1]
    top = np.iinfo(np.int64).max - np.arange(2, -1, -1)
    assert _core.id_positions(top, top[::-1]).tolist() == [2, 1, 0]


def _as_streams(events, streams):
    """The events as attainment_table takes them: one frame with a metric
    column, or (``streams``) one typed frame per metric with no text."""
    if not streams:
        return events
    return {name: part.drop(columns="metric") for name, part in events.groupby("metric", sort=False)}


@pytest.mark.parametrize("streams", [False, True])
@pytest.mark.parametrize("through_staff", [False, True])
def test_attainment_sums_match_pandas_per_person_team_and_month(through_staff, streams):
    """attainment_table (months in C++, people by id, teams coded in C++ or,
    given each staff member's team, spread over the members and summed with
    the people) against pandas summing per person or team within each
    target's period: periods that start on a month's first instant, events
    on the last nanosecond of a period, a NaT event, events of no one, a
    target of someone with no events, a team with no members."""
    rng = np.random.default_rng(5)
    n = 5000
    at = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366 * 86_400, n), "s")
    ev = pd.DataFrame({"metric": "bookings", "owner_id": pd.array(rng.integers(1, 9, n), dtype="Int64"),
                       "at": at.astype("datetime64[ns]"), "value": rng.gamma(2.0, 50.0, n)})
    ev.loc[3, "at"] = pd.Timestamp("2024-03-31 23:59:59.999999999")
    ev.loc[4, "at"] = pd.NaT
    ev.loc[5, "owner_id"] = pd.NA
    ev["team"] = pd.array((ev.owner_id % 3).map({0: "north", 1: "南", 2: "west"}), dtype="str")
    periods = ["2024", "2024-Q1", "2024-Q2", "2024-03", "2024-04", "2025-01", "1500", "2999-Q4"]
    rows = [{"staff_id": s, "team": None, "period": p} for s in (1, 2, 8, 99) for p in periods]
    rows += [{"staff_id": None, "team": t, "period": p} for t in ("north", "南", "east") for p in periods]
    t = pd.DataFrame(rows).assign(metric="bookings", amount=1000.0)
    t["staff_id"] = t["staff_id"].astype("Int64")
    t.index = pd.RangeIndex(1, len(t) + 1)
    teams = None
    if through_staff:  # the events' team column is not read: each staff member's team is
        teams = pd.Series({s: {0: "north", 1: "南", 2: "west"}[s % 3] for s in range(1, 9)}, name="team")
    out = attainment_table(t, _as_streams(ev.drop(columns="team") if through_staff else ev, streams),
                           pd.Timestamp("2024-06-30").value, teams=teams)
    got = out["actual"]
    for i, row in t.iterrows():
        p = target_period(row["period"])
        if p.year < 1678 or p.year > 2261:  # beyond nanoseconds (numpy wrapped them): no event, all past or to come
            assert (got[i], out.loc[i, "elapsed"]) == (0.0, 1.0 if p.year < 1678 else 0.0)
            continue
        inside = (ev["at"] >= p.start_time) & (ev["at"] < (p + 1).start_time)
        who = ev["owner_id"] == row["staff_id"] if pd.notna(row["staff_id"]) else ev["team"] == row["team"]
        want = ev.loc[inside & who.fillna(False), "value"].sum()
        assert got[i] == pytest.approx(want, rel=1e-12, abs=1e-9), (row.to_dict(), got[i], want)


@pytest.mark.parametrize("streams", [False, True])
@pytest.mark.parametrize("through_staff", [False, True])
def test_attainment_rollup_matches_networkx_and_pandas(through_staff, streams):
    """rollup: a person's target sums the events of everyone below them
    (NetworkX's ancestors over the reports_to lines, a loop among them),
    summed in pandas; team targets still count each event once."""
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(6)
    n = 3000
    at = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366 * 86_400, n), "s")
    ev = pd.DataFrame({"metric": "bookings", "owner_id": pd.array(rng.integers(1, 13, n), dtype="Int64"),
                       "at": at.astype("datetime64[ns]"), "value": rng.gamma(2.0, 50.0, n)})
    ev["team"] = pd.array(np.where(ev.owner_id.to_numpy() % 2 == 0, "even", "odd"), dtype="str")
    links = pd.DataFrame({"src": [2, 3, 4, 5, 6, 7, 8, 9, 1, 11],
                          "dst": [1, 1, 2, 2, 3, 6, 7, 8, 9, 99],     # 1 -> 9 -> 8 -> 7 -> 6 -> 3 -> 1: a loop
                          "type": "reports_to"})
    staff = set(range(1, 13))
    periods = ["2024", "2024-Q2", "2024-07"]
    rows = [{"staff_id": s, "team": None, "period": p} for s in (1, 2, 5, 10, 11, 12) for p in periods]
    rows += [{"staff_id": None, "team": "even", "period": p} for p in periods]
    t = pd.DataFrame(rows).assign(metric="bookings", amount=1.0)
    t["staff_id"] = t["staff_id"].astype("Int64")
    t.index = pd.RangeIndex(1, len(t) + 1)
    teams = pd.Series({s: "even" if s % 2 == 0 else "odd" for s in staff}) if through_staff else None
    got = attainment_table(t, _as_streams(ev.drop(columns="team") if through_staff else ev, streams),
                           pd.Timestamp("2024-12-31").value, reporting_below(links, staff), teams)["actual"]
    g = nx.DiGraph()
    g.add_nodes_from(staff)
    g.add_edges_from((s, d) for s, d in zip(links.src, links.dst) if s in staff and d in staff)
    for i, row in t.iterrows():
        p = target_period(row["period"])
        inside = (ev["at"] >= p.start_time) & (ev["at"] < (p + 1).start_time)
        if pd.notna(row["staff_id"]):
            people = {row["staff_id"]} | nx.ancestors(g, row["staff_id"])  # who reaches them going up
            who = ev["owner_id"].isin(list(people))
        else:
            who = ev["team"] == row["team"]
        assert got[i] == pytest.approx(ev.loc[inside & who, "value"].sum(), rel=1e-12), row.to_dict()


def test_arrow_text_codes_refuse_buffers_that_would_read_outside_the_data():
    """The Arrow chunk reader trusts nothing of a hand-made buffer: offsets
    that go down between a sane first and last one, and a first row or count
    so large that first + n wraps around, are refused instead of read."""
    data = np.frombuffer(b"wonlead", dtype=np.uint8)
    good = np.array([0, 3, 7], dtype=np.int32)
    assert _core.arrow_text_codes(good, data, None, 0, 2, ["lead", "won"], False).tolist() == [1, 0]
    down = np.array([0, 6, 2, 7], dtype=np.int32)  # row 1 would be 2 - 6 bytes long
    with pytest.raises(ValueError, match="decrease at row 1"):
        _core.arrow_text_codes(down, data, None, 0, 3, ["lead"], False)
    # The order is checked on the way through the rows, by either path (short
    # values by length, long ones by table), also where an offset in between
    # points far beyond the data (a read clamped to it, then refused).
    far = np.array([0, 3, 1 << 30, 5, 7], dtype=np.int64)
    for allowed in (["lead"], ["lead", "a value longer than sixteen bytes"]):
        with pytest.raises(ValueError, match="decrease at row 2"):
            _core.arrow_text_codes(far, data, None, 0, 4, allowed, True)
        with pytest.raises(ValueError, match="decrease at row 0"):
            _core.arrow_text_codes(np.array([5, 3, 7], dtype=np.int32), data, None, 0, 2, allowed, False)
    with pytest.raises(ValueError, match="do not cover"):
        _core.arrow_text_codes(good, data, None, 2**64 - 1, 2, ["lead"], False)
    with pytest.raises(ValueError, match="do not cover"):
        _core.arrow_text_codes(good, data, None, 1, 2**64 - 1, ["lead"], False)


@pytest.mark.parametrize("sparse", [False, True])
def test_attainment_grid_from_typed_columns_matches_pandas(sparse, monkeypatch):
    """The text-free path (one typed frame per metric into C++'s grid)
    against pandas summing each target's people within its period: several
    metrics, one without values (each event counts one), missing owners
    (pandas' masked Int64), NaT, NaN amounts, events on a period's last
    nanosecond and first instant, owner ids spread wide (no table over their
    range), targets in years nanoseconds cannot reach, a span of years wider
    than the events (no day table), a team spread over its members. Nothing
    may fall back to the one-frame path."""
    import crmcore.sales.targets as targets_module
    monkeypatch.setattr(targets_module, "_stream_actuals", lambda *a, **k: pytest.fail("fell back to text"))
    rng = np.random.default_rng(9)
    scale = 10**12 if sparse else 1
    n = 4000
    def stream(with_value):
        at = pd.Timestamp("2023-11-01") + pd.to_timedelta(rng.integers(0, 500 * 86_400, n), "s")
        f = pd.DataFrame({"owner_id": pd.array(rng.integers(1, 7, n) * scale, dtype="Int64"),
                          "at": at.astype("datetime64[ns]")})
        if with_value:
            f["value"] = rng.gamma(2.0, 50.0, n)
            f.loc[7, "value"] = np.nan
        f.loc[3, "at"] = pd.Timestamp("2024-03-31 23:59:59.999999999")
        f.loc[4, "at"] = pd.Timestamp("2024-04-01")
        f.loc[5, "at"] = pd.NaT
        f.loc[6, "owner_id"] = pd.NA
        return f
    sources = {"bookings": stream(True), "activities": stream(False), "margin": stream(True)}
    periods = ["2024", "2024-Q1", "2024-Q2", "2024-03", "2024-04", "2023-12", "1500", "2999-Q4"]
    rows = [{"staff_id": s * scale, "team": None, "period": p, "metric": m}
            for s in (1, 2, 6, 9) for p in periods for m in ("bookings", "activities")]
    rows += [{"staff_id": None, "team": "north", "period": p, "metric": "margin"} for p in periods]
    t = pd.DataFrame(rows).assign(amount=10.0)
    t["staff_id"] = t["staff_id"].astype("Int64")
    t.index = pd.RangeIndex(1, len(t) + 1)
    teams = pd.Series({s * scale: "north" if s % 2 else "south" for s in range(1, 7)}, name="team")
    got = attainment_table(t, sources, pd.Timestamp("2024-06-30").value, teams=teams)["actual"]
    for i, row in t.iterrows():
        ev = sources[row["metric"]]
        p = target_period(row["period"])
        if p.year < 1678 or p.year > 2261:
            assert got[i] == 0.0
            continue
        inside = (ev["at"] >= p.start_time) & (ev["at"] < (p + 1).start_time)
        people = [row["staff_id"]] if pd.notna(row["staff_id"]) else list(teams.index[teams == row["team"]])
        value = ev["value"] if "value" in ev.columns else pd.Series(1.0, index=ev.index)
        want = value[inside & ev["owner_id"].isin(people).fillna(False)].sum()
        assert got[i] == pytest.approx(want, rel=1e-12, abs=1e-9), (row.to_dict(), got[i], want)


def test_attainment_sums_refuse_credits_out_of_range():
    at = np.array([0], dtype=np.int64)
    stream = [(0, np.array([1]), None, at, None)]
    one = np.array([0]), np.array([1])
    with pytest.raises(ValueError, match="credit 0 names target 1"):
        _core.attainment_sums(stream, 1, np.array([1]), np.array([1]), np.array([0], dtype=np.int32), *one)
    with pytest.raises(ValueError, match="credit 0 names metric 2"):
        _core.attainment_sums(stream, 2, np.array([0]), np.array([1]), np.array([2], dtype=np.int32), *one)
    with pytest.raises(ValueError, match="stream 0 has metric 0"):
        _core.attainment_sums(stream, 0, np.array([], dtype=np.int64), np.array([], dtype=np.int64),
                              np.array([], dtype=np.int32), *one)


def test_aging_from_the_column_cache_matches_the_frames():
    """db.sales.aging reads the store's column cache (status as codes into
    its labels, ids and times with valid masks); the same report from
    db.frame's columns through aging_sums (checked against pandas above)
    must agree: payments keeping credit, credit applied later, a payment on
    account (no invoice), drafts and voids."""
    rng = np.random.default_rng(12)
    db = crm.open(":memory:")
    custs = [db.add("customers", name=f"c{i}") for i in range(6)]
    n = 150
    issued = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n), "D")
    inv = pd.DataFrame({"customer_id": rng.choice(custs, n), "issued_at": issued,
                        "due_at": issued + pd.to_timedelta(rng.choice([15, 30, 45], n), "D"),
                        "amount": rng.integers(10, 1000, n).astype(float),
                        "status": rng.choice(["issued", "issued", "draft", "void"], n)})
    ids = np.asarray(db.import_frame("invoices", inv))
    live = ids[(inv.status == "issued").to_numpy()]
    for i in rng.choice(live, 60, replace=False):
        row = db.get("invoices", int(i))
        over = rng.random() < 0.2
        db.add("payments", customer_id=row["customer_id"], invoice_id=int(i),
               amount=row["amount"] * (1.3 if over else rng.choice([0.3, 1.0])),
               paid_at=pd.Timestamp(row["issued_at"]) + pd.Timedelta(days=int(rng.integers(0, 90))),
               **({"overpayment": "credit"} if over else {}))
    db.add("payments", customer_id=custs[0], amount=50.0, paid_at="2024-03-01")     # on account
    applied = 0
    for i in live:
        if applied < 5 and db.sales.open_invoices().index.isin([int(i)]).any():
            try:
                db.sales.apply_credit(int(i), at="2024-06-01")
                applied += 1
            except crm.ValidationError:
                pass
    assert applied > 0 and db.count("credit_applications") == applied
    for as_of in ("2024-03-15", "2024-06-30", "2024-12-31"):
        cut = pd.Timestamp(as_of).value
        for by, key in (("customer", "customer_id"), (None, None)):
            got = db.sales.aging(by=by, as_of=as_of)
            want = aging_sums(db.sales._invoices(number=False, owner=False), db.sales._settlements(), cut, key)
            pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, check_index_type=False)


def test_aging_buckets_of_far_due_dates_and_none():
    """The bucket comes from the nanoseconds late (no division per invoice):
    due so long ago that as_of - due overflows int64 is 90+, no due date
    (NaT) is current, and each bound (30, 60, 90 days) on the nanosecond
    stays in the lower bucket while one nanosecond more moves up."""
    as_of = pd.Timestamp("2262-01-01")
    day = pd.Timedelta(days=1)
    due = pd.to_datetime([pd.Timestamp("1678-01-02"), pd.NaT, as_of - 30 * day, as_of - 30 * day - pd.Timedelta(1),
                          as_of - 90 * day, as_of - 90 * day - pd.Timedelta(1), as_of])
    inv = pd.DataFrame({"customer_id": np.arange(1, 8), "issued_at": pd.Timestamp("1678-01-01"), "due_at": due,
                        "amount": 10.0, "status": "issued"}, index=np.arange(1, 8))
    pay = pd.DataFrame({"invoice_id": pd.Series([], dtype=np.int64), "paid_at": pd.Series([], dtype="datetime64[ns]"),
                        "amount": pd.Series([], dtype=float)})
    got = aging_sums(inv, pay, as_of.value, "customer_id")
    want = ["90+", "current", "1-30", "31-60", "61-90", "90+", "current"]
    assert [BUCKETS[int(np.argmax(row))] for row in got[list(BUCKETS)].to_numpy()] == want
    # The per-invoice table (days overdue as doubles) agrees, the overflowing one included.
    table = open_invoices_table(inv, pay, as_of.value)
    assert table["bucket"].astype(str).tolist() == want
    assert table["days_overdue"].iloc[0] == pytest.approx((as_of - pd.Timestamp("1678-01-02")).days)


def test_a_scoped_handle_reads_through_its_rules_not_the_column_cache():
    """The column cache serves the store itself; a user's handle
    (db.as_user) keeps reading through its access rules: a rep's aging and
    attainment see only the rep's customers, invoices and deals."""
    db = crm.open(":memory:", mode="decentralized")
    boss = db.add("staff", name="W", role="manager", team="n")
    rep = db.add("staff", name="L", role="sales", manager_id=boss, team="n")
    other = db.add("staff", name="Z", role="sales", team="s")
    mine = db.add("customers", name="A", owner_id=rep)
    theirs = db.add("customers", name="B", owner_id=other)
    for c, o in ((mine, rep), (theirs, other)):
        d = db.add("deals", customer_id=c, stage="lead", amount=100.0, owner_id=o)
        db.sales.move(d, "won", at="2024-02-01")
        db.add("invoices", customer_id=c, amount=100.0, issued_at="2024-01-01", due_at="2024-01-31", owner_id=o)
    t_rep = db.add("targets", staff_id=rep, period="2024", amount=1000.0)
    t_other = db.add("targets", staff_id=other, period="2024", amount=1000.0)
    assert db.sales.aging(as_of="2024-03-15").index.tolist() == [mine, theirs]
    assert db.sales.attainment(as_of="2024-03-15")["actual"].to_dict() == {t_rep: 100.0, t_other: 100.0}
    handle = db.as_user(rep)
    assert handle.sales.aging(as_of="2024-03-15").index.tolist() == [mine]
    assert handle.sales.attainment(as_of="2024-03-15")["actual"].to_dict() == {t_rep: 100.0, t_other: 0.0}


def test_attainment_elapsed_across_the_whole_range_of_times():
    """The share of a target's period gone by at as_of: between a period in
    1700 and an as_of in 2261 the nanoseconds differ by more than 2^63, and
    ``as_of - start`` in int64 wrapped (a period long gone counted as not
    begun: elapsed 0, projected NaN). Reference: whole days in Python
    integers, which do not wrap."""
    t = pd.DataFrame({"staff_id": [7, 7, 7], "team": [None] * 3, "period": ["1700-01", "2261-06", "2024-02"],
                      "metric": ["bookings"] * 3, "amount": [100.0] * 3}, index=[1, 2, 3])
    e = pd.DataFrame({"owner_id": [7], "value": [30.0], "at": pd.to_datetime(["1700-01-05"])})
    late = attainment_table(t, {"bookings": e}, pd.Timestamp("2261-06-16").value)
    early = attainment_table(t, {"bookings": e}, pd.Timestamp("1700-01-16").value)
    assert late["elapsed"].tolist() == [1.0, pytest.approx(15 / 30, rel=1e-12), 1.0]
    assert late.loc[1, "projected"] == 30.0
    assert early["elapsed"].tolist() == [pytest.approx(15 / 31, rel=1e-12), 0.0, 0.0]
