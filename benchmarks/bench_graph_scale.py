"""How far one machine goes with the graph (issue 14, "the graph at scale").

Part 1, the largest graph: random undirected edges (a tenth as many nodes as
edges, ids spread over int64) made with NumPy in chunks, built with
Graph.from_edges at each size of --sizes; prints the graph's own bytes per
node and per edge (Graph.memory_bytes), the growth of the process's resident
memory while building, the build time and one pass over the graph
(connected components). Each size runs in a fresh process, so peaks do not
mix.

Part 2, no pandas detour: the same kind of edges stored in a SQLite table
(--table-edges rows), read into a graph by Graph.from_table (the core reads
the rows straight into the graph's arrays) and by pandas.read_sql followed by
Graph.from_edges; each in its own process, so the peak resident memory
(ru_maxrss) of each is its own. The two graphs are checked equal.

    python benchmarks/bench_graph_scale.py                          # 1M and 10M edges, a 2M-row table
    python benchmarks/bench_graph_scale.py --sizes 100000000        # the largest run in the README
"""
import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak():
    """Starts the kernel's count of peak resident memory afresh (Linux >= 4.0),
    so that the next peak_bytes() is the peak of what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def random_edges(m, seed=1, chunk=10_000_000):
    """m edges over m // 10 nodes whose ids are spread over int64, no self-loops."""
    rng = np.random.default_rng(seed)
    n = max(m // 10, 2)
    src, dst = np.empty(m, np.int64), np.empty(m, np.int64)
    for start in range(0, m, chunk):
        k = min(chunk, m - start)
        a = rng.integers(0, n, k)
        b = (a + rng.integers(1, n, k)) % n
        src[start:start + k] = a * 9_000_000_007 + 12345
        dst[start:start + k] = b * 9_000_000_007 + 12345
    return src, dst


def build(m):
    import crmcore as crm

    src, dst = random_edges(m)
    before = rss_bytes()
    reset_peak()
    t, c = time.perf_counter(), time.process_time()
    g = crm.Graph.from_edges(src, dst)
    built, built_cpu = time.perf_counter() - t, time.process_time() - c
    grown, peak = rss_bytes() - before, peak_bytes() - before
    del src, dst
    t = time.perf_counter()
    parts = int(g.components().nunique())
    walk = time.perf_counter() - t
    detail = g.memory_bytes(detail=True)
    return {"edges": m, "nodes": g.num_nodes, "build_s": built, "build_cpu_s": built_cpu, "components_s": walk,
            "components": parts, "build_peak_mb": peak / 1e6,
            "bytes_per_node": detail["bytes_per_node"], "bytes_per_edge": detail["bytes_per_edge"],
            "graph_mb": detail["total"] / 1e6, "rss_growth_mb": grown / 1e6}


def write_table(path, m):
    src, dst = random_edges(m, seed=2)
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE edges(src INTEGER NOT NULL, dst INTEGER NOT NULL)")
        con.executemany("INSERT INTO edges VALUES (?, ?)", zip(src.tolist(), dst.tolist()))


def from_table(path, how):
    import crmcore as crm

    base = rss_bytes()
    reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    if how == "crmcore":
        g = crm.Graph.from_table(path, "edges")
    else:
        import pandas as pd

        with sqlite3.connect(path) as con:
            frame = pd.read_sql("SELECT src, dst FROM edges", con)
        g = crm.Graph.from_edges(frame["src"].to_numpy(), frame["dst"].to_numpy())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    digest = int(g.degree().to_numpy().sum()) + g.num_nodes * 31 + g.num_edges * 7
    return {"how": how, "wall_s": wall, "cpu_s": cpu, "peak_growth_mb": (peak_bytes() - base) / 1e6,
            "nodes": g.num_nodes, "edges": g.num_edges, "digest": digest}


def child(args):
    """Runs one measurement in a fresh process and returns its JSON."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    p.add_argument("--table-edges", type=int, default=2_000_000)
    p.add_argument("--_build", type=int, help=argparse.SUPPRESS)
    p.add_argument("--_table", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._build:
        print(json.dumps(build(a._build)))
        return
    if a._table:
        print(json.dumps(from_table(*a._table)))
        return
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("edges | nodes | build s (CPU s) | components s | bytes/node | bytes/edge | graph MB | RSS kept MB "
          "| peak above the edge arrays MB")
    for m in a.sizes:
        r = child(["--_build", str(m)])
        print(f"{r['edges']:,} | {r['nodes']:,} | {r['build_s']:.2f} ({r['build_cpu_s']:.2f}) | "
              f"{r['components_s']:.2f} | {r['bytes_per_node']:.1f} | {r['bytes_per_edge']:.1f} | "
              f"{r['graph_mb']:.0f} | {r['rss_growth_mb']:.0f} | {r['build_peak_mb']:.0f}")
    if a.table_edges:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "edges.db")
            write_table(path, a.table_edges)
            rows = [child(["--_table", path, how]) for how in ("crmcore", "pandas")]
        if rows[0]["digest"] != rows[1]["digest"]:
            raise SystemExit("the two graphs differ")
        print(f"\nSQLite table of {a.table_edges:,} edges -> graph (same graph both ways)")
        print("method | wall s | CPU s | peak memory growth MB")
        for r in rows:
            name = "Graph.from_table" if r["how"] == "crmcore" else "pandas.read_sql + Graph.from_edges"
            print(f"{name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_growth_mb']:.0f}")
        print(f"ratio pandas / crmcore: wall {rows[1]['wall_s'] / rows[0]['wall_s']:.1f}x, "
              f"peak memory {rows[1]['peak_growth_mb'] / max(rows[0]['peak_growth_mb'], 1):.1f}x")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
