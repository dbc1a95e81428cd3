"""Writes the type stubs of the C++ extension (python/crmcore/_core/*.pyi)
from the built module, so that editors complete and mypy checks calls into
the core. `--check` says whether the committed stubs are those of the built
module (tests/python/test_typing.py runs it): a binding changed without new
stubs fails the suite rather than leaving editors with stale signatures.

    python scripts/make_stubs.py            # rewrite the stubs
    python scripts/make_stubs.py --check    # exit 1 and show the difference
"""
from __future__ import annotations

import argparse
import difflib
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
STUBS = ROOT / "python" / "crmcore" / "_core"


# What the core's error translator sets on each exception it raises
# (cpp/bindings/errors.cpp); the classes themselves declare no attributes.
# Each ValidationError attribute is None on the class: an error raised from
# Python with a message only (the package raises some) has kind and reason None.
ATTRIBUTES = {
    "ValidationError": {"kind": "str | None", "row": "int | None", "field": "str | None", "reason": "str | None",
                        "record_id": "int | None"},
    "InterruptedAfterCommit": {"result": "typing.Any"},
}


def exception_stub(name: str) -> str:
    """The class line of an exception the core registers: pybind11-stubgen
    writes an import from `crmcore` (where the classes are re-exported),
    which would make the stub depend on the package it describes."""
    from crmcore import _core

    cls = getattr(_core, name)
    bases = ", ".join(b.__name__ for b in cls.__bases__)
    doc = (cls.__doc__ or "").strip().replace('"""', "'''")
    fields = "".join(f"    {field}: {kind}\n" for field, kind in ATTRIBUTES.get(name, {}).items())
    return f'class {name}({bases}):\n    """{doc}"""\n{fields}'


def generated() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "pybind11_stubgen", "crmcore._core", "-o", out,
                        "--numpy-array-use-type-var"], check=True, capture_output=True, text=True)
        files = {}
        for path in sorted(pathlib.Path(out, "crmcore", "_core").glob("*.pyi")):
            text = path.read_text()
            names = re.findall(r"^from crmcore import (\w+)$", text, flags=re.M)
            text = re.sub(r"^from crmcore import \w+\n", "", text, flags=re.M)
            if names:
                # Error first: the others derive from it.
                ordered = sorted(names, key=lambda n: (n != "Error", n))
                classes = "".join(exception_stub(n) for n in ordered)
                text = re.sub(r"^(from \. import .*\n)", lambda m: m.group(1) + classes, text, count=1, flags=re.M)
            files[path.name] = text
        return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed stubs, write nothing")
    check = parser.parse_args().check
    want = generated()
    if check:
        have = {p.name: p.read_text() for p in sorted(STUBS.glob("*.pyi"))}
        if have == want:
            return 0
        for name in sorted(set(want) | set(have)):
            sys.stdout.writelines(difflib.unified_diff(have.get(name, "").splitlines(True),
                                                       want.get(name, "").splitlines(True),
                                                       f"committed/{name}", f"built/{name}"))
        print("\nthe stubs are not those of the built module: run python scripts/make_stubs.py")
        return 1
    STUBS.mkdir(exist_ok=True)
    for stale in STUBS.glob("*.pyi"):
        if stale.name not in want:
            stale.unlink()
    for name, text in want.items():
        (STUBS / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
