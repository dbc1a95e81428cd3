"""crm.Graph.degree against NetworkX's degree, in_degree and out_degree on
random graphs with self-loops and parallel edges (MultiGraph and
MultiDiGraph keep each edge, as crm.Graph does), counted and weighted. An
undirected self-loop counted once where NetworkX counts it twice, and a
directed graph had no in-degree or total degree at all."""
import networkx as nx
import numpy as np
import pytest

import crmcore as crm


def edges(seed, n=30, m=90):
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n) * 7 + 100
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    src[:8] = dst[:8]                                   # self-loops
    src[8:12], dst[8:12] = src[:4], dst[:4]            # a loop twice
    src[12:16], dst[12:16] = src[20:24], dst[20:24]    # parallel edges
    weight = np.round(rng.uniform(0.1, 5.0, m), 2)
    return ids[src], ids[dst], weight, ids


def both(seed, directed):
    src, dst, weight, ids = edges(seed)
    G = nx.MultiDiGraph() if directed else nx.MultiGraph()
    G.add_nodes_from(int(i) for i in ids)
    G.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), weight.tolist()))
    return G, crm.Graph.from_edges(src, dst, weight=weight, directed=directed, nodes=ids)


def as_dict(series):
    return {int(k): v for k, v in series.items()}


@pytest.mark.parametrize("seed", range(4))
def test_undirected_degree_matches_networkx(seed):
    G, g = both(seed, False)
    assert as_dict(g.degree()) == dict(G.degree())
    assert as_dict(g.degree("all")) == dict(G.degree())
    assert as_dict(g.degree(weight=True)) == pytest.approx(dict(G.degree(weight="weight")))
    assert g.degree().dtype == np.int64 and g.degree(weight=True).dtype == np.float64


@pytest.mark.parametrize("seed", range(4))
def test_directed_degrees_match_networkx(seed):
    G, g = both(seed, True)
    for direction, reference in (("out", G.out_degree), (None, G.out_degree), ("in", G.in_degree),
                                 ("all", G.degree)):
        assert as_dict(g.degree(direction)) == dict(reference()), direction
        assert as_dict(g.degree(direction, weight=True)) == pytest.approx(dict(reference(weight="weight")))


def test_a_self_loop_by_hand():
    g = crm.Graph.from_edges([1, 1], [1, 2], weight=[0.5, 2.0])
    assert g.degree().tolist() == [3, 1] and g.degree(weight=True).tolist() == [3.0, 2.0]
    d = crm.Graph.from_edges([1, 1], [1, 2], directed=True)
    assert (d.degree("out").tolist(), d.degree("in").tolist(), d.degree("all").tolist()) == ([2, 0], [1, 1], [3, 1])


def test_a_direction_that_means_nothing_is_refused():
    g = crm.Graph.from_edges([1], [2])
    for bad, graph in (("in", g), ("sideways", g), ("up", crm.Graph.from_edges([1], [2], directed=True))):
        with pytest.raises(crm.ValidationError) as info:
            graph.degree(bad)
        assert (info.value.kind, info.value.field) == ("degree", "direction")
