"""The ego network of a record, with names in any script."""
from __future__ import annotations

from typing import Any, Mapping

from ._fonts import drawing, families

__all__ = ["ego_network"]


@drawing
def ego_network(graph: Any, n: int, k: int = 1, ax: Any = None, types: Any = None,
                labels: Mapping | None = None) -> Any:
    """Draws everyone within ``k`` hops of node ``n`` of a
    :class:`crmcore.Graph` (over edges of ``types``), spring layout.

    Nodes are coloured by hops from ``n`` and labelled with ``labels``
    (node id -> text, e.g. ``g.labels`` that ``db.graph()`` fills with
    names; the id where a node has none), in any script: a CJK font is
    used when one is installed (``scripts/setup.sh`` installs WenQuanYi
    Micro Hei). Stronger edges are drawn thicker. It is drawn on ``ax`` (a
    new figure when None); returns the axes.

    >>> import crmcore as crm
    >>> g = crm.Graph.from_edges([1, 1, 2], [2, 3, 4])
    >>> ax = ego_network(g, 1, labels={1: "李娜", 2: "Acme"})
    >>> sorted(t.get_text() for t in ax.texts)
    ['3', 'Acme', '李娜']
    """
    import matplotlib.pyplot as plt
    import networkx as nx

    sub = graph.ego(n, k, types)
    G = sub.to_networkx()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    pos = nx.spring_layout(G, seed=0)
    hop = graph.hops(n, k, types)
    colors = [hop.get(v, k) for v in G.nodes()]
    widths = [1.0 + 2.0 * d.get("weight", 1.0) for _, _, d in G.edges(data=True)] if sub.weighted else 1.0
    nx.draw_networkx_edges(G, pos, ax=ax, width=widths, alpha=0.5)
    nx.draw_networkx_nodes(G, pos, ax=ax, node_color=colors, cmap="viridis_r", node_size=250)

    def text(v: Any) -> str:
        name = labels.get(v) if labels is not None else None
        return str(v) if name is None or name != name else str(name)  # NaN: no name

    # Names sit under their node on a pale ground: drawn on the node, the
    # marker hid the middle of a long (Chinese) company name.
    below = {v: (x, y - 0.06) for v, (x, y) in pos.items()}
    nx.draw_networkx_labels(G, below, labels={v: text(v) for v in G.nodes()}, ax=ax, font_size=7,
                            font_family=families(), verticalalignment="top",
                            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.5})
    ax.margins(0.12)  # room for the names of the outer nodes
    ax.set_title(f"ego network of {text(n)} ({k} hop{'s' if k != 1 else ''})")
    ax.set_axis_off()
    return ax
