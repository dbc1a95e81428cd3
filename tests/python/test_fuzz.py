"""The libFuzzer targets in tests/fuzz, run briefly on every test run.

scripts/fuzz.sh builds them with clang and the sanitizers (installing clang
when it can) and runs each from the seed corpus; a longer campaign is
``scripts/fuzz.sh 300``. Run only these with ``pytest -m fuzz``.
"""
import fcntl
import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.fuzz

ROOT = pathlib.Path(__file__).resolve().parents[2]
FUZZ = ROOT / "tests" / "fuzz"
TARGETS = sorted(p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.cpp"))
SECONDS_PER_TARGET = 10
# Known findings, one input each, named after the finding (tests/fuzz/README.md).
FINDINGS = sorted(p for p in (FUZZ / "findings").glob("*/*") if p.is_file())
NO_CLANG = 3  # scripts/fuzz.sh: clang with libFuzzer cannot be had


def fuzz_sh(*args, env=None, timeout):
    # cmake and ninja may live only in the virtual environment running pytest.
    path = os.pathsep.join([os.environ.get("PATH", ""), os.path.dirname(sys.executable)])
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "fuzz.sh"), *args],
        cwd=ROOT,
        env={**os.environ, "PATH": path, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def fuzzers():
    # The fuzzers are built in one folder (build/fuzz): under pytest-xdist,
    # workers take turns (the later builds find nothing to do).
    (ROOT / "build").mkdir(exist_ok=True)
    with open(ROOT / "build" / "fuzz.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = fuzz_sh("--build", timeout=900)
    if built.returncode == NO_CLANG:
        pytest.skip("clang++ with -fsanitize=fuzzer is not installed and apt-get could not install it")
    assert built.returncode == 0, built.stdout + built.stderr


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_finds_nothing_new(fuzzers, target):
    """Each target, from its seed corpus, finds no crash, sanitizer report or broken property."""
    run = fuzz_sh(str(SECONDS_PER_TARGET), target, timeout=SECONDS_PER_TARGET + 120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_target_has_seeds():
    assert TARGETS == ["custom_fields", "json_import", "normalize"]
    for target in TARGETS:
        seeds = list((FUZZ / "corpus" / target).iterdir())
        assert seeds, target
    # The corpus stays small enough to read and to replay in seconds.
    assert sum(1 for p in (FUZZ / "corpus").rglob("*") if p.is_file()) < 200


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="a known finding, being fixed: once it passes, move its input to tests/fuzz/corpus/<target>/ "
    "and drop its name from kKnown in tests/fuzz/fuzz_support.hpp",
)
@pytest.mark.parametrize(
    "finding", FINDINGS or [None], ids=[f"{p.parent.name}/{p.name}" for p in FINDINGS] or ["none-open"]
)
def test_known_finding_is_fixed(fuzzers, finding):
    """The input of a known finding, replayed with that finding reported (CRMCORE_FUZZ_STRICT)."""
    if finding is None:
        pytest.skip("no open finding: tests/fuzz/findings/ is empty")
    name = finding.name.split(".")[0]
    run = fuzz_sh("--replay", finding.parent.name, str(finding), env={"CRMCORE_FUZZ_STRICT": name}, timeout=300)
    output = run.stdout + run.stderr
    if run.returncode != 0 and not any(
        sign in output for sign in ("FINDING", "ERROR: AddressSanitizer", "runtime error", "deadly signal")
    ):
        raise RuntimeError(f"the replay failed without a finding:\n{output}")  # not the known failure
    assert run.returncode == 0, output
