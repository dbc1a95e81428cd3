"""mypy passes on the package (issue 13, item 6): the annotations that
editors read (py.typed ships with the package) agree with the code. mypy is
pinned in requirements-dev.txt; the check takes seconds with its cache."""
import pathlib

import pytest

mypy_api = pytest.importorskip("mypy.api")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_mypy_passes_on_the_package(monkeypatch):
    monkeypatch.chdir(ROOT)  # the [tool.mypy] section of pyproject.toml names the files
    out, err, status = mypy_api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                     "--cache-dir", str(ROOT / ".mypy_cache")])
    assert status == 0, out + err
    assert "Success" in out


def test_the_package_says_it_is_typed():
    assert (ROOT / "python" / "crmcore" / "py.typed").exists()


def test_the_core_s_stubs_are_those_of_the_built_module():
    # Editors and mypy read python/crmcore/_core/*.pyi; a binding added or
    # changed without `python scripts/make_stubs.py` would leave them stale.
    pytest.importorskip("pybind11_stubgen")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_stubs.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_stubs_declare_every_name_of_the_core():
    from crmcore import _core

    stub = (ROOT / "python" / "crmcore" / "_core" / "__init__.pyi").read_text()
    public = [n for n in dir(_core) if not n.startswith("_")]
    assert public and [n for n in public if f"{n}" not in stub] == []


def test_pyflakes_finds_nothing():
    # Unused imports, undefined names and redefinitions, over all the
    # project's Python (pyflakes is pinned in requirements-dev.txt).
    import io

    flakes_api = pytest.importorskip("pyflakes.api")
    from pyflakes.reporter import Reporter

    out, err = io.StringIO(), io.StringIO()
    count = flakes_api.checkRecursive([str(ROOT / d) for d in ("python", "benchmarks", "scripts", "tests")],
                                      Reporter(out, err))
    assert count == 0 and not err.getvalue(), out.getvalue() + err.getvalue()
