"""The relationship graph: a compact C++ graph over record ids and its analyses.

``Graph`` works on any edge list (NumPy arrays in, pandas objects indexed by
node id out); the store's relationship analyses built on it are
:mod:`crmcore.relationships`.

>>> import crmcore as crm
>>> g = crm.Graph.from_edges([1, 2, 3], [2, 3, 1])
>>> g.pagerank().round(3).tolist()
[0.333, 0.333, 0.333]
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from . import _core
from ._args import _float64, _id_problem, _integer, _invalid, _method, _node, _node_ids, _real, _top
from ._core import NotFound, ValidationError

__all__ = ["Graph"]

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
    def degree(self, direction=None, weight=False):
        """Edges at each node, counted as NetworkX counts them (parallel edges
        each, as its MultiGraph): an undirected self-loop adds 2.

        On a directed graph ``direction`` says which edges: ``"out"`` (the
        default, NetworkX's ``out_degree``: the links a record made, such as
        the referrals it gave), ``"in"`` (``in_degree``) or ``"all"`` (both,
        NetworkX's ``degree``; a self-loop adds 1 to each, 2 to all). An
        undirected graph's edges have no direction: leave it None or
        ``"all"``. ``weight=True`` sums edge weights instead of counting
        (floats; NetworkX's ``weight="weight"``).

        >>> Graph.from_edges([1, 1], [2, 3]).degree().tolist()
        [2, 1, 1]
        >>> Graph.from_edges([1, 2], [1, 1], directed=True).degree("in").tolist()
        [2, 0]
        """
        if direction not in (None, "out", "in", "all"):
            raise _invalid("degree", "direction", f"is 'out', 'in', 'all' or None, not {direction!r}")
        if not self._g.directed and direction in ("out", "in"):
            raise _invalid("degree", "direction", "an undirected graph's edges have no direction: None or 'all'")
        return self._series(self._g.degree(direction or "out", bool(weight)), "degree")

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
