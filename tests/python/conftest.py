import pytest
import os
import sys

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
