"""The relationship graph: a compact C++ graph over record ids and its analyses.

``Graph`` works on any edge list (NumPy arrays in, pandas objects indexed by
node id out); ``GraphMethods`` gives the store's Database the relationship
analyses built on its links, orders and interactions.

>>> import crmcore as crm
>>> g = crm.Graph.from_edges([1, 2, 3], [2, 3, 1])
>>> g.pagerank().round(3).tolist()
[0.333, 0.333, 0.333]
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from . import _core
from ._args import _float64, _id_problem, _integer, _invalid, _method, _node, _node_ids, _real, _top
from ._core import NotFound, ValidationError
from .scoring._columns import flag_overflow, stamp
from .scoring._status import purchases

__all__ = ["Graph", "GraphMethods"]

_MAX_TYPES = 256


class Graph:
    """A compact in-memory graph (CSR) whose nodes are int64 record ids.

    Build it with :meth:`from_edges`, :meth:`from_networkx` or ``db.graph()``.
    Every analysis runs in C++ with the GIL released (Ctrl-C stops it) and
    returns pandas objects indexed by node id.

    >>> g = Graph.from_edges([10, 10, 20], [20, 30, 30], weight=[0.9, 0.5, 0.8])
    >>> g.num_nodes, g.num_edges
    (3, 3)
    """

    def __init__(self, core, type_names=None, labels=None):
        self._g = core
        self._ids = core.ids()
        self._ids.setflags(write=False)
        self._type_names = list(type_names) if type_names is not None else None
        #: Node id -> readable name (``db.graph()`` fills it from the records), or None.
        self.labels = labels
        #: What the graph describes, as on every analysis' result: ``db.graph()``
        #: puts the point (``"as_of"``) and the window of link dates read here.
        self.attrs = {}

    def _derived(self, core):
        """A graph made from this one (a subgraph, ...), keeping types, names and attrs."""
        g = Graph(core, self._type_names, self.labels)
        g.attrs = dict(self.attrs)
        return g

    # ---- construction -------------------------------------------------------
    @classmethod
    def from_edges(cls, src, dst, weight=None, directed=False, types=None, nodes=None, labels=None):
        """Graph from parallel arrays of edge endpoints.

        ``weight`` gives one finite number per edge; ``types`` one label per
        edge (strings or small ints, at most 256 distinct) that ``neighbors``,
        ``ego`` and friends can filter on; ``nodes`` adds nodes without edges.

        Node ids are int64 record ids: integers of any dtype, or floats that
        are whole numbers (ids read back as 1.0). Anything else (1.9, NaN,
        inf, 2**63, strings, None, booleans) raises :class:`crmcore.ValidationError`
        naming the array and position, instead of being truncated into
        another node. ``labels`` maps node id -> name, shown by :meth:`named`
        and :meth:`plot_ego`.

        >>> g = Graph.from_edges([1, 2], [2, 3], types=["knows", "works_at"], nodes=[99])
        >>> g.num_nodes
        4
        """
        src = _node_ids(src, "from_edges", "src")
        dst = _node_ids(dst, "from_edges", "dst")
        w = None if weight is None else _float64(weight, "weight")
        codes, names = None, None
        if types is not None:
            codes_arr, uniques = pd.factorize(pd.Series(np.asarray(types, dtype=object)))
            if (codes_arr < 0).any():
                pos = int(np.flatnonzero(codes_arr < 0)[0])
                raise _invalid("from_edges", "types", f"edge {pos} has no type")
            if len(uniques) > _MAX_TYPES:
                raise _invalid("from_edges", "types", f"at most {_MAX_TYPES} distinct edge types are supported")
            codes = codes_arr.astype(np.uint8)
            names = list(uniques)
        extra = None if nodes is None else _node_ids(nodes, "from_edges", "nodes")
        core = _core.GraphCore.from_edges(src, dst, w, codes, bool(directed), extra)
        return cls(core, names, None if labels is None else pd.Series(labels, dtype=object))

    @classmethod
    def from_networkx(cls, G, weight="weight", type="type"):  # noqa: A002 - mirrors the edge attribute
        """Graph from a NetworkX graph whose nodes are integers.

        Edge attribute ``weight`` (default 1 where missing) becomes the weight
        and ``type`` the edge type, when any edge has them. Node labels must
        be int64 integers (a whole float such as 1.0 counts as 1); others,
        such as names or 1.5, are refused rather than mapped, because results
        come back indexed by node id: relabel first with
        ``nx.convert_node_labels_to_integers(G, label_attribute="label")``.

        >>> import networkx as nx
        >>> Graph.from_networkx(nx.path_graph(4)).num_edges
        3
        """
        nodes = _node_ids(list(G.nodes()), "from_networkx", "G.nodes",
                          hint="; relabel with nx.convert_node_labels_to_integers(G, label_attribute='label')")
        edges = list(G.edges(data=True))
        # every endpoint is one of the nodes just checked
        src = _node_ids([u for u, _, _ in edges], "from_networkx", "G.edges")
        dst = _node_ids([v for _, v, _ in edges], "from_networkx", "G.edges")
        has_w = weight is not None and any(weight in d for _, _, d in edges)
        w = [d.get(weight, 1.0) for _, _, d in edges] if has_w else None
        has_t = type is not None and any(type in d for _, _, d in edges)
        t = [d.get(type, "") for _, _, d in edges] if has_t else None
        return cls.from_edges(src, dst, weight=w, directed=G.is_directed(), types=t, nodes=nodes)

    @classmethod
    def from_table(cls, where, table, src="src", dst="dst", weight=None, type=None,  # noqa: A002
                   directed=False, labels=None):
        """Graph from a table of edges in a database, read by the C++ core
        without a DataFrame in between (so the machine's memory holds the
        graph, about 8 bytes per undirected edge, not a pandas copy).

        ``where`` is a SQLite file or a ``postgresql://`` URL (its
        ``schema=`` names the table's schema; ``table`` may also be
        ``schema.table``). ``src``/``dst`` name integer id columns, ``weight``
        a number column, ``type`` a text column (at most 256 values). Names
        must be plain SQL identifiers. A NULL end or weight, or a value that
        is not an integer id, raises :class:`crmcore.ValidationError` naming
        the row of the result and the column.

        >>> import sqlite3, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "edges.db")
        >>> with sqlite3.connect(path) as con:
        ...     _ = con.execute("CREATE TABLE knows(a INTEGER, b INTEGER, w REAL)")
        ...     _ = con.executemany("INSERT INTO knows VALUES (?, ?, ?)", [(1, 2, 0.5), (2, 3, 2.0)])
        >>> g = Graph.from_table(path, "knows", src="a", dst="b", weight="w")
        >>> g.num_nodes, g.num_edges, g.weighted
        (3, 2, True)
        """
        from ._graph_sources import read_table

        core, names = read_table(where, table, src, dst, weight, type, directed)
        return cls(core, names, None if labels is None else pd.Series(labels, dtype=object))

    @classmethod
    def from_spark(cls, sdf, src="src", dst="dst", weight=None, type=None, directed=False,  # noqa: A002
                   labels=None):
        """Graph from the edge columns of a Spark DataFrame, collected as
        Arrow columns (no pandas rows): ``src``/``dst`` integer ids,
        ``weight`` numbers, ``type`` labels (at most 256). Nulls and
        non-integer ids are refused with the row and column named. Needs
        ``pip install crmcore[spark]``.

        >>> from pyspark.sql import SparkSession  # doctest: +SKIP
        >>> spark = SparkSession.builder.master("local[1]").getOrCreate()  # doctest: +SKIP
        >>> sdf = spark.createDataFrame([(1, 2), (2, 3)], ["src", "dst"])  # doctest: +SKIP
        >>> Graph.from_spark(sdf).num_edges  # doctest: +SKIP
        2
        """
        from ._graph_sources import read_spark

        core, names = read_spark(sdf, src, dst, weight, type, directed)
        return cls(core, names, None if labels is None else pd.Series(labels, dtype=object))

    def to_networkx(self):
        """The graph as a NetworkX Graph or DiGraph (edge attributes weight,
        type); a MultiGraph or MultiDiGraph when some pair has parallel edges.

        >>> Graph.from_edges([1], [2]).to_networkx().number_of_edges()
        1
        """
        import networkx as nx

        if self.is_multigraph:
            G = nx.MultiDiGraph() if self.directed else nx.MultiGraph()
        else:
            G = nx.DiGraph() if self.directed else nx.Graph()
        G.add_nodes_from(self._ids.tolist())
        src, dst, w, t = self._edge_arrays()
        attrs = [{} for _ in range(len(src))]
        if w is not None:
            for a, x in zip(attrs, w.tolist()):
                a["weight"] = x
        if t is not None:
            for a, x in zip(attrs, t.tolist()):
                a["type"] = x
        G.add_edges_from(zip(src.tolist(), dst.tolist(), attrs))
        return G

    def edges(self):
        """The edges as a DataFrame (src, dst, weight, type), undirected ones once.

        >>> Graph.from_edges([1], [2]).edges().shape
        (1, 2)
        """
        src, dst, w, t = self._edge_arrays()
        cols = {"src": src, "dst": dst}
        if w is not None:
            cols["weight"] = w
        if t is not None:
            cols["type"] = t
        return pd.DataFrame(cols)

    def _edge_arrays(self):
        s, d, w, t = self._g.edges()
        types = None
        if t is not None:
            types = np.asarray(self._type_names, dtype=object)[t]
        return self._ids[s], self._ids[d], w, types

    def to_undirected(self):
        """The same nodes with every edge undirected (weights and types kept).

        >>> Graph.from_edges([1], [2], directed=True).to_undirected().directed
        False
        """
        return self._derived(self._g.to_undirected())

    def simplify(self, weight="sum"):
        """One edge per node pair: parallel edges (e.g. a *knows* and a
        *works_at* link between the same two people) merge, their weights
        combined by ``weight`` ('sum', 'max' or 'min'). Path counts, PageRank
        and betweenness then match NetworkX's ``Graph``, which keeps one edge
        per pair.

        >>> Graph.from_edges([1, 1], [2, 2], weight=[0.5, 0.25]).simplify().edges()["weight"].tolist()
        [0.75]
        """
        return self._derived(self._g.simplify(weight))

    @property
    def is_multigraph(self) -> bool:
        """Whether some node pair has more than one edge."""
        return self._g.simplify("sum").num_edges != self.num_edges

    def subgraph(self, nodes, types=None):
        """The subgraph induced by ``nodes``, keeping edges of ``types`` only.

        >>> Graph.from_edges([1, 2], [2, 3]).subgraph([1, 2]).num_edges
        1
        """
        return self._derived(self._g.subgraph(_node_ids(nodes, "subgraph", "nodes"), self._type_codes(types)))

    # ---- size -----------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        return self._g.num_nodes

    @property
    def num_edges(self) -> int:
        return self._g.num_edges

    @property
    def directed(self) -> bool:
        return self._g.directed

    @property
    def weighted(self) -> bool:
        return self._g.weighted

    @property
    def nodes(self) -> pd.Index:
        """Node ids, sorted."""
        return pd.Index(self._ids, name="node")

    @property
    def edge_types(self):
        """The edge type labels, or None when the graph is untyped."""
        return None if self._type_names is None else list(self._type_names)

    def memory_bytes(self, detail=False):
        """Bytes held by the graph; ``detail=True`` splits it per node and per edge.

        >>> Graph.from_edges([1], [2]).memory_bytes() > 0
        True
        """
        topo, attrs = self._g.topology_bytes(), self._g.attribute_bytes()
        if not detail:
            return topo + attrs
        n, m = max(self.num_nodes, 1), max(self.num_edges, 1)
        node_part = self.num_nodes * 16  # id + row offset per node
        return {
            "total": topo + attrs,
            "topology": topo,
            "attributes": attrs,
            "bytes_per_node": node_part / n,
            "bytes_per_edge": (topo - node_part) / m,
            "attribute_bytes_per_edge": attrs / m,
        }

    def __len__(self):
        return self.num_nodes

    def __contains__(self, node):
        if _id_problem(node) is not None:
            return False  # like a dict: 1.5 or "a" is simply not a key
        return bool(self._g.lookup(np.array([int(node)], dtype=np.int64))[0] >= 0)

    def __repr__(self):
        kind = "directed" if self.directed else "undirected"
        return f"<crmcore.Graph {kind}, {self.num_nodes} nodes, {self.num_edges} edges>"

    # ---- helpers ----------------------------------------------------------------
    def _series(self, values, name, index_positions=None):
        ids = self._ids if index_positions is None else self._ids[index_positions]
        return pd.Series(values, index=pd.Index(ids, name="node"), name=name)

    def _nodes(self, positions):
        return pd.Index(self._ids[positions], name="node")

    def _type_codes(self, types):
        if types is None:
            return None
        if self._type_names is None:
            raise ValidationError("types: this graph has no edge types to filter on")
        if isinstance(types, (str, bytes)) or not isinstance(types, Iterable):
            types = [types]
        wanted = set(types)
        return [code for code, name in enumerate(self._type_names) if name in wanted]

    def _dense(self, mapping, where, field):
        """A {node: value} mapping as an array aligned with the node ids."""
        if mapping is None:
            return None
        s = pd.Series(dict(mapping)) if isinstance(mapping, Mapping) else pd.Series(mapping)
        pos = self._positions(s.index, where, field)
        try:
            values = s.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise _invalid(where, field, "values must be numbers") from None
        dense = np.zeros(self.num_nodes, dtype=np.float64)
        np.add.at(dense, pos, values)
        return dense

    def _positions(self, ids, where, field):
        """Dense positions of node ids; NotFound names the first that is not a node."""
        ids = _node_ids(ids, where, field)
        pos = self._g.lookup(ids)
        if (pos < 0).any():
            raise NotFound(f"{where}, field '{field}': node {ids[pos < 0][0]} is not in the graph")
        return pos

    def named(self, values):
        """``values``, a ranking (any Series or DataFrame indexed by node, such as
        ``g.pagerank().nlargest(5)``), as a DataFrame with each node's
        ``name`` first, from :attr:`labels` (missing when unknown).

        >>> g = Graph.from_edges([1, 1], [2, 3], labels={1: "Li Lei", 2: "Acme"})
        >>> g.named(g.degree().nlargest(2)).values.tolist()
        [['Li Lei', 2], ['Acme', 1]]
        """
        frame = values.to_frame() if isinstance(values, pd.Series) else values.copy()
        known = pd.Series(self.labels, dtype=object) if self.labels is not None else pd.Series(dtype=object)
        frame.insert(0, "name", known.reindex(frame.index).astype(object).to_numpy())
        return frame

    # ---- analyses -------------------------------------------------------------------
    def degree(self):
        """Edges at each node (out-edges when directed; a self-loop counts once).

        >>> Graph.from_edges([1, 1], [2, 3]).degree().tolist()
        [2, 1, 1]
        """
        return self._series(self._g.degree(), "degree")

    def pagerank(self, damping=0.85, personalization=None, weight=True, tol=1e-6, max_iter=100,
                 dangling=None, nstart=None):
        """PageRank per node, computed exactly as NetworkX's ``pagerank``.

        ``damping`` is the chance of following an edge (else a jump);
        ``personalization`` ({node: weight}) gives personalized PageRank around
        a seed set; ``weight=False`` ignores edge weights; iteration stops when
        the change is below ``tol`` per node or after ``max_iter`` rounds (then
        refused, as NetworkX does); ``dangling`` ({node: weight}) says where
        nodes without out-edges jump and ``nstart`` ({node: value}) where the
        iteration starts.

        >>> g = Graph.from_edges([1, 2, 3], [2, 3, 1], directed=True)
        >>> int(g.pagerank(personalization={1: 1.0}).idxmax())
        1
        """
        x = self._g.pagerank(_real(damping, "pagerank", "damping"), _real(tol, "pagerank", "tol"),
                             _integer(max_iter, "pagerank", "max_iter"), bool(weight),
                             self._dense(personalization, "pagerank", "personalization"),
                             self._dense(dangling, "pagerank", "dangling"),
                             self._dense(nstart, "pagerank", "nstart"))
        return self._series(x, "pagerank")

    def components(self):
        """Connected component per node (weak for directed graphs); 0 is the largest.

        >>> Graph.from_edges([1, 3], [2, 4], nodes=[5]).components().tolist()
        [0, 0, 1, 1, 2]
        """
        return self._series(self._g.components(), "component")

    def shortest_path_lengths(self, source, weight=False, cutoff=None):
        """Distance from ``source`` to every node it reaches: hops, or with
        ``weight=True`` the summed edge weights (Dijkstra); ``cutoff`` stops
        hop distances at that many hops.

        >>> Graph.from_edges([1, 2], [2, 3]).shortest_path_lengths(1).tolist()
        [0, 1, 2]
        """
        source = _node(source, "shortest_path_lengths", "source")
        cutoff = _integer(cutoff, "shortest_path_lengths", "cutoff", low=0, none=True)
        if weight and self.weighted:
            if cutoff is not None:
                raise _invalid("shortest_path_lengths", "cutoff", "applies to hop distances only")
            d = self._g.dijkstra_distances(source)
            reach = np.flatnonzero(np.isfinite(d))
        else:
            d = self._g.bfs_distances(source, -1 if cutoff is None else cutoff, None)
            reach = np.flatnonzero(d >= 0)
        return self._series(d[reach], "distance", reach)

    def shortest_path(self, a, b, weight=False):
        """Node ids of one shortest path from ``a`` to ``b`` (fewest hops, or
        with ``weight=True`` least summed weight), or None when there is none.

        >>> Graph.from_edges([1, 2, 1], [2, 3, 4]).shortest_path(4, 3)
        [4, 1, 2, 3]
        """
        p = self._g.shortest_path(_node(a, "shortest_path", "a"), _node(b, "shortest_path", "b"), bool(weight))
        return self._ids[p].tolist() if len(p) else None

    def strongest_path(self, a, b):
        """The introduction path from ``a`` to ``b`` maximising the product of
        edge strengths (weights in (0, 1]); returns ``(nodes, strength)``, or
        ``(None, 0.0)`` when ``b`` cannot be reached.

        >>> g = Graph.from_edges([1, 2, 1], [2, 3, 3], weight=[0.9, 0.9, 0.5])
        >>> g.strongest_path(1, 3)[0]
        [1, 2, 3]
        """
        p, strength = self._g.strongest_path(_node(a, "strongest_path", "a"), _node(b, "strongest_path", "b"))
        return (self._ids[p].tolist(), strength) if len(p) else (None, 0.0)

    def neighbors(self, n, types=None):
        """Distinct neighbours of ``n`` (successors when directed), over the
        edge ``types`` given (a type or a list; None: every edge).

        >>> Graph.from_edges([1, 1], [2, 3], types=["knows", "works_at"]).neighbors(1, types="knows").tolist()
        [2]
        """
        return self._nodes(self._g.neighbors(_node(n, "neighbors", "n"), self._type_codes(types)))

    def shared_neighbors(self, a, b, types=None):
        """Nodes other than ``a`` and ``b`` adjacent to both, as NetworkX's
        ``common_neighbors``: a self-loop on ``a`` does not make ``a`` shared.
        ``types`` limits the edges followed (a type or a list; None: all).

        >>> Graph.from_edges([1, 2], [3, 3]).shared_neighbors(1, 2).tolist()
        [3]
        """
        a, b = _node(a, "shared_neighbors", "a"), _node(b, "shared_neighbors", "b")
        return self._nodes(self._g.shared_neighbors(a, b, self._type_codes(types)))

    def hops(self, n, k=1, types=None):
        """Hop distance from ``n`` to every node within ``k`` hops (over ``types``).

        >>> Graph.from_edges([1, 2], [2, 3]).hops(1, k=1).tolist()
        [0, 1]
        """
        k = _integer(k, "hops", "k", low=0)
        d = self._g.bfs_distances(_node(n, "hops", "n"), k, self._type_codes(types))
        reach = np.flatnonzero(d >= 0)
        return self._series(d[reach], "hops", reach)

    def ego(self, n, k=1, types=None):
        """The ego network of ``n``: nodes within ``k`` hops (over the edge
        ``types`` given; None: all) and the edges between them.

        >>> Graph.from_edges([1, 2, 3], [2, 3, 4]).ego(2).nodes.tolist()
        [1, 2, 3]
        """
        within = self.hops(n, k, types).index
        return self.subgraph(within, types)

    def betweenness(self, k=None, seed=None, normalized=True, weight=False, sources=None):
        """Betweenness centrality (Brandes), scaled like NetworkX's.

        Exact by default; ``k`` (1 to the number of nodes) samples that many
        source nodes, drawn with ``seed`` (an integer >= 0), or ``sources``
        names them, for large graphs. ``normalized`` scales as NetworkX
        does; ``weight=True`` measures paths by summed edge weights.

        >>> Graph.from_edges([1, 2], [2, 3]).betweenness().tolist()
        [0.0, 1.0, 0.0]
        """
        if k is not None and sources is not None:
            raise _invalid("betweenness", "sources", "give k (a sample size) or sources, not both")
        k = _integer(k, "betweenness", "k", low=1, high=self.num_nodes, none=True)
        seed = _integer(seed, "betweenness", "seed", low=0, high=None, none=True)
        if k is not None and k < self.num_nodes:
            state = np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0]
            sources = self._ids[self._g.sample_nodes(k, int(state))]
        src = None if sources is None else _node_ids(sources, "betweenness", "sources")
        return self._series(self._g.betweenness(src, bool(weight), bool(normalized)), "betweenness")

    def communities(self, resolution=1.0, seed=0, weight=True, trials=None):
        """Louvain communities: Series node -> community (0 = largest).
        ``resolution`` above 1 favours smaller communities, below 1 larger;
        ``weight=False`` ignores edge weights.

        The modularity is in ``result.attrs["modularity"]``. Louvain is a
        heuristic: each of ``trials`` (>= 1) runs visits nodes in another
        random order drawn from ``seed`` (an integer >= 0) and the best
        partition is kept (default 8 up to a million edges, 2 beyond, where
        each run costs seconds). Directed graphs are treated as undirected.
        Multiplying every weight by one factor (decayed strengths of 1e-15,
        revenues of 1e12) gives the same partition and modularity.

        >>> g = Graph.from_edges([1, 2, 3, 4, 5, 6, 1], [2, 3, 1, 5, 6, 4, 4])
        >>> g.communities().tolist()
        [0, 0, 0, 1, 1, 1]
        """
        resolution = _real(resolution, "communities", "resolution")
        seed = _integer(seed, "communities", "seed", low=0, high=2**64 - 1)
        if trials is None:
            trials = 8 if self.num_edges <= 1_000_000 else 2
        trials = _integer(trials, "communities", "trials")
        labels, q = self._g.louvain(resolution, seed, trials, bool(weight))
        s = self._series(labels, "community")
        s.attrs["modularity"] = q
        return s

    def modularity(self, communities, resolution=1.0, weight=True):
        """Modularity of a partition, as NetworkX defines it.

        ``communities`` is a Series node -> label or a list of node sets; it
        must be a partition (every node exactly once), as NetworkX requires.
        ``resolution`` and ``weight`` as in :meth:`communities`.

        >>> g = Graph.from_edges([1, 3], [2, 4])
        >>> round(g.modularity([{1, 2}, {3, 4}]), 3)
        0.5
        """
        if isinstance(communities, pd.Series):
            codes, _ = pd.factorize(communities)  # labels may be any hashable
            pos = self._positions(communities.index, "modularity", "communities")
            if (codes < 0).any():
                node = communities.index[int(np.flatnonzero(codes < 0)[0])]
                raise _invalid("modularity", "communities", f"node {node} has no label")
            twice = "appears more than once"
        else:
            sets = [self._positions(list(members), "modularity", "communities") for members in communities]
            pos = np.concatenate(sets) if sets else np.empty(0, dtype=np.int64)
            codes = np.repeat(np.arange(len(sets)), [len(p) for p in sets])
            twice = "is in more than one community"
        dup = pd.Index(pos).duplicated()
        if dup.any():
            raise _invalid("modularity", "communities", f"node {self._ids[pos[dup][0]]} {twice}")
        labels = np.full(self.num_nodes, -1, dtype=np.int64)
        labels[pos] = codes
        if (labels < 0).any():
            raise _invalid("modularity", "communities",
                           f"node {self._ids[labels < 0][0]} is in no community; every node needs one")
        return self._g.modularity(labels, _real(resolution, "modularity", "resolution"), bool(weight))

    def similar(self, n, method="jaccard", top=10):
        """The ``top`` nodes (None: all) most similar to ``n`` by shared
        neighbours, 'jaccard' or 'adamic_adar', scored as :meth:`similarity`.

        >>> Graph.from_edges([1, 1, 2, 2], [3, 4, 3, 4]).similar(1).to_dict()
        {2: 1.0}
        """
        n, method, top = _node(n, "similar", "n"), _method(method, "similar"), _top(top, "similar")
        pos, score = self._g.similarity(n, method, top)
        return self._series(score, method, pos)

    def similarity(self, a, b, method="jaccard"):
        """Similarity of each pair (a[i], b[i]) by ``method``, 'jaccard' or
        'adamic_adar', as NetworkX's jaccard_coefficient or adamic_adar_index compute it, self-loops included: a node with a
        self-loop is in its own neighbour set (so in Jaccard's union) but is
        never a common neighbour of a pair it belongs to. Parallel edges
        count once: Adamic-Adar's degree of a common neighbour is its number
        of distinct neighbours (a self-loop counting twice), i.e. NetworkX's
        value on ``nx.Graph(multigraph)`` (NetworkX refuses multigraphs).

        >>> Graph.from_edges([1, 1, 2, 2], [3, 4, 3, 4]).similarity([1], [2]).tolist()
        [1.0]
        """
        a, b = _node_ids(a, "similarity", "a"), _node_ids(b, "similarity", "b")
        return self._g.pair_similarity(a, b, _method(method, "similarity"))

    def plot_ego(self, n, k=1, ax=None, types=None, labels=None):
        """Draws the ego network of ``n`` (``k`` hops, over ``types``) with
        matplotlib: :func:`crmcore.plotting.ego_network`, names from
        ``labels`` (node id -> text; default :attr:`labels`) in any script.
        Returns the axes.

        >>> ax = Graph.from_edges([1, 1], [2, 3], labels={1: "王芳"}).plot_ego(1)
        >>> ax.get_title()
        'ego network of 王芳 (1 hop)'
        """
        from .plotting import ego_network

        return ego_network(self, n, k=k, ax=ax, types=types, labels=self.labels if labels is None else labels)


# ---- the store's relationship analyses -------------------------------------------

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

    def _point(self, as_of):
        """``as_of`` as a Timestamp; by default the point every analysis
        uses, ``db.default_as_of()`` (the end of the data, links included),
        not the clock: a graph and an RFM of the same store describe the
        same moment."""
        return pd.Timestamp(self._as_of(as_of))

    def _links(self, types=None, as_of=None):
        links = self.frame("links")
        if types is not None:
            wanted = [types] if isinstance(types, str) else list(types)
            links = links[links["type"].isin(wanted)]
        return _valid_at(links, self._point(as_of))

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
        cut = self._point(as_of)
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
    def _customer_contacts(self, as_of=None):
        """customer_id, contact_id, role for every valid customer-contact tie,
        from customer_contacts and from works_at links between the two kinds."""
        as_of = self._point(as_of)
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
        cut = self._point(as_of)
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
        cut = self._point(as_of)
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
        out["name_a"] = names.reindex(out["customer_a"]).to_numpy()
        out["name_b"] = names.reindex(out["customer_b"]).to_numpy()
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
        cut = self._point(as_of)
        links = self._links("subsidiary_of", cut)
        parent = _single_parent(links["src"], links["dst"], "subsidiary_of")
        orders = self.frame("orders", columns=["customer_id", "ordered_at", "amount", "status", "staff_id"])
        orders = purchases(orders[(orders["ordered_at"] <= cut).to_numpy(dtype=bool)])
        keep = np.ones(len(orders), dtype=bool)
        if since is not None:
            keep &= (orders["ordered_at"] >= pd.Timestamp(since)).to_numpy(dtype=bool)
        if until is not None:
            keep &= (orders["ordered_at"] < pd.Timestamp(until)).to_numpy(dtype=bool)
        customers = self.frame("customers", columns=["name"])

        def rollup(part, _customers):
            # A total beyond the double range is inf (and so is every
            # ancestor's): reported by the scoring rule instead of numpy's
            # overflow warning.
            with np.errstate(over="ignore", invalid="ignore"):
                revenue = part.groupby("customer_id")["amount"].sum()
                tree = _tree_rollup(customers.index, parent, revenue)
            tree.insert(0, "name", customers["name"].reindex(tree.index).to_numpy())
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
        cut = self._point(as_of)
        links = self._links("referred_by", cut)
        parent = _single_parent(links["src"], links["dst"], "referred_by")
        tree = _tree_rollup(self.frame("customers", columns=[]).index, parent)
        direct = parent.value_counts().reindex(tree.index, fill_value=0)
        out = pd.DataFrame({
            "name": self.names(tree.index)["name"].to_numpy(),
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
        as_of = self._point(as_of)
        it = self.frame("interactions", columns=["customer_id", "contact_id", "staff_id", "channel", "occurred_at"])
        it = it[(it["occurred_at"] <= as_of).to_numpy(dtype=bool)]
        age = (as_of - it["occurred_at"]).dt.total_seconds().to_numpy() / 86400.0
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
        out["src_name"], out["dst_name"] = names[: len(out)], names[len(out):]
        out.attrs.update(_stamped(as_of, it["occurred_at"]))
        return out
