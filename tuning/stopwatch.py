"""Wall time accumulated over many short stretches, such as a search method's proposal calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

__all__ = ["Stopwatch"]


class Stopwatch:
    """Adds up the wall time spent inside ``running()`` blocks and ``timed`` functions."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start

    def timed(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function``, its calls timed by this stopwatch."""

        @wraps(function)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            with self.running():
                return function(*args, **kwargs)

        return timed_call
