"""The store's relationship analyses: what a Database gains from its links,
contacts, orders and interactions (``db.graph()``, shared contacts, account
hierarchies, referral trees, relationship strength). The graph itself and
its algorithms are :mod:`crmcore.graph`; this module only reads the store
through ``db.frame`` and hands edges to it.

>>> import crmcore as crm
>>> db = crm.open(":memory:")
>>> a, b = db.add("customers", name="Ann"), db.add("customers", name="Bo")
>>> _ = db.link(a, b, "referred")
>>> db.graph().num_edges
1
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._args import _invalid, _node, _real
from ._convert import text_array
from ._core import ValidationError
from .graph import Graph
from .scoring._columns import as_of_timestamp, days_between, flag_overflow, stamp
from .scoring._status import purchases

__all__ = ["GraphMethods", "CHANNEL_WEIGHT"]
# How much one interaction of a channel says about a relationship: meeting in
# person says more than a message.
CHANNEL_WEIGHT = {"meeting": 1.0, "visit": 1.0, "call": 0.6, "message": 0.3, "email": 0.2, "note": 0.0}


def _valid_at(df, as_of, since="since", until="until"):
    """Rows valid at as_of: since <= as_of < until, a missing bound being open."""
    ok = np.ones(len(df), dtype=bool)
    if since in df:
        ok &= ~(df[since] > as_of).fillna(False).to_numpy(dtype=bool)
    if until in df:
        ok &= ~(df[until] <= as_of).fillna(False).to_numpy(dtype=bool)
    return df[ok]


def _stamped(cut, times):
    """The attrs every analysis reports (``as_of`` and the ``window`` read,
    from the earliest of ``times``), for a result of any type."""
    return stamp(pd.DataFrame(), cut.value, pd.Series(times).to_numpy(dtype="datetime64[ns]").view(np.int64)).attrs


def _ids(col):
    return pd.array(col, dtype="Int64")


def _tree_rollup(nodes, parent, value=None):
    """Walks a forest given as child -> parent (one parent per child).

    Returns a DataFrame indexed by ``nodes`` with the parent, the root, the
    depth (0 at a root), the number of descendants and, when ``value`` (a
    Series by node) is given, the value summed over each node and all its
    descendants. Works level by level on arrays, so it costs O(n * depth).
    """
    nodes = pd.Index(np.unique(np.concatenate([np.asarray(nodes, dtype=np.int64),
                                               parent.index.to_numpy(np.int64),
                                               parent.to_numpy(np.int64)])))
    n = len(nodes)
    par = np.full(n, -1, dtype=np.int64)
    par[nodes.get_indexer(parent.index)] = nodes.get_indexer(parent.to_numpy(np.int64))
    own = np.zeros(n) if value is None else value.reindex(nodes, fill_value=0.0).to_numpy(np.float64)
    depth = np.zeros(n, dtype=np.int64)
    root = np.arange(n)
    total = own.copy()
    descendants = np.zeros(n, dtype=np.int64)
    # Push every node's own value up its chain of ancestors, one level per step.
    at = par.copy()
    alive = at >= 0
    steps = 0
    while alive.any():
        steps += 1
        if steps > n:
            raise ValidationError(f"the hierarchy has a cycle through node {nodes[np.flatnonzero(alive)[0]]}")
        idx = np.flatnonzero(alive)
        np.add.at(total, at[idx], own[idx])
        np.add.at(descendants, at[idx], 1)
        depth[idx] += 1
        root[idx] = at[idx]
        at[idx] = par[at[idx]]
        alive = at >= 0
    out = pd.DataFrame({
        "parent": pd.array(np.where(par >= 0, nodes.to_numpy()[np.maximum(par, 0)], 0), dtype="Int64"),
        "root": nodes.to_numpy()[root],
        "depth": depth,
        "descendants": descendants,
    }, index=pd.Index(nodes, name="id"))
    out.loc[par < 0, "parent"] = pd.NA
    if value is not None:
        out["own"] = own
        out["total"] = total
    return out


def _single_parent(child, parent, what):
    pairs = pd.DataFrame({"child": np.asarray(child, dtype=np.int64),
                          "parent": np.asarray(parent, dtype=np.int64)}).drop_duplicates()
    dup = pairs["child"].duplicated()
    if dup.any():
        bad = int(pairs.loc[dup, "child"].iloc[0])
        raise ValidationError(f"{what}: record {bad} has more than one parent")
    return pd.Series(pairs["parent"].to_numpy(), index=pd.Index(pairs["child"].to_numpy()))


class GraphMethods:
    """Relationship analyses that the store's Database gains: ``db.graph()``,
    shared contacts, account hierarchies, referral trees, relationship
    strength from interactions and cross-selling. Built only on ``db.frame``.
    """

    def _point(self, as_of, where=None):
        """``as_of`` as a Timestamp; by default the point every analysis
        uses, ``db.default_as_of()`` (the end of the data, links included),
        not the clock: a graph and an RFM of the same store describe the
        same moment."""
        return pd.Timestamp(self._as_of(as_of, where=where))

    def _links(self, types=None, as_of=None, where=None):
        links = self.frame("links")
        if types is not None:
            wanted = [types] if isinstance(types, str) else list(types)
            links = links[links["type"].isin(wanted)]
        return _valid_at(links, self._point(as_of, where=where))

    def graph(self, types=None, as_of=None, directed=False, include=None):
        """The relationship graph of the stored links valid at ``as_of``.

        ``as_of`` defaults to ``db.default_as_of()``, the end of the data, as
        in every analysis; the point and the window of link dates read are in
        ``g.attrs["as_of"]`` and ``g.attrs["window"]``.

        Nodes are record ids, edge weights the links' ``strength`` (1 where
        missing), edge types the link types. ``directed=True`` keeps link
        direction (links not marked directed then go both ways); ``include``
        names record kinds whose every record becomes a node, linked or not.
        The graph's :attr:`Graph.labels` hold each node's name (``db.names``),
        so ``g.named(g.pagerank().nlargest(5))`` and ``g.plot_ego(n)`` show names.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a, b = db.add("contacts", name="Li Lei"), db.add("contacts", name="Han Meimei")
        >>> _ = db.link(a, b, "knows", strength=0.8)
        >>> db.graph().num_edges
        1
        """
        cut = self._point(as_of, where="graph")
        links = self._links(types, cut)
        src = links["src"].to_numpy(np.int64)
        dst = links["dst"].to_numpy(np.int64)
        weight = links["strength"].fillna(1.0).to_numpy(np.float64)
        kinds = links["type"].to_numpy(dtype=object)
        if directed:
            both = ~links["directed"].fillna(False).to_numpy(dtype=bool)
            src, dst = np.concatenate([src, dst[both]]), np.concatenate([dst, src[both]])
            weight = np.concatenate([weight, weight[both]])
            kinds = np.concatenate([kinds, kinds[both]])
        nodes = None
        if include:
            kinds_in = [include] if isinstance(include, str) else list(include)
            nodes = np.concatenate([self.frame(k, columns=[]).index.to_numpy(np.int64) for k in kinds_in])
        g = Graph.from_edges(src, dst, weight=weight, directed=directed,
                             types=kinds if len(kinds) else None, nodes=nodes)
        g.labels = self.names(g.nodes)["name"]  # readable names for rankings and plots
        g.attrs = _stamped(cut, links["since"])
        return g

    # -- customers and their contacts ---------------------------------------
    def _customer_contacts(self, as_of=None, where=None):
        """customer_id, contact_id, role for every valid customer-contact tie,
        from customer_contacts and from works_at links between the two kinds."""
        as_of = self._point(as_of, where=where)
        cc = _valid_at(self.frame("customer_contacts"), as_of)
        ties = [pd.DataFrame({"customer_id": cc["customer_id"].to_numpy(np.int64),
                              "contact_id": cc["contact_id"].to_numpy(np.int64),
                              "role": cc["role"].to_numpy(dtype=object),
                              "since": cc["since"].to_numpy(dtype="datetime64[ns]")})]
        works = self._links("works_at", as_of)
        if len(works):
            contacts = self.frame("contacts", columns=[]).index
            customers = self.frame("customers", columns=[]).index
            works = works[works["src"].isin(contacts) & works["dst"].isin(customers)]
            ties.append(pd.DataFrame({"customer_id": works["dst"].to_numpy(np.int64),
                                      "contact_id": works["src"].to_numpy(np.int64),
                                      "role": works["role"].to_numpy(dtype=object),
                                      "since": works["since"].to_numpy(dtype="datetime64[ns]")}))
        ties = pd.concat(ties, ignore_index=True)
        return ties.drop_duplicates(["customer_id", "contact_id"])

    def shared_contacts(self, c1, c2, as_of=None):
        """Contacts who work with both customers ``c1`` and ``c2`` at ``as_of``,
        with their role at each.

        ``as_of`` defaults to ``db.default_as_of()`` (the end of the data);
        the point and window read are in ``result.attrs``. Indexed by
        contact id; columns: name, title, role_at_1, role_at_2.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a, b = db.add("customers", name="Acme"), db.add("customers", name="Globex")
        >>> li = db.add("contacts", name="Li Lei")
        >>> _ = db.link(li, a, "works_at"); _ = db.link(li, b, "works_at")
        >>> db.shared_contacts(a, b).index.tolist() == [li]
        True
        """
        c1, c2 = _node(c1, "shared_contacts", "c1"), _node(c2, "shared_contacts", "c2")
        cut = self._point(as_of, where="shared_contacts")
        ties = self._customer_contacts(cut)
        one = ties[ties["customer_id"] == c1].set_index("contact_id")["role"]
        two = ties[ties["customer_id"] == c2].set_index("contact_id")["role"]
        both = one.index.intersection(two.index)
        out = self.frame("contacts", ids=both)[["name", "title"]]
        out["role_at_1"] = one.reindex(out.index).to_numpy()
        out["role_at_2"] = two.reindex(out.index).to_numpy()
        out.attrs.update(_stamped(cut, ties["since"]))
        return out

    def connected_customers(self, customer=None, as_of=None):
        """Customers linked through shared contacts at ``as_of`` (default
        ``db.default_as_of()``, the end of the data; the point and window
        read are in ``result.attrs``).

        With ``customer``: a Series other customer -> number of shared
        contacts, most first. Without: every connected pair (customer_a,
        customer_b, shared, and their names name_a, name_b) with
        customer_a < customer_b.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a, b = db.add("customers", name="Acme"), db.add("customers", name="Globex")
        >>> li = db.add("contacts", name="Li Lei")
        >>> _ = db.link(li, a, "works_at"); _ = db.link(li, b, "works_at")
        >>> db.connected_customers(a).to_dict() == {b: 1}
        True
        """
        cut = self._point(as_of, where="connected_customers")
        everything = self._customer_contacts(cut)
        attrs = _stamped(cut, everything["since"])
        ties = everything[["customer_id", "contact_id"]]
        if customer is not None:
            customer = _node(customer, "connected_customers", "customer")
            mine = ties.loc[ties["customer_id"] == customer, "contact_id"]
            others = ties[ties["contact_id"].isin(mine) & (ties["customer_id"] != customer)]
            counts = others.groupby("customer_id").size().sort_values(ascending=False, kind="stable")
            counts.index.name = "customer_id"
            counts = counts.rename("shared_contacts")
            counts.attrs.update(attrs)
            return counts
        pairs = ties.merge(ties, on="contact_id", suffixes=("_a", "_b"))
        pairs = pairs[pairs["customer_id_a"] < pairs["customer_id_b"]]
        out = pairs.groupby(["customer_id_a", "customer_id_b"]).size().rename("shared").reset_index()
        out.columns = ["customer_a", "customer_b", "shared"]
        names = self.frame("customers", columns=["name"])["name"]
        out["name_a"] = names.reindex(out["customer_a"]).array  # str as read, with no pairs too
        out["name_b"] = names.reindex(out["customer_b"]).array
        out = out.sort_values("shared", ascending=False, kind="stable").reset_index(drop=True)
        out.attrs.update(attrs)
        return out

    # -- hierarchies and referrals ------------------------------------------
    def hierarchy_rollup(self, as_of=None, since=None, until=None, by=None):
        """Purchase revenue of every customer, alone and with all its subsidiaries.

        Follows ``subsidiary_of`` links (child -> parent) valid at ``as_of``
        and sums the purchases up to ``as_of`` (default: the end of the data,
        ``db.default_as_of()``, the point every analysis uses), from ``since``
        and before ``until`` when given. Purchases are the orders the shared
        status table (:data:`crmcore.scoring.ORDER_STATUS`) does not mark
        cancelled or returned, as in ``db.profit()``. Indexed by
        ``customer_id``; columns: name, parent, root, depth, descendants, own
        (revenue), total (own + all subsidiaries); the point and window read
        are in ``result.attrs``. A total beyond the range of a double follows
        the rule of :class:`crmcore.scoring.TotalOverflowWarning`.

        ``by`` (a dimension or a list, see :mod:`crmcore.scoring.dimensions`)
        splits the purchases: one rollup per group, each over the whole
        tree (the East total of a group counts the purchases of its East
        subsidiaries; by channel, what each channel sold to the group), the
        dimensions leading the index.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> p, c = db.add("customers", name="Group"), db.add("customers", name="Branch")
        >>> _ = db.link(c, p, "subsidiary_of")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2024-01-02", amount=100.0)
        >>> _ = db.add("orders", customer_id=c, ordered_at="2024-01-03", amount=40.0, status="退货")
        >>> float(db.hierarchy_rollup().loc[p, "total"])
        100.0
        """
        cut = self._point(as_of, where="hierarchy_rollup")
        links = self._links("subsidiary_of", cut)
        parent = _single_parent(links["src"], links["dst"], "subsidiary_of")
        orders = self.frame("orders", columns=["customer_id", "ordered_at", "amount", "status", "staff_id"])
        orders = purchases(orders[(orders["ordered_at"] <= cut).to_numpy(dtype=bool)])
        keep = np.ones(len(orders), dtype=bool)
        if since is not None:
            keep &= (orders["ordered_at"] >= as_of_timestamp(since, "since", "hierarchy_rollup")).to_numpy(dtype=bool)
        if until is not None:
            keep &= (orders["ordered_at"] < as_of_timestamp(until, "until", "hierarchy_rollup")).to_numpy(dtype=bool)
        customers = self.frame("customers", columns=["name"])

        def rollup(part, _customers):
            # A total beyond the double range is inf (and so is every
            # ancestor's): reported by the scoring rule instead of numpy's
            # overflow warning.
            with np.errstate(over="ignore", invalid="ignore"):
                revenue = part.groupby("customer_id")["amount"].sum()
                tree = _tree_rollup(customers.index, parent, revenue)
            tree.insert(0, "name", customers["name"].reindex(tree.index).array)  # str as read
            tree.index.name = "customer_id"
            return tree

        excluded = orders.attrs["excluded_orders"]
        orders = orders[keep]
        out = rollup(orders, None) if by is None else self._stacked(rollup, orders, by, "hierarchy_rollup")
        out.attrs["excluded_orders"] = excluded
        stamp(out, cut.value, orders["ordered_at"].to_numpy(dtype="datetime64[ns]").view(np.int64))
        return flag_overflow(out, ["own", "total"], "hierarchy_rollup")

    def referrals(self, as_of=None):
        """The referral tree from ``referred_by`` links (X referred_by Y: Y referred X).

        Indexed by record id: every customer, and any other record a
        ``referred_by`` link names. Columns: name, referrals (direct),
        referrals_total (whole subtree), referred_by, depth (0 = not referred)
        and root (the first referrer of the chain). ``as_of`` defaults to
        ``db.default_as_of()`` (the end of the data); the point and the window
        of link dates read are in ``result.attrs``.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a, b, c = (db.add("customers", name=n) for n in "ABC")
        >>> _ = db.link(b, a, "referred_by"); _ = db.link(c, b, "referred_by")
        >>> db.referrals().loc[[a, b, c], "depth"].tolist()
        [0, 1, 2]
        """
        cut = self._point(as_of, where="referrals")
        links = self._links("referred_by", cut)
        parent = _single_parent(links["src"], links["dst"], "referred_by")
        tree = _tree_rollup(self.frame("customers", columns=[]).index, parent)
        direct = parent.value_counts().reindex(tree.index, fill_value=0)
        out = pd.DataFrame({
            "name": text_array(self.names(tree.index)["name"]),
            "referrals": direct.to_numpy(np.int64),
            "referrals_total": tree["descendants"].to_numpy(),
            "referred_by": tree["parent"].array,
            "depth": tree["depth"].to_numpy(),
            "root": tree["root"].to_numpy(),
        }, index=tree.index)
        out.attrs.update(_stamped(cut, links["since"]))
        return out

    # -- strength from interactions -------------------------------------------
    def relationship_strength(self, half_life_days=90, as_of=None, channel_weight=None):
        """Relationship strength between people, inferred from interactions.

        Each interaction up to ``as_of`` ties its staff member to the contact
        (and to the customer) it was with; it counts by channel
        (``channel_weight``, meetings most) and decays by half every
        ``half_life_days`` (a number > 0). ``channel_weight`` maps channel ->
        weight (finite, >= 0; channels it leaves out count 0). ``score`` is
        the decayed sum and ``strength = 1 - exp(-score)`` in (0, 1), ready
        for ``Graph.from_edges`` and ``strongest_path``; ``src_name`` and
        ``dst_name`` say who the two ends are. ``as_of`` defaults to
        ``db.default_as_of()`` (the end of the data, as every analysis); the
        point and the window of interactions read are in ``result.attrs``.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> s, c = db.add("staff", name="Wang"), db.add("contacts", name="Li Lei")
        >>> _ = db.add("interactions", staff_id=s, contact_id=c, channel="meeting", occurred_at="2024-05-01")
        >>> db.relationship_strength(as_of="2024-05-01")["strength"].round(3).tolist()
        [0.632]
        """
        half_life_days = _real(half_life_days, "relationship_strength", "half_life_days", positive=True)
        weights = dict(CHANNEL_WEIGHT if channel_weight is None else channel_weight)
        for channel, w in weights.items():
            w = _real(w, "relationship_strength", "channel_weight")
            if not (math.isfinite(w) and w >= 0):
                raise _invalid("relationship_strength", "channel_weight",
                               f"the weight of {channel!r} must be a finite number >= 0, got {w!r}")
        as_of = self._point(as_of, where="relationship_strength")
        it = self.frame("interactions", columns=["customer_id", "contact_id", "staff_id", "channel", "occurred_at"])
        it = it[(it["occurred_at"] <= as_of).to_numpy(dtype=bool)]
        age = days_between(as_of, it["occurred_at"])
        value = it["channel"].map(weights).fillna(0.0).to_numpy(np.float64) * 0.5 ** (age / half_life_days)
        staff = _ids(it["staff_id"])
        parts = []
        for other in ("contact_id", "customer_id"):
            peer = _ids(it[other])
            has = ~(staff.isna() | peer.isna())
            parts.append(pd.DataFrame({"src": staff[has].to_numpy(np.int64),
                                       "dst": peer[has].to_numpy(np.int64),
                                       "score": value[has],
                                       "at": it["occurred_at"].to_numpy()[has]}))
        pairs = pd.concat(parts, ignore_index=True)
        out = pairs.groupby(["src", "dst"]).agg(score=("score", "sum"), interactions=("score", "size"),
                                                last=("at", "max")).reset_index()
        out = out[out["score"] > 0].reset_index(drop=True)
        out.insert(2, "strength", -np.expm1(-out["score"].to_numpy()))
        names = self.names(np.concatenate([out["src"].to_numpy(), out["dst"].to_numpy()]))["name"].to_numpy()
        out["src_name"], out["dst_name"] = text_array(names[: len(out)]), text_array(names[len(out):])
        out.attrs.update(_stamped(as_of, it["occurred_at"]))
        return out
