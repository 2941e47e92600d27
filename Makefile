# Two entry points for a new machine: `make benchmark` and `make test`.
# Every step is idempotent; a second run only re-checks stamps and files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SHARED_CAL := ../shared/data/california_housing/cal_housing.data
FASHION_DEB := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# JAX measured fastest on 2 CPU cores (reports/perf.md); override with KERAS_BACKEND=tensorflow.
export KERAS_BACKEND ?= jax
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: benchmark test test-pythons curves data browser install lint clean-venv

# The standard comparison into results/; reports/ holds the committed fifteen-seed run.
benchmark: install data
	$(PY) -m benchmarks.compare --out results

# The replay benchmark's learning-curve tables (hours on 2 cores; resumable, a rerun goes on).
curves: install data
	$(PY) -m benchmarks.curves build california_housing,fashion_mnist

# Two test processes, one file each at a time (a file's fixtures are built once), each on one
# compute thread (tests/conftest.py); the README gives the measured times. The slowest tests
# are listed at the end, so that every CI log says where the suite's time goes.
test: install data browser
	$(PY) -m pytest -n 2 --dist loadfile --durations=25

# The wrappers, a tiny comparison and the command line's bad inputs under each other supported
# Python (3.12, 3.13), each in a virtualenv of its own; a missing interpreter is skipped with a line.
SMOKE_TESTS := tests/test_wrappers.py tests/test_examples.py tests/test_bad_input.py
test-pythons: data
	@for version in 3.12 3.13; do \
		interpreter=$$(ls $$HOME/.pyenv/versions/$$version.*/bin/python$$version 2>/dev/null | tail -n 1); \
		[ -n "$$interpreter" ] || interpreter=$$(command -v python$$version); \
		if [ -z "$$interpreter" ] || ! $$interpreter -c "" 2>/dev/null; then \
			echo "Python $$version: no interpreter here, smoke tests skipped"; continue; fi; \
		venv=.venv-$$version; \
		test -x $$venv/bin/python || $$interpreter -m venv $$venv; \
		$$venv/bin/python -m pip install --quiet --upgrade pip && $$venv/bin/python -m pip install --quiet -e '.[dev]' || exit 1; \
		echo "Python $$version: smoke tests"; \
		$$venv/bin/python -m pytest -n 2 --dist loadfile -q $(SMOKE_TESTS) || exit 1; \
	done

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Fashion-MNIST from Debian's package (when missing and apt is usable); California
# Housing copied from ../shared when present. Loaders verify every file's sha256.
data:
	@if [ ! -f $(FASHION_DEB) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian package dataset-fashion-mnist"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	fi
	@if [ -f $(SHARED_CAL) ] && ! cmp -s $(SHARED_CAL) data/california_housing/cal_housing.data; then \
		mkdir -p data/california_housing && cp $(SHARED_CAL) data/california_housing/; \
	fi

# Debian's chromium, for the test that renders reports/report.html headless; the test
# skips with a message where it cannot be installed.
browser:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian package chromium (report rendering test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean-venv:
	rm -rf $(VENV)
