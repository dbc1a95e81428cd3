"""Prints the CMake build folder that `pip install .` uses (build/{wheel_tag})."""
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
candidates = sorted(
    (p for p in (root / "build").glob("*") if (p / "CTestTestfile.cmake").exists()),
    key=lambda p: p.stat().st_mtime,
)
if not candidates:
    raise SystemExit("no build folder with tests: run scripts/setup.sh first")
print(candidates[-1])
