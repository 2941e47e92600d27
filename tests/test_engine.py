"""The job engine every benchmark command runs on: keys, resume, failures, --fresh, records, provenance."""

import os

import pandas as pd
import pytest

from benchmarks.common.engine import Engine, Job, Remaining
from benchmarks.common.store import StoreError
from tuning.execution import SINGLE_THREAD_ENV
from tuning.methods import Status

JOBS = [Job("a/1", "a", units=2), Job("b/1", "b", units=2), Job("c/1", "c", units=2)]


def _engine(out, **kw) -> Engine:
    return Engine(out, command="test command", key_column="job_key", outputs=("out.csv", "runs"), **kw)


def _work(calls, fail=()):
    def work(job, context):
        calls.append(job.name)
        for number in range(2):
            context.record(number, {"job": job.name, "part": number})
            context.advance(1)
        if job.name in fail:
            raise ValueError(f"{job.name} broke\nsecond line")
        return {"name": job.name, "value": len(calls)}

    return work


def test_jobs_run_once_and_a_rerun_skips_the_finished(tmp_path, capsys):
    calls = []
    with _engine(tmp_path) as engine:
        rows = engine.run(JOBS, _work(calls))
    assert calls == ["a", "b", "c"] and [r["name"] for r in rows] == calls
    row = rows[0]
    assert row["job_key"] == "a/1" and row["command"] == "test command" and row["git_commit"]
    assert {"started_at", "finished_at", "keras", "scikit-learn", "machine_cpus"} <= row.keys()
    with _engine(tmp_path) as engine:
        again = engine.run(JOBS, _work(calls))
        records = engine.records(j.key for j in JOBS)
    assert calls == ["a", "b", "c"] and again == rows
    assert capsys.readouterr().err.count("finished earlier, skipped") == 3
    assert list(records["part"]) == [0, 1] * 3


def test_a_job_that_raises_is_recorded_failed_the_rest_run_and_a_rerun_retries_it(tmp_path, capsys):
    calls = []
    with _engine(tmp_path) as engine:
        rows = engine.run(
            JOBS, _work(calls, fail=("b",)), after_each=lambda row: calls.append(f"saved {row['job_key']}")
        )
        ok = engine.rows(JOBS)
        every = engine.rows(JOBS, failed=True)
    assert calls == ["a", "saved a/1", "b", "saved b/1", "c", "saved c/1"]
    assert rows[1]["status"] == Status.FAILED and rows[1]["error"] == "ValueError: b broke"
    assert "b: failed: ValueError: b broke" in capsys.readouterr().err
    assert list(ok["job_key"]) == ["a/1", "c/1"] and len(every) == 3
    calls.clear()
    with _engine(tmp_path) as engine:
        engine.run(JOBS, _work(calls))
        # The failed job's records from its first attempt are gone: it started again from nothing.
        assert len(engine.records(["b/1"])) == 2
    assert calls == ["b"]


def test_fresh_discards_the_store_and_the_commands_outputs_only(tmp_path):
    calls = []
    with _engine(tmp_path) as engine:
        engine.run(JOBS[:1], _work(calls))
    (tmp_path / "out.csv").write_text("old")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "a.toml").write_text("old")
    (tmp_path / "keep.txt").write_text("not ours")
    with _engine(tmp_path, fresh=True) as engine:
        assert engine.rows(JOBS).empty
        engine.run(JOBS[:1], _work(calls))
    assert calls == ["a", "a"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("results.sqlite")) == ["keep.txt"]


def test_a_corrupt_store_is_refused_before_anything_is_deleted(tmp_path):
    (tmp_path / "results.sqlite").write_text("not a database")
    (tmp_path / "out.csv").write_text("earlier results")
    with pytest.raises(StoreError, match="is not a valid store"):
        _engine(tmp_path).__enter__()
    assert (tmp_path / "out.csv").read_text() == "earlier results"
    assert isinstance(pd.read_csv(tmp_path / "out.csv"), pd.DataFrame)


def test_two_commands_writing_to_one_directory_keep_their_stores_apart(tmp_path):
    # As benchmarks.perf and benchmarks.compare do in reports/.
    calls = []
    with _engine(tmp_path) as engine:
        engine.run(JOBS[:1], _work(calls))
    (tmp_path / "other.csv").write_text("old")
    other = {"command": "other", "key_column": "measurement_key", "outputs": ("other.csv",), "store": "other"}
    with Engine(tmp_path, fresh=True, **other) as engine:
        assert engine.store.rows().empty
        engine.run(JOBS[1:2], _work(calls))
    # --fresh of the other command left this one's store and outputs alone, and took only its own.
    assert not (tmp_path / "other.csv").exists()
    with _engine(tmp_path) as engine:
        assert list(engine.rows(JOBS)["job_key"]) == ["a/1"]
    with Engine(tmp_path, **other) as engine:
        assert list(engine.rows(JOBS)["measurement_key"]) == ["b/1"]
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == ["other.sqlite", "results.sqlite"]


def test_no_job_starts_after_the_deadline_and_a_rerun_resumes(tmp_path, capsys):
    calls = []
    with _engine(tmp_path) as engine:
        engine.run(JOBS[:1], _work(calls))
        rows = engine.run(JOBS, _work(calls), deadline=0.0)
    assert calls == ["a"] and [r["job_key"] for r in rows] == ["a/1"]
    assert "[2/3] b: not started, past the deadline; rerun to resume" in capsys.readouterr().err
    with _engine(tmp_path) as engine:
        engine.run(JOBS, _work(calls))
    assert calls == ["a", "b", "c"]


def _records_then_fails_on_b(job, context):
    """A job for worker processes, which need work they can import."""
    for number in range(2):
        context.record(number, {"job": job.name, "part": number})
        context.advance(1, f"part {number}")
    context.track({"job": job.name}, {"value": 1.0})
    if job.name == "b":
        raise ValueError("b broke\nsecond line")
    return {"name": job.name, "pid": os.getpid()}


class _Tracker:
    def __init__(self):
        self.runs = []

    def log_run(self, name, hparams, metrics, history=None):
        self.runs.append((name, hparams, metrics))


def test_jobs_in_worker_processes_are_committed_here_as_they_finish(tmp_path, capsys):
    tracker = _Tracker()
    saved = []
    with _engine(tmp_path) as engine:
        engine.trackers = [tracker]
        rows = engine.run(
            JOBS, _records_then_fails_on_b, workers=2, after_each=lambda row: saved.append(row["job_key"])
        )
        records = engine.records(j.key for j in JOBS)
        every = engine.rows(JOBS, failed=True)
    # Rows in the jobs' order, each committed (and exported) once it finished, with its provenance.
    assert [r["job_key"] for r in rows] == ["a/1", "b/1", "c/1"] and sorted(saved) == ["a/1", "b/1", "c/1"]
    assert rows[0]["name"] == "a" and rows[0]["command"] == "test command" and rows[0]["git_commit"]
    assert {rows[0]["pid"], rows[2]["pid"]} - {os.getpid()} == {rows[0]["pid"], rows[2]["pid"]}
    # A job that raised in a worker is recorded failed, its traceback shown here, and the others go on.
    assert rows[1]["status"] == Status.FAILED and rows[1]["error"] == "ValueError: b broke"
    err = capsys.readouterr().err
    assert err.count("b: failed: ValueError: b broke") == 1 and "Traceback" in err
    assert len(every) == 3 and list(records["job"]) == ["a", "a", "b", "b", "c", "c"]
    assert list(records["part"]) == [0, 1] * 3
    # Each job's tracker logs are made in this process, where the trackers are.
    assert sorted(name for name, _, _ in tracker.runs) == ["a", "b", "c"]
    with _engine(tmp_path) as engine:
        again = engine.run(JOBS, _records_then_fails_on_b, workers=2)
    assert [r["job_key"] for r in again] == ["a/1", "b/1", "c/1"] and again[0] == rows[0]
    assert capsys.readouterr().err.count("finished earlier, skipped") == 2


def test_no_job_starts_in_a_worker_after_the_deadline(tmp_path, capsys):
    with _engine(tmp_path) as engine:
        rows = engine.run(JOBS, _records_then_fails_on_b, workers=2, deadline=0.0)
        assert engine.records(j.key for j in JOBS).empty
    assert rows == [] and capsys.readouterr().err.count("not started, past the deadline") == 1


def _thread_settings(job, context):
    return {"xla_flags": os.environ.get("XLA_FLAGS", ""), "omp_threads": os.environ.get("OMP_NUM_THREADS", "")}


def test_a_worker_on_its_own_core_runs_one_thread_and_keeps_the_flags_set_here(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=0")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with _engine(tmp_path) as engine:
        rows = engine.run(JOBS[:2], _thread_settings, workers=2)
    expected_flags = ["--xla_backend_optimization_level=0", *SINGLE_THREAD_ENV["XLA_FLAGS"].split()]
    for row in rows:
        assert row["omp_threads"] == "1" and row["xla_flags"].split() == expected_flags, row


def _refuse_to_load():
    raise ValueError("cannot load here")


class _Unloadable:
    """Work that pickles here and cannot be unpickled in a worker process."""

    def __call__(self, job, context):
        return {}

    def __reduce__(self):
        return _refuse_to_load, ()


def test_work_a_worker_cannot_take_fails_its_jobs_with_the_reason(tmp_path, capsys):
    with _engine(tmp_path) as engine:
        rows = engine.run(JOBS[:2], _Unloadable(), workers=2)
    reason = "its worker process could not take the work: ValueError: cannot load here"
    assert [(r["status"], r["error"]) for r in rows] == [(Status.FAILED, reason)] * 2
    assert capsys.readouterr().err.count(reason) == 2


def test_what_is_left_is_estimated_from_the_finished_jobs_of_each_kind():
    slow = [Job(f"slow/{i}", f"slow{i}", kind="slow") for i in range(3)]
    quick = [Job(f"quick/{i}", f"quick{i}", kind="quick") for i in range(3)]
    remaining = Remaining([*slow, *quick], at_once=2)
    # Before a quick job finished, the quick ones are taken to cost what every finished job did.
    assert remaining.finished(slow[0], 600.0) == "5 left, about 25 min"
    # Then each kind its own median: 2 slow × 600 s + 2 quick × 60 s, two at a time.
    assert remaining.finished(quick[0], 60.0) == "4 left, about 11 min"
    assert remaining.finished(slow[1], 7200.0) == "3 left, about 34 min"
    assert remaining.finished(slow[2], 7200.0) == "2 left, about 1 min"


def test_each_finished_job_says_what_is_left(tmp_path, capsys):
    with _engine(tmp_path) as engine:
        engine.run(JOBS, _work([]))
    err = capsys.readouterr().err
    assert "[1/3] a: done in 0 s; 2 left, about 0 min" in err and "[3/3] c: done in 0 s; 0 left, about 0 min" in err
