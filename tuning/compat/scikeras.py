"""scikeras' private hooks, under public names. Written against scikeras 0.13.0.

scikeras validates every input, gathers a fresh fit's callbacks and predicts through private
methods. ``ScikerasHooks`` overrides them and calls three public methods that a wrapper
overrides instead: ``check_input``, ``extra_fit_callbacks`` and ``predict_batch_size``.
"""

from __future__ import annotations

from typing import Any

from tuning.compat import PrivateName, check_private_api

__all__ = ["PRIVATE_API", "ScikerasHooks", "check"]

LIBRARY = "scikeras"
WRITTEN_AGAINST = "0.13.0"
PRIVATE_API = (
    *(
        PrivateName("scikeras.wrappers", f"{wrapper}._validate_data", ("X", "y", "reset", "y_numeric"))
        for wrapper in ("KerasClassifier", "KerasRegressor")
    ),
    PrivateName("scikeras.wrappers", "BaseWrapper._initialize_callbacks"),
    PrivateName("scikeras.wrappers", "BaseWrapper._fit_callbacks"),
    PrivateName("scikeras.wrappers", "BaseWrapper._predict_raw", ("X",)),
)


def check() -> None:
    """An ``IncompatibleLibraryError`` for the first name of ``PRIVATE_API`` that the installed scikeras lacks."""
    check_private_api(__name__, LIBRARY, WRITTEN_AGAINST, PRIVATE_API)


class ScikerasHooks:
    """Mixin for a scikeras wrapper (before it among the bases); the public methods change nothing by default."""

    def check_input(self, X: Any, y: Any, *, reset: bool) -> tuple[Any, Any]:
        """``(X, y)`` before scikeras validates them: in fit, partial_fit and initialize with
        ``reset=True``, in predict and score with ``reset=False`` (where ``y`` may be None)."""
        return X, y

    def extra_fit_callbacks(self) -> list[Any]:
        """Callbacks every fresh fit adds to a copy of the ``callbacks`` parameter; ``self.model_`` is built."""
        return []

    def predict_batch_size(self) -> int | None:
        """The batch size of predict and predict_proba; None for scikeras' own, the fit's ``batch_size``."""
        return None

    def _validate_data(self, X: Any = None, y: Any = None, reset: bool = False, y_numeric: bool = False) -> Any:
        X, y = self.check_input(X, y, reset=reset)
        return super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)  # type: ignore[misc]

    def _initialize_callbacks(self) -> None:
        super()._initialize_callbacks()  # type: ignore[misc]
        # scikeras copies the callbacks parameter into _fit_callbacks at every fresh fit; the
        # extra ones join that copy, so the parameter (and a caller's list) stays unchanged.
        self._fit_callbacks = [*self._fit_callbacks, *self.extra_fit_callbacks()]

    def _predict_raw(self, X: Any, **kwargs: Any) -> Any:
        batch_size = self.predict_batch_size()
        if batch_size is not None:
            kwargs.setdefault("batch_size", batch_size)
        return super()._predict_raw(X, **kwargs)  # type: ignore[misc]
