"""The policy input handed to regopy, built straight through rego-cpp's C input API.

``regopy.Input`` (1.5.2) converts a Python value by calling the C API once per node through
ctypes wrappers that test each value against the ``collections.abc`` ABCs and copy each
string into a fresh buffer: about 320 µs for a summary release's input (78 nodes) on the
development machine, more than the policy's own fast path. This module makes the same calls
(``regoNewInput``, ``regoInputString``, ..., ``regoInputObject``; rego-cpp's ``rego.h``)
with exact type dispatch and private function handles (about 90 µs) that hold the GIL, and in the
same pass refuses what JSON cannot carry, so the embedded engine sees exactly what a remote OPA
would be sent.

Strings go in as raw UTF-8, as ``regopy.Input`` sends them: rego-cpp compares strings by their
text, so a JSON-escaped spelling of a street would not equal the same street in data.json.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from typing import Any

from regopy.rego_shared import path as _library_path

# The same shared library regopy loaded (dlopen returns the one already mapped), but through
# ``PyDLL``: its functions keep the GIL. An input is built with one short C call per node
# (~160 for a summary release); through ``CDLL`` each released and re-took the GIL, so with
# other busy threads every node waited a switch interval and a decision under concurrency
# took many times what it takes alone. Only evaluation (regopy's own handle) releases it.
_lib = ctypes.PyDLL(_library_path)

__all__ = ["RegoInput", "build_input"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _function(name: str, restype: Any) -> Any:
    # A private handle per function (CDLL item access makes a new one), so regopy's own
    # argtypes stay untouched; without argtypes each call skips ctypes' per-argument checks,
    # and the arguments below are wrapped by hand where a plain int would be wrong.
    function = _lib[name]
    function.restype = restype
    return function


_new = _function("regoNewInput", ctypes.c_void_p)
_free = _function("regoFreeInput", None)
_free.argtypes = [ctypes.c_void_p]
_string = _function("regoInputString", ctypes.c_uint32)
_int = _function("regoInputInt", ctypes.c_uint32)
_float = _function("regoInputFloat", ctypes.c_uint32)
_boolean = _function("regoInputBoolean", ctypes.c_uint32)
_null = _function("regoInputNull", ctypes.c_uint32)
_object_item = _function("regoInputObjectItem", ctypes.c_uint32)
_object = _function("regoInputObject", ctypes.c_uint32)
_array = _function("regoInputArray", ctypes.c_uint32)


class RegoInput:
    """A built input document; hand ``handle`` to ``regoSetInput``, then ``close()`` it."""

    __slots__ = ("handle",)

    def __init__(self, handle: ctypes.c_void_p) -> None:
        self.handle: ctypes.c_void_p | None = handle

    def close(self) -> None:
        if self.handle is not None:
            _free(self.handle)
            self.handle = None

    def __enter__(self) -> RegoInput:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def build_input(value: Mapping[str, Any]) -> RegoInput:
    """The input document for ``value``; TypeError/ValueError if it is not a JSON value."""
    handle = ctypes.c_void_p(_new())
    if not handle.value:
        raise ValueError("rego-cpp could not allocate an input document")
    document = RegoInput(handle)
    try:
        if _add(handle, value):
            raise _Refused("rego-cpp refused a value", ValueError)
    except _Refused as exc:
        document.close()
        raise exc.error("input") from None
    except BaseException:
        document.close()
        raise
    return document


class _Refused(Exception):
    """A value that has no JSON form; ``path`` grows as the error unwinds (no path strings are
    built for the values that are fine, which is every value of every normal call)."""

    def __init__(self, message: str, kind: type[Exception] = TypeError) -> None:
        super().__init__(message)
        self.message, self.kind = message, kind
        self.path: list[str | int] = []  # innermost first

    def error(self, root: str) -> Exception:
        where = root + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in reversed(self.path)
        )
        return self.kind(f"{where}: {self.message}")


def _add(handle: ctypes.c_void_p, value: Any) -> int:
    """Push ``value`` onto the input under construction; returns rego-cpp's status codes
    OR-ed together (0 when all went in)."""
    kind = type(value)
    # Exact types first (the common case, and bool before int: bool is an int subclass).
    if kind is str:
        return int(_string(handle, value.encode("utf-8")))
    if kind is dict:
        return _add_object(handle, value)
    if kind is list or kind is tuple:
        return _add_array(handle, value)
    if kind is bool:
        return int(_boolean(handle, ctypes.c_bool(value)))
    if kind is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _Refused(f"expected a 64-bit integer, found {value}", ValueError)
        return int(_int(handle, ctypes.c_int64(value)))
    if value is None:
        return int(_null(handle))
    if kind is float:
        return int(_float(handle, ctypes.c_double(value)))
    if isinstance(value, bool | int | float | str):  # subclasses, as their base type
        return _add(handle, _plain(value))
    if isinstance(value, Mapping):
        return _add_object(handle, value)
    # Sets, bytes and other objects have no JSON form (regopy would turn bytes into a list
    # of numbers); refusing them keeps both engines on the same input.
    raise _Refused(f"expected a JSON value, found {kind.__name__}")


def _add_object(handle: ctypes.c_void_p, value: Mapping[Any, Any]) -> int:
    code = 0
    key: Any = None
    try:
        for key, item in value.items():
            if type(key) is not str:
                raise _Refused(f"keys must be strings, found {type(key).__name__}")
            code |= _string(handle, key.encode("utf-8"))
            # Most values are strings: pushed here without a call to _add.
            if type(item) is str:
                code |= _string(handle, item.encode("utf-8"))
            else:
                code |= _add(handle, item)
            code |= _object_item(handle)
    except _Refused as exc:
        if type(key) is str:
            exc.path.append(key)
        raise
    return code | _object(handle, len(value))


def _add_array(handle: ctypes.c_void_p, value: list[Any] | tuple[Any, ...]) -> int:
    code = 0
    index = 0
    try:
        for index, item in enumerate(value):  # noqa: B007 - index names the culprit below
            if type(item) is str:
                code |= _string(handle, item.encode("utf-8"))
            else:
                code |= _add(handle, item)
    except _Refused as exc:
        exc.path.append(index)
        raise
    return code | _array(handle, len(value))


def _plain(value: bool | int | float | str) -> bool | int | float | str:
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    raise _Refused(f"expected a JSON scalar, found {type(value).__name__}")  # pragma: no cover
