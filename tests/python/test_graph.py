"""crm.Graph checked against NetworkX (the independent reference) on random
graphs: directed and undirected, weighted and not, with isolated nodes and
scattered int64 ids."""
import itertools
import math
import random

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

CASES = [(directed, weighted) for directed in (False, True) for weighted in (False, True)]
CASE_IDS = [f"{'directed' if d else 'undirected'}-{'weighted' if w else 'unweighted'}" for d, w in CASES]


def random_pair(n=60, p=0.06, directed=False, weighted=False, seed=0, isolated=5, integer_weights=False):
    """The same random graph as (networkx graph, crm.Graph). Node ids are
    scattered int64 values (some negative, some beyond 2**32); a few nodes
    have no edges."""
    rng = np.random.default_rng(seed)
    draws = np.unique(rng.integers(-(2**28), 2**28, size=3 * (n + isolated)))
    ids = rng.permutation(draws)[: n + isolated] * 7919  # spread over +-2**41
    base = nx.gnp_random_graph(n, p, seed=seed, directed=directed)
    G = nx.DiGraph() if directed else nx.Graph()
    G.add_nodes_from(int(i) for i in ids)
    src, dst, w = [], [], []
    for u, v in base.edges():
        a, b = int(ids[u]), int(ids[v])
        weight = float(rng.integers(1, 4)) if integer_weights else float(rng.uniform(0.05, 1.0))
        src.append(a)
        dst.append(b)
        w.append(weight)
        if weighted:
            G.add_edge(a, b, weight=weight)
        else:
            G.add_edge(a, b)
    g = crm.Graph.from_edges(src, dst, weight=w if weighted else None, directed=directed, nodes=ids)
    return G, g


def as_series(d):
    return pd.Series(d, dtype=float).sort_index()


def partition(labels: pd.Series):
    return {frozenset(group.index) for _, group in labels.groupby(labels)}


@pytest.mark.parametrize("directed,weighted", CASES, ids=CASE_IDS)
def test_pagerank_matches_networkx(directed, weighted):
    G, g = random_pair(directed=directed, weighted=weighted, seed=1)
    ours = g.pagerank(weight=weighted)
    ref = as_series(nx.pagerank(G, weight="weight" if weighted else None))
    assert ours.index.equals(ref.index)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-8)


@pytest.mark.parametrize("directed", [False, True])
def test_personalized_pagerank_matches_networkx(directed):
    G, g = random_pair(directed=directed, weighted=True, seed=2)
    seeds = list(G.nodes())[:3]
    pers = {seeds[0]: 1.0, seeds[1]: 2.0, seeds[2]: 0.5}
    ours = g.pagerank(damping=0.7, personalization=pers)
    ref = as_series(nx.pagerank(G, alpha=0.7, personalization=pers))
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-8)


def test_pagerank_tight_tolerance_and_unknown_seed():
    G, g = random_pair(directed=True, seed=3)
    ours = g.pagerank(tol=1e-12, max_iter=1000)
    ref = as_series(nx.pagerank(G, tol=1e-12, max_iter=1000))
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-12)
    with pytest.raises(crm.NotFound):
        g.pagerank(personalization={12345: 1.0})
    with pytest.raises(crm.Error, match="converge"):
        g.pagerank(max_iter=2)


@pytest.mark.parametrize("directed", [False, True])
def test_components_match_networkx(directed):
    G, g = random_pair(n=80, p=0.02, directed=directed, seed=4)
    ours = g.components()
    comps = nx.weakly_connected_components(G) if directed else nx.connected_components(G)
    assert partition(ours) == {frozenset(c) for c in comps}
    sizes = ours.value_counts().sort_index()
    assert sizes.is_monotonic_decreasing  # label 0 is the largest


@pytest.mark.parametrize("directed,weighted", CASES, ids=CASE_IDS)
def test_shortest_path_lengths_match_networkx(directed, weighted):
    G, g = random_pair(directed=directed, weighted=weighted, seed=5)
    for source in list(G.nodes())[:8]:
        ours = g.shortest_path_lengths(source, weight=weighted)
        if weighted:
            ref = nx.single_source_dijkstra_path_length(G, source, weight="weight")
        else:
            ref = nx.single_source_shortest_path_length(G, source)
        ref = as_series(ref)
        assert ours.index.equals(ref.index)
        np.testing.assert_allclose(ours.to_numpy(dtype=float), ref.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("directed,weighted", CASES, ids=CASE_IDS)
def test_shortest_path_is_a_shortest_path(directed, weighted):
    G, g = random_pair(directed=directed, weighted=weighted, seed=6)
    nodes = list(G.nodes())
    w = "weight" if weighted else None
    for a, b in itertools.islice(itertools.permutations(nodes[:12], 2), 60):
        path = g.shortest_path(a, b, weight=weighted)
        if not nx.has_path(G, a, b):
            assert path is None
            continue
        assert path[0] == a and path[-1] == b
        assert nx.is_path(G, path)
        length = nx.path_weight(G, path, weight=w) if weighted else len(path) - 1
        assert length == pytest.approx(nx.shortest_path_length(G, a, b, weight=w), rel=1e-12)


@pytest.mark.parametrize("directed,weighted", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("normalized", [True, False])
def test_exact_betweenness_matches_networkx(directed, weighted, normalized):
    # integer weights create many equal-length paths, the hard case for counting
    G, g = random_pair(directed=directed, weighted=weighted, seed=7, integer_weights=True)
    ours = g.betweenness(normalized=normalized, weight=weighted)
    ref = as_series(nx.betweenness_centrality(G, normalized=normalized, weight="weight" if weighted else None))
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("normalized", [True, False])
def test_sampled_betweenness_matches_networkx_on_the_same_sources(directed, normalized):
    G, g = random_pair(directed=directed, seed=8)
    k, seed = 15, 42
    # networkx draws its sources this way; hand the same ones to crmcore
    sources = random.Random(seed).sample(list(G.nodes()), k)
    ours = g.betweenness(sources=sources, normalized=normalized)
    ref = as_series(nx.betweenness_centrality(G, k=k, seed=seed, normalized=normalized))
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-9)


def test_sampled_betweenness_with_k_is_seeded_and_all_sources_is_exact():
    G, g = random_pair(seed=9)
    a = g.betweenness(k=10, seed=1)
    assert a.equals(g.betweenness(k=10, seed=1))
    assert not a.equals(g.betweenness(k=10, seed=2))
    exact = as_series(nx.betweenness_centrality(G))
    np.testing.assert_allclose(g.betweenness(k=g.num_nodes).to_numpy(), exact.to_numpy(), atol=1e-9)


def planted(seed):
    G = nx.planted_partition_graph(6, 25, 0.3, 0.02, seed=seed)
    new = {v: 1000 + 3 * v for v in G}
    H = nx.relabel_nodes(G, new)
    H.graph["partition"] = [{new[v] for v in block} for block in G.graph["partition"]]
    return H


@pytest.mark.parametrize("make", [
    lambda s: random_pair(n=150, p=0.04, seed=s)[0],
    lambda s: random_pair(n=150, p=0.04, weighted=True, seed=s)[0],
    planted,
    lambda s: nx.relabel_nodes(nx.karate_club_graph(), lambda v: v * 10 + 1),
    lambda s: nx.powerlaw_cluster_graph(300, 3, 0.3, seed=s),
    lambda s: nx.connected_watts_strogatz_graph(300, 6, 0.1, seed=s),
], ids=["random", "random-weighted", "planted", "karate", "powerlaw-cluster", "small-world"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_louvain_modularity_at_least_networkx(make, seed):
    G = make(seed)
    g = crm.Graph.from_networkx(G)
    ours = g.communities(seed=seed)
    ours_q = nx.community.modularity(G, [set(c) for c in partition(ours)])
    assert ours.attrs["modularity"] == pytest.approx(ours_q, abs=1e-12)
    for nx_seed in range(3):
        ref = nx.community.louvain_communities(G, seed=nx_seed)
        assert ours_q >= nx.community.modularity(G, ref) - 1e-12


@pytest.mark.parametrize("seed", range(4))
def test_louvain_finds_the_planted_blocks_or_better(seed):
    G = planted(seed)
    labels = crm.Graph.from_networkx(G).communities(seed=seed)
    assert labels.nunique() == 6
    # a few boundary nodes may sit better elsewhere than where they were planted
    assert labels.attrs["modularity"] >= nx.community.modularity(G, G.graph["partition"]) - 1e-12


@pytest.mark.parametrize("directed,weighted", CASES, ids=CASE_IDS)
def test_modularity_matches_networkx(directed, weighted):
    G, g = random_pair(directed=directed, weighted=weighted, seed=10)
    nodes = list(G.nodes())
    parts = [set(nodes[i::4]) for i in range(4)]
    ref = nx.community.modularity(G, parts, weight="weight" if weighted else None, resolution=0.8)
    assert g.modularity(parts, resolution=0.8, weight=weighted) == pytest.approx(ref, abs=1e-12)
    labels = pd.Series({v: f"group {i}" for i, c in enumerate(parts) for v in c})
    assert g.modularity(labels, resolution=0.8, weight=weighted) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("method", ["jaccard", "adamic_adar"])
def test_similarity_matches_networkx(method):
    G, g = random_pair(n=80, p=0.08, seed=11)
    nx_fn = nx.jaccard_coefficient if method == "jaccard" else nx.adamic_adar_index
    nodes = list(G.nodes())
    for u in nodes[:10]:
        ref = {v: s for _, v, s in nx_fn(G, [(u, v) for v in nodes if v != u]) if s > 0}
        ours = g.similar(u, method=method, top=None)
        assert set(ours.index) == set(ref)
        np.testing.assert_allclose(ours.sort_index().to_numpy(), as_series(ref).to_numpy(), rtol=1e-12)
        assert ours.is_monotonic_decreasing
        top = g.similar(u, method=method, top=3)
        assert top.equals(ours.iloc[:3])
    pairs = list(itertools.combinations(nodes[:15], 2))
    a, b = zip(*pairs)
    ref = [s for _, _, s in nx_fn(G, pairs)]
    np.testing.assert_allclose(g.similarity(a, b, method=method), ref, rtol=1e-12)


def test_shared_neighbors_and_neighbors_match_networkx():
    G, g = random_pair(n=50, p=0.15, seed=12)
    nodes = list(G.nodes())
    for a, b in itertools.combinations(nodes[:10], 2):
        assert set(g.shared_neighbors(a, b)) == set(nx.common_neighbors(G, a, b))
        assert set(g.neighbors(a)) == set(G[a])


def brute_strongest(G, a, b):
    best = 0.0
    for path in nx.all_simple_paths(G, a, b):
        best = max(best, math.prod(G[u][v]["weight"] for u, v in zip(path, path[1:])))
    return best


@pytest.mark.parametrize("directed", [False, True])
def test_strongest_path_matches_brute_force(directed):
    for seed in range(4):
        G, g = random_pair(n=7, p=0.4, directed=directed, weighted=True, seed=seed, isolated=1)
        for a, b in itertools.permutations(G.nodes(), 2):
            path, strength = g.strongest_path(a, b)
            best = brute_strongest(G, a, b)
            if best == 0.0:
                assert path is None and strength == 0.0
                continue
            assert strength == pytest.approx(best, rel=1e-12)
            assert math.prod(G[u][v]["weight"] for u, v in zip(path, path[1:])) == pytest.approx(best, rel=1e-12)


def test_strongest_path_refuses_strengths_above_one():
    g = crm.Graph.from_edges([1], [2], weight=[2.0])
    with pytest.raises(ValueError, match="strengths"):
        g.strongest_path(1, 2)


def typed_example():
    src = [1, 1, 2, 3, 4, 5]
    dst = [2, 3, 4, 5, 6, 6]
    types = ["knows", "works_at", "knows", "knows", "works_at", "knows"]
    return crm.Graph.from_edges(src, dst, types=types), src, dst, types


def test_neighbors_and_ego_filtered_by_type_match_networkx():
    g, src, dst, types = typed_example()
    G = nx.Graph()
    G.add_edges_from((a, b) for a, b, t in zip(src, dst, types) if t == "knows")
    assert g.neighbors(1, types="knows").tolist() == [2]
    assert g.neighbors(1).tolist() == [2, 3]
    assert g.neighbors(1, types=["nothing"]).tolist() == []
    for k in (1, 2, 3):
        ego = g.ego(1, k=k, types="knows")
        ref = nx.ego_graph(G, 1, radius=k)
        assert set(ego.nodes) == set(ref.nodes)
        assert ego.num_edges == ref.number_of_edges()
    assert g.hops(1, k=2).to_dict() == {1: 0, 2: 1, 3: 1, 4: 2, 5: 2}


def test_ego_of_directed_graph_follows_successors_like_networkx():
    G, g = random_pair(n=40, p=0.08, directed=True, seed=13)
    for n in list(G.nodes())[:5]:
        ref = nx.ego_graph(G, n, radius=2)
        ego = g.ego(n, k=2)
        assert set(ego.nodes) == set(ref.nodes)
        assert ego.num_edges == ref.number_of_edges()


@pytest.mark.parametrize("directed,weighted", CASES, ids=CASE_IDS)
def test_networkx_round_trip(directed, weighted):
    G, g = random_pair(directed=directed, weighted=weighted, seed=14)
    H = g.to_networkx()
    assert H.is_directed() == directed
    assert set(H.nodes) == set(G.nodes)
    assert nx.utils.edges_equal(H.edges(data=True), G.edges(data=True))
    back = crm.Graph.from_networkx(H)
    assert back.num_nodes == g.num_nodes and back.num_edges == g.num_edges
    assert back.edges().sort_values(["src", "dst"]).reset_index(drop=True).equals(
        g.edges().sort_values(["src", "dst"]).reset_index(drop=True))


def test_types_survive_round_trip_and_subgraph():
    g, *_ = typed_example()
    H = g.to_networkx()
    assert H[1][3]["type"] == "works_at"
    assert crm.Graph.from_networkx(H).neighbors(1, types="works_at").tolist() == [3]
    sub = g.subgraph([1, 2, 3, 4], types="knows")
    assert sub.edges()[["src", "dst"]].values.tolist() == [[1, 2], [2, 4]]


def test_memory_within_budget():
    rng = np.random.default_rng(0)
    n, m = 20_000, 200_000
    src = rng.integers(0, n, m) * 3 + 10**12
    dst = rng.integers(0, n, m) * 3 + 10**12
    for directed in (False, True):
        g = crm.Graph.from_edges(src, dst, directed=directed)
        mem = g.memory_bytes(detail=True)
        assert mem["bytes_per_node"] <= 16
        assert mem["bytes_per_edge"] <= 16
        assert mem["attributes"] == 0


def test_errors_name_the_problem():
    g = crm.Graph.from_edges([1, 2], [2, 3])
    with pytest.raises(crm.NotFound, match="node 7"):
        g.pagerank(personalization={7: 1})
    with pytest.raises(KeyError):
        g.shortest_path(1, 7)
    with pytest.raises(ValueError, match="undirected"):
        crm.Graph.from_edges([1], [2], directed=True).similar(1)
    with pytest.raises(ValueError, match="finite"):
        crm.Graph.from_edges([1], [2], weight=[np.nan])
    with pytest.raises(ValueError, match="no edge types"):
        g.neighbors(1, types="knows")
    with pytest.raises(ValueError, match="method"):
        g.similar(1, method="cosine")


def test_empty_and_tiny_graphs():
    g = crm.Graph.from_edges([], [])
    assert g.num_nodes == 0 and g.pagerank().empty and g.components().empty
    single = crm.Graph.from_edges([], [], nodes=[5])
    assert single.pagerank().tolist() == [1.0]
    assert single.betweenness().tolist() == [0.0]
    assert 5 in single and 6 not in single


def multigraph_pair(directed, seed=15):
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, 25, 120) * 11, rng.integers(0, 25, 120) * 11
    keep = src != dst
    src, dst, w = src[keep], dst[keep], rng.uniform(0.1, 1.0, keep.sum())
    G = nx.MultiDiGraph() if directed else nx.MultiGraph()
    G.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist()))
    return G, crm.Graph.from_edges(src, dst, weight=w, directed=directed)


@pytest.mark.parametrize("directed", [False, True])
def test_parallel_edges_pagerank_matches_networkx_multigraph(directed):
    G, g = multigraph_pair(directed)
    assert g.is_multigraph
    H = g.to_networkx()
    assert H.is_multigraph() and H.number_of_edges() == G.number_of_edges()
    np.testing.assert_allclose(g.pagerank().to_numpy(), as_series(nx.pagerank(G)).to_numpy(), atol=1e-8)


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("how", ["sum", "max", "min"])
def test_simplify_merges_parallel_edges_like_a_groupby(directed, how):
    G, g = multigraph_pair(directed)
    e = g.edges()
    if not directed:
        e[["src", "dst"]] = np.sort(e[["src", "dst"]].to_numpy(), axis=1)
    ref = e.groupby(["src", "dst"])["weight"].agg(how)
    s = g.simplify(how)
    assert not s.is_multigraph and s.num_nodes == g.num_nodes
    got = s.edges().set_index(["src", "dst"])["weight"].sort_index()
    assert got.index.equals(ref.index)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-12)
    # the simple graph is the one NetworkX's Graph sees: betweenness agrees
    simple = nx.DiGraph(G) if directed else nx.Graph(G)
    ref_bc = as_series(nx.betweenness_centrality(simple))
    np.testing.assert_allclose(s.betweenness().to_numpy(), ref_bc.to_numpy(), atol=1e-9)


def test_hop_distances_on_a_larger_typed_graph_match_networkx():
    # big and dense enough that the BFS switches to its bottom-up steps
    rng = np.random.default_rng(16)
    n, m = 3000, 15000
    src, dst = rng.integers(0, n, m) * 5 + 7, rng.integers(0, n, m) * 5 + 7
    types = rng.choice(["knows", "works_at", "partner_of"], m)
    g = crm.Graph.from_edges(src, dst, types=types)
    for wanted in (None, ["knows", "works_at"]):
        G = nx.Graph()
        G.add_nodes_from(g.nodes)
        G.add_edges_from((a, b) for a, b, t in zip(src.tolist(), dst.tolist(), types)
                         if wanted is None or t in wanted)
        for source in g.nodes[:3]:
            ref = as_series(nx.single_source_shortest_path_length(G, source))
            ours = g.hops(source, k=n, types=wanted)
            assert ours.index.equals(ref.index)
            assert (ours.to_numpy() == ref.to_numpy()).all()
            far = ref.index[-1]
            path = g.shortest_path(source, far) if wanted is None else None
            if path is not None:
                assert len(path) - 1 == nx.shortest_path_length(G, source, far) and nx.is_path(G, path)


def test_sampled_betweenness_on_a_larger_graph_matches_networkx():
    # dense enough for the bottom-up levels of the path-counting search
    G = nx.gnm_random_graph(3000, 15000, seed=17)
    g = crm.Graph.from_networkx(G)
    sources = random.Random(5).sample(list(G.nodes()), 12)
    ref = as_series(nx.betweenness_centrality(G, k=12, seed=5))
    np.testing.assert_allclose(g.betweenness(sources=sources).to_numpy(), ref.to_numpy(), atol=1e-12)


def test_ctrl_c_interrupts_a_long_computation():
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import numpy as np, crmcore as crm, signal, sys\n"
        # A shell that starts a job in the background makes it ignore SIGINT,
        # and Python then keeps it ignored: ask for Ctrl-C's usual handler.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "rng = np.random.default_rng(0)\n"
        "g = crm.Graph.from_edges(rng.integers(0, 200000, 2000000), rng.integers(0, 200000, 2000000))\n"
        "try:\n"
        "    print('running', flush=True)\n"
        "    g.betweenness()\n"  # exact on 200k nodes: hours
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "running"
        time.sleep(0.5)  # let it get into the C++ loop; any later moment works too
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert out.strip() == "interrupted"


@pytest.mark.parametrize("weighted", [False, True])
def test_betweenness_with_dense_levels_matches_networkx(weighted):
    # hubs fully joined to leaves, plus a node on every hub: from most sources
    # the second level holds most edges, where the path count runs bottom-up
    G = nx.complete_bipartite_graph(40, 40)
    G.add_edges_from((1000, h) for h in range(40))
    G.add_edges_from((2000 + i, 40 + i) for i in range(5))  # a few pendant leaves
    rng = np.random.default_rng(18)
    for u, v in G.edges():
        G[u][v]["weight"] = float(rng.integers(1, 3))
    g = crm.Graph.from_networkx(G) if weighted else crm.Graph.from_networkx(G, weight=None)
    ref = as_series(nx.betweenness_centrality(G, weight="weight" if weighted else None))
    np.testing.assert_allclose(g.betweenness(weight=weighted).to_numpy(), ref.to_numpy(), atol=1e-12)


def test_components_of_a_graph_with_a_giant_component_match_networkx():
    # dense enough that the giant component is swept bottom-up
    G = nx.gnm_random_graph(4000, 9000, seed=19)
    G.add_nodes_from(range(4000, 4050))
    ours = crm.Graph.from_networkx(G).components()
    assert partition(ours) == {frozenset(c) for c in nx.connected_components(G)}
    assert ours.value_counts().iloc[0] == len(max(nx.connected_components(G), key=len))


@pytest.mark.parametrize("seed", range(6))
def test_directed_louvain_modularity_at_least_networkx(seed):
    # Louvain here optimizes on the undirected view; what counts is the
    # directed modularity of the result, compared with NetworkX's directed Louvain.
    import networkx as nx
    from networkx.algorithms.community import louvain_communities, modularity

    if seed % 2:
        G = nx.gnp_random_graph(300, 0.02, seed=seed, directed=True)
    else:
        G = nx.DiGraph(nx.stochastic_block_model([60] * 5, np.where(np.eye(5), 0.15, 0.01), seed=seed,
                                                 directed=True))
    edges = np.array(list(G.edges()), dtype=np.int64)
    g = crm.Graph.from_edges(edges[:, 0], edges[:, 1], directed=True)
    labels = g.communities()
    groups = {}
    for node, label in labels.items():
        groups.setdefault(label, set()).add(node)
    ours = modularity(G, list(groups.values()) + [{n} for n in G.nodes if n not in labels.index])
    for nx_seed in range(3):
        assert ours >= modularity(G, louvain_communities(G, seed=nx_seed)) - 1e-12


def test_docstring_examples_run():
    import doctest

    import crmcore.graph

    result = doctest.testmod(crmcore.graph)
    assert result.attempted > 0 and result.failed == 0
