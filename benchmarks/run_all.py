"""Runs every benchmark in this folder at its default size, one after another.

Extra arguments are passed to each script (e.g. --help).
"""
import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
failed = []
for script in sorted(here.glob("bench_*.py")):
    print(f"\n=== {script.name} ===", flush=True)
    if subprocess.call([sys.executable, str(script), *sys.argv[1:]]) != 0:
        failed.append(script.name)
if failed:
    sys.exit("failed: " + ", ".join(failed))
