"""Learning-curve tables: configurations of a benchmark dataset's space trained once, every epoch recorded.

``python -m benchmarks.curves build DATASET`` trains a space-filling design of the dataset's
space, and every grid point its grid methods can visit, by the trial recipe, recording each
epoch's validation score, test score, loss and wall time; a subset is trained under more
seeds, to measure seed noise. The replay benchmark answers trials from these tables.
"""

from pathlib import Path

__all__ = ["default_tables_dir"]


def default_tables_dir(profile: str) -> Path:
    """Where a profile's tables live unless told: reports/curves, or reports/curves/<profile>."""
    return Path("reports", "curves", *([] if profile == "standard" else [profile]))
