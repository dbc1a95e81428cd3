# The two commands a newcomer needs (see README.md):
#   make demo   installs what is missing, builds crmcore and runs the demo
#   make test   installs what is missing, builds crmcore and passes every test
#   make wheel  builds the sdist and a self-contained wheel into dist/
PY := .venv/bin/python

.PHONY: setup demo test test-cpp test-python bench wheel

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m crmcore.demo --customers 20000 --out demo.crm

test: setup
	$(MAKE) test-cpp test-python

test-cpp:
	ctest --test-dir "$$($(PY) scripts/build_dir.py)" --output-on-failure -j2

test-python:
	$(PY) -m pytest -q --numprocesses=auto --maxprocesses=4

bench: setup
	$(PY) benchmarks/run_all.py

wheel: setup
	$(PY) scripts/build_wheel.py --out dist
