"""`crm.show_versions()`: what crmcore runs with, to paste into a bug report."""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys

from . import _core

__all__ = ["show_versions", "versions"]

# Packages that change what crmcore does when present.
_OPTIONAL = ("tqdm", "matplotlib", "networkx")


def _installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict:
    """The versions :func:`show_versions` prints, as a dict.

    ``sqlite`` is the library the C++ core really runs with (asked from C++,
    not from Python's own ``sqlite3`` module, which may load another one),
    and ``sqlite library`` the file it was loaded from.

    >>> sorted(versions())[:3]
    ['c++ standard', 'compiler', 'crmcore']
    """
    import numpy
    import pandas

    built = _core.build_info()
    out = {
        "crmcore": _core.__version__,
        "sqlite": built["sqlite"],
        # realpath: a wheel's extension finds its SQLite through crmcore/../crmcore.libs.
        "sqlite library": os.path.realpath(built["sqlite_file"]) if built["sqlite_file"] else "linked into the core",
        "nlohmann-json": built["json"],
        "compiler": built["compiler"],
        "c++ standard": str(built["cplusplus"]),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "python": sys.version.replace("\n", " "),
        "platform": platform.platform(),
    }
    if built["sqlite_headers"] != built["sqlite"]:
        out["sqlite headers"] = built["sqlite_headers"]
    for name in _OPTIONAL:
        out[name] = _installed(name)
    return out


def show_versions(as_json: bool = False) -> None:
    """Prints crmcore's version and those of what it was built with and runs on.

    Paste the output into a bug report. ``as_json=True`` prints one JSON object.

    >>> show_versions()  # doctest: +ELLIPSIS
    crmcore        ...
    sqlite         ...
    """
    info = versions()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    width = max(map(len, info)) + 2
    for name, value in info.items():
        print(f"{name:<{width}}{value}")
