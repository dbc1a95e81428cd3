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
