"""The benchmark harness: what is benchmarked (``definitions``), how jobs run and are kept (``common``),
and the commands ``python -m benchmarks.compare``, ``benchmarks.study``, ``benchmarks.perf`` and
``benchmarks.report``."""
