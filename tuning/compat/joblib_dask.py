"""joblib's Dask backend, with the fixes a lost worker needs. Written against joblib 1.6.0.

* joblib scatters the large arguments (X, y) of each batch in a coroutine whose errors are
  only logged: a scatter to a worker that has just died, before the scheduler removed it,
  lost the batch and ``Parallel`` waited forever. Here the batch sends again until the
  scheduler has caught up.
* joblib tells ``Parallel`` about a batch only through its callback, which it calls for
  results but not for errors (a lost batch, ``KilledWorker``), so ``Parallel`` waited
  forever. Here every error reaches the callback and ends the search.
* With one worker thread left (a worker restarting), joblib ran the trials in this
  process; here they stay on the cluster.

Importing this module imports Dask's ``distributed``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import joblib
from joblib._dask import DaskDistributedBackend
from joblib._utils import _TracebackCapturingWrapper

from tuning.compat import PrivateName, check_private_api

__all__ = ["BACKEND_NAME", "PRIVATE_API", "check", "register_backend"]

LIBRARY = "joblib"
WRITTEN_AGAINST = "1.6.0"
PRIVATE_API = (
    PrivateName("joblib._dask", "DaskDistributedBackend._to_func_args", ("func",)),
    *(
        PrivateName("joblib._dask", f"DaskDistributedBackend.{attribute}")
        for attribute in ("call_data_futures", "waiting_futures", "_callbacks", "_results", "client", "submit_kwargs")
    ),
    PrivateName("joblib._utils", "_TracebackCapturingWrapper", ("func",)),
)
# joblib's name for the backend below.
BACKEND_NAME = "tuning-dask"
# How long a batch retries sending its data while the scheduler still lists a dead worker.
RESEND_TIMEOUT_S = 30.0


def check() -> None:
    """An ``IncompatibleLibraryError`` for the first name of ``PRIVATE_API`` that the installed joblib lacks."""
    check_private_api(__name__, LIBRARY, WRITTEN_AGAINST, PRIVATE_API)


class ResilientDaskBackend(DaskDistributedBackend):
    """joblib's Dask backend with the fixes above."""

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


def register_backend() -> None:
    """Make ``ResilientDaskBackend`` joblib's backend ``BACKEND_NAME``; it sends work to Dask's default client."""
    joblib.register_parallel_backend(BACKEND_NAME, ResilientDaskBackend)
