"""Run a one-factor-at-a-time study: every run, its records, its TensorBoard logs and the study report.

    python -m benchmarks.study fashion-ofat                # the full preset on all the data
    python -m benchmarks.study fashion-ofat --scale 0.05   # 5% of the data, for a quick look
    python -m benchmarks.study california-ofat --mlflow    # also log each run to a local MLflow store
    python -m benchmarks.study --list

Writes to ``reports/study/<study>/`` (``reports/study/<study>-scale<scale>/`` with ``--scale``):
``results.csv`` (one row per run, rewritten atomically after each run), ``runs/<run>.toml``,
``tensorboard/<run>/`` (HParams; ``tensorboard --logdir <dir>/tensorboard``), ``README.md`` and
``figures/``. Every finished run is committed to ``results.sqlite``; a rerun reuses the runs that finished
with the same configuration, data scale, seed and study version, unless ``--fresh`` is given.
"""

from benchmarks.study.cli import main

__all__ = ["main"]
