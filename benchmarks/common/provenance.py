"""Where a result comes from: the command, the commit, the libraries' versions and the machine."""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["DISTRIBUTIONS", "TEXT_COLUMNS", "git_commit", "iso", "machine", "provenance", "versions"]

# The libraries whose versions every result row records.
DISTRIBUTIONS = ("tensorflow", "keras", "keras-tuner", "scikit-learn", "scikit-optimize", "scikeras", "jax", "optuna")
# Provenance a CSV reader keeps as text (``pd.read_csv(..., dtype=TEXT_COLUMNS)``): a short commit of
# digits alone would read as a number, one like 1234e56 as a float.
TEXT_COLUMNS = {"git_commit": str}


def git_commit() -> str:
    """The checkout's commit, marked ``+dirty`` when files differ from it; ``unknown`` outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def versions() -> dict[str, str]:
    import keras

    found = {"python": platform.python_version(), "keras_backend": keras.backend.backend()}
    for dist in DISTRIBUTIONS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def machine() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "machine_cpus": psutil.cpu_count(logical=True),
        "machine_ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "machine_cpu_model": cpu,
    }


def provenance(command: str, commit: str) -> dict[str, Any]:
    """The columns every finished job's row carries."""
    return {"command": command, "git_commit": commit, **versions(), **machine()}


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
