"""Customers alike by what they bought, and what to offer them next: the
store's ``similar_customers`` and ``cross_sell``, over the bipartite graph of
customers and the products of their purchases.

Both take ``by=`` (a dimension or a list, see
:mod:`crmcore.scoring.dimensions`) and then answer once per group, the
dimension values leading the index:

- a customer dimension (region, owner, team, kind, custom.<key>, ...)
  compares the customer with the customers of each group (the most alike
  customers in the East, among the B2B customers, ...), their whole
  purchase history against each other's;
- an order dimension (channel, location, staff, staff_team, category)
  compares what was bought in each group only: the customer's online
  purchases with the others' online purchases, their tea with the others'
  tea. A group in which the customer bought nothing has no rows.

>>> import crmcore as crm
>>> db = crm.open()
>>> a, b = db.add("customers", name="A", region="East"), db.add("customers", name="B", region="West")
>>> p = db.add("products", sku="T", name="Tea")
>>> for c in (a, b):
...     o = db.add("orders", customer_id=c, ordered_at="2024-01-01", amount=5.0)
...     _ = db.add("order_lines", order_id=o, product_id=p, quantity=1.0, unit_price=5.0)
>>> db.similar_customers(a, by="region").index.tolist() == [("West", b)]
True
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from ._args import _method, _node, _top
from .graph import Graph
from .scoring.dimensions import ORDER_DIMENSIONS, _names, _text
from .scoring._columns import as_of_timestamp, stamp
from .scoring._status import purchases

__all__ = ["SimilarityMethods"]


class SimilarityMethods:
    """Similarity of customers and cross-selling, a part of the store's Database."""

    if TYPE_CHECKING:  # what the mixin uses of the Database it is part of
        def frame(self, kind: str, ids: Any = None, columns: Any = None) -> pd.DataFrame: ...

        def names(self, ids: Any = None) -> pd.DataFrame: ...

        def default_as_of(self) -> pd.Timestamp: ...

        def _tagged(self, orders: pd.DataFrame, names: Any) -> pd.DataFrame: ...

    def _bought_lines(self, as_of: Any = None, dims: Any = (), where: str | None = None) -> pd.DataFrame:
        """One row per line of the purchases up to ``as_of`` (default: the
        end of the data) that names a product: ``customer_id``,
        ``product_id``, and a text column per dimension of ``dims``; indexed
        by the order id. What a purchase is comes from the shared status
        table, as for every analysis."""
        cut = self.default_as_of() if as_of is None else as_of_timestamp(as_of, where=where)
        order_dims = [d for d in dims if d in ORDER_DIMENSIONS and d != "category"]
        extra = [c for c in ("channel", "location") if c in order_dims]
        if "staff" in order_dims or "staff_team" in order_dims:
            extra.append("staff_id")
        orders = self.frame("orders", columns=["customer_id", "ordered_at", "status", *extra])
        orders = purchases(orders[(orders["ordered_at"] <= cut).to_numpy(dtype=bool)])
        first = orders["ordered_at"].min()  # where the window read starts (NaT: nothing read)
        lines = self.frame("order_lines", columns=["order_id", "product_id"])
        lines = lines[(lines["order_id"].isin(orders.index) & lines["product_id"].notna()).to_numpy(dtype=bool)]
        order_ids = lines["order_id"].to_numpy(np.int64)
        rows = orders.loc[order_ids, ["customer_id", *extra]]
        rows["product_id"] = lines["product_id"].to_numpy(np.int64)
        if "category" in dims:
            # A line belongs to its product's category (not shared by revenue
            # as an order's amount is): the product is what is compared.
            category = self.frame("products", columns=["category"])["category"]
            rows["category"] = _text(category.reindex(rows["product_id"].to_numpy())).to_numpy()
        rows = self._tagged(rows, list(dims)) if dims else rows
        rows.attrs["first"] = None if pd.isna(first) else pd.Timestamp(first)
        return rows

    def _purchase_graph(self, as_of: Any = None) -> tuple[Graph, pd.DataFrame]:
        """Bipartite customer-product graph from the purchases up to ``as_of``
        and the distinct (customer_id, product_id) pairs it is made of."""
        return _bipartite(self._bought_lines(as_of))

    def _alike(self, customer: int, by: Any, as_of: Any, where: str,
               answer: Callable[[Graph, pd.DataFrame], pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
        """``answer(graph, pairs)`` on the whole store or, with ``by``, on
        each group (the module's rules), stacked with the dimensions leading;
        the point and window read in ``attrs``, as every analysis."""
        cut = self.default_as_of() if as_of is None else as_of_timestamp(as_of, where=where)
        if by is None:
            lines = self._bought_lines(cut)
            g, bought = _bipartite(lines)
            out = answer(g, bought) if customer in g else empty.copy()
            return stamp(out, cut.value, lines.attrs["first"])
        dims = _names(by, where)
        order_dims = [d for d in dims if d in ORDER_DIMENSIONS]
        lines = self._bought_lines(cut, dims)
        mine = lines[(lines["customer_id"] == customer).to_numpy(dtype=bool)]
        parts, keys = [], []
        for key, part in lines.groupby(dims, sort=True):
            key = key if isinstance(key, tuple) else (key,)
            # The customer's own purchases of the group's order values, in
            # whatever customer group they are compared with.
            theirs = mine
            for d in order_dims:
                theirs = theirs[(theirs[d] == key[dims.index(d)]).to_numpy(dtype=bool)]
            if theirs.empty:
                continue
            g, bought = _bipartite(pd.concat([part, theirs]))
            out = answer(g, bought)
            if len(out):
                parts.append(out)
                keys.append(key)
        if not parts:
            out = empty.set_index(pd.MultiIndex.from_tuples([], names=[*dims, *empty.index.names]))
        else:
            out = pd.concat(parts, keys=keys, names=[*dims, *parts[0].index.names])
        out.attrs["by"] = dims
        return stamp(out, cut.value, lines.attrs["first"])

    def similar_customers(self, customer: Any, top: Any = 10, method: str = "jaccard", as_of: Any = None,
                          by: Any = None) -> pd.DataFrame:
        """Customers who bought the most similar set of products (purchases up
        to ``as_of``, default the end of the data; cancelled and returned
        orders are not purchases).

        Returns a DataFrame indexed by ``customer_id``, most similar first:
        ``name`` and the similarity (a column named by ``method``,
        'jaccard' or 'adamic_adar', see :meth:`Graph.similarity`); empty for
        a customer without purchases. ``by`` answers per group of a
        dimension (see :mod:`crmcore.similarity`), the ``top`` of each.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a, b = db.add("customers", name="A"), db.add("customers", name="B")
        >>> p = db.add("products", sku="T", name="Tea")
        >>> for c in (a, b):
        ...     o = db.add("orders", customer_id=c, ordered_at="2024-01-01", amount=5.0)
        ...     _ = db.add("order_lines", order_id=o, product_id=p, quantity=1.0, unit_price=5.0)
        >>> db.similar_customers(a).to_dict("index") == {b: {"name": "B", "jaccard": 1.0}}
        True
        """
        customer = _node(customer, "similar_customers", "customer")
        _method(method, "similar_customers")
        _top(top, "similar_customers")

        def answer(g: Graph, _: pd.DataFrame) -> pd.DataFrame:
            scores = g.similar(customer, method=method, top=top)
            return pd.DataFrame({"name": self.names(scores.index)["name"].to_numpy(), method: scores.to_numpy()},
                                index=pd.Index(scores.index, name="customer_id"))

        empty = pd.DataFrame({"name": pd.Series([], dtype=object), method: pd.Series([], dtype=np.float64)},
                             index=pd.Index([], dtype=np.int64, name="customer_id"))
        return self._alike(customer, by, as_of, "similar_customers", answer, empty)

    def cross_sell(self, customer: Any, top: Any = 10, neighbors: Any = 20, method: str = "jaccard",
                   as_of: Any = None, by: Any = None) -> pd.DataFrame:
        """Products that the most similar customers bought and ``customer`` has not
        (purchases up to ``as_of``, default the end of the data; cancelled and
        returned orders are not purchases).

        Each candidate scores the summed similarity (``method``: 'jaccard' or
        'adamic_adar' over the products bought) of the ``neighbors`` most
        similar customers who bought it; the ``top`` best are returned (None:
        all, likewise for ``neighbors``). Indexed by ``product_id``; columns:
        score, buyers, sku, name. ``by`` answers per group of a dimension
        (see :mod:`crmcore.similarity`): the neighbours are the group's
        customers, and with an order dimension the products are those bought
        in the group (by channel, what alike customers bought online that
        the customer has not bought online).

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a, b = db.add("customers", name="A"), db.add("customers", name="B")
        >>> tea, cup = db.add("products", sku="T", name="Tea"), db.add("products", sku="C", name="Cup")
        >>> for c, items in ((a, [tea]), (b, [tea, cup])):
        ...     o = db.add("orders", customer_id=c, ordered_at="2024-01-01", amount=5.0)
        ...     for p in items:
        ...         _ = db.add("order_lines", order_id=o, product_id=p, quantity=1.0, unit_price=5.0)
        >>> db.cross_sell(a)["name"].tolist()
        ['Cup']
        """
        customer = _node(customer, "cross_sell", "customer")
        _method(method, "cross_sell")
        keep = _top(top, "cross_sell")
        _top(neighbors, "cross_sell", "neighbors")
        columns = ["score", "buyers", "sku", "name"]
        products = self.frame("products", columns=["sku", "name"])

        def answer(g: Graph, bought: pd.DataFrame) -> pd.DataFrame:
            peers = g.similar(customer, method=method, top=neighbors)
            mine = bought.loc[bought["customer_id"] == customer, "product_id"]
            theirs = bought[bought["customer_id"].isin(peers.index) & ~bought["product_id"].isin(mine)]
            theirs = theirs.assign(score=peers.reindex(theirs["customer_id"]).to_numpy())
            scored = theirs.groupby("product_id").agg(score=("score", "sum"), buyers=("customer_id", "size"))
            scored = scored.sort_values(["score", "buyers"], ascending=False, kind="stable")
            if keep:
                scored = scored.head(keep)
            scored["sku"] = products["sku"].reindex(scored.index).to_numpy()
            scored["name"] = products["name"].reindex(scored.index).to_numpy()
            return scored[columns]

        empty = pd.DataFrame(columns=columns, index=pd.Index([], dtype=np.int64, name="product_id"))
        return self._alike(customer, by, as_of, "cross_sell", answer, empty)


def _bipartite(lines: pd.DataFrame) -> tuple[Graph, pd.DataFrame]:
    """The customer-product graph of purchase lines, and its distinct pairs
    (ids are unique across kinds, so customers and products never meet)."""
    bought = pd.DataFrame({"customer_id": lines["customer_id"].to_numpy(np.int64),
                           "product_id": lines["product_id"].to_numpy(np.int64)}).drop_duplicates()
    return Graph.from_edges(bought["customer_id"], bought["product_id"]), bought
