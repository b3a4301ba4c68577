"""A parser's state as plain JSON data, for the analysis cache: nothing but data goes in or comes out.

Containers are tagged, so sets, tuples and dicts with tuple keys come back as
they were; anything else is refused (`NotPlainData`), so a stored entry can
never make an object run code.  The bulk (sets of line numbers, of arcs,
line-to-line maps) has flat forms that decode at C speed.  No coverage.py, no
pytest: what the state means is coverage_internals' to know.
"""

from __future__ import annotations

import base64
import itertools
import sys
from array import array
from collections.abc import Iterator
from typing import Any

from pytest_lcov import PytestLcovError


class NotPlainData(PytestLcovError, ValueError):
    """A value that is not made of ints, strings, None, lists, tuples, sets and dicts."""


# Type checks by set(map(type, ...)): a stored entry holds many thousands of numbers.
PRIMITIVE_TYPES = frozenset({int, str, bool, type(None)})


def _ints(items: Any) -> bool:
    return set(map(type, items)) <= {int}


def _int_pairs(items: Any) -> bool:
    return all(type(item) is tuple and len(item) == 2 and _ints(item) for item in items)


def _primitive(items: Any) -> bool:
    return set(map(type, items)) <= PRIMITIVE_TYPES


def _lists_of_primitives(items: list[Any]) -> bool:
    return set(map(type, items)) <= {list} and _primitive(itertools.chain.from_iterable(items))


def _primitive_tuples(items: Any) -> bool:
    return all(type(item) is tuple and _primitive(item) for item in items)


# Runs of line numbers are stored as base64 of int32s: decoded at C speed, not digit by digit.
PACKED = array("i").itemsize == 4


def _pack(numbers: list[int]) -> list[int] | str:
    if not PACKED or len(numbers) < 8:
        return numbers
    try:
        packed = array("i", numbers)
    except OverflowError:
        return numbers
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _unpack(items: Any) -> list[int]:
    """Stored whole numbers, checked: a JSON list of ints, or packed int32s (ints by construction)."""
    if isinstance(items, list) and _ints(items):
        return items
    if not isinstance(items, str) or not PACKED:
        raise NotPlainData("not whole numbers")
    try:
        raw = base64.b64decode(items, validate=True)
    except ValueError:
        raise NotPlainData("not base64") from None
    if len(raw) % 4:
        raise NotPlainData("not int32s")
    numbers = array("i")
    numbers.frombytes(raw)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers.tolist()


def _flat(pairs: Any) -> list[int]:
    return [number for pair in pairs for number in pair]


def _paired(flat: list[int]) -> Iterator[tuple[int, int]]:
    """Pairs of `flat`, whole numbers from _unpack."""
    if len(flat) % 2:
        raise NotPlainData("not pairs of whole numbers")
    numbers = iter(flat)
    return zip(numbers, numbers, strict=True)


def to_plain(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        raise NotPlainData("nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list):
        if _primitive_tuples(value):
            return {"lt": [list(item) for item in value]}
        if _lists_of_primitives(value):
            return {"ll": [list(item) for item in value]}
        return [to_plain(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        if _primitive(value):
            return {"tv": list(value)}
        return {"t": [to_plain(item, depth + 1) for item in value]}
    if isinstance(value, set | frozenset):
        if _ints(value):
            return {"si": _pack(sorted(value))}
        if _int_pairs(value):
            return {"sp": _pack(_flat(sorted(value)))}
        return {"s": [to_plain(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        if _ints(value) and _ints(value.values()):
            return {"dii": _pack(_flat(sorted(value.items())))}
        if _int_pairs(value):
            keys = sorted(value)
            if set(map(type, value.values())) <= {str}:
                # Line pairs to strings (the branch arcs' descriptions): one tag for all.
                return {"dps": [_pack(_flat(keys)), [value[key] for key in keys]]}
            return {"dp": [_pack(_flat(keys)), [to_plain(value[key], depth + 1) for key in keys]]}
        return {"d": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in value.items()]}
    raise NotPlainData(f"cannot store a {type(value).__name__}")


def from_plain(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        raise NotPlainData("nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list):
        if _primitive(value):
            return list(value)
        return [from_plain(item, depth + 1) for item in value]
    if isinstance(value, dict) and len(value) == 1:
        [(tag, items)] = value.items()
        if isinstance(items, list) or (isinstance(items, str) and tag in ("si", "sp", "dii")):
            return _from_tagged(tag, items, depth)
    raise NotPlainData("not a stored value")


def _from_tagged(tag: str, items: Any, depth: int) -> Any:
    if tag == "si":
        return set(_unpack(items))
    if tag == "sp":
        return set(_paired(_unpack(items)))
    if tag == "dii":
        return dict(_paired(_unpack(items)))
    if tag == "tv" and _primitive(items):
        return tuple(items)
    if tag == "lt" and _lists_of_primitives(items):
        return [tuple(item) for item in items]
    if tag == "ll" and _lists_of_primitives(items):
        return items  # lists fresh from JSON, already of primitives
    if tag == "dps" and len(items) == 2 and isinstance(items[1], list) and set(map(type, items[1])) <= {str}:
        keys = list(_paired(_unpack(items[0])))
        if len(keys) == len(items[1]):
            return dict(zip(keys, items[1], strict=True))
    if tag == "dp" and len(items) == 2 and isinstance(items[1], list):
        keys = list(_paired(_unpack(items[0])))
        if len(keys) == len(items[1]):
            return {key: from_plain(item, depth + 1) for key, item in zip(keys, items[1], strict=True)}
    if tag == "t":
        return tuple(from_plain(item, depth + 1) for item in items)
    if tag == "s":
        return {from_plain(item, depth + 1) for item in items}
    if tag == "d" and all(isinstance(pair, list) and len(pair) == 2 for pair in items):
        return {from_plain(k, depth + 1): from_plain(v, depth + 1) for k, v in items}
    raise NotPlainData("not a stored value")
