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

.PHONY: benchmark test curves data browser install lint clean-venv

benchmark: install data
	$(PY) -m benchmarks.compare

# The replay benchmark's learning-curve tables (hours on 2 cores; resumable, a rerun goes on).
curves: install data
	$(PY) -m benchmarks.curves build california_housing,fashion_mnist

# Two test processes, one file each at a time (a file's fixtures are built once), each on one
# compute thread (tests/conftest.py); the README gives the measured times. The slowest tests
# are listed at the end, so that every CI log says where the suite's time goes.
test: install data browser
	$(PY) -m pytest -n 2 --dist loadfile --durations=25

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
