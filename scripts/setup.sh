#!/usr/bin/env bash
# Installs whatever is missing on a fresh machine (Debian, as root or with sudo),
# makes the project's virtual environment in .venv and builds crmcore into it.
# Safe to run again: it only does what is not yet done, and the C++ build
# folder is kept, so a second run recompiles only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# fonts-wqy-microhei (5 MB): Chinese, Japanese and Korean names in crmcore.plotting's pictures.
# openjdk-17-jre-headless: the Java runtime Spark 4 runs on (crmcore.spark's tests, a local session).
# libpq-dev: the PostgreSQL backend's client library; postgresql: the server the tests start on
# loopback in a temporary folder (its binaries are in /usr/lib/postgresql/<version>/bin; no
# cluster of Debian's own is used).
debian_packages=(g++ make libsqlite3-dev nlohmann-json3-dev libgtest-dev python3-venv fonts-wqy-microhei
                 openjdk-17-jre-headless libpq-dev postgresql)
# The 7P report's browser test opens the page in headless Chromium when it is
# installed; it is ~130 packages and 350 MB, so only on request.
[ "${CRMCORE_BROWSER:-0}" = "1" ] && debian_packages+=(chromium)
missing=()
for p in "${debian_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# python3-venv is only needed when the interpreter lacks venv (pyenv builds have it).
if python3 -c "import venv, ensurepip" 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.requirements-stamp
reqs=$(cat requirements-dev.txt requirements-bench.txt ${EXTRA_REQUIREMENTS:-} | sha1sum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$reqs" ]; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt -r requirements-bench.txt
  echo "$reqs" > "$stamp"
fi

echo "setup: building crmcore (C++ core, GoogleTest suites, Python module)"
.venv/bin/python -m pip install -q --no-build-isolation --no-deps \
  -C cmake.define.CRMCORE_BUILD_TESTS=ON -C cmake.define.CRMCORE_BUILD_BENCH_MODULE=ON .
