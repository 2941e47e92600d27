"""Every touch of another library's private API, in one small module per library.

A private name (one starting with ``_`` that its library does not document, or anything in a
private module such as ``sklearn.model_selection._search``) may move or change in any
release. Each module here says which version of its library it was written against, lists
the private names it relies on in ``PRIVATE_API``, and has a ``check()`` that raises
``IncompatibleLibraryError`` for the first one the installed version lacks;
tests/test_compat.py runs every check, so a release that moves one fails the tests by name.
The rest of ``tuning`` uses only these modules' public names.

The package imports no library; each module imports its own, and is imported where that
library already is.
"""

from __future__ import annotations

import dis
import importlib
import importlib.metadata
import inspect
from collections.abc import Iterable, Iterator
from types import CodeType
from typing import Any, NamedTuple

from tuning.errors import IncompatibleLibraryError

__all__ = ["PrivateName", "check_private_api"]

# What ``_find`` returns for an attribute that instances get from their class's code.
_ASSIGNED = object()


class PrivateName(NamedTuple):
    """A private name in ``module``, written as Python qualifies names.

    ``name`` is ``Class.method``, ``Class.method.<locals>.function`` (a function a method
    defines and hands on), or ``Class.attribute`` for an attribute that the class's code
    assigns to its instances. ``parameters`` are the ones relied on, in their order.
    """

    module: str
    name: str
    parameters: tuple[str, ...] = ()

    def __str__(self) -> str:
        signature = f"({', '.join(self.parameters)})" if self.parameters else ""
        return f"{self.module}.{self.name}{signature}"


def check_private_api(compat_module: str, library: str, written_against: str, names: Iterable[PrivateName]) -> None:
    """Raise ``IncompatibleLibraryError`` in one line for the first of ``names`` the installed ``library`` lacks."""
    for private in names:
        if not _exists(private):
            installed = importlib.metadata.version(library)
            raise IncompatibleLibraryError(
                f"{library} {installed} no longer has {private}, which {compat_module} relies on "
                f"(written against {written_against})"
            )


def _exists(private: PrivateName) -> bool:
    found = _find(private)
    if found is None:
        return False
    if found is _ASSIGNED:
        return not private.parameters
    if not private.parameters:
        return True  # an attribute or a callable whose parameters are not relied on
    if isinstance(found, CodeType):
        names = found.co_varnames[: found.co_argcount + found.co_kwonlyargcount]
    else:
        names = tuple(inspect.signature(found).parameters)
    remaining = iter(names)
    return all(parameter in remaining for parameter in private.parameters)  # in this order


def _find(private: PrivateName) -> Any:
    """The named object; the code of a local function; ``_ASSIGNED``; or None where there is none."""
    try:
        target: Any = importlib.import_module(private.module)
    except ImportError:
        return None
    path, _, local = private.name.partition(".<locals>.")
    *owners, last = path.split(".")
    for owner in owners:
        target = getattr(target, owner, None)
    if target is None:
        return None
    if hasattr(target, last):
        found = getattr(target, last)
        if local:
            return next((code for code in _codes(found) if code.co_name == local), None)
        return found
    return _ASSIGNED if isinstance(target, type) and last in _assigned_attributes(target) else None


def _codes(function: Any) -> Iterator[CodeType]:
    """The code of ``function`` (through its decorators) and of every function defined inside it."""
    pending = [inspect.unwrap(function).__code__]
    while pending:
        code = pending.pop()
        yield code
        pending += [constant for constant in code.co_consts if isinstance(constant, CodeType)]


def _assigned_attributes(cls: type) -> set[str]:
    """Attributes that the methods of ``cls`` and its bases assign: instance attributes exist only once set."""
    assigned = set()
    for klass in cls.__mro__:
        for value in vars(klass).values():
            function = getattr(value, "__func__", value)  # a classmethod or staticmethod's function
            if inspect.isfunction(inspect.unwrap(function)):
                for code in _codes(function):
                    assigned |= {i.argval for i in dis.get_instructions(code) if i.opname == "STORE_ATTR"}
    return assigned
