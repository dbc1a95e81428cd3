"""Purchasing and stock, grouped on ``db.stock`` the way pandas groups ``.str``.

What a location holds of a product is the sum of its ``stock_movements``
(receipt, shipment, return, adjustment, transfer), so the stock on any past
day is the sum of the movements up to it. The store also keeps, in the same
transaction as every movement, each (product, location)'s net change,
shipments and number of movements per calendar month
(:meth:`StockMethods.balances`): stock on a date is read as the months
before the date's month plus that month's movements up to the date (late in
a month: the months with it, less the movements after the date), not as the
whole ledger. The
store's write path applies the stock rules to every write of a movement
(see cpp/src/stock/stock_rules.cpp): movements are never changed or deleted,
an adjustment needs a reason, a receipt stays within its purchase line, and
a location that takes no backorders never holds less than nothing. The
methods that write here are conveniences over ``db.add("stock_movements",
...)``; the analyses run in C++ over the movements' columns.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import _core
from ._args import _count, _number
from ._convert import object_array
from .scoring._columns import as_of_ns, shifted, utc_now

NS_PER_DAY = 86_400 * 10**9
#: The movement types, in the order of their codes in the C++ ledger kernels.
TYPES = ("receipt", "shipment", "return", "adjustment", "transfer")
_LATEST = np.iinfo(np.int64).max
_COLUMNS = ["type", "product_id", "location_id", "to_location_id", "quantity", "unit_cost", "moved_at"]


def _codes(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position of each value in the sorted `ids`, -1 for a value not
    among them (the kernels refuse it rather than count it elsewhere). Ids of
    one kind are mostly near each other, so a table over their span answers
    each value with one look-up; a binary search per value (searchsorted)
    cost 0.1 s a column at 1M movements."""
    out = np.full(len(values), -1, np.int64)
    if len(ids) == 0 or len(values) == 0:
        return out
    lo, span = int(ids[0]), int(ids[-1]) - int(ids[0]) + 1
    if span > 4 * (len(ids) + len(values)):  # ids too scattered for a table: search
        at = np.minimum(np.searchsorted(ids, values), len(ids) - 1)
        found = ids[at] == values
        out[found] = at[found]
        return out
    table = np.full(span, -1, np.int64)
    table[ids - lo] = np.arange(len(ids))
    pos = values - lo
    inside = (pos >= 0) & (pos < span)
    out[inside] = table[pos[inside]]
    return out


def _type_codes(types: pd.Series) -> np.ndarray:
    """TYPES' code of each movement type: one vectorised comparison per type
    (pd.Categorical over the store's string column took 0.1 s at 1M)."""
    codes = np.full(len(types), -1, np.int8)  # the store admits only TYPES; -1 would be refused by the kernels
    for code, name in enumerate(TYPES):
        codes[(types == name).to_numpy(bool, na_value=False)] = code
    return codes


class _Ledger:
    """The movements as the kernels read them: dense product and location
    codes. Only the columns asked for are read (reading the store is most of
    an analysis' time): unit costs for the valuation, order ids for the
    stock-outs; without them the kernels get NaN costs."""

    def __init__(self, db: Any, costs: bool = False, orders: bool = False, products: pd.DataFrame | None = None,
                 locations: pd.DataFrame | None = None):
        self.products = db.frame("products", columns=["sku", "name", "category", "supplier_id", "reorder_point",
                                                      "reorder_quantity", "unit_cost"]) if products is None else products
        self.locations = (db.frame("locations", columns=["name", "allows_backorders"]) if locations is None
                          else locations)
        columns = [c for c in _COLUMNS if costs or c != "unit_cost"] + (["order_id"] if orders else [])
        m = db.frame("stock_movements", columns=columns)
        self.movements = m
        product_ids = self.products.index.to_numpy(np.int64)
        location_ids = self.locations.index.to_numpy(np.int64)
        to = m["to_location_id"]
        has_to = to.notna().to_numpy(bool)
        to_codes = np.full(len(m), -1, np.int64)  # -1: not a transfer
        to_codes[has_to] = _codes(location_ids, to[has_to].to_numpy(np.int64))
        self.args = (
            _type_codes(m["type"]),
            _codes(product_ids, m["product_id"].to_numpy(np.int64)),
            _codes(location_ids, m["location_id"].to_numpy(np.int64)),
            to_codes,
            m["quantity"].to_numpy(np.float64),
            m["unit_cost"].to_numpy(np.float64, na_value=np.nan) if costs else np.full(len(m), np.nan),
            m["moved_at"].to_numpy("datetime64[ns]").view(np.int64),
        )

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The product and location ids of each cell of a products x locations result."""
        return (np.repeat(self.products.index.to_numpy(np.int64), len(self.locations)),
                np.tile(self.locations.index.to_numpy(np.int64), len(self.products)))


def _as_of(as_of: Any, where: str | None = None) -> int:
    ns = as_of_ns(as_of, where=where)
    return _LATEST if ns is None else ns


def _kept(db: Any) -> bool:
    """Whether the store's kept monthly balances can answer: an unscoped
    store, on either engine (a scoped handle reads the ledger under its
    access rules)."""
    return not isinstance(db._core, _core.ScopedStore)


def _take(column: pd.Series, ids: np.ndarray) -> Any:
    """The value of `column` (a frame's column, indexed by its ascending
    record ids) for each of `ids`: a table look-up (_codes), not a reindex
    (which took a fifth of on_hand's time over a 10M ledger). In the
    column's dtype (text stays str with no ids too)."""
    codes = _codes(column.index.to_numpy(np.int64), np.asarray(ids, np.int64))
    if (codes < 0).any():  # an id not among them: NaN / None as reindex gives
        return column.reindex(ids).array
    return column.array.take(codes)


def _levels(db: Any, as_of: int, since: int, columns: tuple = ("sku",)) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                  pd.DataFrame]:
    """(levels, products, locations): per (product, location) that moved at
    or before `as_of`, ascending, its stock then and what it shipped in
    (since, as_of]. From the kept balances when the store has them (a read
    of the balances and of at most half a month of movements at each end,
    not of the whole ledger), else from the ledger's columns through the C++
    kernel. `products` holds the `columns` asked for, `locations` the name."""
    products = db.frame("products", columns=list(columns))
    locations = db.frame("locations", columns=["name"])
    if _kept(db):
        product, location, on_hand, shipped = _core.stock_levels_kept(db._core, as_of, since)
        return (pd.DataFrame({"product_id": product, "location_id": location, "on_hand": on_hand,
                              "shipped": shipped}), products, locations)
    ledger = _Ledger(db, products=products, locations=locations)
    on_hand, shipped, seen = _core.stock_levels(*ledger.args, len(products), len(locations), as_of, since)
    product, location = ledger.pairs()
    keep = seen.astype(bool)
    return (pd.DataFrame({"product_id": product[keep], "location_id": location[keep], "on_hand": on_hand[keep],
                          "shipped": shipped[keep]}), products, locations)


class StockMethods:
    """Purchasing and stock of a store: ``db.stock.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> north = db.add("locations", name="North")
    >>> tea = db.add("products", sku="TEA", name="Green tea", reorder_point=5)
    >>> _ = db.stock.adjust(tea, north, 12, reason="opening count", at="2025-01-01")
    >>> _ = db.stock.ship(tea, north, 8, at="2025-01-10")
    >>> db.stock.on_hand(as_of="2025-01-05")["on_hand"].tolist(), db.stock.on_hand()["on_hand"].tolist()
    ([12.0], [4.0])
    >>> db.stock.reorder_list()["sku"].tolist()
    ['TEA']
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<stock of {self._db!r}>"

    # -- movements -------------------------------------------------------------
    def receive(self, line: int, quantity: float, at: Any = None, location: int | None = None,
                unit_cost: float | None = None) -> int:
        """Receive `quantity` of purchase line `line` (at its order's location
        unless `location` is given, at the line's cost unless `unit_cost` is):
        the line's received quantity and date follow. More than was ordered is
        refused. Returns the movement's id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> s = db.add("customers", name="Tea Co", kind="organization", is_supplier=True)
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> po = db.add("purchase_orders", supplier_id=s, location_id=loc, ordered_at="2025-01-01")
        >>> line = db.add("purchase_lines", purchase_order_id=po, product_id=p, quantity=10, unit_cost=2.5)
        >>> _ = db.stock.receive(line, 4, at="2025-01-06")
        >>> db.get("purchase_lines", line)["received_quantity"]
        4.0
        """
        unit_cost = _number(unit_cost, "receive", "unit_cost", low=0, none=True)  # NaN: the line's cost in silence
        row = self._db.get("purchase_lines", line)
        if location is None:
            location = self._db.get("purchase_orders", row["purchase_order_id"])["location_id"]
        return self._db.add("stock_movements", type="receipt", product_id=row["product_id"], location_id=location,
                            quantity=quantity, moved_at=_now(at), purchase_line_id=line, unit_cost=unit_cost)

    def ship(self, product: int, location: int, quantity: float, at: Any = None, order: int | None = None) -> int:
        """Ship `quantity` of `product` from `location` (for sales order
        `order`); more than is on hand is refused unless the location takes
        backorders. `at` is when (default now). Returns the movement's id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> db.stock.ship(p, loc, 1, at="2025-01-01")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        crmcore.ValidationError: stock_movements row 0 (id 10), field 'quantity': after this shipment of 1, \
location 'North' (id 8) would hold -1 of product 'TEA' (id 9) on 2025-01-01 00:00:00 (...no backorders)
        """
        return self._db.add("stock_movements", type="shipment", product_id=product, location_id=location,
                            quantity=quantity, moved_at=_now(at), order_id=order)

    def adjust(self, product: int, location: int, change: float, reason: str, at: Any = None,
               unit_cost: float | None = None) -> int:
        """Change the stock of `product` at `location` by `change` (signed),
        for `reason` (required: a count, damage, ...), on `at` (default now);
        `unit_cost` of what comes in moves the average cost (see
        :meth:`valuation`). Returns the movement's id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> _ = db.stock.adjust(p, loc, 3, reason="found in the back", at="2025-01-01")
        >>> db.stock.on_hand()["on_hand"].tolist()
        [3.0]
        """
        unit_cost = _number(unit_cost, "adjust", "unit_cost", low=0, none=True)  # NaN: the average kept in silence
        return self._db.add("stock_movements", type="adjustment", product_id=product, location_id=location,
                            quantity=change, reason=reason, moved_at=_now(at), unit_cost=unit_cost)

    def transfer(self, product: int, source: int, destination: int, quantity: float, at: Any = None) -> int:
        """Move `quantity` of `product` from location `source` to `destination` on `at` (default now).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a, b = db.add("locations", name="A"), db.add("locations", name="B")
        >>> p = db.add("products", sku="TEA", name="Tea")
        >>> _ = db.stock.adjust(p, a, 5, reason="count", at="2025-01-01")
        >>> _ = db.stock.transfer(p, a, b, 2, at="2025-01-02")
        >>> db.stock.on_hand()["on_hand"].tolist()
        [3.0, 2.0]
        """
        return self._db.add("stock_movements", type="transfer", product_id=product, location_id=source,
                            to_location_id=destination, quantity=quantity, moved_at=_now(at))

    def take_back(self, product: int, location: int, quantity: float, at: Any = None,
                  order: int | None = None) -> int:
        """A customer's return of `quantity` of `product` into `location`
        (from sales order `order`) on `at` (default now). Returns the movement's id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> _ = db.stock.take_back(p, loc, 1, at="2025-01-01")
        >>> db.frame("stock_movements")["type"].tolist()
        ['return']
        """
        return self._db.add("stock_movements", type="return", product_id=product, location_id=location,
                            quantity=quantity, moved_at=_now(at), order_id=order)

    # -- analyses ----------------------------------------------------------------
    def on_hand(self, as_of: Any = None, by: str = "location") -> pd.DataFrame:
        """Stock on hand at `as_of` (an instant: the movements at or before it
        count; default: every movement recorded, the stock as it stands:
        a movement is written when goods move, so neither the clock nor
        ``db.default_as_of()`` cuts any), the sum of the movements: read from
        the kept monthly balances and at most half a month of movements (a scoped
        handle sums its readable ledger in C++). ``by="location"``: one row per
        product and location
        that ever moved; ``by="product"``: one row per product, all locations
        together.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a, b = db.add("locations", name="A"), db.add("locations", name="B", allows_backorders=True)
        >>> tea, cup = db.add("products", sku="TEA", name="Tea"), db.add("products", sku="CUP", name="Cup")
        >>> _ = db.stock.ship(cup, b, 4, at="2025-01-01")
        >>> _ = db.stock.take_back(tea, a, 2, at="2025-01-03")
        >>> db.stock.on_hand(as_of="2025-01-02", by="product")[["sku", "on_hand"]].values.tolist()
        [['CUP', -4.0]]
        """
        if by not in ("location", "product"):
            raise ValueError(f"by is 'location' or 'product', not {by!r}")
        end = _as_of(as_of, where="on_hand")
        levels, products, locations = _levels(self._db, end, end)
        out = levels[["product_id", "location_id", "on_hand"]]
        if by == "product":
            out = out.groupby("product_id", as_index=False, sort=True)["on_hand"].sum()
        else:
            out = out.assign(location=_take(locations["name"], out["location_id"]))
        out.insert(1, "sku", _take(products["sku"], out["product_id"]))
        return out.reset_index(drop=True)

    def balances(self) -> pd.DataFrame:
        """The balances the store keeps, written with every movement in the
        same transaction: per product, location and calendar month (UTC) in
        which the pair moved, the month's net ``change`` (a transfer counts at
        both ends), the ``balance`` at the month's end (the changes summed
        up to it), what the pair ``shipped`` that month and how many
        movements touched it (``moves``). Columns product_id, location_id,
        month (its first day), change, balance, shipped and moves. Stock on a
        date is read from them: the months before the date's month plus that
        month's movements up to the date, or, late in a month, the months
        with the date's less the movements after it. Unscoped handles, on
        SQLite and on PostgreSQL.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> _ = db.stock.adjust(p, loc, 10, reason="count", at="2025-01-20")
        >>> _ = db.stock.ship(p, loc, 4, at="2025-03-02")
        >>> db.stock.balances()[["month", "change", "balance"]].values.tolist()
        [[Timestamp('2025-01-01 00:00:00'), 10.0, 10.0], [Timestamp('2025-03-01 00:00:00'), -4.0, 6.0]]
        """
        if not _kept(self._db):
            raise _core.Error("the kept stock balances are read from an unscoped handle")
        product, location, period, change, shipped, moves = _core.stock_balances(self._db._core)
        out = pd.DataFrame({"product_id": product, "location_id": location,
                            # (pandas makes these microseconds: the store's times are nanoseconds)
                            "month": pd.to_datetime({"year": period // 12, "month": period % 12 + 1, "day": 1})
                            .astype("datetime64[ns]") if len(period) else pd.Series([], dtype="datetime64[ns]"),
                            "change": change})
        out["balance"] = out.groupby(["product_id", "location_id"])["change"].cumsum()
        return out.assign(shipped=shipped, moves=moves)

    def valuation(self, as_of: Any = None) -> pd.DataFrame:
        """Each product's stock at `as_of` (all locations; default every
        movement recorded, as :meth:`on_hand`), its moving-average
        unit cost and the stock's value: columns product_id, sku, on_hand,
        average_cost and value. A receipt, return or positive
        adjustment with a unit cost c moves the average to
        (max(q0, 0) * avg + q * c) / (max(q0, 0) + q); other movements leave it.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> _ = db.stock.adjust(p, loc, 10, reason="opening", unit_cost=2.0, at="2025-01-01")
        >>> _ = db.stock.adjust(p, loc, 10, reason="found", unit_cost=4.0, at="2025-01-02")
        >>> db.stock.valuation()[["on_hand", "average_cost", "value"]].values.tolist()
        [[20.0, 3.0, 60.0]]
        """
        ledger = _Ledger(self._db, costs=True)
        on_hand, cost = _core.stock_moving_average(*ledger.args, len(ledger.products), _as_of(as_of, where="valuation"))
        out = pd.DataFrame({"product_id": ledger.products.index.to_numpy(np.int64),
                            "sku": ledger.products["sku"].array, "on_hand": on_hand, "average_cost": cost})
        out["value"] = out["on_hand"] * out["average_cost"]
        moved = np.isin(out["product_id"], ledger.movements["product_id"])
        return out[moved].reset_index(drop=True)

    def on_order(self) -> pd.Series:
        """Per product id, the quantity ordered from suppliers and not yet received.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> s = db.add("customers", name="Tea Co", is_supplier=True)
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> po = db.add("purchase_orders", supplier_id=s, location_id=loc, ordered_at="2025-01-01")
        >>> line = db.add("purchase_lines", purchase_order_id=po, product_id=p, quantity=10, unit_cost=2.5)
        >>> _ = db.stock.receive(line, 4, at="2025-01-06")
        >>> db.stock.on_order().tolist()
        [6.0]
        """
        lines = self._db.frame("purchase_lines", columns=["product_id", "quantity", "received_quantity"])
        open_ = (lines["quantity"] - lines["received_quantity"].fillna(0.0)).clip(lower=0.0)
        return open_.groupby(lines["product_id"]).sum().rename("on_order").rename_axis("product_id")

    def reorder_list(self, as_of: Any = None) -> pd.DataFrame:
        """The products to order: those with a reorder point whose stock at
        `as_of` (all locations; default every movement recorded, the stock
        as it stands, as :meth:`on_hand`: a work list of now) plus what is
        on order is at or below it. The
        suggested quantity brings them back above the point: at least the
        product's reorder quantity, and at least the shortfall. Columns
        product_id, sku, supplier_id, on_hand, reorder_point, on_order and
        suggested.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> loc = db.add("locations", name="North")
        >>> p = db.add("products", sku="TEA", name="Tea", reorder_point=5, reorder_quantity=20)
        >>> _ = db.stock.adjust(p, loc, 3, reason="count", at="2025-01-01")
        >>> db.stock.reorder_list()[["sku", "on_hand", "suggested"]].values.tolist()
        [['TEA', 3.0, 20.0]]
        """
        end = _as_of(as_of, where="reorder_list")
        levels, p, _ = _levels(self._db, end, end, ("sku", "supplier_id", "reorder_point", "reorder_quantity"))
        ids = p.index.to_numpy(np.int64)
        total = np.bincount(_codes(ids, levels["product_id"].to_numpy(np.int64)), levels["on_hand"].to_numpy(),
                            minlength=len(ids))
        out = pd.DataFrame({"product_id": ids, "sku": p["sku"].array,  # str and Int64, as read
                            "supplier_id": p["supplier_id"].array,
                            "on_hand": total.astype(np.float64, copy=False),  # (bincount of nothing: int64)
                            "reorder_point": p["reorder_point"].to_numpy(np.float64, na_value=np.nan)})
        out["on_order"] = self.on_order().reindex(out["product_id"]).fillna(0.0).to_numpy()
        position = out["on_hand"] + out["on_order"]
        out = out[out["reorder_point"].notna() & (position <= out["reorder_point"])].copy()
        shortfall = out["reorder_point"] - (out["on_hand"] + out["on_order"]) + 1.0
        wanted = p["reorder_quantity"].reindex(out["product_id"]).to_numpy(np.float64, na_value=0.0)
        out["suggested"] = np.maximum(wanted, shortfall.to_numpy())
        return out.reset_index(drop=True)

    def stockouts(self, as_of: Any = None) -> pd.DataFrame:
        """The spells in which a location held none of a product (or less:
        backorders), up to `as_of` (default every movement recorded, as
        :meth:`on_hand`): product, location, start, end (NaT while it lasts), the lowest stock reached, and the sales ``orders`` it
        touched: the orders with a line of that product placed during the
        spell, and those shipped from that location during it (backorders).
        Columns product_id, sku, location_id, location, start, end, lowest and
        orders.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> _ = db.stock.adjust(p, loc, 2, reason="count", at="2025-01-01")
        >>> _ = db.stock.ship(p, loc, 2, at="2025-01-03")
        >>> _ = db.stock.adjust(p, loc, 5, reason="count", at="2025-01-09")
        >>> db.stock.stockouts()[["sku", "start", "end"]].values.tolist()
        [['TEA', Timestamp('2025-01-03 00:00:00'), Timestamp('2025-01-09 00:00:00')]]
        """
        ledger = _Ledger(self._db, orders=True)
        L = len(ledger.locations)
        product, location, start, end, lowest = _core.stock_outs(*ledger.args, len(ledger.products), L,
                                                                 _as_of(as_of, where="stockouts"))
        out = pd.DataFrame({
            "product_id": ledger.products.index.to_numpy(np.int64)[product],
            "sku": ledger.products["sku"].array.take(product),
            "location_id": ledger.locations.index.to_numpy(np.int64)[location],
            "location": ledger.locations["name"].array.take(location),
            # (pd.to_datetime of no integers is datetime64[s])
            "start": start.view("M8[ns]"), "end": pd.to_datetime(np.where(end == np.iinfo(np.int64).min,
                                                                            np.datetime64("NaT"), end.view("M8[ns]"))),
            "lowest": lowest})
        out["orders"] = object_array(self._touched(out, ledger))  # lists, object with no spells too
        return out

    def _touched(self, spells: pd.DataFrame, ledger: _Ledger) -> list:
        """For each stock-out spell, the sorted ids of the orders it touched."""
        if spells.empty:
            return []
        lines = self._db.frame("order_lines", columns=["order_id", "product_id"]).dropna()
        orders = self._db.frame("orders", columns=["ordered_at"])
        placed = lines.assign(at=orders["ordered_at"].reindex(lines["order_id"]).to_numpy())
        spell = spells.reset_index(names="spell")[["spell", "product_id", "location_id", "start", "end"]]
        by_line = spell.merge(placed, on="product_id")
        shipped = ledger.movements[(ledger.movements["type"] == "shipment") & ledger.movements["order_id"].notna()]
        by_ship = spell.merge(shipped.rename(columns={"moved_at": "at"})[
            ["product_id", "location_id", "order_id", "at"]], on=["product_id", "location_id"])
        both = pd.concat([by_line[["spell", "order_id", "at", "start", "end"]],
                          by_ship[["spell", "order_id", "at", "start", "end"]]])
        inside = both[(both["at"] >= both["start"]) & (both["end"].isna() | (both["at"] < both["end"]))]
        touched = inside.groupby("spell")["order_id"].agg(lambda s: sorted(set(s.astype(np.int64).tolist())))
        return [touched.get(i, []) for i in range(len(spells))]

    def days_of_cover(self, window: int = 90, as_of: Any = None) -> pd.DataFrame:
        """How many days each location's stock of a product lasts at the rate
        it shipped over the last `window` days before `as_of` (default: the
        latest movement): on_hand / (shipped / window). Infinite when nothing
        shipped and there is stock; NaN when there is neither. Columns
        product_id, sku, location_id, on_hand, shipped, daily_rate and
        days_of_cover.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
        >>> _ = db.stock.adjust(p, loc, 100, reason="count", at="2025-01-01")
        >>> _ = db.stock.ship(p, loc, 30, at="2025-02-15")
        >>> db.stock.days_of_cover(window=30, as_of="2025-03-01")["days_of_cover"].tolist()
        [70.0]
        """
        window = _count(window, "days_of_cover", "window", low=1)
        end = as_of_ns(as_of, where="days_of_cover")
        if end is None:  # the latest movement, by the index on moved_at
            last = self._db.find("stock_movements", filters=[], order_by="-moved_at", limit=1)["moved_at"]
            end = int(last.to_numpy("datetime64[ns]").view(np.int64)[0]) if len(last) else 0
        levels, products, _ = _levels(self._db, end, shifted(end, -window, "days_of_cover", "window").value)
        out = levels.copy()
        out.insert(1, "sku", _take(products["sku"], out["product_id"]))
        out["daily_rate"] = out["shipped"] / window
        with np.errstate(divide="ignore", invalid="ignore"):
            out["days_of_cover"] = np.where(out["on_hand"] > 0, out["on_hand"] / out["daily_rate"].to_numpy(),
                                            np.where(out["daily_rate"] > 0, 0.0, np.nan))
        return out


def _now(at: Any) -> Any:
    """A movement's time: the given one, or now."""
    return utc_now() if at is None else at
