"""Graph.from_table (issue 14, "the graph at scale"): the edges of a database
table, read by the C++ core straight into the graph, on a SQLite file and on a
real PostgreSQL server (started on loopback by pg_server.py), checked against
NetworkX built from the same rows by an independent client (sqlite3, psycopg)."""
import sqlite3

import networkx as nx
import numpy as np
import pytest

import crmcore as crm


def random_edges(n_edges=3000, n_nodes=500, seed=11):
    rng = np.random.default_rng(seed)
    src = rng.integers(1, n_nodes, n_edges) * 7 + 10**12  # sparse, large ids
    dst = rng.integers(1, n_nodes, n_edges) * 7 + 10**12
    dst = np.where(dst == src, dst + 7, dst)  # no self-loops: NetworkX counts one twice in a degree
    w = rng.uniform(0.1, 5.0, n_edges).round(3)
    types = rng.choice(["knows", "works_at", "supplier_of"], n_edges)
    return [(int(a), int(b), float(c), str(t)) for a, b, c, t in zip(src, dst, w, types)]


def reference(rows):
    """NetworkX's reading of the same rows: a multigraph, since pairs repeat."""
    G = nx.MultiGraph()
    for a, b, w, t in rows:
        G.add_edge(a, b, weight=w, type=t)
    return G


def same_graph(g, rows):
    G = reference(rows)
    assert g.num_nodes == G.number_of_nodes()
    assert g.num_edges == G.number_of_edges()
    assert {int(k): int(v) for k, v in g.degree().items()} == dict(G.degree())
    assert g.components().nunique() == nx.number_connected_components(G)
    # every edge as read by the other client, with its weight and type
    got = sorted((min(a, b), max(a, b), round(w, 9), t) for a, b, w, t in g.edges().itertuples(index=False))
    want = sorted((min(a, b), max(a, b), round(w, 9), t) for a, b, w, t in rows)
    assert got == want


@pytest.fixture
def sqlite_edges(tmp_path):
    rows = random_edges()
    path = tmp_path / "edges.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE knows(a INTEGER, b INTEGER, w REAL, kind TEXT)")
        con.executemany("INSERT INTO knows VALUES (?, ?, ?, ?)", rows)
    return str(path), rows


def test_a_sqlite_edge_table_becomes_the_graph_networkx_reads(sqlite_edges):
    path, rows = sqlite_edges
    g = crm.Graph.from_table(path, "knows", src="a", dst="b", weight="w", type="kind")
    same_graph(g, rows)
    assert sorted(g.edge_types) == ["knows", "supplier_of", "works_at"]


def test_directed_reading_keeps_direction(sqlite_edges):
    path, rows = sqlite_edges
    g = crm.Graph.from_table(path, "knows", src="a", dst="b", directed=True)
    G = nx.MultiDiGraph([(a, b) for a, b, *_ in rows])
    assert g.directed and g.num_edges == G.number_of_edges()
    got = sorted(map(tuple, g.edges()[["src", "dst"]].to_numpy().tolist()))
    assert got == sorted((a, b) for a, b, *_ in rows) == sorted(G.edges())


@pytest.mark.parametrize("value,column,says", [
    (None, "a", "NULL"),
    ("abc", "a", "not an integer"),
    (2.5, "b", "not an integer"),
])
def test_a_bad_end_is_refused_with_its_row_and_column(tmp_path, value, column, says):
    path = tmp_path / "bad.db"
    rows = [(1, 2), (2, 3), (3, 4)]
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE e(a, b)")
        con.executemany("INSERT INTO e VALUES (?, ?)", rows)
        con.execute(f"UPDATE e SET {column} = ? WHERE rowid = 3", (value,))
    with pytest.raises(crm.ValidationError, match=says) as e:
        crm.Graph.from_table(str(path), "e", src="a", dst="b")
    assert e.value.row == 2 and e.value.field == column


def test_a_weight_that_is_text_is_refused(tmp_path):
    path = tmp_path / "w.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE e(a INTEGER, b INTEGER, w)")
        con.executemany("INSERT INTO e VALUES (?, ?, ?)", [(1, 2, 1.0), (2, 3, "heavy")])
    with pytest.raises(crm.ValidationError, match="not a number") as e:
        crm.Graph.from_table(str(path), "e", src="a", dst="b", weight="w")
    assert e.value.row == 1 and e.value.field == "w"


@pytest.mark.parametrize("table,src", [
    ("e; DROP TABLE e", "a"),
    ("e", "a FROM e; --"),
    ("e", 'a"'),
    ("x.y.z", "a"),
])
def test_names_are_identifiers_never_sql_text(tmp_path, table, src):
    path = tmp_path / "names.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE e(a INTEGER, b INTEGER)")
        con.execute("INSERT INTO e VALUES (1, 2)")
    with pytest.raises(crm.ValidationError, match="identifier"):
        crm.Graph.from_table(str(path), table, src=src, dst="b")
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM e").fetchone() == (1,)


def test_an_empty_table_is_an_empty_graph(tmp_path):
    path = tmp_path / "empty.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE e(src INTEGER, dst INTEGER)")
    g = crm.Graph.from_table(str(path), "e")
    assert g.num_nodes == 0 and g.num_edges == 0


def test_more_than_256_types_is_refused(tmp_path):
    path = tmp_path / "types.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE e(src INTEGER, dst INTEGER, t TEXT)")
        con.executemany("INSERT INTO e VALUES (?, ?, ?)", [(i, i + 1, f"t{i}") for i in range(300)])
    with pytest.raises(crm.ValidationError, match="256") as e:
        crm.Graph.from_table(str(path), "e", type="t")
    assert e.value.row == 256


def test_reading_neither_makes_nor_changes_a_file(tmp_path):
    missing = tmp_path / "typo.db"
    with pytest.raises(crm.Error, match="unable to open"):
        crm.Graph.from_table(str(missing), "edges")
    assert not missing.exists()
    path = tmp_path / "theirs.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE edges(src INTEGER, dst INTEGER)")
        con.execute("INSERT INTO edges VALUES (1, 2)")
    assert crm.Graph.from_table(str(path), "edges").num_edges == 1
    with sqlite3.connect(path) as con:  # the owner's journal mode, not crmcore's WAL
        assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert not (tmp_path / "theirs.db-wal").exists()


def test_a_missing_table_says_so(tmp_path):
    path = tmp_path / "none.db"
    sqlite3.connect(path).close()
    with pytest.raises(crm.Error, match="no such table"):
        crm.Graph.from_table(str(path), "edges")


def test_a_postgresql_edge_table_becomes_the_same_graph(postgres_server):  # noqa: F811
    psycopg = pytest.importorskip("psycopg")
    if not crm._core.have_postgres():
        pytest.skip("built without libpq")
    rows = random_edges(n_edges=70_000, n_nodes=5000, seed=3)  # more than one chunk of the cursor
    with psycopg.connect(postgres_server.dsn, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS graph_src CASCADE")
        con.execute("CREATE SCHEMA graph_src")
        con.execute("CREATE TABLE graph_src.knows(a bigint, b bigint, w double precision, kind text)")
        with con.cursor().copy("COPY graph_src.knows FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
    g = crm.Graph.from_table(postgres_server.url + "&schema=graph_src", "knows", src="a", dst="b",
                             weight="w", type="kind")
    same_graph(g, rows)
    qualified = crm.Graph.from_table(postgres_server.url, "graph_src.knows", src="a", dst="b")
    assert qualified.num_edges == len(rows)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as con:
        con.execute("INSERT INTO graph_src.knows VALUES (1, NULL, 1.0, 'knows')")
        con.execute("CREATE TABLE graph_src.texty(a text, b bigint)")
        con.execute("INSERT INTO graph_src.texty VALUES ('12', 1), ('x7', 2)")
    with pytest.raises(crm.ValidationError, match="NULL") as e:
        crm.Graph.from_table(postgres_server.url + "&schema=graph_src", "knows", src="a", dst="b")
    assert e.value.field == "b"
    with pytest.raises(crm.ValidationError, match="not an integer") as e:
        crm.Graph.from_table(postgres_server.url + "&schema=graph_src", "texty", src="a", dst="b")
    assert e.value.row == 1 and e.value.field == "a"
