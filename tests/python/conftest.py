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
