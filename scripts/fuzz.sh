#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and
# UBSan in build/fuzz, and runs each for a bounded time from the seed corpus.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    fuzz each target SECONDS (default 20)
#   scripts/fuzz.sh --build                  only build
#   scripts/fuzz.sh --replay TARGET FILE...  run TARGET once on each FILE
#
# Exits 1 on a finding (the input is saved in build/fuzz/findings/<target>/),
# 2 when the build fails, 3 when clang with libFuzzer cannot be had; a
# replay exits as libFuzzer does (77 on a crash). Findings already reported
# are looked past (tests/fuzz/README.md): CRMCORE_FUZZ_STRICT=1 reports them
# too, CRMCORE_FUZZ_STRICT=name,... only those named.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${CRMCORE_FUZZ_BUILD_DIR:-build/fuzz}
# Inputs stay below 4 KiB: every branch of these parsers is reached by short
# texts, and longer ones only slow the search.
max_len=4096

# clang and its compiler-rt (libFuzzer and the sanitizers), installed like
# scripts/setup.sh installs the rest when a test compile says they are missing.
can_build_fuzzer() {
  local probe
  probe=$(mktemp -d)
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe/probe.cpp"
  clang++ -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" >/dev/null 2>&1
  local ok=$?
  rm -rf "$probe"
  return $ok
}
if ! command -v clang++ >/dev/null 2>&1 || ! can_build_fuzzer; then
  echo "fuzz: installing clang and libFuzzer (Debian packages clang, libclang-rt-dev)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo -n"
  { $sudo_cmd apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq clang libclang-rt-dev >/dev/null; } || true
  if ! command -v clang++ >/dev/null 2>&1 || ! can_build_fuzzer; then
    echo "fuzz: clang++ with -fsanitize=fuzzer is not available and could not be installed" >&2
    exit 3
  fi
fi

# cmake and ninja come with the project's virtual environment when the system lacks them.
[ -d .venv/bin ] && PATH="$PATH:$PWD/.venv/bin"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
quiet() {  # runs a build step, showing its output only when it fails
  local out
  if ! out=$("$@" 2>&1); then
    echo "$out" >&2
    echo "fuzz: the build failed: $*" >&2
    exit 2
  fi
}
if [ ! -f "$build/CMakeCache.txt" ]; then
  quiet cmake -S . -B "$build" "${generator[@]}" "${launcher[@]}" -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRMCORE_BUILD_FUZZERS=ON -DCRMCORE_BUILD_PYTHON=OFF \
    -DCRMCORE_BUILD_TESTS=OFF
fi
# A replay uses the targets as built (the test suite builds them once first).
if [ "${1:-}" != --replay ] || [ ! -x "$build/tests/fuzz/fuzz_${2:-}" ]; then
  quiet cmake --build "$build" --target crmcore_fuzzers -j "${CRMCORE_FUZZ_BUILD_JOBS:-2}"
fi

# The sanitizers stop at the first report, with a stack that names the code.
asan_options="detect_leaks=1"
export ASAN_OPTIONS="$asan_options" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

dict_of() {  # the dictionary of a target: JSON tokens, or the pieces of dates and phones
  case "$1" in
    normalize) echo tests/fuzz/normalize.dict ;;
    *) echo tests/fuzz/json.dict ;;
  esac
}

case "${1:-}" in
  --build) exit 0 ;;
  --replay)
    target=$2
    shift 2
    exec "$build/tests/fuzz/fuzz_$target" -rss_limit_mb=2048 -timeout=30 "$@"
    ;;
esac

seconds=${1:-20}
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  for source in tests/fuzz/fuzz_*.cpp; do
    name=$(basename "$source" .cpp)
    targets+=("${name#fuzz_}")
  done
fi

failed=()
for target in "${targets[@]}"; do
  # New inputs go to a scratch corpus in the build folder; the seeds in the
  # repository are read, never written.
  work="$build/corpus/$target"
  findings="$build/findings/$target"
  log="$build/logs/$target.log"
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  set +e
  "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=$max_len -rss_limit_mb=2048 \
    -timeout=10 -dict="$(dict_of "$target")" -artifact_prefix="$findings/" -print_final_stats=1 \
    "$work" "tests/fuzz/corpus/$target" >"$log" 2>&1
  rc=$?
  set -e
  stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | tr -s ' \t' ' ')
  echo "fuzz $target: ${stats:-no progress line} (log $log)"
  grep -E '^==crmcore-fuzz== known finding' "$log" | sort -u | sed 's/^/  /' || true
  if [ $rc -ne 0 ]; then
    failed+=("$target")
    echo "FINDING in $target (exit $rc):" >&2
    grep -E 'FINDING|ERROR:|SUMMARY:|runtime error|Test unit written' "$log" | head -8 | sed 's/^/  /' >&2
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}; inputs in $build/findings/" >&2
  exit 1
fi
