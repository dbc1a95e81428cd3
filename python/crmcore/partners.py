"""Suppliers and partners, grouped on ``db.partners`` the way pandas groups ``.str``.

A supplier or a partner is a role of a ``customers`` record (``is_supplier``,
``is_partner``): one organisation may buy, sell to us and bring us sales, and
keeps its contacts, tags, custom fields and typed links in the graph. This
room evaluates suppliers from their purchase orders, receipts and the
complaints about their products, and follows the sales partners brought
(``partner_id`` on orders, deals and customers) to their commissions.
Everything is computed over whole columns with pandas; nothing loops over rows.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._args import _period, _record_id
from .scoring._columns import as_of_ns, as_of_timestamp, days_between, stamp, times_ns, utc_now
from .scoring._status import purchases

NS_PER_DAY = 86_400 * 10**9


def _period_of(times: pd.Series, period: str) -> pd.Series:
    """The period (pandas frequency: "M", "Q", "Y") each time falls in."""
    return pd.to_datetime(times).dt.to_period(period)


def _as_of(as_of: Any, where: str | None = None) -> pd.Timestamp:
    ns = as_of_ns(as_of, where=where)
    return utc_now() if ns is None else pd.Timestamp(ns)


class PartnerMethods:
    """Suppliers and partners of a store: ``db.partners.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> both = db.add("customers", name="Acme", kind="organization", is_supplier=True, is_partner=True)
    >>> db.partners.suppliers().index.tolist() == db.partners.partners().index.tolist() == [both]
    True
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<partners of {self._db!r}>"

    def suppliers(self) -> pd.DataFrame:
        """The customers records that are suppliers, as ``db.find("customers", role="supplier")`` gives them
        (indexed by id, the columns of customers).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.add("customers", name="Buyer")
        >>> s = db.add("customers", name="Tea Co", is_supplier=True)
        >>> db.partners.suppliers()["name"].tolist()
        ['Tea Co']
        """
        return self._db.find("customers", role="supplier")

    def partners(self) -> pd.DataFrame:
        """The customers records that are partners, as ``db.find("customers", role="partner")`` gives them
        (indexed by id, the columns of customers).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.add("customers", name="Reseller", is_partner=True)
        >>> db.partners.partners()["name"].tolist()
        ['Reseller']
        """
        return self._db.find("customers", role="partner")

    # -- suppliers ---------------------------------------------------------------
    def supplier_scorecard(self, period: str = "Q", as_of: Any = None) -> pd.DataFrame:
        """Each supplier's delivery, per period of the purchase orders' dates
        (pandas frequency: "M", "Q", "Y"), judged on `as_of` (default now): one
        row per supplier_id and period, with the supplier's name and these columns:

        - ``on_time``: share of the lines due by `as_of` that came whole by the
          day they were due (the line's ``expected_at``, else its order's);
          a line still short past its day is late, one without a day counts nowhere;
        - ``fill_rate``: received / ordered over the lines due by `as_of`
          (lines without a day: ordered by then);
        - ``lead_time_days`` and ``lead_time_std``: days from order to the
          last receipt of the lines received whole, mean and sample deviation;
        - ``price_change``: mean change of the unit cost against the
          supplier's previous line of the same product, and ``price_increases``;
        - ``complaints``: tickets about the supplier's products opened in the
          period, and ``complaints_per_1000`` units received in it.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> s = db.add("customers", name="Tea Co", is_supplier=True)
        >>> loc, p = db.add("locations", name="N"), db.add("products", sku="T", name="t", supplier_id=s)
        >>> po = db.add("purchase_orders", supplier_id=s, location_id=loc, ordered_at="2025-01-01",
        ...             expected_at="2025-01-10")
        >>> line = db.add("purchase_lines", purchase_order_id=po, product_id=p, quantity=10, unit_cost=1.0)
        >>> _ = db.stock.receive(line, 8, at="2025-01-08")
        >>> card = db.partners.supplier_scorecard(as_of="2025-02-01")
        >>> card[["on_time", "fill_rate", "lead_time_days"]].values.tolist()
        [[0.0, 0.8, nan]]
        """
        period = _period(period, "supplier_scorecard")
        as_of = _as_of(as_of, where="supplier_scorecard")
        lines = self._lines()
        lines["period"] = _period_of(lines["ordered_at"], period)
        received = lines["received_quantity"].fillna(0.0)
        whole = received >= lines["quantity"] - 1e-9
        due = lines["due"]
        judged = due.notna() & (due.dt.normalize() <= as_of.normalize())
        came_in_time = whole & (lines["received_at"].dt.normalize() <= due.dt.normalize())
        lines["on_time"] = np.where(judged | (whole & due.notna()), came_in_time.astype(float), np.nan)
        counts = judged | (due.isna() & (lines["ordered_at"] <= as_of))
        lines["ordered_due"] = lines["quantity"].where(counts, 0.0)
        lines["received_due"] = received.where(counts, 0.0)
        lines["lead"] = pd.Series(days_between(lines["received_at"], lines["ordered_at"]), index=lines.index).where(whole)
        lines = lines.sort_values(["supplier_id", "product_id", "ordered_at", "line_id"], kind="stable")
        previous = lines.groupby(["supplier_id", "product_id"])["unit_cost"].shift()
        lines["price_change"] = lines["unit_cost"] / previous - 1.0
        g = lines.groupby(["supplier_id", "period"])
        card = pd.DataFrame({
            "lines": g.size(), "ordered": g["quantity"].sum(), "received": g["received_quantity"].sum(),
            "on_time": g["on_time"].mean(),
            "fill_rate": g["received_due"].sum() / g["ordered_due"].sum().replace(0.0, np.nan),
            "lead_time_days": g["lead"].mean(), "lead_time_std": g["lead"].std(),
            "price_change": g["price_change"].mean(),
            "price_increases": g["price_change"].agg(lambda s: int((s > 1e-12).sum()))})
        complaints = self._complaints(period)
        card = card.join(complaints, how="outer")
        card["complaints"] = card["complaints"].fillna(0).astype(np.int64)
        for col in ("lines", "price_increases"):
            card[col] = card[col].fillna(0).astype(np.int64)
        card["complaints_per_1000"] = card["complaints"] * 1000.0 / card["received"].replace(0.0, np.nan)
        card = card.reset_index()
        names = self._db.frame("customers", ids=card["supplier_id"].unique().tolist(), columns=["name"])["name"]
        card.insert(1, "supplier", names.reindex(card["supplier_id"]).to_numpy())
        return card

    def _lines(self) -> pd.DataFrame:
        """Purchase lines with their order's supplier, date and due day."""
        lines = self._db.frame("purchase_lines", columns=["purchase_order_id", "product_id", "quantity", "unit_cost",
                                                          "expected_at", "received_quantity", "received_at"])
        orders = self._db.frame("purchase_orders", columns=["supplier_id", "ordered_at", "expected_at"])
        po = orders.reindex(lines["purchase_order_id"])
        return pd.DataFrame({
            "line_id": lines.index.to_numpy(), "supplier_id": po["supplier_id"].to_numpy(),
            "product_id": lines["product_id"].to_numpy(), "ordered_at": po["ordered_at"].to_numpy(),
            "due": lines["expected_at"].fillna(pd.Series(po["expected_at"].to_numpy(), index=lines.index)).to_numpy(),
            "quantity": lines["quantity"].to_numpy(), "unit_cost": lines["unit_cost"].to_numpy(),
            "received_quantity": lines["received_quantity"].to_numpy(),
            "received_at": lines["received_at"].to_numpy()}).astype({"due": "datetime64[ns]",
                                                                      "received_at": "datetime64[ns]"})

    def _complaints(self, period: str) -> pd.Series:
        """Tickets about each supplier's products, by supplier and period opened."""
        tickets = self._db.frame("tickets", columns=["product_id", "opened_at"]).dropna(subset=["product_id"])
        supplier = self._db.frame("products", columns=["supplier_id"])["supplier_id"]
        t = pd.DataFrame({"supplier_id": supplier.reindex(tickets["product_id"]).to_numpy(),
                          "period": _period_of(tickets["opened_at"], period).to_numpy()}).dropna(subset=["supplier_id"])
        t["supplier_id"] = t["supplier_id"].astype(np.int64)
        return t.groupby(["supplier_id", "period"]).size().rename("complaints")

    # -- partners ----------------------------------------------------------------
    def performance(self, period: str = "Q", as_of: Any = None) -> pd.DataFrame:
        """What each partner brought up to `as_of` (default
        ``db.default_as_of()``, the end of the data; reported in
        ``attrs["as_of"]``: orders and closes after it do not count; a
        customer's ``created_at`` is when it was entered, not an event of
        the data, so ``customers_brought`` is not cut), one row per partner_id and period (`period`
        a pandas frequency), columns ``orders``, ``revenue`` and
        ``margin`` (amount less cost, over the orders with a cost) of the
        purchases attributed to it (cancelled and returned orders left out,
        as in ``db.rfm``); ``won`` and ``lost`` deals (by the day they
        closed, each as it stood at ``as_of``, as ``db.sales.win_rate``
        reads the stage history) and the ``win_rate``; ``customers_brought`` (created in the
        period with the partner) and ``customers_active`` (brought by it at any
        time, ordering in the period).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.add("customers", name="Reseller", is_partner=True)
        >>> c = db.add("customers", name="Buyer", partner_id=p)
        >>> _ = db.add("orders", customer_id=c, partner_id=p, ordered_at="2025-01-05", amount=100.0, cost=60.0)
        >>> perf = db.partners.performance()
        >>> perf[perf["orders"] > 0][["revenue", "margin"]].values.tolist()
        [[100.0, 40.0]]
        >>> int(db.partners.performance(as_of="2025-01-01")["orders"].sum())
        0
        """
        period = _period(period, "performance")
        cut = self._db._as_of(as_of, where="performance")
        orders = self._db.frame("orders", columns=["customer_id", "partner_id", "ordered_at", "amount", "cost",
                                                   "status"])
        # Purchases only, by the one meaning of an order's status the other
        # analyses use (a cancelled or returned order brings nothing).
        orders = purchases(orders[times_ns(orders["ordered_at"]) <= cut])
        customers = self._db.frame("customers", columns=["partner_id", "created_at"])
        o = orders.dropna(subset=["partner_id"]).assign(period=lambda f: _period_of(f["ordered_at"], period))
        g = o.groupby(["partner_id", "period"])
        out = pd.DataFrame({"orders": g.size(), "revenue": g["amount"].sum(),
                            "margin": (o["amount"] - o["cost"]).groupby([o["partner_id"], o["period"]]).sum()})
        deals = self._closed_deals(cut).dropna(subset=["partner_id"])
        deals["period"] = _period_of(deals["closed_at"], period)
        outcome = pd.DataFrame({"partner_id": deals["partner_id"].to_numpy(), "period": deals["period"].to_numpy(),
                                "won": (deals["category"] == "won").to_numpy(np.int64),
                                "lost": (deals["category"] == "lost").to_numpy(np.int64)})
        out = out.join(outcome.groupby(["partner_id", "period"])[["won", "lost"]].sum(), how="outer")
        brought = customers.dropna(subset=["partner_id"])
        out = out.join(brought.groupby([brought["partner_id"], _period_of(brought["created_at"], period).rename("period")])
                       .size().rename("customers_brought"), how="outer")
        by_partner = orders.assign(brought_by=customers["partner_id"].reindex(orders["customer_id"]).to_numpy())
        by_partner = by_partner.dropna(subset=["brought_by"])
        active = by_partner.groupby([by_partner["brought_by"], _period_of(by_partner["ordered_at"], period)])[
            "customer_id"].nunique().rename("customers_active")
        active.index = active.index.set_names(["partner_id", "period"])
        out = out.join(active, how="outer")
        for col in ("orders", "won", "lost", "customers_brought", "customers_active"):
            out[col] = out[col].fillna(0).astype(np.int64)
        for col in ("revenue", "margin"):
            out[col] = out[col].fillna(0.0)
        out["win_rate"] = out["won"] / (out["won"] + out["lost"]).replace(0, np.nan)
        out = out.reset_index()
        out["partner_id"] = out["partner_id"].astype(np.int64)
        return stamp(out, cut)

    def _closed_deals(self, cut: int) -> pd.DataFrame:
        """Deals closed won or lost by ``cut`` (ns), with their stage's
        category, as they stood then (``db.sales``' reading of the stage
        history: a deal won then and reopened or lost later was won)."""
        deals = self._db.sales._deals(None, cut)
        deals["partner_id"] = self._db.frame("deals", columns=["partner_id"])["partner_id"].reindex(deals.index)
        closed = deals["category"].isin(["won", "lost"]).to_numpy(dtype=bool) & deals["closed_at"].notna().to_numpy()
        closed &= times_ns(deals["closed_at"]) <= cut
        return deals[closed]

    def commissions(self, start: Any = None, end: Any = None, tier_period: str = "Y",
                    as_of: Any = None) -> pd.DataFrame:
        """The commission earned on each sale attributed to a partner, dated
        in [start, end) and up to `as_of` (default ``db.default_as_of()``,
        the end of the data; reported in ``attrs["as_of"]``: a sale, invoice
        or payment after it has not happened yet). Each order line (an order without lines counts as
        one line of its amount) takes the most specific rules in force on the
        order's day: the partner's rules for the product's category, else the
        partner's, else those for the category, else those for every partner.

        Rules of one kind with different ``tier_from`` are the bands of a tier
        scale: a band's rate pays on the part of the partner's sales in the
        ``tier_period`` (pandas frequency, default the calendar year) that lies
        from its ``tier_from`` up to the next band's. Sales count in the order
        they were made (``ordered_at``, then order and line), so a line that
        crosses a threshold is paid at two rates, in two rows; a line's
        ``fraction`` is its part in the row's band. A scale starts with its
        entry rule (no ``tier_from``): a band without one of the same partner
        and category in force beside it is refused (ValidationError naming
        ``tier_from``), as is deleting the entry rule a band still needs.

        A rule's ``basis`` says when and on what it pays: ``order``, rate x the
        line's amount on the order's day; ``invoice``, rate x the line's share
        of each issued invoice billing the order (``invoices.order_id``; not
        draft or void), on its issue day; ``payment``, rate x the line's share
        of each payment of the order (naming the order, or an invoice billing
        it; the store refuses payments to a void invoice), on the day it was paid.
        Only purchases earn: a cancelled or returned order (its ``status`` by
        ``crm.scoring.ORDER_STATUS``, as in ``db.rfm``) pays nothing on any
        basis and adds nothing to its partner's tier volume.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.add("customers", name="Reseller", is_partner=True)
        >>> c = db.add("customers", name="Buyer")
        >>> _ = db.add("commission_rules", rate=0.05)
        >>> _ = db.add("commission_rules", partner_id=p, rate=0.10, basis="payment")
        >>> o = db.add("orders", customer_id=c, partner_id=p, ordered_at="2025-01-05", amount=200.0)
        >>> _ = db.add("payments", customer_id=c, order_id=o, paid_at="2025-02-01", amount=50.0)
        >>> db.partners.commissions()[["date", "base", "rate", "commission"]].values.tolist()
        [[Timestamp('2025-02-01 00:00:00'), 50.0, 0.1, 5.0]]

        Tiers: 2% up to 1,000 of the partner's sales in a year, 4% beyond.
        After the order of 200 above, one of 1,500 pays 2% on 800 and 4% on 700.

        >>> _ = db.add("commission_rules", partner_id=p, category="tools", rate=0.02)
        >>> _ = db.add("commission_rules", partner_id=p, category="tools", rate=0.04, tier_from=1000)
        >>> hammer = db.add("products", sku="H", name="Hammer", category="tools")
        >>> big = db.add("orders", customer_id=c, partner_id=p, ordered_at="2025-03-01", amount=1500.0)
        >>> _ = db.add("order_lines", order_id=big, product_id=hammer, quantity=1, unit_price=1500.0)
        >>> db.partners.commissions().query("order_id == @big")[["tier_from", "base", "commission"]].values.tolist()
        [[0.0, 800.0, 16.0], [1000.0, 700.0, 28.0]]
        >>> db.partners.commissions(as_of="2025-02-15")["commission"].tolist()  # the payment of 2025-02-01
        [5.0]
        """
        tier_period = _period(tier_period, "commissions", "tier_period")
        start = None if start is None else as_of_timestamp(start, "start", "commissions")
        end = None if end is None else as_of_timestamp(end, "end", "commissions")
        cut = self._db._as_of(as_of, where="commissions")
        lines = self._partner_lines()
        lines = lines.assign(volume_after=lines.sort_values(["ordered_at", "order_id", "line_key"], kind="stable")
                             .groupby(["partner_id", _period_of(lines["ordered_at"], tier_period)])["amount"].cumsum())
        lines["volume_before"] = lines["volume_after"] - lines["amount"]
        rules = self._db.frame("commission_rules", columns=["partner_id", "category", "rate", "basis", "valid_from",
                                                            "valid_until", "tier_from"]).reset_index(names="rule_id")
        rules["tier_from"] = rules["tier_from"].fillna(0.0)
        m = lines.merge(rules, how="cross", suffixes=("", "_rule"))
        fits = ((m["partner_id_rule"].isna() | (m["partner_id_rule"] == m["partner_id"]))
                & (m["category_rule"].isna() | (m["category_rule"] == m["category"]))
                & (m["valid_from"].isna() | (m["ordered_at"] >= m["valid_from"]))
                & (m["valid_until"].isna() | (m["ordered_at"] < m["valid_until"])))
        m = m[fits].assign(specific=lambda f: 2 * f["partner_id_rule"].notna() + f["category_rule"].notna())
        m = m[m["specific"] == m.groupby("line_key")["specific"].transform("max")]
        chosen = self._bands(m)
        on_order = chosen[chosen["basis"] == "order"].assign(date=lambda f: f["ordered_at"],
                                                             base=lambda f: f["amount"] * f["fraction"])
        billed = self._billed()
        later = chosen[chosen["basis"] != "order"].merge(billed, on=["order_id", "basis"])
        later = later.assign(base=later["billed"] * later["share"] * later["fraction"])
        cols = ["partner_id", "order_id", "line_id", "product_id", "category", "rule_id", "basis", "tier_from",
                "fraction", "date", "base", "rate"]
        out = pd.concat([on_order[cols], later[cols]], ignore_index=True)
        if start is not None:
            out = out[out["date"] >= start]
        if end is not None:
            out = out[out["date"] < end]
        # Sales count into a tier in the order made, so leaving out the later
        # ones changes no earlier row.
        out = out[times_ns(out["date"]) <= cut]
        out = out.assign(commission=out["base"] * out["rate"]).sort_values(["partner_id", "date", "order_id"],
                                                                           kind="stable")
        return stamp(out.reset_index(drop=True), cut)

    @staticmethod
    def _bands(m: pd.DataFrame) -> pd.DataFrame:
        """Each line with the rules that fit it best, one row per tier band
        the line reaches into, with the ``fraction`` of the line in it."""
        m = m.sort_values(["line_key", "tier_from"], kind="stable")
        upper = m.groupby("line_key")["tier_from"].shift(-1).fillna(np.inf)
        inside = (np.minimum(m["volume_after"], upper) - np.maximum(m["volume_before"], m["tier_from"])).clip(lower=0)
        # A line of no amount belongs to the band its partner's sales are in.
        empty = (m["tier_from"] <= m["volume_before"]) & (m["volume_before"] < upper)
        fraction = np.where(m["amount"] > 0, inside / m["amount"].where(m["amount"] > 0, 1.0), empty.astype(float))
        m = m.assign(fraction=fraction)
        return m[m["fraction"] > 0]

    def _billed(self) -> pd.DataFrame:
        """What later bases pay on, per order: issued invoices billing it
        (basis ``invoice``) and payments of it, directly or through such an
        invoice (basis ``payment``), each with its date and amount."""
        invoices = self._db.frame("invoices", columns=["order_id", "issued_at", "amount", "status"])
        billing = invoices[invoices["order_id"].notna() & ~invoices["status"].isin(["draft", "void"])]
        payments = self._db.frame("payments", columns=["order_id", "invoice_id", "paid_at", "amount"])
        order = payments["order_id"].fillna(invoices["order_id"].reindex(payments["invoice_id"]).set_axis(
            payments.index))
        parts = [pd.DataFrame({"order_id": billing["order_id"], "basis": "invoice", "date": billing["issued_at"],
                               "billed": billing["amount"].fillna(0.0)}),
                 pd.DataFrame({"order_id": order, "basis": "payment", "date": payments["paid_at"],
                               "billed": payments["amount"]})]
        out = pd.concat(parts, ignore_index=True).dropna(subset=["order_id"])
        return out.astype({"order_id": np.int64})

    def _partner_lines(self) -> pd.DataFrame:
        """The lines of the orders attributed to a partner, with the product's
        category and the line's share of its order's lines."""
        orders = self._db.frame("orders", columns=["partner_id", "ordered_at", "amount", "status"])
        # A cancelled or returned order is no sale (the one status rule of
        # db.rfm and partners.performance): it earns nothing, on any basis,
        # and does not count towards the partner's tier volume.
        orders = purchases(orders.dropna(subset=["partner_id"]))
        lines = self._db.frame("order_lines", columns=["order_id", "product_id", "quantity", "unit_price"])
        lines = lines[lines["order_id"].isin(orders.index)]
        category = self._db.frame("products", columns=["category"])["category"]
        with_lines = pd.DataFrame({"order_id": lines["order_id"].to_numpy(), "line_id": lines.index.to_numpy(),
                                   "product_id": lines["product_id"].to_numpy(),
                                   "amount": (lines["quantity"] * lines["unit_price"]).to_numpy()})
        bare = orders.index.difference(lines["order_id"])
        without = pd.DataFrame({"order_id": bare, "line_id": np.nan, "product_id": np.nan,
                                "amount": orders["amount"].reindex(bare).to_numpy()})
        out = pd.concat([with_lines, without], ignore_index=True)
        out["category"] = category.reindex(out["product_id"]).to_numpy()
        out["partner_id"] = orders["partner_id"].reindex(out["order_id"]).to_numpy().astype(np.int64)
        out["ordered_at"] = orders["ordered_at"].reindex(out["order_id"]).to_numpy()
        total = out.groupby("order_id")["amount"].transform("sum")
        out["share"] = (out["amount"] / total.replace(0.0, np.nan)).fillna(0.0)
        out["line_key"] = np.arange(len(out))
        return out

    def statements(self, period: str = "M") -> pd.DataFrame:
        """Per partner and period (pandas frequency): the sales the
        commissions were paid on, the orders, and the commission due: columns
        partner_id, partner (its name), period, orders, base and commission.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.add("customers", name="Reseller", is_partner=True)
        >>> c = db.add("customers", name="Buyer")
        >>> _ = db.add("commission_rules", partner_id=p, rate=0.1)
        >>> for day in ["2025-01-05", "2025-01-20", "2025-02-03"]:
        ...     _ = db.add("orders", customer_id=c, partner_id=p, ordered_at=day, amount=100.0)
        >>> s = db.partners.statements()
        >>> s["orders"].tolist(), s["commission"].tolist()
        ([2, 1], [20.0, 10.0])
        """
        period = _period(period, "statements")
        c = self.commissions()
        g = c.groupby([c["partner_id"], _period_of(c["date"], period).rename("period")])
        out = pd.DataFrame({"orders": g["order_id"].nunique(), "base": g["base"].sum(),
                            "commission": g["commission"].sum()}).reset_index()
        names = self._db.frame("customers", ids=out["partner_id"].unique().tolist(), columns=["name"])["name"]
        out.insert(1, "partner", names.reindex(out["partner_id"]).to_numpy())
        return out

    def statement(self, partner: int, start: Any, end: Any) -> pd.DataFrame:
        """One partner's commission lines dated in [start, end), one row each
        with the columns of :meth:`commissions`; the sum of ``commission`` is
        what it is owed for the period.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.add("customers", name="Reseller", is_partner=True)
        >>> _ = db.add("commission_rules", partner_id=p, rate=0.1)
        >>> _ = db.add("orders", customer_id=db.add("customers", name="B"), partner_id=p, ordered_at="2025-01-05",
        ...            amount=100.0)
        >>> db.partners.statement(p, "2025-01-01", "2025-02-01")["commission"].sum()
        np.float64(10.0)
        """
        partner = _record_id(partner, "statement", "partner")
        c = self.commissions(start, end)
        return c[c["partner_id"] == partner].reset_index(drop=True)
