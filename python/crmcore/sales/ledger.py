"""Contracts, invoices and receivables, for ``db.sales``.

Contracts (kind ``contracts``) carry a customer, value, start, end, renewal
date and status. Invoices (``invoices``) have an amount that the store keeps
equal to their lines (``invoice_lines``: quantity x unit price, tax
included) when they have lines; payments name the invoice they pay
(``payments.invoice_id``), and the store refuses one beyond what is open
(see ``cpp/src/records/sales_rules.cpp``) unless the payment keeps the
excess as the customer's credit (``overpayment="credit"``; the store fills
``payments.credit``). Credit is spent on later invoices by
``credit_applications`` (:meth:`LedgerMethods.apply_credit`). The reports
here read those records as of a date: an invoice counts from its issue
date, a payment from the day it was paid, credit from the day applied.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._args import _count, _invalid
from ..scoring._columns import as_of_timestamp, days_between, shifted, times_ns, utc_now
from ._base import SalesPart
from ._cache import valid_or
from ._text import text_codes

#: The aging buckets: days past the due date, upper bounds included.
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
#: An invoice's statuses (the store's allowed values); draft and void are not owed.
STATUSES = ("draft", "issued", "paid", "void")
NS_PER_DAY = 86_400 * 10**9


def open_invoices_table(invoices: pd.DataFrame, payments: pd.DataFrame, as_of: int) -> pd.DataFrame:
    """The invoices open on ``as_of`` (nanoseconds): issued by then, neither
    draft nor void, with a balance left after the payments made by then.
    ``invoices`` has columns issued_at, due_at, amount, status and any
    others (kept); ``payments`` invoice_id, paid_at, amount and optionally
    credit (the part kept as credit, not paying the invoice; credit applied
    to an invoice comes as a payment row of its own). Adds ``paid``,
    ``balance``, ``days_overdue`` (days past due, 0 when not yet due) and
    ``bucket`` (one of :data:`BUCKETS`).

    >>> inv = pd.DataFrame({"issued_at": pd.to_datetime(["2024-01-01"] * 2),
    ...                     "due_at": pd.to_datetime(["2024-01-31"] * 2),
    ...                     "amount": [100.0, 50.0], "status": ["issued", "issued"]}, index=[1, 2])
    >>> pay = pd.DataFrame({"invoice_id": [1, 2], "paid_at": pd.to_datetime(["2024-02-01", "2024-03-20"]),
    ...                     "amount": [40.0, 50.0]})
    >>> t = open_invoices_table(inv, pay, pd.Timestamp("2024-03-15").value)
    >>> t[["balance", "days_overdue", "bucket"]].values.tolist()
    [[60.0, 44.0, '31-60'], [50.0, 44.0, '31-60']]
    """
    rows, paid, balance, late, bucket = _open_balances(invoices, payments, as_of)
    live = invoices.iloc[rows].copy()
    live["paid"], live["balance"], live["days_overdue"] = paid, balance, late
    live["bucket"] = pd.Categorical.from_codes(bucket, BUCKETS)
    return live


def _open_balances(invoices: pd.DataFrame, payments: pd.DataFrame,
                   as_of: int) -> "tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]":
    """The work of :func:`open_invoices_table` on columns: the open
    invoices' positions, and for each its paid, balance, days overdue and
    bucket code, found in C++ (``_core.open_balances``: payments summed per
    invoice in one pass, ids looked up in a table over their range)."""
    settles = _settles(payments)
    live = ~invoices["status"].isin(["draft", "void"]).to_numpy(dtype=bool)
    rows, paid, balance, late, bucket = _core.open_balances(
        np.asarray(invoices.index, dtype=np.int64), times_ns(invoices["issued_at"]), times_ns(invoices["due_at"]),
        invoices["amount"].to_numpy(dtype=float, na_value=np.nan), live.astype(np.uint8),
        payments["invoice_id"].to_numpy(dtype=np.int64, na_value=-1), times_ns(payments["paid_at"]), settles, as_of)
    return rows, paid, balance, late, bucket


def aging_sums(invoices: pd.DataFrame, payments: pd.DataFrame, as_of: int, key: str | None) -> pd.DataFrame:
    """Open balances on ``as_of`` per ``invoices[key]`` (None: one row,
    "all") and bucket, with a ``total`` column: :func:`open_invoices_table`
    followed by :func:`aging_table`, in one C++ pass over the columns
    (``_core.aging_groups``: payments summed per invoice found by id, the
    status coded in C++ against :data:`STATUSES`, the open balances summed
    per key and bucket), without the per-invoice frame between them.

    >>> inv = pd.DataFrame({"customer_id": [7, 7], "issued_at": pd.to_datetime(["2024-01-01"] * 2),
    ...                     "due_at": pd.to_datetime(["2024-01-31", "2024-03-31"]),
    ...                     "amount": [100.0, 50.0], "status": ["issued", "issued"]}, index=[1, 2])
    >>> pay = pd.DataFrame({"invoice_id": [1], "paid_at": pd.to_datetime(["2024-02-01"]), "amount": [40.0]})
    >>> aging_sums(inv, pay, pd.Timestamp("2024-03-15").value, "customer_id").loc[7].tolist()
    [50.0, 0.0, 60.0, 0.0, 0.0, 110.0]
    """
    present = None
    if key:
        values = invoices[key]
        # A NumPy integer column has no missing key: no mask to make and read.
        mask = None if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu" else \
            values.notna().to_numpy(dtype=np.uint8)
        present = (_int64s(values, 0), mask)
    keys, sums = _core.aging_groups(
        np.asarray(invoices.index, dtype=np.int64), present, times_ns(invoices["issued_at"]),
        times_ns(invoices["due_at"]), invoices["amount"].to_numpy(dtype=float, na_value=np.nan),
        text_codes(invoices["status"], STATUSES), [s not in ("draft", "void") for s in STATUSES],
        _int64s(payments["invoice_id"], -1), times_ns(payments["paid_at"]), _settles(payments), as_of,
        ids_in_order=_ids_in_order(invoices.index))
    return _aging_frame(keys, sums, key)


def _ids_in_order(index: pd.Index) -> bool:
    """Whether the invoice ids are known to run first, first + 1, ... without
    reading them (a RangeIndex of step 1): the kernel then does not check."""
    return isinstance(index, pd.RangeIndex) and index.step == 1


def _int64s(values: pd.Series, missing: int) -> np.ndarray:
    """A column of ids as int64, ``missing`` where one is missing. A NumPy
    int64 column (which has none missing) is handed over as it is: to_numpy
    with na_value copied it (0.3 ms at 1M rows)."""
    if isinstance(values.dtype, np.dtype) and values.dtype == np.int64:
        return values.to_numpy()
    return values.to_numpy(dtype=np.int64, na_value=missing)


def _cached_aging(store: Any, key: "str | None", as_of: int) -> pd.DataFrame:
    """:func:`aging_sums` from a store's column cache (per customer or for
    the whole book): the invoices' status as codes into its distinct labels,
    ids and times as int64 with a valid mask, straight into
    ``_core.aging_groups``; no frame and no text per invoice or payment."""
    none = np.iinfo(np.int64).min
    inv = store.cached_columns("invoices", ["issued_at", "due_at", "amount"] + ([key] if key else []) + ["status"])
    codes, labels = inv["status"]
    present = None
    if key:
        values, valid = inv[key]
        present = (values, valid)
    parts = [store.cached_columns("payments", ["invoice_id", "paid_at", "amount", "credit"])]
    used = store.cached_columns("credit_applications", ["invoice_id", "applied_at", "amount"])
    if len(used["id"]):
        parts.append({"invoice_id": used["invoice_id"], "paid_at": used["applied_at"], "amount": used["amount"]})
    settles = [np.nan_to_num(p["amount"]) - (np.nan_to_num(p["credit"]) if "credit" in p else 0.0) for p in parts]
    keys, sums = _core.aging_groups(
        np.asarray(inv["id"], dtype=np.int64), present, valid_or(inv["issued_at"], none),
        valid_or(inv["due_at"], none), inv["amount"], codes, [str(x) not in ("draft", "void") for x in labels],
        np.concatenate([valid_or(p["invoice_id"], -1) for p in parts]),
        np.concatenate([valid_or(p["paid_at"], none) for p in parts]), np.concatenate(settles), as_of)
    return _aging_frame(keys, sums, key)


def _aging_frame(keys: np.ndarray, sums: np.ndarray, key: "str | None") -> pd.DataFrame:
    """The report from ``_core.aging_groups``' keys and rows (the buckets,
    then their total, summed in C++): the frame wraps the kernel's array as
    its one block, no copy, where a frame of the buckets with the total
    added as a column afterwards cost six times the time (2.2 against
    0.36 ms at 100k customers)."""
    index = pd.Index(keys, name=key, copy=False) if key else pd.Index(["all"], name=None)
    return pd.DataFrame(sums, index=index, columns=[*BUCKETS, "total"], copy=False)


def _settles(payments: pd.DataFrame) -> np.ndarray:
    """What each payment settles of its invoice: its amount less what it keeps
    as credit. A missing amount settles nothing: NaN, which the kernels skip
    (the amounts are then handed over as they are, where filling the gaps
    with 0.0 copied them: 1.5 ms at 1M payments)."""
    settles = payments["amount"].to_numpy(dtype=float, na_value=np.nan)
    if "credit" in payments.columns:
        settles = np.nan_to_num(settles) - payments["credit"].to_numpy(dtype=float, na_value=0.0)
    return settles


def _bucket_sums(group: Any, bucket: np.ndarray, balance: np.ndarray, key: str | None) -> pd.DataFrame:
    if key:
        # Unsorted, then the few groups sorted: sorting while factorizing
        # sorted every row's key, a third of the report's time.
        code, groups = pd.factorize(group)
        order = np.argsort(np.asarray(groups), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        code, groups = np.where(code >= 0, rank[np.maximum(code, 0)], -1), pd.Index(groups).take(order)
    else:
        code, groups = np.zeros(len(bucket), dtype=np.int64), pd.Index(["all"])
    ok = code >= 0
    k = len(BUCKETS)
    sums = np.bincount(code[ok] * k + bucket[ok], weights=balance[ok],
                       minlength=len(groups) * k).reshape(len(groups), k)
    out = pd.DataFrame(sums, index=pd.Index(groups, name=key), columns=list(BUCKETS))
    out["total"] = out.sum(axis=1)
    return out


def aging_table(open_: pd.DataFrame, key: str | None) -> pd.DataFrame:
    """Open balances (``open_`` as :func:`open_invoices_table` gives it)
    summed per ``key`` column (None: one row, "all") and bucket, with a
    ``total`` column.

    >>> t = pd.DataFrame({"customer_id": [1, 1, 2], "balance": [5.0, 7.0, 1.0],
    ...                   "bucket": pd.Categorical(["current", "90+", "90+"], BUCKETS)})
    >>> aging_table(t, "customer_id")["total"].tolist()
    [12.0, 1.0]
    """
    group = open_[key].to_numpy() if key else None
    return _bucket_sums(group, open_["bucket"].cat.codes.to_numpy().astype(np.int64),
                        open_["balance"].to_numpy(dtype=float), key)


class LedgerMethods(SalesPart):
    """Contracts' and receivables' part of ``db.sales`` (mixed into
    :class:`crmcore.sales.SalesMethods`)."""


    def renewals_due(self, within: int = 90, as_of: Any = None) -> pd.DataFrame:
        """Active contracts whose renewal falls due by ``as_of`` + ``within``
        days (default the end of the data), overdue ones included: the
        renewal date, or the end date where none is set. One row per
        contract, the soonest first: ``customer_id``, ``deal_id``, ``name``,
        ``value``, ``owner_id``, ``ends_at``, ``due`` and ``days_left``
        (negative when past).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> k = db.add("contracts", customer_id=c, value=1200.0, started_at="2024-01-01", ends_at="2024-12-31",
        ...            renewal_at="2024-11-30")
        >>> _ = db.add("contracts", customer_id=c, value=50.0, ends_at="2025-06-30")
        >>> db.sales.renewals_due(within=60, as_of="2024-11-01")[["value", "days_left"]].values.tolist()
        [[1200.0, 29.0]]
        """
        within = _count(within, "renewals_due", "within")
        cut = pd.Timestamp(self._as_of(as_of, where="renewals_due"))
        k = self._db.frame("contracts", columns=["customer_id", "deal_id", "name", "value", "owner_id",
                                                 "started_at", "ends_at", "renewal_at", "status"])
        due = k["renewal_at"].fillna(k["ends_at"])
        keep = (k["status"] == "active") & due.notna() & (due <= shifted(cut, within, "renewals_due", "within"))
        out = k.loc[keep, ["customer_id", "deal_id", "name", "value", "owner_id", "ends_at"]].assign(due=due[keep])
        out["days_left"] = days_between(out["due"], cut)
        out = out.sort_values("due", kind="stable")
        out.attrs["as_of"] = cut
        return out

    def open_invoices(self, as_of: Any = None) -> pd.DataFrame:
        """The invoices open on ``as_of`` (default the end of the data), one
        row each: ``customer_id``, ``owner_id`` (the invoice's, else its
        deal's owner), ``number``, ``issued_at``, ``due_at``, ``amount``,
        ``paid`` (by ``as_of``), ``balance``, ``days_overdue`` and ``bucket``
        (``current``, ``1-30``, ``31-60``, ``61-90`` or ``90+`` days past due).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> i = db.add("invoices", customer_id=c, amount=100.0, issued_at="2024-01-01", due_at="2024-01-31")
        >>> _ = db.add("payments", customer_id=c, invoice_id=i, amount=30.0, paid_at="2024-02-10")
        >>> db.sales.open_invoices(as_of="2024-03-01")[["balance", "days_overdue", "bucket"]].values.tolist()
        [[70.0, 30.0, '1-30']]
        """
        cut = self._as_of(as_of, where="open_invoices")
        out = open_invoices_table(self._invoices(), self._settlements(), cut).drop(columns=["deal_id", "status"])
        out.attrs["as_of"] = pd.Timestamp(cut)
        return out

    def aging(self, by: str | None = "customer", as_of: Any = None) -> pd.DataFrame:
        """Open balances on ``as_of`` (default the end of the data) in aging
        buckets, per ``by`` (``"customer"``, ``"owner"`` or None for the
        whole book): one column per bucket of :data:`BUCKETS` and ``total``.
        Per customer or for the whole book the invoices and payments are
        read from the store's column cache (a second report on an open
        store reads nothing; a user's handle reads through its rules).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("invoices", customer_id=c, amount=100.0, issued_at="2024-01-01", due_at="2024-01-31")
        >>> _ = db.add("invoices", customer_id=c, amount=40.0, issued_at="2024-03-01", due_at="2024-03-31")
        >>> db.sales.aging(as_of="2024-03-15").loc[c].tolist()
        [40.0, 0.0, 100.0, 0.0, 0.0, 140.0]
        """
        key = self._ledger_key(by)
        cut = self._as_of(as_of, where="aging")
        # Only the columns the report reads (the invoice number, text, would
        # cost a Python string per invoice for nothing).
        store = self._db._core
        if isinstance(store, _core.Store) and key != "owner_id":
            out = _cached_aging(store, key, cut)
        else:
            out = aging_sums(self._invoices(number=False, owner=key == "owner_id"), self._settlements(), cut, key)
        out.attrs["as_of"] = pd.Timestamp(cut)
        return out

    def dso(self, by: str | None = "customer", days: int = 90, as_of: Any = None) -> pd.DataFrame:
        """Days sales outstanding on ``as_of`` (default the end of the data),
        per ``by`` (``"customer"``, ``"owner"`` or None): open balance /
        amount invoiced in the ``days`` days up to ``as_of`` x ``days``
        (the simple form, not the count-back method). Columns ``receivables``,
        ``invoiced`` and ``dso`` (NaN where nothing was invoiced).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> i = db.add("invoices", customer_id=c, amount=900.0, issued_at="2024-02-01", due_at="2024-03-02")
        >>> _ = db.add("payments", customer_id=c, invoice_id=i, amount=600.0, paid_at="2024-02-20")
        >>> db.sales.dso(days=90, as_of="2024-03-01").loc[c].tolist()
        [300.0, 900.0, 30.0]
        """
        key = self._ledger_key(by)
        days = _count(days, "dso", "days", low=1)
        cut = pd.Timestamp(self._as_of(as_of, where="dso"))
        open_ = self.open_invoices(cut)
        inv = self._db.frame("invoices", columns=["customer_id", "owner_id", "deal_id", "issued_at", "amount",
                                                  "status"])
        if key == "owner_id" and inv["owner_id"].isna().any():
            inv["owner_id"] = inv["owner_id"].fillna(inv["deal_id"].map(self._db.frame("deals", columns=[
                "owner_id"])["owner_id"]))
        window = inv[(inv["issued_at"] > shifted(cut, -days, "dso", "days")) & (inv["issued_at"] <= cut)
                     & ~inv["status"].isin(["draft", "void"])]
        if key:
            receivables = open_.groupby(key)["balance"].sum()
            invoiced = window.groupby(key)["amount"].sum()
        else:
            receivables = pd.Series({"all": open_["balance"].sum()})
            invoiced = pd.Series({"all": window["amount"].sum()})
        out = pd.DataFrame({"receivables": receivables, "invoiced": invoiced}).fillna(0.0)
        out.index.name = key
        out["dso"] = out["receivables"] / out["invoiced"].where(out["invoiced"] > 0) * days
        out.attrs["as_of"] = cut
        return out

    def credits(self, as_of: Any = None) -> pd.DataFrame:
        """Each customer's credit on ``as_of`` (default the end of the
        data), one row per customer, columns ``kept`` (overpayments and payments on account kept as
        credit), ``applied`` (spent on invoices) and ``balance``; customers
        who never had credit are left out.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> i = db.add("invoices", customer_id=c, amount=100.0, issued_at="2024-01-01", due_at="2024-01-31")
        >>> _ = db.add("payments", customer_id=c, invoice_id=i, amount=130.0, paid_at="2024-01-10",
        ...            overpayment="credit")
        >>> db.sales.credits().loc[c].tolist()
        [30.0, 0.0, 30.0]
        """
        cut = pd.Timestamp(self._as_of(as_of, where="credits"))
        pay = self._db.frame("payments", columns=["customer_id", "paid_at", "credit"])
        use = self._db.frame("credit_applications", columns=["customer_id", "applied_at", "amount"])
        kept = pay[pay["paid_at"] <= cut].groupby("customer_id")["credit"].sum(min_count=1).dropna()
        applied = use[use["applied_at"] <= cut].groupby("customer_id")["amount"].sum()
        out = pd.DataFrame({"kept": kept, "applied": applied}).fillna(0.0).astype(float)
        out.index.name = "customer_id"
        out["balance"] = out["kept"] - out["applied"]
        out.attrs["as_of"] = cut
        return out

    def apply_credit(self, invoice: int, amount: float | None = None, at: Any = None,
                     note: str | None = None) -> int:
        """Spend the invoice's customer's credit on ``invoice``: ``amount``,
        or by default as much as both the credit and the invoice's open
        balance allow, applied ``at`` (default now). Writes a
        ``credit_applications`` record (through the store's write path,
        audited) and returns its id; the store refuses more than the
        customer's credit or the invoice's balance. ``note`` is kept with
        the record.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> first = db.add("invoices", customer_id=c, amount=100.0, issued_at="2024-01-01", due_at="2024-01-31")
        >>> _ = db.add("payments", customer_id=c, invoice_id=first, amount=130.0, paid_at="2024-01-10",
        ...            overpayment="credit")
        >>> later = db.add("invoices", customer_id=c, amount=50.0, issued_at="2024-02-01", due_at="2024-03-01")
        >>> a = db.sales.apply_credit(later, at="2024-02-02")
        >>> db.get("credit_applications", a)["amount"], float(db.sales.open_invoices().loc[later, "balance"])
        (30.0, 20.0)
        """
        inv = self._db.get("invoices", invoice)
        when = utc_now() if at is None else as_of_timestamp(at, "at", "apply_credit")
        if amount is None:  # what the customer has, and the invoice asks, when applied
            credit = self.credits(as_of=when)
            left = float(credit["balance"].get(inv["customer_id"], 0.0))
            table = self.open_invoices(as_of=when)
            amount = min(left, float(table["balance"].get(invoice, 0.0)))
            if amount <= 0:
                raise _core.ValidationError(
                    f"credit_applications: nothing to apply to invoice {invoice}: customer {inv['customer_id']} has"
                    f" credit {left:g} and the invoice has {float(table['balance'].get(invoice, 0.0)):g} open")
        return int(self._db.add("credit_applications", customer_id=inv["customer_id"], invoice_id=invoice,
                                amount=float(amount), applied_at=when, note=note))

    def _invoices(self, number: bool = True, owner: bool = True) -> pd.DataFrame:
        """The invoices with their owner: the invoice's, else its deal's
        (and their ``number``); without ``owner`` neither is read (a report
        per customer would otherwise read every deal's owner to fill them)."""
        inv = self._db.frame("invoices", columns=["customer_id"] + (["owner_id", "deal_id"] if owner else [])
                             + (["number"] if number else []) + ["issued_at", "due_at", "amount", "status"])
        if owner and inv["owner_id"].isna().any():
            owners = self._db.frame("deals", columns=["owner_id"])["owner_id"]
            inv["owner_id"] = inv["owner_id"].fillna(inv["deal_id"].map(owners))
        return inv

    def _settlements(self) -> pd.DataFrame:
        """What settles invoices: payments (less what they keep as credit)
        and credit applied, as rows of invoice_id, paid_at, amount, credit."""
        pay = self._db.frame("payments", columns=["invoice_id", "paid_at", "amount", "credit"])
        use = self._db.frame("credit_applications", columns=["invoice_id", "applied_at", "amount"])
        if use.empty:
            return pay
        use = use.rename(columns={"applied_at": "paid_at"}).assign(credit=0.0)
        return pd.concat([pay, use], ignore_index=True)

    @staticmethod
    def _ledger_key(by: str | None) -> str | None:
        keys = {"customer": "customer_id", "owner": "owner_id", None: None}
        if not (by is None or isinstance(by, str)) or by not in keys:
            raise _invalid("receivables", "by", f"{by!r} is not a grouping of receivables (one of: customer, owner, None)")
        return keys[by]
