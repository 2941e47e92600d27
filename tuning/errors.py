"""Named errors. Every error a user can cause is a ``TuningError`` with a one-line message."""

__all__ = [
    "ChecksumMismatchError",
    "DataNotFoundError",
    "IncompatibleLibraryError",
    "InvalidBudgetError",
    "InvalidSpaceError",
    "TuningError",
    "UnsupportedOptionError",
]


class TuningError(ValueError):
    """Base class: a problem with what the user asked for, reported in one line."""


class InvalidSpaceError(TuningError):
    """A search-space parameter or space definition is inconsistent."""


class InvalidBudgetError(TuningError):
    """A budget, epoch count or fold count that no method can honour."""


class UnsupportedOptionError(TuningError):
    """A method was asked for something it cannot do (for example k-fold CV in Hyperband)."""


class DataNotFoundError(TuningError):
    """No local copy of a dataset was found and downloading was not possible."""


class ChecksumMismatchError(TuningError):
    """A data file exists but its sha256 differs from the published one."""


class IncompatibleLibraryError(TuningError):
    """An installed library no longer has a private name that ``tuning.compat`` relies on."""
