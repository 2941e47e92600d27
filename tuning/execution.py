"""Where a search's trials run: in this process, in joblib's workers, or on a Dask cluster.

One ``Execution`` says it for every method family, and each maps it to its own mechanism:

* scikit-learn, skopt and Optuna's TPE run ``n_jobs`` trials at a time through joblib;
  inside ``joblib_context()`` joblib sends them to the Dask cluster, a ``LocalCluster`` on
  this machine (``"local"``) or an existing scheduler (``"tcp://HOST:PORT"``);
* Keras Tuner methods run in this process, or with a local cluster as a chief and
  ``tuner_workers`` worker processes on this machine (``tuning.methods.tuner_workers``).

Entering the execution starts (and leaving it closes) the Dask client and any local
cluster, once, so that every search inside reuses them; a search given an execution that is
not entered enters it for its own duration.

    with Execution(jobs=2, cluster="local") as execution:
        result = get_method("random").search(problem, space, budget, execution=execution)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tuning.errors import TuningError

__all__ = [
    "LOCAL",
    "SINGLE_THREAD_ENV",
    "Execution",
    "check_address",
    "connect",
    "single_thread_settings",
    "start_local_cluster",
]

# The address of a new cluster on this machine.
LOCAL = "local"
# The schemes of Dask's scheduler addresses; without one, Dask would take a name for a host.
SCHEDULER_SCHEMES = ("tcp", "tls", "ucx", "inproc")
# How long connecting to a scheduler may take before the search gives up.
CONNECT_TIMEOUT_S = 10.0

# One compute thread per worker process, so that N workers on N cores do not fight.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


def single_thread_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``SINGLE_THREAD_ENV`` for a process started from ``environ``: its XLA
    flags added to those already set there (the tests' optimisation level, a user's), not replacing them."""
    xla_flags = environ.get("XLA_FLAGS", "").split()
    xla_flags += [flag for flag in SINGLE_THREAD_ENV["XLA_FLAGS"].split() if flag not in xla_flags]
    return {**SINGLE_THREAD_ENV, "XLA_FLAGS": " ".join(xla_flags)}


def check_address(address: str) -> None:
    """Refuse, in one line, anything but ``local`` or a scheduler address such as ``tcp://HOST:PORT``."""
    scheme, separator, rest = address.partition("://") if isinstance(address, str) else ("", "", "")
    if address != LOCAL and not (scheme in SCHEDULER_SCHEMES and separator and rest):
        raise TuningError(f"expected {LOCAL!r} or a Dask scheduler address tcp://HOST:PORT, got {address!r}")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise TuningError("Dask is not installed; install the extra: pip install 'tuning[dask]'") from None
    return distributed


def connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address`` (``tcp://HOST:PORT``); one line of
    ``TuningError`` when Dask is missing or the scheduler cannot be reached in time."""
    check_address(address)
    client_class = _distributed().Client
    try:
        return client_class(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        within = f"within {CONNECT_TIMEOUT_S:g} s"
        raise TuningError(f"cannot reach the Dask scheduler {address!r} {within} ({exc})") from None


def start_local_cluster(workers: int, env: Mapping[str, str]) -> tuple[Any, Any]:
    """A Dask cluster of ``workers`` single-threaded worker processes on the loopback, ``env``
    in place in each before any work arrives, and its client; close both when done."""
    distributed = _distributed()
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, env=dict(env)
    )
    return cluster, distributed.Client(cluster)


@dataclass(eq=False)
class Execution:
    """``jobs`` trials at a time, on ``cluster``: None (this machine), ``"local"`` or a scheduler address.

    A local cluster has ``max(2, jobs)`` single-threaded worker processes; on a cluster the
    trial slots are its worker threads, known once the execution is entered.
    """

    jobs: int = 1
    cluster: str | None = None
    _client: Any = field(default=None, init=False, repr=False)
    _local_cluster: Any = field(default=None, init=False, repr=False)
    _slots: int = field(default=0, init=False, repr=False)
    # Nested entries (a search inside the caller's ``with``) share one client.
    _depth: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise TuningError(f"jobs must be a positive integer, got {self.jobs!r}")
        if self.cluster is not None:
            check_address(self.cluster)

    @property
    def n_jobs(self) -> int:
        """The trial slots scikit-learn, skopt and Optuna use: ``jobs``, or a Dask cluster's worker threads."""
        if self.cluster is None:
            return self.jobs
        self._require_client()
        return self._slots

    @property
    def tuner_workers(self) -> int:
        """Keras Tuner worker processes beside a chief on this machine; 0 runs Keras Tuner in the search's process."""
        return max(2, self.jobs) if self.cluster == LOCAL else 0

    def describe(self) -> dict[str, Any]:
        """The execution as columns of a result row."""
        return {"n_jobs": self.n_jobs, "tuner_workers": self.tuner_workers, "cluster": self.cluster or ""}

    @contextmanager
    def joblib_context(self) -> Iterator[None]:
        """Route joblib in this thread to the Dask cluster, if there is one.

        joblib chooses its backend per thread, so a search enters this in the thread it runs in.
        """
        if self.cluster is None:
            yield
            return
        self._require_client()
        import joblib

        from tuning.compat.joblib_dask import BACKEND_NAME

        with joblib.parallel_config(backend=BACKEND_NAME):
            yield

    def __getstate__(self) -> dict[str, Any]:
        """A copy sent to another process is not entered: a client or cluster stays with the process that made it."""
        return {**self.__dict__, "_client": None, "_local_cluster": None, "_slots": 0, "_depth": 0}

    def __enter__(self) -> Execution:
        if self.cluster is not None and self._depth == 0:
            self._connect(self.cluster)
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._client is not None:
            self._client.close()
            if self._local_cluster is not None:
                self._local_cluster.close()
            self._client = self._local_cluster = None

    def _connect(self, address: str) -> None:
        _distributed()
        from tuning.compat.joblib_dask import register_backend

        register_backend()
        if address == LOCAL:
            self._local_cluster, self._client = start_local_cluster(
                max(2, self.jobs), single_thread_settings(os.environ)
            )
        else:
            self._client = connect(address)
        self._slots = max(1, sum(self._client.nthreads().values()))

    def _require_client(self) -> None:
        if self._client is None:
            raise TuningError(f"{self!r} has trial slots only while entered: with Execution(...) as execution: ...")
