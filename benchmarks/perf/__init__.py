"""Performance benchmark: how close trials run to the hardware, and what the toolkit adds.

    python -m benchmarks.perf [--out reports/] [--quick] [--fresh]

Writes ``perf.csv`` (one row per measurement) and ``perf.md``. Measures, in one run:

1. float32 matrix-multiply GFLOP/s (numpy), the hardware bound;
2. epoch time of MLPs on Fashion-MNIST (50,000 samples) per installed Keras backend and
   batch size, steady state and first fit (compile and warm-up) separately, against the
   bound ``6 x samples x weights / GFLOP/s``;
3. where a small search's wall time goes, per method: inside Keras (weights, ``fit``, ``predict``, ``evaluate``),
   in the method's own proposals, and in the toolkit (the rest);
4. memory: RSS after each of 100 one-epoch trials, each a new configuration, by the trial recipe;
5. parallel trials: a California Housing random search at ``--jobs 1`` and ``--jobs 2``, and on a
   local Dask cluster; and whole comparison cells one at a time and two at once (``--cells 2``).

Each backend runs in its own process, because Keras fixes its backend at import.
"""

from benchmarks.perf.cli import main

__all__ = ["main"]
