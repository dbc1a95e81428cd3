"""Prospect scoring for ``db.marketing.prospects``: look-alike votes and
products from the C++ kernel (``_core.score_lookalikes``, over factorized
columns) and closeness in the relationship graph to good customers (a
multi-source breadth-first search and personalized PageRank, both in C++).
Only the reasons, one list of text per prospect, are assembled here."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import _core
from ._convert import object_array
from .graph import Graph
from .scoring._columns import as_of_timestamp

COLUMNS = ["score", "attribute_score", "graph_score", "hops", "nearest", "pagerank", "lookalikes", "reasons",
           "products"]


def relationship_graph(db: Any, as_of: Any) -> Graph:
    """Every link valid at `as_of` and every customer-contact tie, undirected
    and unweighted, each pair once: how close two customers are is a matter
    of who knows whom, not of how many records say so."""
    links = db._links(as_of=as_of, where="prospects")
    ties = db._customer_contacts(as_of, where="prospects")
    src = np.concatenate([links["src"].to_numpy(np.int64), ties["customer_id"].to_numpy(np.int64)])
    dst = np.concatenate([links["dst"].to_numpy(np.int64), ties["contact_id"].to_numpy(np.int64)])
    pairs = pd.DataFrame({"a": np.minimum(src, dst), "b": np.maximum(src, dst)}).drop_duplicates()
    return Graph.from_edges(pairs.a.to_numpy(), pairs.b.to_numpy())


def score(db: Any, by: list, top: int, as_of: Any, graph: bool, good: Any, decay: float) -> pd.DataFrame:
    customers = db.frame("customers", columns=by)
    orders = db.frame("orders", columns=["customer_id", "ordered_at"])
    if as_of is not None:
        orders = orders[orders.ordered_at < as_of_timestamp(as_of, where="prospects")]
    bought = customers.index.isin(orders.customer_id.unique())
    lines = db.frame("order_lines", columns=["order_id", "product_id"]).dropna(subset=["product_id"])
    lines = lines[lines.order_id.isin(orders.index)]
    line_customer = customers.index.get_indexer(lines.order_id.map(orders.customer_id))
    # Codes per field: equal values, equal codes (pandas' factorize; missing -1).
    codes = np.vstack([pd.factorize(customers[f])[0] for f in by]) if by else np.zeros((0, len(customers)), np.int64)
    k = _core.score_lookalikes(codes.astype(np.int64), bought.astype(np.uint8), line_customer.astype(np.int64),
                               lines.product_id.to_numpy(np.int64), int(top))
    index = customers.index[k["prospect"]]
    out = pd.DataFrame({"attribute_score": k["score"], "lookalikes": k["lookalikes"]}, index=index)
    votes = pd.DataFrame(k["votes"].reshape(len(index), len(by)), index=index, columns=by)
    reasons = [_field_reasons(customers.loc[index, f], votes[f], f) for f in by]
    out["graph_score"] = 0.0
    out["hops"] = pd.array([pd.NA] * len(index), dtype="Int64")
    out["nearest"] = pd.array([pd.NA] * len(index), dtype="Int64")
    out["pagerank"] = 0.0
    if graph:
        seeds = customers.index[bought] if good is None else pd.Index(np.asarray(good, dtype=np.int64))
        reasons.append(_graph_columns(db, out, seeds, as_of, decay, "buyer" if good is None else "good customer"))
    # Either kind of evidence makes a prospect likely; neither alone is weakened by the other's absence.
    # (1 - (1 - a)(1 - g), written so that g = 0 gives a exactly)
    out["score"] = out.attribute_score + out.graph_score - out.attribute_score * out.graph_score
    # Lists, as object arrays: a list of none assigned to an empty frame is float64.
    out["reasons"] = object_array(_lists(pd.concat(reasons), index))
    products = k["products"].reshape(len(index), int(top))
    out["products"] = object_array(row[row >= 0].tolist() for row in products)
    return out[COLUMNS].sort_values("score", ascending=False, kind="stable")


def _field_reasons(values: pd.Series, share: pd.Series, field: str) -> pd.Series:
    has = share.notna()
    shown = values[has].astype(str).to_numpy(dtype=object)
    percent = share[has].map("{:.0%}".format).to_numpy(dtype=object)
    return pd.Series(field + "=" + shown + ": " + percent + " of the others bought", index=share.index[has],
                     dtype=object)


def _graph_columns(db: Any, out: pd.DataFrame, seeds: pd.Index, as_of: Any, decay: float, what: str) -> pd.Series:
    """Fill hops, nearest, graph_score (`decay` ** hops) and pagerank
    (personalized on the seeds) for the prospects in `out`; return their
    graph reasons."""
    g = relationship_graph(db, as_of)
    seeds = seeds[seeds.isin(g.nodes)]
    if not len(seeds) or not len(out):
        return pd.Series(dtype=object)
    hops, nearest = g._g.nearest_source(seeds.to_numpy(np.int64), -1)
    at = g.nodes.get_indexer(out.index)
    found = at >= 0
    reach = np.zeros(len(out), dtype=bool)
    reach[found] = hops[at[found]] >= 0
    h = np.full(len(out), -1, dtype=np.int64)
    h[reach] = hops[at[reach]]
    near = np.full(len(out), -1, dtype=np.int64)
    near[reach] = nearest[at[reach]]
    out["hops"] = pd.Series(h, index=out.index).where(reach).astype("Int64")
    out["nearest"] = pd.Series(near, index=out.index).where(reach).astype("Int64")
    out["graph_score"] = np.where(reach, float(decay) ** h.astype(float), 0.0)
    rank = g.pagerank(personalization=dict.fromkeys(seeds.tolist(), 1.0), weight=False)
    out["pagerank"] = rank.reindex(out.index, fill_value=0.0).to_numpy()
    linked = out.index[reach]
    names = db.names(near[reach])["name"].fillna("?").to_numpy(dtype=object)
    return pd.Series(pd.Series(h[reach]).astype(str).to_numpy(dtype=object) + " hops from " + what + " " +
                     names + " (" + pd.Series(near[reach]).astype(str).to_numpy(dtype=object) + ")", index=linked)


def _lists(parts: pd.Series, index: pd.Index) -> list:
    """One list per id of `index` of the strings `parts` holds for it, in
    the order given (stable by id)."""
    if not len(parts):
        return [[] for _ in range(len(index))]
    grouped = parts.groupby(level=0, sort=False).agg(list)
    return [v if isinstance(v, list) else [] for v in grouped.reindex(index).tolist()]
