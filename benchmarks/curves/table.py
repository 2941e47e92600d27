"""Reading a curve table back, checked against the benchmark it claims to describe."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tuning.comparison import Dataset
from tuning.errors import TuningError
from tuning.space import Space

__all__ = ["JOBS_FILE", "METADATA_FILE", "TABLE_FILE", "CurveTable", "load_table", "table_identity"]

TABLE_FILE = "curves.csv.gz"
# One row per finished curve: what the build's store holds, so that a build resumes from a committed table.
JOBS_FILE = "curves_jobs.csv.gz"
METADATA_FILE = "curves.json"
REQUIRED_COLUMNS = ("config", "seed", "params", "epoch", "val_score", "test_score", "loss", "epoch_s")


@dataclass(frozen=True)
class CurveTable:
    """A table's rows (one per configuration, seed and epoch), its metadata, and the space it covers."""

    rows: pd.DataFrame
    metadata: dict[str, Any]
    space: Space

    @property
    def epochs(self) -> int:
        return int(self.metadata["setting"]["epochs_per_trial"])


def table_identity(task: Dataset, profile: str) -> dict[str, Any]:
    """What a table's rows depend on, besides the configurations and seeds: a resumed build
    reuses only curves of the same identity, and a table of another one is refused. The setting's
    quality ``target`` is left out: it judges a comparison's result and changes no curve."""
    import keras

    setting = asdict(task.setting(profile))
    del setting["target"]
    return {
        "dataset": task.name,
        "benchmark_version": task.version,
        "profile": profile,
        "setting": setting,
        "space": task.space.to_dicts(),
        "builder": task.builder_name,
        "metric": task.metric.name,
        "keras_backend": keras.backend.backend(),
    }


def load_table(directory: Path, task: Dataset, profile: str) -> CurveTable:
    """The table in ``directory``, refused in one line when it is missing, unreadable, or was
    built for another dataset, benchmark version, profile setting, space, builder, metric or
    Keras backend."""
    table_path, metadata_path = directory / TABLE_FILE, directory / METADATA_FILE
    for path in (table_path, metadata_path):
        if not path.is_file():
            raise TuningError(
                f"no curve table at {str(path)!r}; build it with python -m benchmarks.curves build {task.name}"
            )
    try:
        metadata = json.loads(metadata_path.read_text())
        rows = pd.read_csv(table_path, compression="gzip")
    except (OSError, EOFError, ValueError, gzip.BadGzipFile, zlib.error, pd.errors.ParserError) as exc:
        raise TuningError(
            f"curve table {str(directory)!r} is unreadable ({type(exc).__name__}); build it again"
        ) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if not isinstance(metadata, dict) or missing:
        raise TuningError(f"curve table {str(table_path)!r} lacks column {missing[0] if missing else 'metadata'!r}")
    expected = table_identity(task, profile)
    for key, value in expected.items():
        found = metadata.get(key)
        if key == "space" and isinstance(found, list):
            found = Space.from_dicts(found).to_dicts()
        if found != value:
            raise TuningError(
                f"curve table {str(directory)!r} was built for {key} {found!r}, not this benchmark's {value!r}; "
                "build it again"
            )
    return CurveTable(rows, metadata, task.space)
