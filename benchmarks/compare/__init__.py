"""Compare search methods on the benchmark datasets under equal budgets.

    python -m benchmarks.compare                      # the standard profile, into reports/
    python -m benchmarks.compare --profile smoke      # a few minutes, into reports/smoke/
    python -m benchmarks.compare --datasets california_housing --methods random,bayes --seeds 3

Every finished trial and cell is committed to ``<out>/results.sqlite`` as it completes;
a rerun skips finished cells (``--resume``, the default) unless ``--fresh`` is given.
``<out>/comparison.csv`` (one row per dataset, method and seed) and ``<out>/trials.csv``
(one row per trial) are rewritten atomically after each cell.
"""

from benchmarks.compare.cli import main

__all__ = ["main"]
