"""The persistent record of a benchmark: SQLite, one commit per finished trial and cell.

A cell is one (dataset, method, seed) under one configuration. Its key includes a hash
of that configuration, so a rerun skips a cell only when the very same cell finished.
CSV exports are written to a temporary file and renamed, so a reader (or a kill -9)
never sees half a file.
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

__all__ = ["Store", "StoreError", "write_csv_atomically"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    row TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    cell_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (cell_key, number)
);
"""


class StoreError(TuningError):
    """The results store exists but cannot be read as one."""


def _json(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, allow_nan=True, default=str)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._db.execute("SELECT key, status, row FROM cells LIMIT 1").fetchall()
            self._db.execute("SELECT cell_key, number, row FROM trials LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"results store {str(path)!r} is not a valid store ({exc}); move it away or use --fresh"
            ) from None

    def close(self) -> None:
        self._db.close()

    def finished(self, key: str) -> bool:
        row = self._db.execute("SELECT status FROM cells WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] == "ok"

    def start_cell(self, key: str) -> None:
        """Forget whatever a cell left behind when it was interrupted."""
        with self._db:
            self._db.execute("DELETE FROM trials WHERE cell_key = ?", (key,))
            self._db.execute("DELETE FROM cells WHERE key = ?", (key,))

    def add_trial(self, key: str, number: int, row: Mapping[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO trials VALUES (?, ?, ?)", (key, number, _json(row)))

    def finish_cell(self, key: str, status: str, row: Mapping[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO cells VALUES (?, ?, ?)", (key, status, _json(row)))

    def cells(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        rows = self._db.execute("SELECT key, row FROM cells WHERE status = 'ok' ORDER BY rowid").fetchall()
        wanted = None if keys is None else set(keys)
        return pd.DataFrame([json.loads(r) for k, r in rows if wanted is None or k in wanted])

    def trials(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        rows = self._db.execute("SELECT cell_key, row FROM trials ORDER BY rowid").fetchall()
        wanted = None if keys is None else set(keys)
        return pd.DataFrame([json.loads(r) for k, r in rows if wanted is None or k in wanted])


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
