"""Keras Tuner's own chief/worker mode, started on this machine.

Keras Tuner distributes a search with one chief process (it serves the oracle over
gRPC) and any number of workers (each runs trials), configured by the environment
variables ``KERASTUNER_TUNER_ID`` (``chief``, ``tuner0``, ``tuner1``, ...),
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``. ``run_on_local_workers`` starts a
chief and N workers on 127.0.0.1 for one search and gathers their trial records. On
several machines, start the same command by hand with the chief's address
(docs/cluster.md):

    KERASTUNER_TUNER_ID=chief  KERASTUNER_ORACLE_IP=0.0.0.0 KERASTUNER_ORACLE_PORT=8000 \\
        python -m tuning.methods.tuner_workers JOB_DIR
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=<chief> KERASTUNER_ORACLE_PORT=8000 \\
        python -m tuning.methods.tuner_workers JOB_DIR

``JOB_DIR`` must be shared by all processes: it holds the job, the checkpoints that
Hyperband resumes from, and one ``trials-<id>.jsonl`` file per worker.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cloudpickle

from tuning.execution import Execution
from tuning.methods.base import Plan, RunOptions, SearchProblem, Status, Trial, TrialRecorder
from tuning.space import Space

__all__ = ["run_on_local_workers"]

JOB_FILE = "job.pkl"
POLL_S = 0.5
# How long the chief may outlive its workers (it looks every 20 s whether they are gone),
# and the workers the chief (they exit once it has told them that the search is over).
FINISH_TIMEOUT_S = 120.0
# How long a worker's error waits for the chief to finish the search well (see ``_check_exits``).
CHIEF_GRACE_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(job_dir: Path, tuner_id: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "KERASTUNER_TUNER_ID": tuner_id,
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(port),
    }
    # The child gets its own copy of the descriptor, so this process can close its handle at once.
    with open(job_dir / f"{tuner_id}.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tuning.methods.tuner_workers", str(job_dir)], env=env, stdout=log, stderr=log
        )


def run_on_local_workers(method: str, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> None:
    """One chief and ``options.execution.tuner_workers`` workers on 127.0.0.1 search with the Keras
    Tuner method named ``method``; trials reported as they finish.

    A process that fails, the chief included, ends the search at once with a ``RuntimeError``
    naming it: a worker would otherwise wait up to an hour for a chief that is gone.
    """
    with tempfile.TemporaryDirectory(prefix="tuning-tuner-job-") as tmp:
        job_dir = Path(tmp)
        # The callback stays here, each process reporting into its own trial file instead, and
        # so does the execution (its Dask client cannot travel): each process runs its own trials.
        local = ("trials", "execution")
        settings = {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name not in local}
        with open(job_dir / JOB_FILE, "wb") as f:
            # cloudpickle: the problem's builder may live in a user's script or definition file,
            # which the worker processes cannot import.
            cloudpickle.dump((method, problem, space, plan, settings), f)
        port = _free_port()
        processes = {"chief": _start(job_dir, "chief", port)}
        processes.update(
            {f"tuner{i}": _start(job_dir, f"tuner{i}", port) for i in range(options.execution.tuner_workers)}
        )
        read: dict[Path, int] = {}
        failed_at: dict[str, float] = {}
        number = 0
        finishing_since: float | None = None
        try:
            while True:
                running = {name for name, p in processes.items() if p.poll() is None}
                for trial in _new_trials(job_dir, read):
                    # Recorded by a worker's TrialRecorder; numbered here, in the order the search's trials finish.
                    options.trials.on_trial(dataclasses.replace(trial, number=number))
                    number += 1
                _check_exits(job_dir, processes, failed_at)
                if not running:
                    break
                # Once the chief or every worker has finished, the others must follow.
                if "chief" not in running or running == {"chief"}:
                    finishing_since = finishing_since or time.monotonic()
                    if time.monotonic() - finishing_since > FINISH_TIMEOUT_S:
                        raise RuntimeError(
                            f"Keras Tuner {', '.join(sorted(running))} still running {FINISH_TIMEOUT_S:g} s "
                            "after the rest of the search finished"
                        )
                time.sleep(POLL_S)
        finally:
            for p in processes.values():
                if p.poll() is None:
                    p.kill()
                    p.wait()


def _check_exits(job_dir: Path, processes: dict[str, subprocess.Popen], failed_at: dict[str, float]) -> None:
    """A ``RuntimeError`` for the first process (by name) that has exited with an error, and its log's last line.

    A worker that asks a chief which has just finished the search fails to reach it (a gRPC
    error, exit code 1): that ends the worker, not the search. So a worker's error counts only
    if the chief has not finished well within ``CHIEF_GRACE_S`` of it; a worker killed by a
    signal, or a failed chief, counts at once. ``failed_at`` keeps when each worker failed.
    """
    chief = processes["chief"].poll()
    for name, process in sorted(processes.items()):
        code = process.poll()
        if code is None or code == 0:
            continue
        waiting = time.monotonic() - failed_at.setdefault(name, time.monotonic()) < CHIEF_GRACE_S
        if name != "chief" and code > 0 and (chief == 0 or (chief is None and waiting)):
            continue
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        lines = (job_dir / f"{name}.log").read_text(errors="replace").strip().splitlines()
        last = f"its log ends: {lines[-1].strip()}" if lines else "its log is empty"
        raise RuntimeError(f"Keras Tuner {name} {how}; {last}")


def _new_trials(job_dir: Path, read: dict[Path, int]) -> list[Trial]:
    """Complete lines appended to the workers' trial files since the last call, in finishing order."""
    trials = []
    for path in sorted(job_dir.glob("trials-*.jsonl")):
        with open(path) as f:
            f.seek(read.get(path, 0))
            for line in iter(f.readline, ""):
                if not line.endswith("\n"):
                    break  # the worker is still writing this line
                fields = json.loads(line)
                trials.append(Trial(**{**fields, "status": Status(fields["status"])}))
                read[path] = f.tell()
    return sorted(trials, key=lambda t: t.finished_at)


def main(job_dir: Path) -> None:
    """What the chief and each worker run: the same search, in Keras Tuner's distributed mode."""
    # The Keras backend comes from KERAS_BACKEND, inherited from the process that started this one.
    from tuning.methods import get_method

    with open(job_dir / JOB_FILE, "rb") as f:
        name, problem, space, plan, settings = pickle.load(f)
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    with open(job_dir / f"trials-{tuner_id}.jsonl", "a") as out:

        def record(trial: Trial) -> None:
            out.write(json.dumps(dataclasses.asdict(trial), default=float) + "\n")
            out.flush()

        options = RunOptions(**settings, execution=Execution(), trials=TrialRecorder(problem, settings["seed"], record))
        get_method(name).search_with_tuner(problem, space, plan, options, str(job_dir / "tuner"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
