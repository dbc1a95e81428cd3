"""Business dimensions: cutting the analyses the way a business looks at
itself (region, channel, product category, owner, team, B2B / B2C, custom
fields), and the value every analysis gives customers without purchases.

A dimension is named by text. Customer dimensions describe the customer:

==================  ===========================================================
``region``          the customer's region
``source``          where the customer came from (web, referral, event, ...)
``industry``        the customer's industry
``owner``           the customer's owner (account manager) as stored
``team``            the team of that owner (``owner`` names a staff member by
                    name or by id)
``status``          the customer's status field
``kind``            ``"B2B"`` for organizations, ``"B2C"`` for persons
``custom.<key>``    the custom field ``<key>`` (nested values as JSON text)
==================  ===========================================================

Order dimensions describe each purchase: ``channel``, ``location``,
``staff`` (the name of the order's staff member), ``staff_team`` (that staff
member's team) and ``category`` (the product category; an order's amount and
cost are shared among the categories of its lines in proportion to the
lines' revenue, so totals over categories are the orders' totals).

Whatever the dimension, a missing value reads :data:`NONE` ("(none)"); a
customer without purchases has :data:`NONE` for every order dimension.

``by=`` on an analysis works like ``df.groupby(by).apply(analysis)``: the
analysis runs on each group separately (scores, shares, ranks and tiers are
relative to the group: the VIP of each region, the RFM of the online
channel) and the results are stacked, the dimension values leading the
index. Customer analyses stay one row per customer and group: a customer
dimension puts each customer in one group, an order dimension puts a
customer in every group they bought in.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from .._args import _invalid
from .._convert import text_array
from ._columns import stamp, times_ns

__all__ = ["CUSTOMER_DIMENSIONS", "NONE", "NO_PURCHASE", "ORDER_DIMENSIONS", "DimensionMethods", "cover"]

NONE = "(none)"
CUSTOMER_DIMENSIONS = ("region", "source", "industry", "owner", "team", "status", "kind")
ORDER_DIMENSIONS = ("channel", "location", "staff", "staff_team", "category")
_KIND_LABEL = {"organization": "B2B", "person": "B2C"}

# What a customer without purchases (up to as_of, in the group) gets from each
# customer analysis on the store. Columns not named here are missing (NaN,
# NaT); "rank" in profit_tiers continues after every buyer, by ascending id.
NO_PURCHASE: dict[str, dict[str, Any]] = {
    "rfm": {"frequency": 0, "monetary": 0.0, "r_score": 0, "f_score": 0, "m_score": 0, "segment": "no purchase"},
    "profit": {"orders": 0, "revenue": 0.0, "cost": 0.0, "profit": 0.0, "share": 0.0, "abc": "C"},
    "profit_tiers": {"profit": 0.0, "contribution": 0.0, "abc": "C", "tier": "normal"},
    "classify": {"purchases": 0, "amount": 0.0, "buyer_type": "no purchase", "repurchases": 0, "active": False,
                 "valid": False},
    "lifecycle": {"purchases": 0, "amount": 0.0, "stage": "prospect", "reason": "no purchase yet"},
    "loyalty": {"purchases": 0, "tenure_score": 0.0, "regularity": 0.0, "repeat_score": 0.0, "loyalty": 0.0},
    "churn_risk": {"purchases": 0},
    "health": {},
    "satisfaction": {"tickets": 0, "responses": 0},
    "lifetime_value": {},
    "deal_summary": {},
}


def cover(out: pd.DataFrame, customers: pd.Index, fill: dict[str, Any], name: str = "customer_id") -> pd.DataFrame:
    """``out`` (indexed by customer id) with a row for every id of
    ``customers`` it lacks, holding ``fill``'s values (missing elsewhere);
    ascending by id, the attrs kept.

    >>> out = pd.DataFrame({"frequency": [2], "segment": pd.Categorical(["new"])}, index=[5])
    >>> cover(out, pd.Index([5, 7]), {"frequency": 0, "segment": "no purchase"}).to_dict("list")
    {'frequency': [2, 0], 'segment': ['new', 'no purchase']}
    """
    index = out.index.union(pd.Index(customers, dtype=out.index.dtype if len(out.index) else None))
    new = ~index.isin(out.index)
    if not new.any():
        result = out if out.index.equals(index) else out.reindex(index)
        result.index.name = name
        return result
    result = out.reindex(index)
    for column, value in fill.items():
        if column not in out.columns:
            continue
        dtype = out[column].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            if value not in dtype.categories:
                result[column] = result[column].cat.add_categories([value])
            result.loc[new, column] = value
        else:
            values = result[column].to_numpy(dtype=object if dtype.kind in "biu" else None, copy=True)
            values[new] = value
            result[column] = pd.Series(values, index=index).astype(dtype)
    result.index.name = name
    result.attrs.update(out.attrs)
    return result


def _names(by: Any, where: str) -> list[str]:
    """The dimension names of ``by`` (text or a list of texts), checked."""
    names = [by] if isinstance(by, str) else list(by)
    if not names:
        raise _invalid(where, "by", "names no dimension")
    for n in names:
        if not isinstance(n, str) or not (n in CUSTOMER_DIMENSIONS or n in ORDER_DIMENSIONS
                                          or (n.startswith("custom.") and len(n) > 7)):
            known = ", ".join(CUSTOMER_DIMENSIONS + ORDER_DIMENSIONS)
            raise _invalid(where, "by", f"{n!r} is not a dimension (known: {known}, or custom.<key>)")
    if len(set(names)) != len(names):
        raise _invalid(where, "by", f"names a dimension twice: {names}")
    return names


def _text(values: pd.Series) -> pd.Series:
    """Values as plain text, missing and empty ones as :data:`NONE` (on
    columns, no Python call per row: a million customers are read at once)."""
    text = values.astype("string")
    text = text.where(text.str.strip() != "")
    return text.fillna(NONE).astype(object)


def _custom_values(custom: pd.Series, key: str) -> pd.Series:
    """The value of one custom field per record (JSON text parsed once per
    distinct text, not per record)."""
    codes, uniques = pd.factorize(custom, use_na_sentinel=True)

    def value(doc: str) -> Any:
        try:
            v = json.loads(doc).get(key) if doc else None
        except (ValueError, AttributeError):
            return None
        return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v

    looked_up = np.array([value(u) for u in uniques] + [None], dtype=object)
    return pd.Series(looked_up[codes], index=custom.index)


class DimensionMethods:
    """The store's dimensions: each customer's value of a dimension
    (:meth:`dimension`) and the split of purchases that ``by=`` runs on.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> _ = db.add("customers", name="Li", kind="person", region="East")
    >>> db.dimension(["kind", "region"]).values.tolist()
    [['B2C', 'East']]
    """

    if TYPE_CHECKING:  # what the mixin uses of the Database it is part of
        def frame(self, kind: str, ids: Any = None, columns: Any = None, filters: Any = None, *,
                  order_by: Any = None, limit: int | None = None, offset: int | None = None) -> pd.DataFrame: ...

        def _purchases(self, as_of: Any, where: str | None = None) -> tuple[pd.DataFrame, int]: ...

        def _as_of(self, as_of: Any, orders: pd.DataFrame | None = None, where: str | None = None) -> int: ...

    def _staff_lookup(self) -> tuple[pd.Series, pd.Series]:
        staff = self.frame("staff", columns=["name", "team"])
        return staff["name"], staff["team"]

    def _customer_dimensions(self, names: Sequence[str]) -> pd.DataFrame:
        """Customer dimensions of every stored customer, as text."""
        fields = {n for n in names if n in ("region", "source", "industry", "owner", "status", "kind")}
        if "team" in names:
            fields.add("owner")
        if any(n.startswith("custom.") for n in names):
            fields.add("custom")
        customers = self.frame("customers", columns=sorted(fields))
        out = pd.DataFrame(index=customers.index)
        for n in names:
            if n == "kind":
                kind = customers["kind"].astype(object)
                out[n] = _text(kind.map(_KIND_LABEL).fillna(kind))
            elif n == "team":
                names_, teams = self._staff_lookup()
                by_name = teams.groupby(names_.to_numpy()).first()  # the first staff member of a name
                owner = customers["owner"]
                team = owner.map(by_name)
                as_id = pd.to_numeric(owner, errors="coerce")
                team = team.fillna(as_id.map(teams))
                out[n] = _text(team)
            elif n.startswith("custom."):
                out[n] = _text(_custom_values(customers["custom"], n[7:]))
            elif n in CUSTOMER_DIMENSIONS:
                out[n] = _text(customers[n])
        out.index.name = "customer_id"
        return out

    def _tagged(self, orders: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
        """The purchases with a text column per dimension of ``names``; with
        ``category``, one row per order and category, its amount and cost
        shared by the lines' revenue (index: the order id, repeated)."""
        order_dims = [n for n in names if n in ORDER_DIMENSIONS]
        wanted = [c for c in ("channel", "location") if c in order_dims and c not in orders.columns]
        if wanted:
            orders = orders.join(self.frame("orders", ids=orders.index, columns=wanted))
        out = orders.copy()
        out.attrs = dict(orders.attrs)
        for n in ("channel", "location"):
            if n in order_dims:
                out[n] = _text(orders[n])
        if "staff" in order_dims or "staff_team" in order_dims:
            staff_names, teams = self._staff_lookup()
            ids = orders["staff_id"]
            if "staff" in order_dims:
                out["staff"] = _text(ids.map(staff_names))
            if "staff_team" in order_dims:
                out["staff_team"] = _text(ids.map(teams))
        customer_dims = [n for n in names if n not in ORDER_DIMENSIONS]
        if customer_dims:
            values = self._customer_dimensions(customer_dims)
            for n in customer_dims:
                out[n] = values[n].reindex(orders["customer_id"].to_numpy()).to_numpy()
        if "category" in order_dims and "category" not in orders.columns:
            out = self._by_category(out)  # rows that already say their category (lines) stay as they are
        return out

    def _by_category(self, orders: pd.DataFrame) -> pd.DataFrame:
        lines = self.frame("order_lines", columns=["order_id", "product_id", "quantity", "unit_price"])
        lines = lines[lines["order_id"].isin(orders.index).to_numpy(dtype=bool)]
        category = _text(lines["product_id"].map(self.frame("products", columns=["category"])["category"]))
        revenue = (lines["quantity"] * lines["unit_price"]).astype(np.float64)
        per = pd.DataFrame({"order_id": lines["order_id"].to_numpy(np.int64), "category": category.to_numpy(),
                            "revenue": revenue.to_numpy()})
        per = per.groupby(["order_id", "category"], sort=True, as_index=False)["revenue"].sum()
        total = per.groupby("order_id")["revenue"].transform("sum").to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            # Orders whose lines have no revenue share their amount equally.
            count = per.groupby("order_id")["revenue"].transform("size").to_numpy()
            share = np.where(total != 0, per["revenue"].to_numpy() / total, 1.0 / count)
        lined = orders.index.isin(per["order_id"])
        rows = orders.loc[per["order_id"].to_numpy()].copy()
        for column in ("amount", "cost"):
            if column in rows.columns:
                rows[column] = rows[column].to_numpy(dtype=np.float64) * share
        rows["category"] = per["category"].to_numpy()
        bare = orders[~lined].assign(category=NONE)
        out = pd.concat([rows, bare])
        out.attrs = dict(orders.attrs)
        return out

    def _split(self, by: Any, orders: pd.DataFrame, where: str,
               customers: pd.Index | None = None) -> tuple[list[str], list[tuple[tuple, pd.DataFrame, pd.Index]]]:
        """The groups ``by`` makes: (dimension names, [(key, purchases of the
        group, customers of the group)]), keys ascending. Every customer of
        ``customers`` (default: every stored customer) is in at least one
        group: those without purchases with :data:`NONE` for order
        dimensions."""
        names = _names(by, where)
        if customers is None:
            customers = self.frame("customers", columns=[]).index
        tagged = self._tagged(orders, names)
        buyers = tagged[["customer_id", *names]].drop_duplicates()
        silent = customers.difference(pd.Index(tagged["customer_id"].unique()))
        members = pd.DataFrame({"customer_id": silent.to_numpy(np.int64)})
        customer_dims = [n for n in names if n not in ORDER_DIMENSIONS]
        values = self._customer_dimensions(customer_dims)
        for n in names:
            members[n] = values[n].reindex(silent).to_numpy() if n in customer_dims else NONE
        members = pd.concat([buyers, members], ignore_index=True)
        rows = tagged.groupby(names, sort=False).indices
        who = members.groupby(names, sort=False).indices
        groups = []
        for key in sorted(set(rows) | set(who), key=lambda k: tuple(k) if isinstance(k, tuple) else (k,)):
            key_t = key if isinstance(key, tuple) else (key,)
            part = tagged.iloc[rows[key]] if key in rows else tagged.iloc[:0]
            ids = pd.Index(members["customer_id"].to_numpy(np.int64)[who[key]]) if key in who else pd.Index([])
            groups.append((key_t, part, ids))
        return names, groups

    def _customer_only(self, by: Any, where: str, reads: str = "deals") -> list[str]:
        """The dimensions of ``by`` for an analysis of records that are not
        purchases (``reads``: deals, campaign members): customer dimensions
        only, checked."""
        names = _names(by, where)
        for n in names:
            if n in ORDER_DIMENSIONS:
                raise _invalid(where, "by", f"{n!r} describes an order, and {where} reads {reads}; "
                                            f"it takes customer dimensions ({', '.join(CUSTOMER_DIMENSIONS)}, "
                                            "custom.<key>)")
        return names

    def _stacked(self, run: Callable[[pd.DataFrame, pd.Index], pd.DataFrame], orders: pd.DataFrame, by: Any,
                 where: str, customers: pd.Index | None = None) -> pd.DataFrame:
        """``run(purchases, customers)`` on every group of ``by``, stacked
        with the dimensions leading the index (see the module's rules)."""
        names, groups = self._split(by, orders, where, customers)
        parts, keys = [], []
        for key, part, ids in groups:
            try:
                parts.append(run(part, ids))
            except Exception as e:  # say which group failed: the same call works on the others
                group = ", ".join(f"{n}={v!r}" for n, v in zip(names, key))
                if hasattr(e, "add_note"):
                    e.add_note(f"{where}(by=...): in the group {group}")
                raise
            keys.append(key)
        attrs: dict = {}
        for p in parts:
            attrs.update(p.attrs)
            p.attrs = {}  # concat compares them, and a Series among them has no truth value
        if not parts:
            return pd.DataFrame()
        out = pd.concat(parts, keys=keys, names=names + list(parts[0].index.names))
        out.attrs = attrs
        out.attrs["by"] = names
        return out

    def dimension(self, by: Any, as_of: Any = None) -> pd.DataFrame:
        """Each stored customer's value of one or more dimensions.

        Customer dimensions are read from the customer (and their owner);
        for an order dimension (``channel``, ``category``, ...) a customer's
        value is their main one: where the largest part of their purchase
        amount up to ``as_of`` went (equal amounts: the first value in
        alphabetical order). Returns a DataFrame indexed by ``customer_id``
        with one text column per dimension; missing values, and order
        dimensions of customers without purchases, read ``"(none)"``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a = db.add("customers", name="Acme", kind="organization", region="East")
        >>> b = db.add("customers", name="Li", kind="person")
        >>> _ = db.add("orders", customer_id=a, ordered_at="2024-01-02", amount=5.0, channel="web")
        >>> _ = db.add("orders", customer_id=a, ordered_at="2024-01-03", amount=9.0, channel="store")
        >>> db.dimension(["kind", "region", "channel"]).to_dict("index")[a]
        {'kind': 'B2B', 'region': 'East', 'channel': 'store'}
        >>> db.dimension("channel").loc[b, "channel"]
        '(none)'
        """
        names = _names(by, "dimension")
        customers = self.frame("customers", columns=[]).index
        customer_dims = [n for n in names if n not in ORDER_DIMENSIONS]
        out = pd.DataFrame(index=pd.Index(customers, name="customer_id"))
        values = self._customer_dimensions(customer_dims)
        order_dims = [n for n in names if n in ORDER_DIMENSIONS]
        main = {}
        cut, read = self._as_of(as_of, where="dimension"), None  # customer dimensions are read as they are now
        if order_dims:
            orders, cut = self._purchases(as_of, where="dimension")
            read = times_ns(orders["ordered_at"])
            tagged = self._tagged(orders, order_dims)
            for n in order_dims:
                spent = tagged.groupby(["customer_id", n], sort=True)["amount"].sum().reset_index()
                spent = spent.sort_values(["customer_id", "amount", n], ascending=[True, False, True], kind="stable")
                top = spent.drop_duplicates("customer_id").set_index("customer_id")[n]
                main[n] = top.reindex(customers).fillna(NONE).to_numpy(dtype=object)
        for n in names:  # text, str with no customers too
            out[n] = text_array(values[n].reindex(customers).to_numpy(dtype=object) if n in customer_dims else main[n])
        return stamp(out, cut, read)
