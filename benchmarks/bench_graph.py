"""The relationship graph: crmcore against igraph, NetworKit and NetworkX.

Makes one undirected random graph with NumPy (default 1,000,000 nodes and
10,000,000 edges; half the edge ends drawn from a heavy-tailed distribution so
that there are hubs, as in a real contact graph), then times on the same edge
arrays, in one process:

  build        edge arrays -> the tool's graph
  pagerank     damping 0.85 (crmcore and NetworkX use NetworkX's stopping rule,
               tol 1e-6; igraph uses PRPACK, NetworKit its own L2 rule)
  components   connected components
  bfs          hop distances from one source to every node
  betweenness  sampled betweenness from k sources (to every target)

All tools run on one thread; times are CPU seconds of the process, the best
of three runs (NetworkX and the builds: one run). By default NetworkX runs on a smaller graph made
the same way (--nx-scale) beside crmcore on that same graph, and its
full-size time is extrapolated linearly in the edge count (each task is
O(n + m), or O(k (n + m)) for betweenness) and marked as such; linear
extrapolation flatters NetworkX, whose per-edge cost grows with the graph.
--nx-full measures NetworkX on the full graph instead (about 6 GB of memory
and a quarter of an hour).

The second part runs the same tasks (plus Louvain communities) on the relationship graph of the synthetic CRM data set
(--crm customers, default 100,000), read from a store with db.graph().

    python benchmarks/bench_graph.py                 # full size
    python benchmarks/bench_graph.py --nx-full       # NetworkX measured at full size too
    python benchmarks/bench_graph.py --scale 0.05    # a quick run
"""
import argparse
import gc
import time

import numpy as np

import crmcore as crm


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def make_edges(n, m, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m, dtype=np.int64)
    # Zipf-like ends: a few nodes (big accounts, busy salespeople) gather many links.
    hubs = np.minimum((rng.pareto(1.2, m // 2) * n / 200).astype(np.int64), n - 1)
    dst = np.concatenate([hubs, rng.integers(0, n, m - m // 2, dtype=np.int64)])
    rng.shuffle(dst)
    # one edge per pair, no self-loops: every tool then sees the same simple graph
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    pairs = np.unique(lo[lo != hi] * n + hi[lo != hi])
    return pairs // n, pairs % n


REPEAT = 3  # best of three for the fast tools; NetworkX once


def timed(fn, repeat=1):
    # CPU time of this process: every tool runs on one thread, and on a
    # shared machine wall time mostly measures the neighbours.
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t)
    return best, result


def run_crmcore(n, src, dst, source, sources):
    out = {}
    before = rss_bytes()
    out["build"], g = timed(lambda: crm.Graph.from_edges(src, dst, nodes=np.arange(n)))
    out["memory"] = g.memory_bytes()
    out["rss"] = rss_bytes() - before
    out["pagerank"], pr = timed(lambda: g.pagerank(), REPEAT)
    # a tight tolerance, closer to the exact solve igraph does
    out["pagerank_tight"], _ = timed(lambda: g.pagerank(tol=1e-12, max_iter=1000), REPEAT)
    out["components"], comp = timed(lambda: g.components(), REPEAT)
    out["bfs"], dist = timed(lambda: g.shortest_path_lengths(source), REPEAT)
    out["betweenness"], _ = timed(lambda: g.betweenness(sources=sources, normalized=False), REPEAT)
    out["check"] = (pr.to_numpy(), int(comp.max()) + 1, len(dist))
    return out


def run_igraph(n, src, dst, source, sources):
    import igraph as ig

    out = {}
    before = rss_bytes()
    out["build"], g = timed(lambda: ig.Graph(n=n, edges=np.column_stack([src, dst]), directed=False))
    out["rss"] = rss_bytes() - before
    out["pagerank"], pr = timed(lambda: g.pagerank(damping=0.85), REPEAT)
    # once: igraph caches that the graph is connected, and later calls skip the work
    out["components"], comp = timed(lambda: g.connected_components())
    out["bfs"], dist = timed(lambda: g.distances(source=source)[0], REPEAT)
    out["betweenness"], _ = timed(lambda: g.betweenness(sources=sources, directed=False), REPEAT)
    out["check"] = (np.asarray(pr), len(comp), sum(d != float("inf") for d in dist))
    return out


def run_networkit(n, src, dst, source, sources):
    import networkit as nk

    nk.setNumberOfThreads(1)
    out = {}
    before = rss_bytes()

    def build():
        g = nk.Graph(n, weighted=False, directed=False)
        g.addEdges((src, dst), addMissing=False, checkMultiEdge=False)
        return g

    out["build"], g = timed(build)
    out["rss"] = rss_bytes() - before

    def pagerank():
        pr = nk.centrality.PageRank(g, damp=0.85, tol=1e-9)
        pr.run()
        return pr.scores()

    def components():
        cc = nk.components.ConnectedComponents(g)
        cc.run()
        return cc.numberOfComponents()

    def bfs():
        b = nk.distance.BFS(g, source, storePaths=False)
        b.run()
        return b.getDistances()

    def betweenness():
        # NetworKit has no from-these-sources betweenness; its sampled
        # estimator with the same number of sources is the closest task.
        e = nk.centrality.EstimateBetweenness(g, len(sources), normalized=False, parallel=False)
        e.run()
        return e.scores()

    out["pagerank"], _ = timed(pagerank, REPEAT)
    out["components"], _ = timed(components, REPEAT)
    out["bfs"], _ = timed(bfs, REPEAT)
    out["betweenness"], _ = timed(betweenness, REPEAT)
    return out


def run_networkx(n, src, dst, source, sources):
    import networkx as nx

    out = {}
    before = rss_bytes()

    def build():
        G = nx.Graph()
        G.add_nodes_from(range(n))
        G.add_edges_from(zip(src.tolist(), dst.tolist()))
        return G

    out["build"], G = timed(build)
    out["rss"] = rss_bytes() - before
    out["pagerank"], pr = timed(lambda: nx.pagerank(G, alpha=0.85))
    out["components"], _ = timed(lambda: list(nx.connected_components(G)))
    out["bfs"], _ = timed(lambda: nx.single_source_shortest_path_length(G, source))
    out["betweenness"], _ = timed(lambda: nx.betweenness_centrality_subset(G, sources, list(G), normalized=False))
    out["check"] = np.array([pr[v] for v in range(n)])
    return out


TASKS = ["build", "pagerank", "pagerank_tight", "components", "bfs", "betweenness"]


def seconds(result, task):
    # other tools have one PageRank; crmcore's tight-tolerance run is set against it too
    return result.get(task, result.get(task.replace("_tight", "")))


def table(title, results, base="crmcore"):
    print(f"\n{title}")
    names = list(results)
    print(f"{'task':<15}" + "".join(f"{nm:>14}" for nm in names) + "".join(f"{'x ' + nm:>14}" for nm in names if nm != base))
    for task in TASKS:
        row = f"{task:<15}" + "".join(f"{seconds(results[nm], task):>13.3f}s" for nm in names)
        row += "".join(f"{seconds(results[nm], task) / results[base][task]:>13.1f}x" for nm in names if nm != base)
        print(row)
    print(f"{'memory':<15}" + "".join(f"{results[nm].get('rss', 0) / 2**20:>12.0f}MB" for nm in names) + "   (RSS growth while building)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of 1M nodes / 10M edges")
    ap.add_argument("--nx-scale", type=float, default=0.1, help="fraction of the full size NetworkX runs on")
    ap.add_argument("--nx-full", action="store_true", help="measure NetworkX on the full graph")
    ap.add_argument("--k", type=int, default=8, help="betweenness sources")
    ap.add_argument("--crm", type=int, default=100_000, help="customers in the synthetic CRM graph (0: skip)")
    ap.add_argument("--skip", default="", help="comma-separated tools (or 'random') to leave out")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    if "random" not in skip:
        random_graph(args, skip)
    if args.crm:
        crm_graph(args.crm, args.k, skip)


def random_graph(args, skip):
    n, m = int(1_000_000 * args.scale), int(10_000_000 * args.scale)
    src, dst = make_edges(n, m)
    rng = np.random.default_rng(1)
    sources = rng.choice(n, args.k, replace=False)
    source = int(sources[0])
    print(f"graph: {n:,} nodes, {len(src):,} edges (undirected, hub-heavy), k={args.k} betweenness sources")

    results = {"crmcore": run_crmcore(n, src, dst, source, sources)}
    c = results["crmcore"]
    mem = c["memory"]
    print(f"crmcore graph: {mem / 2**20:.0f} MB = {mem / n:.1f} B/node-and-edge-share; "
          f"{(mem - 16 * n) / len(src):.1f} B per edge + 16 B per node")
    if "igraph" not in skip:
        results["igraph"] = run_igraph(n, src, dst, source, sources)
        ig_pr = results["igraph"]["check"][0]
        print(f"PageRank max |crmcore - igraph| = {np.abs(c['check'][0] - ig_pr).max():.2e}; "
              f"components {c['check'][1]} vs {results['igraph']['check'][1]}; "
              f"reached {c['check'][2]} vs {results['igraph']['check'][2]}")
    if "networkit" not in skip:
        try:
            results["networkit"] = run_networkit(n, src, dst, source, sources)
        except ImportError:
            print("networkit not installed: skipped")
    if args.nx_full and "networkx" not in skip:
        results["networkx"] = run_networkx(n, src, dst, source, sources.tolist())
        diff = np.abs(c["check"][0] - results["networkx"]["check"]).max()
        print(f"PageRank max |crmcore - networkx| = {diff:.1e}")
    table("full size (one thread each)", results)

    if "networkx" not in skip and not args.nx_full:
        ns, ms = int(1_000_000 * args.nx_scale), int(10_000_000 * args.nx_scale)
        s_src, s_dst = make_edges(ns, ms, seed=2)
        s_sources = np.random.default_rng(3).choice(ns, args.k, replace=False)
        small = {
            "crmcore": run_crmcore(ns, s_src, s_dst, int(s_sources[0]), s_sources),
            "networkx": run_networkx(ns, s_src, s_dst, int(s_sources[0]), s_sources.tolist()),
        }
        diff = np.abs(small["crmcore"]["check"][0] - small["networkx"]["check"]).max()
        print(f"\nNetworkX graph: {ns:,} nodes, {len(s_src):,} edges; PageRank max |crmcore - networkx| = {diff:.1e}")
        table("NetworkX-size graph, measured side by side", small)
        factor = len(src) / len(s_src)
        print(f"\nNetworkX extrapolated to the full graph (x{factor:.0f} its measured times, NOT measured):")
        for task in TASKS:
            est = seconds(small["networkx"], task) * factor
            print(f"{task:<15}{est:>12.1f}s  vs crmcore {c[task]:.3f}s  -> {est / c[task]:.0f}x")
        print(f"{'memory':<15}{small['networkx']['rss'] * factor / 2**30:>11.1f}GB  vs crmcore {c['rss'] / 2**30:.2f} GB")


def crm_graph(n_customers, k, skip):
    """The tasks on the relationship graph of the synthetic CRM data set."""
    data = crm.datasets.synthetic(n_customers=n_customers, seed=0)
    db = crm.open(":memory:")
    crm.datasets.load(db, data)
    read, g = timed(lambda: db.graph().simplify("max"))
    ids = g.nodes.to_numpy()
    e = g.edges()
    src, dst = np.searchsorted(ids, e["src"].to_numpy()), np.searchsorted(ids, e["dst"].to_numpy())
    w = e["weight"].to_numpy()
    n = len(ids)
    sources = np.random.default_rng(4).choice(n, 100, replace=False)
    print(f"\nsynthetic CRM graph: {n_customers:,} customers -> {n:,} linked records, {len(src):,} links; "
          f"db.graph() {read:.3f}s; betweenness from 100 sources")
    res, quality = {}, {}
    c = {}
    c["build"], cg = timed(lambda: crm.Graph.from_edges(src, dst, weight=w, nodes=np.arange(n)))
    c["pagerank"], _ = timed(lambda: cg.pagerank(tol=1e-12, max_iter=1000), REPEAT)
    c["components"], _ = timed(lambda: cg.components(), REPEAT)
    c["bfs"], _ = timed(lambda: cg.shortest_path_lengths(int(sources[0])), REPEAT)
    c["betweenness"], _ = timed(lambda: cg.betweenness(sources=sources, normalized=False), REPEAT)
    c["louvain"], one = timed(lambda: cg.communities(trials=1), REPEAT)
    c["louvain_best_of_8"], best = timed(lambda: cg.communities(trials=8), REPEAT)
    res["crmcore"] = c
    quality["crmcore"] = f"{one.attrs['modularity']:.4f} (best of 8: {best.attrs['modularity']:.4f})"
    if "igraph" not in skip:
        import igraph as ig

        r = {}
        r["build"], ig_g = timed(lambda: ig.Graph(n=n, edges=np.column_stack([src, dst]), edge_attrs={"weight": w}))
        r["pagerank"], _ = timed(lambda: ig_g.pagerank(weights="weight"), REPEAT)
        r["components"], _ = timed(lambda: ig_g.connected_components())  # once: igraph caches connectivity
        r["bfs"], _ = timed(lambda: ig_g.distances(source=int(sources[0]))[0], REPEAT)
        r["betweenness"], _ = timed(lambda: ig_g.betweenness(sources=sources.tolist(), directed=False), REPEAT)
        r["louvain"], part = timed(lambda: ig_g.community_multilevel(weights="weight"), REPEAT)
        res["igraph"] = r
        quality["igraph"] = f"{part.modularity:.4f}"
    if "networkx" not in skip:
        import networkx as nx

        x = {}

        def build():
            G = nx.Graph()
            G.add_nodes_from(range(n))
            G.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist()))
            return G

        x["build"], G = timed(build)
        x["pagerank"], _ = timed(lambda: nx.pagerank(G, tol=1e-12, max_iter=1000))
        x["components"], _ = timed(lambda: list(nx.connected_components(G)))
        x["bfs"], _ = timed(lambda: nx.single_source_shortest_path_length(G, int(sources[0])))
        x["betweenness"], _ = timed(lambda: nx.betweenness_centrality_subset(G, sources.tolist(), list(G)))
        x["louvain"], comms = timed(lambda: nx.community.louvain_communities(G, seed=0))
        res["networkx"] = x
        quality["networkx"] = f"{nx.community.modularity(G, comms):.4f}"
    names = list(res)
    tasks = ["build", "pagerank", "components", "bfs", "betweenness", "louvain",
             "louvain_best_of_8"]
    print(f"{'task':<19}" + "".join(f"{nm:>13}" for nm in names) + "".join(f"{'x ' + nm:>13}" for nm in names[1:]))
    for task in tasks:
        row = f"{task:<19}"
        for nm in names:
            t = res[nm].get(task)
            row += f"{t:>12.3f}s" if t is not None else f"{'-':>13}"
        for nm in names[1:]:
            t = res[nm].get(task)
            row += f"{t / c[task]:>12.1f}x" if t is not None else f"{'-':>13}"
        print(row)
    print("modularity: " + ", ".join(f"{nm} {q}" for nm, q in quality.items()))


if __name__ == "__main__":
    main()
