"""Trials on a Dask cluster, through joblib's Dask backend; the method adapters do not change.

scikit-learn and skopt searches hand their fits to joblib. Inside ``dask_backend`` joblib
sends them to Dask workers: a ``LocalCluster`` on this machine (``"local"``) or an
existing scheduler (``"tcp://host:port"``). Keras Tuner methods run where they are called.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

from tuning.errors import TuningError

__all__ = ["BACKEND_NAME", "LOCAL", "SINGLE_THREAD_ENV", "check_address", "dask_backend"]

# The address of a new cluster on this machine.
LOCAL = "local"
# The schemes of Dask's scheduler addresses; without one, Dask would take a name for a host.
SCHEDULER_SCHEMES = ("tcp", "tls", "ucx", "inproc")
# joblib's name for the Dask backend below.
BACKEND_NAME = "tuning-dask"
# How long a batch retries sending its data while the scheduler still lists a dead worker.
RESEND_TIMEOUT_S = 30.0

# One compute thread per worker process, so that N workers on N cores do not fight.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


def check_address(address: str) -> None:
    """Refuse, in one line, anything but ``local`` or a scheduler address such as ``tcp://HOST:PORT``."""
    scheme, separator, rest = address.partition("://")
    if address != LOCAL and not (scheme in SCHEDULER_SCHEMES and separator and rest):
        raise TuningError(f"expected {LOCAL!r} or a Dask scheduler address tcp://HOST:PORT, got {address!r}")


def _register_backend() -> None:
    """Registers joblib's Dask backend with the fixes a lost worker needs (joblib 1.6 internals).

    * joblib scatters the large arguments (X, y) of each batch in a coroutine whose
      errors are only logged: a scatter to a worker that has just died, before the
      scheduler removed it, lost the batch and ``Parallel`` waited forever. Here the
      batch sends again until the scheduler has caught up.
    * joblib tells ``Parallel`` about a batch only through its callback, which it calls
      for results but not for errors (a lost batch, ``KilledWorker``), so ``Parallel``
      waited forever. Here every error reaches the callback and ends the search.
    * With one worker thread left (a worker restarting), joblib ran the trials in this
      process; here they stay on the cluster.
    """
    import joblib
    from joblib._dask import DaskDistributedBackend
    from joblib._utils import _TracebackCapturingWrapper

    class ResilientDaskBackend(DaskDistributedBackend):
        def effective_n_jobs(self, n_jobs: int | None) -> int:
            # joblib runs a call of one job in this process, bypassing the backend. The cost:
            # on a one-slot cluster, searches batch two trials at a time (a batch of the
            # last trials may then run one trial past a random search's plan).
            return max(2, super().effective_n_jobs(n_jobs))

        async def _to_func_args(self, func: Any) -> Any:
            deadline = time.monotonic() + RESEND_TIMEOUT_S
            while True:
                try:
                    return await super()._to_func_args(func)
                except OSError:  # distributed's CommClosedError: the worker is gone
                    if time.monotonic() > deadline:
                        raise
                    # The failed scatter is cached per argument; forget it to scatter again.
                    self.call_data_futures.clear()
                    await asyncio.sleep(0.5)

        def submit(self, func: Any, callback: Callable[[Any], None] | None = None) -> concurrent.futures.Future:
            # joblib's submit, except that an error in sending is reported, not only logged.
            result: concurrent.futures.Future = concurrent.futures.Future()
            result.get = result.result  # type: ignore[attr-defined]  # the AsyncResult API joblib calls

            def report_error(done: concurrent.futures.Future) -> None:
                # joblib's callback raises an exception it is given: the batch, and the search, fail.
                if callback is not None and done.exception() is not None:
                    callback(done.exception())

            result.add_done_callback(report_error)

            async def send() -> None:
                try:
                    batch, tasks = await self._to_func_args(func)
                    key = f"{batch!r}-{uuid4().hex}"
                    future = self.client.submit(
                        _TracebackCapturingWrapper(batch), tasks=tasks, key=key, **self.submit_kwargs
                    )
                except Exception as exc:
                    result.set_exception(exc)
                    return
                self.waiting_futures.add(future)
                self._callbacks[future] = callback
                self._results[future] = result

            self.client.loop.add_callback(send)
            return result

    joblib.register_parallel_backend(BACKEND_NAME, ResilientDaskBackend)


@contextmanager
def dask_backend(address: str = LOCAL, *, n_workers: int = 2, timeout_s: float = 10.0) -> Iterator[int]:
    """Route joblib to Dask; yields the number of trial slots (worker threads) to use as ``n_jobs``.

    joblib chooses its backend per thread: a search started in another thread must enter
    ``joblib.parallel_config(backend=BACKEND_NAME)`` there itself.
    """
    check_address(address)
    try:
        import joblib
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise TuningError("Dask is not installed; install the extra: pip install 'tuning[dask]'") from None
    _register_backend()
    cluster = None
    if address == LOCAL:
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None, env=SINGLE_THREAD_ENV
        )
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            raise TuningError(f"cannot reach the Dask scheduler {address!r} within {timeout_s:g} s ({exc})") from None
    try:
        with joblib.parallel_config(backend=BACKEND_NAME):
            yield max(1, sum(client.nthreads().values()))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
