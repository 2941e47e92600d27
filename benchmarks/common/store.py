"""The persistent record of a command's jobs: SQLite, one commit per finished job and per record.

A job is one unit of work under one configuration (a comparison cell, a study run, a perf
measurement); its key includes a hash of that configuration, so a rerun skips a job only when
the very same job finished. A record is one numbered part of a job's result, committed as
soon as it exists (a trial of a search). CSV exports are written to a temporary file and
renamed, so a reader (or a kill -9) never sees half a file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tuning.errors import TuningError
from tuning.methods.base import Status

__all__ = ["Store", "StoreError", "store_files", "write_bytes_atomically", "write_csv_atomically"]

# The store of benchmarks.compare and of a study; other commands name theirs, so that two
# commands writing to one directory keep their results apart.
DEFAULT_STORE = "results"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    row TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    job_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (job_key, number)
);
"""


class StoreError(TuningError):
    """The results store exists but cannot be read as one."""


def _json(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, allow_nan=True, default=str)


def _selected(rows: list[tuple[str, str]], keys: Iterable[str] | None) -> pd.DataFrame:
    wanted = None if keys is None else set(keys)
    return pd.DataFrame([json.loads(row) for key, row in rows if wanted is None or key in wanted])


def store_files(name: str = DEFAULT_STORE) -> tuple[str, ...]:
    """The files of store ``name``: the database and SQLite's write-ahead log beside it."""
    return (f"{name}.sqlite", f"{name}.sqlite-wal", f"{name}.sqlite-shm")


class Store:
    def __init__(self, directory: Path, name: str = DEFAULT_STORE) -> None:
        self.path = directory / store_files(name)[0]
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._db.execute("SELECT key, status, row FROM jobs LIMIT 1").fetchall()
            self._db.execute("SELECT job_key, number, row FROM records LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"results store {str(self.path)!r} is not a valid store ({exc}); move it away or use --fresh"
            ) from None

    def close(self) -> None:
        self._db.close()

    def finished(self, key: str) -> dict[str, Any] | None:
        """The row of a job that finished well; None for one that failed, was interrupted or never ran."""
        found = self._db.execute("SELECT status, row FROM jobs WHERE key = ?", (key,)).fetchone()
        return json.loads(found[1]) if found is not None and found[0] == Status.OK else None

    def start(self, key: str) -> None:
        """Forget whatever a job left behind when it was interrupted or failed."""
        with self._db:
            self._db.execute("DELETE FROM records WHERE job_key = ?", (key,))
            self._db.execute("DELETE FROM jobs WHERE key = ?", (key,))

    def add_record(self, key: str, number: int, row: Mapping[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", (key, number, _json(row)))

    def finish(self, key: str, status: Status, row: Mapping[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?, ?)", (key, str(status), _json(row)))

    def rows(self, keys: Iterable[str] | None = None, *, status: Status | None = Status.OK) -> pd.DataFrame:
        """Finished jobs' rows in the order they finished; ``status=None`` for every status."""
        query = "SELECT key, row FROM jobs" + ("" if status is None else " WHERE status = ?") + " ORDER BY rowid"
        return _selected(self._db.execute(query, () if status is None else (str(status),)).fetchall(), keys)

    def records(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """The records of the jobs ``keys``, job by job in that order (jobs run at once commit theirs in
        the order they finish); without ``keys``, every record in the order committed."""
        rows = self._db.execute("SELECT job_key, row FROM records ORDER BY rowid").fetchall()
        if keys is not None:
            order = {key: index for index, key in enumerate(keys)}
            rows = sorted((row for row in rows if row[0] in order), key=lambda row: order[row[0]])
        return _selected(rows, None)


def write_bytes_atomically(data: bytes, path: Path) -> None:
    """Replace ``path`` with ``data`` in one step: a reader (or a crash) sees the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv_atomically(frame: pd.DataFrame, path: Path) -> None:
    write_bytes_atomically(frame.to_csv(index=False).encode(), path)
