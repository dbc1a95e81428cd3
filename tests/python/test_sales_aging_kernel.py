"""The aging kernel (``_core.aging_groups``, issue 11) against a plain pandas
computation on random ledgers large enough to reach every part of the
branch-free kernel: the compact list of open invoices and the rows asked for
ahead in it, the guess that invoice ids run in order (right, and wrong: a gap,
a shuffle, sparse ids), the row per key value and the sorted keys.

Each ledger has NaN amounts, invoices without a key or a due date,
statuses the kernel does not know as live (-1), payments naming no invoice,
payments after as_of and payments without an amount."""
import numpy as np
import pandas as pd
import pytest

from crmcore import _core

DAY = 86_400 * 10**9
NONE = np.iinfo(np.int64).min
LIVE = [False, True, True, False]  # draft, issued, paid, void
BUCKET_EDGES = np.array([0, 30 * DAY, 60 * DAY, 90 * DAY], dtype=np.int64)


def _ledger(seed, n, ids="in order"):
    rng = np.random.default_rng(seed)
    inv = pd.DataFrame({
        "id": np.arange(1, n + 1, dtype=np.int64),
        "key": rng.integers(1, max(2, n // 8), n).astype(np.int64),
        "present": (rng.random(n) > 0.05).astype(np.uint8),          # no key: in no group
        "issued": rng.integers(0, 200, n) * DAY,
        "amount": rng.integers(-20, 1000, n).astype(float),
        "status": rng.integers(-1, 4, n).astype(np.int32),
    })
    inv["due"] = inv["issued"] + rng.choice([0, 30, 45, 90], n) * DAY + rng.integers(-2, 3, n)
    inv.loc[rng.random(n) < 0.05, "due"] = NONE                      # no due date: current
    inv.loc[rng.random(n) < 0.05, "amount"] = np.nan                 # no amount: nothing owed
    if ids == "gap":       # in order but for one gap: the guess is wrong, found in the invoice pass
        inv.loc[inv.index[n // 2:], "id"] += 1
    elif ids == "shuffled":
        inv["id"] = rng.permutation(inv["id"].to_numpy())
    elif ids == "sparse":  # a hash map
        inv["id"] *= 1_000_003
    m = 2 * n
    pay = pd.DataFrame({
        "invoice": rng.choice(np.concatenate([inv["id"].to_numpy(), [0, -1, 10**15, 424_242]]), m),
        "at": rng.integers(0, 300, m) * DAY,                          # after as_of for some
        "settles": rng.integers(-50, 900, m).astype(float),
    })
    pay.loc[rng.random(m) < 0.05, "settles"] = np.nan                  # no amount: settles nothing
    return inv, pay


def _pandas(inv, pay, as_of, key):
    """The report computed plainly: payments by as_of summed per invoice id,
    open balances of live invoices issued by then, summed per key and bucket."""
    counted = pay[(pay["at"] <= as_of) & pay["settles"].notna()]
    paid = counted.groupby("invoice")["settles"].sum()
    live = np.where(inv["status"] < 0, True, np.array(LIVE)[inv["status"].clip(lower=0)])
    amount = inv["amount"].fillna(0.0)
    balance = amount - inv["id"].map(paid).fillna(0.0)
    open_ = live & (inv["issued"] <= as_of) & (balance > 1e-9 * amount.abs().clip(lower=1.0))
    if key:
        open_ &= inv["present"] == 1
    late = as_of - inv["due"].where(inv["due"] != NONE, as_of)  # in int64 nanoseconds: exact on the edges
    bucket = np.searchsorted(BUCKET_EDGES, late.to_numpy(), side="left")  # edges below: upper bounds included
    rows = pd.DataFrame({"key": inv["key"] if key else 0, "bucket": bucket, "balance": balance})[open_]
    out = rows.groupby(["key", "bucket"])["balance"].sum().unstack(fill_value=0.0)
    out = out.reindex(columns=range(5), fill_value=0.0)
    if not key and out.empty:
        out = pd.DataFrame([[0.0] * 5], index=[0])
    return out


def _kernel(inv, pay, as_of, key, masked=True, scale=1):
    present = (inv["key"].to_numpy() * scale, inv["present"].to_numpy() if masked else None) if key else None
    return _core.aging_groups(inv["id"].to_numpy(), present, inv["issued"].to_numpy(), inv["due"].to_numpy(),
                              inv["amount"].to_numpy(), inv["status"].to_numpy(), LIVE, pay["invoice"].to_numpy(),
                              pay["at"].to_numpy(), pay["settles"].to_numpy(), as_of)


@pytest.mark.parametrize("ids", ["in order", "gap", "shuffled", "sparse"])
@pytest.mark.parametrize("key", [True, False])
def test_aging_kernel_matches_pandas_on_random_ledgers(ids, key):
    inv, pay = _ledger(seed=len(ids) + key, n=20_000, ids=ids)
    for as_of in (100 * DAY, 150 * DAY + 7, 400 * DAY, -DAY):
        keys, sums = _kernel(inv, pay, as_of, key)
        want = _pandas(inv, pay, as_of, key)
        assert keys.tolist() == want.index.tolist()
        np.testing.assert_allclose(sums[:, :5], want.to_numpy(), rtol=1e-12, atol=1e-9)
        # The total is the five buckets added left to right, to the bit.
        np.testing.assert_array_equal(sums[:, 5], sums[:, :5].sum(axis=1))


def test_aging_kernel_keys_far_apart_give_the_same_sums_to_the_bit():
    """Keys spread too far for a row per value are sorted instead: each
    key's balances are still added in invoice order, so the sums are those of
    the row-per-value path exactly; a mask of all ones is no mask."""
    inv, pay = _ledger(seed=5, n=20_000)
    inv["present"] = 1
    dense_keys, dense = _kernel(inv, pay, 120 * DAY, True)
    far_keys, far = _kernel(inv, pay, 120 * DAY, True, scale=10**12)
    assert far_keys.tolist() == (dense_keys * 10**12).tolist()
    np.testing.assert_array_equal(far, dense)
    unmasked_keys, unmasked = _kernel(inv, pay, 120 * DAY, True, masked=False)
    assert unmasked_keys.tolist() == dense_keys.tolist()
    np.testing.assert_array_equal(unmasked, dense)


def test_aging_kernel_names_the_first_bad_status_row():
    inv, pay = _ledger(seed=6, n=1000)
    inv.loc[[700, 300], "status"] = np.array([4, -2], dtype=np.int32)
    with pytest.raises(ValueError, match="invoice row 300 has status code -2"):
        _kernel(inv, pay, 100 * DAY, True)


def test_aging_ids_known_in_order_are_not_read_and_give_the_same_report():
    """aging_sums tells the kernel when the invoices' index is a RangeIndex
    (ids first, first + 1, ...): the ids are then not read, and the report is
    the one an Index of the same ids gives, to the bit."""
    from crmcore.sales.ledger import aging_sums
    inv, pay = _ledger(seed=8, n=5000)
    frame = pd.DataFrame({"customer_id": inv["key"].to_numpy(), "issued_at": pd.to_datetime(inv["issued"]),
                          "due_at": pd.to_datetime(inv["due"].where(inv["due"] != NONE)),
                          "amount": inv["amount"].to_numpy(),
                          "status": np.array(["draft", "issued", "paid", "void"])[inv["status"].clip(lower=0)]},
                         index=pd.RangeIndex(1, len(inv) + 1))
    payments = pd.DataFrame({"invoice_id": pay["invoice"].to_numpy(), "paid_at": pd.to_datetime(pay["at"]),
                             "amount": pay["settles"].to_numpy()})
    as_of = 120 * DAY
    ranged = aging_sums(frame, payments, as_of, "customer_id")
    listed = aging_sums(frame.set_axis(pd.Index(frame.index.to_numpy())), payments, as_of, "customer_id")
    pd.testing.assert_frame_equal(ranged, listed, check_exact=True)
    keys, sums = _kernel(inv, pay, as_of, True)
    told = _core.aging_groups(inv["id"].to_numpy(), (inv["key"].to_numpy(), inv["present"].to_numpy()),
                              inv["issued"].to_numpy(), inv["due"].to_numpy(), inv["amount"].to_numpy(),
                              inv["status"].to_numpy(), LIVE, pay["invoice"].to_numpy(), pay["at"].to_numpy(),
                              pay["settles"].to_numpy(), as_of, ids_in_order=True)
    np.testing.assert_array_equal(told[0], keys)
    np.testing.assert_array_equal(told[1], sums)
