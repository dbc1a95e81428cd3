import pytest
import os

# Running from a source checkout with an in-place build (CRMCORE_INPLACE) works
# too: the installed package wins when both exist.
HERE = os.path.dirname(__file__)


@pytest.fixture
def ctrl_c_handled():
    """Python's own Ctrl-C handler, whatever the test run inherited (a shell
    that starts a job in the background makes it ignore SIGINT, and then a
    simulated Ctrl-C does nothing)."""
    import signal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


# -- the record store through a scoped handle ---------------------------------
# The record-store test files (find, frame, filters, add, update, import,
# delete) run twice: on the unscoped Database, and on the handle of an admin
# in centralized mode (who may see and do everything), so that the scoped
# path is proven to behave as the unscoped one and the two cannot drift apart.
# A file opts in with ``pytestmark = pytest.mark.usefixtures("store_handle")``.
SCOPED_ADMIN = "Scoped Admin (test)"


def _scoped_open(real_open):
    import crmcore as crm

    def open_scoped(path=":memory:", **kwargs):
        user = kwargs.pop("user", None)
        db = real_open(path, **kwargs)
        if user is not None:
            return db.as_user(user)
        if kwargs.get("readonly"):
            return db  # cannot add its admin; a read-only handle is checked unscoped
        staff = db.frame("staff", columns=["name", "role"])
        mine = staff.index[(staff["name"] == SCOPED_ADMIN) & (staff["role"] == "admin")]
        admin = int(mine[0]) if len(mine) else db.add("staff", name=SCOPED_ADMIN, role="admin")
        scoped = db.as_user(admin)
        assert isinstance(scoped._core, crm._core.ScopedStore)
        return scoped

    return open_scoped


@pytest.fixture(scope="module", params=["unscoped", "scoped admin"])
def store_handle(request):
    """Which handle crm.open gives in the module: the Database, or an admin's scoped handle."""
    import crmcore as crm
    import crmcore.store

    if request.param == "unscoped":
        yield request.param
        return
    with pytest.MonkeyPatch.context() as patch:
        scoped = _scoped_open(crmcore.store.open)
        patch.setattr(crm, "open", scoped)
        patch.setattr(crmcore.store, "open", scoped)
        yield request.param


# -- the record store on both engines ------------------------------------------
# A record-store test file that opts in with
# ``pytestmark = pytest.mark.usefixtures("backend", "store_handle")`` runs on
# SQLite and on PostgreSQL (a server started on loopback, pg_server.py): there
# crm.open() of an in-memory store opens a fresh schema instead, while stores
# opened by file path stay SQLite files. A test that cannot pass on PostgreSQL
# yet is named in the file's ``PG_MISSING = {test name: the missing piece}``
# (``"test_name[part]"`` for the cases whose parameters' id holds part)
# and runs as a strict xfail there, so that it says so once the piece exists.
import hashlib  # noqa: E402
import itertools  # noqa: E402
from pg_server import postgres_dsn, postgres_server, postgres_url  # noqa: E402

# The server's fixtures, imported here so that every test file has them
# without importing them itself (an import only a fixture lookup uses is
# "imported but unused" to pyflakes, and a parameter of that name then
# "redefines" it). Naming them in this tuple is the use pyflakes sees.
SERVER_FIXTURES = (postgres_server, postgres_dsn, postgres_url)

# Numbers the schemas of a process's test stores: each store a new one, whichever module opened it.
_SCHEMA_NUMBERS = itertools.count()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request):
    """The engine crm.open's in-memory stores are on in this module."""
    import crmcore as crm
    import crmcore.store

    if request.param == "sqlite":
        yield request.param
        return
    if not crm._core.have_postgres():
        pytest.skip("PostgreSQL runs skipped: this crmcore was built without libpq")
    server = request.getfixturevalue("postgres_server")
    module = request.module.__name__.rsplit(".", 1)[-1]
    # Patched where the store is made, not crm.open, which store_handle wraps:
    # the two fixtures then never undo each other's patch.
    real_init = crmcore.store.Database.__init__

    def init_on_server(self, path=":memory:", **kwargs):
        if path in (":memory:", ""):
            path = f"{server.url}&schema=b_{module}_{os.getpid()}_{next(_SCHEMA_NUMBERS)}"
        real_init(self, path, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crmcore.store.Database, "__init__", init_on_server)
        yield request.param


@pytest.fixture
def store_path(backend, tmp_path, request):
    """(test_audit, test_erasure_scan) Where the test's store lives on the module's engine, reopenable (unlike
    crm.open()'s fresh schema): a file, or a schema of its own on the server."""
    if backend == "sqlite":
        return tmp_path / "s.crm"
    server = request.getfixturevalue("postgres_server")
    return f"{server.url}&schema=a_{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]}"


@pytest.fixture(autouse=True)
def _missing_on_postgres(request):
    """Marks a test its module names in PG_MISSING as a strict xfail on PostgreSQL."""
    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "postgresql":
        # A key "test_name" names every case of the test, "test_name[part]" the cases whose id holds part.
        params = request.node.callspec.id if hasattr(request.node, "callspec") else ""
        missing = next((reason for key, reason in getattr(request.module, "PG_MISSING", {}).items()
                        if key.partition("[")[0] == request.node.originalname
                        and key.partition("[")[2].rstrip("]") in params), None)
        if missing:
            request.applymarker(pytest.mark.xfail(reason=f"not on PostgreSQL yet: {missing}", strict=True))
    yield
