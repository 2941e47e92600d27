"""Trials on a Dask cluster, through joblib's Dask backend; the method adapters do not change.

scikit-learn and skopt searches hand their fits to joblib. Inside ``dask_backend`` joblib
sends them to Dask workers: a ``LocalCluster`` on this machine (``"local"``) or an
existing scheduler (``"tcp://host:port"``). Keras Tuner methods run where they are called.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tuning.errors import TuningError

__all__ = ["SINGLE_THREAD_ENV", "dask_backend"]

# One compute thread per worker process, so that N workers on N cores do not fight.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


@contextmanager
def dask_backend(address: str = "local", *, n_workers: int = 2, timeout_s: float = 10.0) -> Iterator[int]:
    """Route joblib to Dask; yields the number of trial slots (worker threads) to use as ``n_jobs``.

    joblib chooses its backend per thread: a search started in another thread must enter
    ``joblib.parallel_config(backend="dask")`` there itself.
    """
    try:
        import joblib
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise TuningError("Dask is not installed; install the extra: pip install 'tuning[dask]'") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None, env=SINGLE_THREAD_ENV
        )
        client = Client(cluster)
    else:
        if not address.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
            raise TuningError(f"a Dask scheduler address looks like tcp://HOST:PORT, got {address!r}")
        try:
            client = Client(address, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            raise TuningError(f"cannot reach the Dask scheduler {address!r} within {timeout_s:g} s ({exc})") from None
    try:
        with joblib.parallel_config(backend="dask"):
            yield max(1, sum(client.nthreads().values()))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
