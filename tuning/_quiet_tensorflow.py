"""TensorFlow's start-up lines, kept off the terminal.

Keras imports TensorFlow, when it is installed, under every backend (``keras.utils.set_random_seed``
seeds it for tf.data), and so does scikeras (to seed it). While loading, TensorFlow's native
libraries write lines such as "Could not find cuda drivers" straight to the stderr descriptor,
before their logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them
(tensorflow/tensorflow#100442). ``install()`` makes the first import of TensorFlow, whoever
asks for it, run with that descriptor pointed at /dev/null; errors still raise as usual.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

__all__ = ["install"]


@contextmanager
def _stderr_descriptor_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps TensorFlow's own loader, as an ordinary import would leave it.
        module.__loader__ = module.__spec__.loader = self._loader
        with _stderr_descriptor_silenced():
            self._loader.exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: TensorFlow starts once per process
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Silence the start-up of TensorFlow in this process, if it has not started yet; costs nothing until then."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
