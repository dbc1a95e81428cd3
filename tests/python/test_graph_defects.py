"""Defects of crm.Graph found by an adversarial test report (issue 8), each
checked against NetworkX or a hand-worked case: self-loops in the
common-neighbour measures, Louvain and modularity at any weight scale, node
ids that are not int64 values, parallel edges in Adamic-Adar, and parameters
that were refused with a pybind11 TypeError or not at all."""
import itertools
import math
import re

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import crmcore as crm


def looped_pair(seed, n=40, p=0.12, loops=0.3, parallel=False):
    """A random undirected graph with self-loops on about ``loops`` of its
    nodes (and, when ``parallel``, every fifth edge doubled) as
    (networkx Graph of the distinct edges, crm.Graph of every edge)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(n)) * 1009 - 5000
    base = nx.gnp_random_graph(n, p, seed=seed)
    edges = [(int(ids[u]), int(ids[v])) for u, v in base.edges()]
    edges += [(int(ids[u]), int(ids[u])) for u in range(n) if rng.random() < loops]
    if parallel:
        edges += [(v, u) for u, v in edges[::5]]
    G = nx.Graph()
    G.add_nodes_from(int(i) for i in ids)
    G.add_edges_from(edges)
    src, dst = zip(*edges)
    return G, crm.Graph.from_edges(src, dst, nodes=ids)


# ---- 15: self-loops and common neighbours -------------------------------------

def test_a_self_loop_does_not_make_a_node_its_own_common_neighbour():
    # 1 has a self-loop and the edge 1-2, so 1 is in the neighbour sets of
    # both 1 and 2; NetworkX still does not count it as shared.
    G = nx.Graph([(1, 1), (1, 2), (3, 2)])
    g = crm.Graph.from_edges([1, 1, 3], [1, 2, 2])
    ref_j = next(nx.jaccard_coefficient(G, [(1, 2)]))[2]
    ref_aa = next(nx.adamic_adar_index(G, [(1, 2)]))[2]
    assert ref_j == 0 and ref_aa == 0
    assert g.similarity([1], [2]).tolist() == [ref_j]
    assert g.similarity([1], [2], method="adamic_adar").tolist() == [ref_aa]
    assert g.shared_neighbors(1, 2).tolist() == sorted(nx.common_neighbors(G, 1, 2)) == []
    # 3 shares 2 with 1, over the union N(3) | N(1) = {2} | {1, 2}.
    assert next(nx.jaccard_coefficient(G, [(3, 1)]))[2] == 1 / 2
    assert g.similar(3).to_dict() == {1: 1 / 2}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["jaccard", "adamic_adar"])
def test_similarity_with_self_loops_matches_networkx(seed, method):
    G, g = looped_pair(seed)
    nx_fn = nx.jaccard_coefficient if method == "jaccard" else nx.adamic_adar_index
    nodes = list(G.nodes())
    for u in nodes:
        ref = {v: s for _, v, s in nx_fn(G, [(u, v) for v in nodes if v != u]) if s > 0}
        ours = g.similar(u, method=method, top=None)
        assert ours.to_dict() == pytest.approx(ref, rel=1e-12)
    pairs = list(itertools.combinations(nodes, 2))
    if method == "jaccard":
        pairs += [(u, u) for u in nodes]  # a node against itself (NetworkX divides by zero for Adamic-Adar)
    a, b = zip(*pairs)
    ref = [s for _, _, s in nx_fn(G, pairs)]
    np.testing.assert_allclose(g.similarity(a, b, method=method), ref, rtol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_shared_neighbors_with_self_loops_match_networkx(seed):
    G, g = looped_pair(seed, p=0.2)
    nodes = list(G.nodes())
    for a, b in itertools.product(nodes[:15], repeat=2):
        assert g.shared_neighbors(a, b).tolist() == sorted(nx.common_neighbors(G, a, b))


# ---- 18b: parallel edges in Adamic-Adar -----------------------------------------

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method", ["jaccard", "adamic_adar"])
def test_parallel_edges_collapse_like_networkx_graph(seed, method):
    # NetworkX refuses multigraphs here; crmcore scores the graph with the
    # parallel edges collapsed, which is nx.Graph(multigraph).
    G, g = looped_pair(seed, loops=0.2, parallel=True)
    assert g.is_multigraph
    nx_fn = nx.jaccard_coefficient if method == "jaccard" else nx.adamic_adar_index
    nodes = list(G.nodes())
    for u in nodes[:15]:
        ref = {v: s for _, v, s in nx_fn(G, [(u, v) for v in nodes if v != u]) if s > 0}
        assert g.similar(u, method=method, top=None).to_dict() == pytest.approx(ref, rel=1e-12)
    pairs = list(itertools.combinations(nodes[:20], 2))
    a, b = zip(*pairs)
    np.testing.assert_allclose(g.similarity(a, b, method=method), [s for *_, s in nx_fn(G, pairs)],
                               rtol=1e-12)


def test_adamic_adar_degree_of_a_doubled_edge_by_hand():
    # 3 is the common neighbour of 1 and 2; the edge 3-1 is given twice, so
    # 3 has three edges but two distinct neighbours: 1 / log 2.
    g = crm.Graph.from_edges([1, 1, 2], [3, 3, 3])
    assert g.similarity([1], [2], method="adamic_adar")[0] == pytest.approx(1 / math.log(2))
    assert g.similar(1, method="adamic_adar").to_dict() == {2: pytest.approx(1 / math.log(2))}


# ---- 16: Louvain and modularity at any weight scale --------------------------------

def scaled(G, s):
    H = G.__class__()
    H.add_nodes_from(G)
    H.add_weighted_edges_from((u, v, d.get("weight", 1.0) * s) for u, v, d in G.edges(data=True))
    return H


def weighted_random(seed):
    G = nx.gnp_random_graph(80, 0.08, seed=seed)
    rng = np.random.default_rng(seed)
    for u, v in G.edges():
        G[u][v]["weight"] = float(rng.uniform(0.05, 1.0))
    return G


@pytest.mark.parametrize("make", [lambda: nx.karate_club_graph(), lambda: weighted_random(3),
                                  lambda: weighted_random(4)], ids=["karate", "random-3", "random-4"])
def test_louvain_is_scale_invariant(make):
    G = make()
    base = crm.Graph.from_networkx(G).communities(seed=1)
    assert base.nunique() > 1
    base_q = nx.community.modularity(G, [set(c.index) for _, c in base.groupby(base)])
    for s in (1e-300, 1e-15, 1e-13, 1e-12, 1e12, 1e300):
        H = scaled(G, s)
        g = crm.Graph.from_networkx(H)
        ours = g.communities(seed=1)
        assert ours.equals(base), s
        assert ours.attrs["modularity"] == pytest.approx(base_q, abs=1e-12)
        parts = [set(c.index) for _, c in ours.groupby(ours)]
        assert g.modularity(parts) == pytest.approx(base_q, abs=1e-12)
        if 1e-200 < s < 1e200:  # NetworkX's own sums overflow or underflow beyond
            assert nx.community.modularity(H, parts) == pytest.approx(base_q, abs=1e-12)


@pytest.mark.parametrize("directed", [False, True])
def test_modularity_is_scale_invariant(directed):
    G = nx.gnp_random_graph(50, 0.1, seed=5, directed=directed)
    for u, v in G.edges():
        G[u][v]["weight"] = 1.0 + (u * v) % 3
    parts = [set(range(i, 50, 3)) for i in range(3)]
    ref = nx.community.modularity(G, parts, resolution=0.7)
    for s in (1e-200, 1e-15, 1.0, 1e15, 1e200):
        g = crm.Graph.from_networkx(scaled(G, s))
        assert g.modularity(parts, resolution=0.7) == pytest.approx(ref, abs=1e-12), s


# ---- 18: node ids that are not int64 values ------------------------------------------

@pytest.mark.parametrize("src,position,shown", [
    ([1.9], 0, "1.9"),
    ([1, 2.5], 1, "2.5"),
    (np.array([1.0, np.nan]), 1, "nan"),
    ([np.inf], 0, "inf"),
    ([1, 2**63], 1, str(2**63)),
    ([2**64], 0, str(2**64)),
    (np.array([5, 2**63], dtype=np.uint64), 1, str(2**63)),
    ([1, "a"], 1, "'a'"),
    ([1, None], 1, "None"),
    (np.array([True, False]), 0, "True"),
    (pd.Series([1, None], dtype="Int64"), 1, "<NA>"),
    ([1, object()], 1, "object"),
], ids=["fraction", "fraction-later", "nan", "inf", "int64-max+1", "2**64", "uint64-big", "string",
        "none", "bool", "pandas-na", "object"])
def test_from_edges_refuses_ids_that_are_not_int64(src, position, shown):
    dst = list(range(100, 100 + len(src)))
    told = rf"{re.escape(shown)}.* at position {position} "
    with pytest.raises(crm.ValidationError, match=rf"from_edges, field 'src': .*{told}"):
        crm.Graph.from_edges(src, dst)
    with pytest.raises(crm.ValidationError, match=rf"field 'dst': .*{told}"):
        crm.Graph.from_edges(dst, src)
    with pytest.raises(crm.ValidationError, match=rf"field 'nodes': .*{told}"):
        crm.Graph.from_edges([1], [2], nodes=src)


def test_from_edges_takes_whole_numbers_of_any_integer_or_float_type():
    g = crm.Graph.from_edges(np.array([1.0, -(2.0**63)]), np.array([2, 2**63 - 1], dtype=np.uint64),
                             nodes=pd.Series([7, 8], dtype="Int64"))
    assert g.nodes.tolist() == [-(2**63), 1, 2, 7, 8, 2**63 - 1]
    # the report's example: 1.9 -> 1.0 used to become a self-loop on 1
    with pytest.raises(crm.ValidationError, match="1.9"):
        crm.Graph.from_edges([1.9], [1.0])


def test_from_networkx_refuses_labels_that_are_not_integers():
    G = nx.Graph([(1, 2), (1.5, 2)])  # 1 and 1.5 used to merge into node 1
    with pytest.raises(crm.ValidationError, match=r"1\.5"):
        crm.Graph.from_networkx(G)
    with pytest.raises(crm.ValidationError, match="convert_node_labels_to_integers"):
        crm.Graph.from_networkx(nx.Graph([("alice", "bob")]))
    g = crm.Graph.from_networkx(nx.Graph([(1.0, 2), (np.int64(3), 2)]))
    assert g.nodes.tolist() == [1, 2, 3]


@pytest.mark.parametrize("call", [
    lambda g: g.neighbors(1.5),
    lambda g: g.shared_neighbors(1, 2.5),
    lambda g: g.hops("1"),
    lambda g: g.shortest_path(1, 3.2),
    lambda g: g.strongest_path(1.1, 3),
    lambda g: g.similar(1.5),
    lambda g: g.similarity([1], [2.5]),
    lambda g: g.subgraph([1, 2.5]),
    lambda g: g.betweenness(sources=[1.5]),
    lambda g: g.pagerank(personalization={1.5: 1.0}),
    lambda g: g.modularity(pd.Series([0, 0, 1], index=[1, 2, 3.5])),
], ids=["neighbors", "shared", "hops", "shortest", "strongest", "similar", "similarity", "subgraph",
        "sources", "personalization", "modularity"])
def test_every_node_argument_refuses_fractional_ids(call):
    g = crm.Graph.from_edges([1, 2], [2, 3], weight=[0.5, 0.5])
    with pytest.raises(crm.ValidationError, match="not an integer node id"):
        call(g)


def test_membership_is_false_for_values_that_cannot_be_node_ids():
    g = crm.Graph.from_edges([1], [2])
    assert 1 in g and 1.0 in g and np.int64(2) in g
    assert 1.5 not in g and "1" not in g and None not in g and 2**70 not in g


# ---- 14: parameters refused with a clear crmcore error --------------------------------

def tiny():
    return crm.Graph.from_edges([1, 2, 3, 4, 5, 6, 1], [2, 3, 1, 5, 6, 4, 4], weight=[0.5] * 7)


BAD = [
    ("betweenness", dict(k=-1), "k"),
    ("betweenness", dict(k=0), "k"),
    ("betweenness", dict(k=7), "k"),
    ("betweenness", dict(k=2.5), "k"),
    ("betweenness", dict(k=2, seed=-1), "seed"),
    ("betweenness", dict(k=2, seed=0.5), "seed"),
    ("betweenness", dict(k=2, sources=[1, 2]), "sources"),
    ("communities", dict(trials=-5), "trials"),
    ("communities", dict(trials=0), "trials"),
    ("communities", dict(trials=1.5), "trials"),
    ("communities", dict(seed=-1), "seed"),
    ("communities", dict(seed=2**64), "seed"),
    ("communities", dict(resolution=0), "resolution"),
    ("communities", dict(resolution=-1.0), "resolution"),
    ("communities", dict(resolution=float("nan")), "resolution"),
    ("communities", dict(resolution="high"), "resolution"),
    ("pagerank", dict(damping=1.5), "damping"),
    ("pagerank", dict(damping=-0.1), "damping"),
    ("pagerank", dict(damping=float("nan")), "damping"),
    ("pagerank", dict(tol=-1e-6), "tol"),
    ("pagerank", dict(tol=0), "tol"),
    ("pagerank", dict(tol=float("nan")), "tol"),
    ("pagerank", dict(max_iter=0), "max_iter"),
    ("pagerank", dict(max_iter=-3), "max_iter"),
    ("pagerank", dict(max_iter=10.5), "max_iter"),
    ("pagerank", dict(max_iter=2**70), "max_iter"),
    ("pagerank", dict(personalization={1: -1.0}), "personalization"),
    ("pagerank", dict(personalization={1: float("nan")}), "personalization"),
    ("similar", dict(n=1, top=-1), "top"),
    ("similar", dict(n=1, top=0), "top"),
    ("similar", dict(n=1, top=2.5), "top"),
    ("similar", dict(n=1, method="cosine"), "method"),
    ("similarity", dict(a=[1], b=[2], method="cosine"), "method"),
    ("similarity", dict(a=[1, 2], b=[2]), "length"),
    ("hops", dict(n=1, k=-1), "k"),
    ("hops", dict(n=1, k=1.5), "k"),
    ("ego", dict(n=1, k=-2), "k"),
    ("shortest_path_lengths", dict(source=1, cutoff=-1), "cutoff"),
    ("shortest_path_lengths", dict(source=1, cutoff=0.5), "cutoff"),
    ("modularity", dict(communities=[{1, 2, 3}, {4, 5, 6}], resolution=float("nan")), "resolution"),
    ("modularity", dict(communities=[{1, 2, 3}, {3, 4, 5, 6}]), "more than one community"),
    ("modularity", dict(communities=pd.Series([0, 0, 0, 1, 1, 1, 1], index=[1, 2, 3, 4, 5, 6, 6])),
     "more than once"),
    ("modularity", dict(communities=pd.Series([0, 0, None, 1, 1, 1], index=[1, 2, 3, 4, 5, 6])), "label"),
    ("simplify", dict(weight="mean"), "weight"),
]


@pytest.mark.parametrize("method,kwargs,field", BAD, ids=[f"{m}-{'-'.join(map(str, k))}-{f}" for m, k, f in BAD])
def test_graph_parameters_are_refused_with_a_clear_error(method, kwargs, field):
    g = tiny()
    with pytest.raises(crm.ValidationError, match=field):
        getattr(g, method)(**kwargs)


def test_boundary_parameters_still_work():
    g = tiny()
    G = g.to_networkx()
    exact = g.betweenness()
    np.testing.assert_allclose(g.betweenness(k=g.num_nodes, seed=0).to_numpy(), exact.to_numpy(), atol=1e-12)
    assert g.communities(trials=1, seed=2**64 - 1).nunique() == 2
    ref = pd.Series(nx.pagerank(G, alpha=1.0, tol=1e-10, max_iter=500)).sort_index()
    np.testing.assert_allclose(g.pagerank(damping=1, tol=1e-10, max_iter=500).to_numpy(), ref.to_numpy(),
                               atol=1e-9)
    assert g.hops(1, k=0).to_dict() == {1: 0}
    assert g.shortest_path_lengths(1, cutoff=0).to_dict() == {1: 0}
    assert len(g.similar(1, top=None)) == len(g.similar(1, top=100))


def test_empty_graph_still_checks_its_parameters():
    empty = crm.Graph.from_edges([], [])
    with pytest.raises(crm.ValidationError, match="damping"):
        empty.pagerank(damping=2)
    with pytest.raises(crm.ValidationError, match="trials"):
        empty.communities(trials=0)


@pytest.fixture(scope="module")
def db():
    db = crm.open(":memory:")
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    tea = db.add("products", sku="T", name="Tea")
    for c in (a, b):
        o = db.add("orders", customer_id=c, ordered_at="2024-01-01", amount=5.0)
        db.add("order_lines", order_id=o, product_id=tea, quantity=1.0, unit_price=5.0)
    s, p = db.add("staff", name="Wang"), db.add("contacts", name="Li Lei")
    db.add("interactions", staff_id=s, contact_id=p, channel="call", occurred_at="2024-05-01")
    db.ids = (a, b)
    return db


DB_BAD = [
    ("relationship_strength", dict(half_life_days=0), "half_life_days"),
    ("relationship_strength", dict(half_life_days=-30), "half_life_days"),
    ("relationship_strength", dict(half_life_days=float("nan")), "half_life_days"),
    ("relationship_strength", dict(half_life_days="90"), "half_life_days"),
    ("relationship_strength", dict(channel_weight={"call": -1.0}), "channel_weight"),
    ("relationship_strength", dict(channel_weight={"call": float("inf")}), "channel_weight"),
    ("similar_customers", dict(customer=0, top=-1), "top"),
    ("similar_customers", dict(customer=0, method="cosine"), "method"),
    ("similar_customers", dict(customer=1.5), "not an integer node id"),
    ("cross_sell", dict(customer=0, top=-1), "top"),
    ("cross_sell", dict(customer=0, neighbors=0), "neighbors"),
    ("cross_sell", dict(customer=0, method="cosine"), "method"),
]


@pytest.mark.parametrize("customer_known", [True, False])
@pytest.mark.parametrize("method,kwargs,field", DB_BAD,
                         ids=[f"{m}-{'-'.join(map(str, k))}" for m, k, _ in DB_BAD])
def test_db_graph_parameters_are_refused_with_a_clear_error(db, method, kwargs, field, customer_known):
    kwargs = dict(kwargs)
    if kwargs.get("customer") == 0:  # a placeholder: a known customer, or one without orders
        kwargs["customer"] = db.ids[0] if customer_known else 10**9
    with pytest.raises(crm.ValidationError, match=field):
        getattr(db, method)(**kwargs)
