"""A real PostgreSQL server for the tests, never a mock.

`initdb` into a fresh folder under /tmp, `postgres` on a free loopback port
with its unix socket in that folder, stopped and removed at the end. The
binaries come from CRMCORE_PG_BINDIR, else the newest
/usr/lib/postgresql/<version>/bin (Debian's `postgresql`), else PATH.

The fixture is session-scoped; under pytest-xdist every worker is its own
session, so each starts its own server on its own port and folder.

    def test_x(postgres_dsn):
        psycopg.connect(postgres_dsn)
"""
from __future__ import annotations

import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest


def find_bindir() -> str | None:
    """The folder holding initdb and postgres, or None.

    >>> find_bindir()  # doctest: +SKIP
    '/usr/lib/postgresql/15/bin'
    """
    def has_server(d) -> bool:
        return all(os.access(os.path.join(d, p), os.X_OK) for p in ("initdb", "postgres"))

    env = os.environ.get("CRMCORE_PG_BINDIR")
    if env:
        return env if has_server(env) else None
    versions = []
    for d in pathlib.Path("/usr/lib/postgresql").glob("*/bin"):
        m = re.match(r"\d+", d.parent.name)
        if m and has_server(d):
            versions.append((int(m.group()), str(d)))
    if versions:
        return max(versions)[1]
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb and has_server(os.path.dirname(initdb)) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One server; `start()` then `dsn`, and `stop()` at the end.

    >>> server = PgServer().start()  # doctest: +SKIP
    >>> server.dsn  # doctest: +SKIP
    'host=127.0.0.1 port=41234 user=crm dbname=postgres'
    >>> server.stop()  # doctest: +SKIP
    """

    def __init__(self, settings: dict | None = None) -> None:
        # Server settings beyond the tests' small ones (benchmarks give a larger shared_buffers).
        self.settings = {"max_connections": "30", "shared_buffers": "16MB", **(settings or {})}
        self.bindir = find_bindir()
        self.dir: str | None = None
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._user: dict = {}

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=crm dbname=postgres connect_timeout=10"

    @property
    def url(self) -> str:
        """The same server as a URL, the form crm.open takes."""
        return f"postgresql://crm@127.0.0.1:{self.port}/postgres?connect_timeout=10"

    def _run_as(self) -> dict:
        # postgres refuses to run as root: then it runs as the `postgres` user.
        if os.geteuid() != 0:
            return {}
        for name in ("postgres", "nobody"):
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        raise RuntimeError("running as root and there is no `postgres` user to run the server as")

    def start(self) -> "PgServer":
        if not self.bindir:
            raise FileNotFoundError("no PostgreSQL server binaries (initdb, postgres) found; "
                                    "Debian/Ubuntu: apt-get install postgresql")
        self._user = self._run_as()
        # Under /tmp itself: pytest's own temporary folders are private to root.
        self.dir = tempfile.mkdtemp(prefix="crmcore-pg-")
        if self._user:
            os.chown(self.dir, self._user["user"], self._user["group"])
        data = os.path.join(self.dir, "data")
        done = subprocess.run([os.path.join(self.bindir, "initdb"), "-D", data, "-A", "trust", "-U", "crm",
                               "-E", "UTF8", "--locale=C", "--no-sync"],
                              capture_output=True, text=True, cwd=self.dir, **self._user)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        # A free port may be taken before postgres binds it; then it exits and we try another.
        for _ in range(5):
            self.port = _free_port()
            log = open(os.path.join(self.dir, "server.log"), "w")
            with log:
                self.proc = subprocess.Popen(
                    [os.path.join(self.bindir, "postgres"), "-D", data, "-k", self.dir, "-h", "127.0.0.1",
                     "-p", str(self.port), "-F", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
                     *[a for k, v in self.settings.items() for a in ("-c", f"{k}={v}")]],
                    stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, **self._user)
            if self._wait_ready():
                return self
        raise RuntimeError(f"postgres would not start; see {self.dir}/server.log")

    def _wait_ready(self, timeout: float = 60.0) -> bool:
        pg_isready = os.path.join(self.bindir, "pg_isready")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            ready = subprocess.run([pg_isready, "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "crm",
                                    "-d", "postgres", "-t", "1"], capture_output=True)
            if ready.returncode == 0:
                return True
            time.sleep(0.1)
        self.proc.kill()
        self.proc.wait()
        return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: ends sessions, does not wait for clients
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A running server (one per pytest-xdist worker)."""
    server = PgServer()
    if not server.bindir:
        pytest.skip("PostgreSQL tests skipped: no server binaries (Debian/Ubuntu: apt-get install postgresql)")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server):
    """A running server's libpq connection string."""
    return postgres_server.dsn


@pytest.fixture
def postgres_url(postgres_server, request):
    """A URL of a store of the test's own on the server: a schema named after the test."""
    import hashlib
    schema = "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]
    return f"{postgres_server.url}&schema={schema}"
