"""Results as bytes between worker and parent: MessagePack through msgspec when it is installed.

Pickling attrs objects costs about 19 µs a result to write and 9 to 18 to read, on a check of
about 115 µs: on 2 cores that is what parallel batches lose. msgspec writes the same results in
about 7 µs, the type guard below included, and reads them back into the same attrs classes in
about 6. It is the ``[fast]``
extra (it is compiled; a venv without it falls back to pickle, with the same results).

The first byte says how a chunk was written, so the parent reads either. A chunk whose results
MessagePack would not give back exactly (a subclass of a model class, an evidence value outside
the fact vocabulary's plain types) goes as pickle.
"""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal
from typing import Any

import attrs

from j9330_rules.model import Audit, Evidence, Finding, Payment, PaymentLine, Result, Suppression

try:
    import msgspec
except ImportError:  # the [fast] extra is not installed
    msgspec = None

_MSGPACK, _PICKLE = b"m", b"p"
#: The values fact fields hold (facts/fields.py): what a MessagePack map gives back as it was.
_PLAIN = frozenset({str, int, float, bool, type(None)})
_NONE = type(None)


class _Items:
    """A tuple field of plain values: the exact types of its items, and for a tuple of tuples
    (``Audit.rulesets``: name, version, sha256) their width and their items' types."""

    def __init__(self, types: set[type], inner: set[type] | None = None, width: int = 0) -> None:
        self.types, self.inner, self.width = types, inner, width

    def holds(self, value: Any) -> bool:
        if type(value) is not tuple or not all(type(item) in self.types for item in value):
            return False
        return self.inner is None or all(
            len(item) == self.width and all(type(part) in self.inner for part in item) for item in value
        )


class _Model:
    """A field holding model objects of one class, checked in turn: one (or None where the
    field allows it), or a tuple of them."""

    def __init__(self, cls: type, *, many: bool = False, optional: bool = False) -> None:
        self.cls, self.many, self.optional = cls, many, optional

    def objects(self, value: Any) -> tuple | None:
        """The objects to check next; None when the value is not what the field declares."""
        if self.many:
            return value if type(value) is tuple and all(type(item) is self.cls for item in value) else None
        if value is None:
            return () if self.optional else None
        return (value,) if type(value) is self.cls else None


#: Each model class's fields, with the exact types a value may have: a _Model for a field that
#: holds model objects, dict for evidence's facts. A result holding anything else goes as pickle.
_FIELDS: dict[type, tuple[tuple[str, Any], ...]] = {
    Result: (
        ("claim_id", {str, _NONE}),
        ("payer", {str, _NONE}),
        ("findings", _Model(Finding, many=True)),
        ("error", {str, _NONE}),
        ("payment", _Model(Payment, optional=True)),
        ("suppressed", _Model(Suppression, many=True)),
        ("audit", _Model(Audit, optional=True)),
        ("lines", _Items({int})),
    ),
    Finding: tuple(
        (name, {int, _NONE} if name == "line" else {str} if name in ("code", "severity", "message") else {str, _NONE})
        for name in attrs.fields_dict(Finding)
    ),
    Suppression: (("finding", _Model(Finding)), ("entry", {str}), ("reason", {str})),
    Audit: (
        ("package_version", {str}),
        ("as_of", {dt.date, _NONE}),
        ("rulesets", _Items({tuple}, inner={str}, width=3)),
        ("evidence", _Model(Evidence, many=True)),
        ("overlays", _Items({str})),
    ),
    Evidence: (("rule_id", {str}), ("line", {int, _NONE}), ("facts", dict)),
    Payment: (("allowed", {Decimal}), ("basis", {str}), ("source", {str}), ("lines", _Model(PaymentLine, many=True))),
    PaymentLine: (("line", {int}), ("units", {int}), ("rate", {Decimal}), ("allowed", {Decimal})),
}

if msgspec is not None:
    _encode = msgspec.msgpack.Encoder().encode
    _decode = msgspec.msgpack.Decoder(list[Result]).decode


def encode(results: list[Result]) -> bytes:
    """The results as one message: MessagePack when it round-trips them exactly, else pickle."""
    if msgspec is not None and all(_plain(result) for result in results):
        try:
            return _MSGPACK + _encode(results)
        except (TypeError, ValueError, OverflowError):  # an int beyond 64 bits: pickle keeps it
            pass
    return _PICKLE + pickle.dumps(results, pickle.HIGHEST_PROTOCOL)


def decode(message: bytes) -> list[Result]:
    """The results :func:`encode` wrote."""
    kind, body = message[:1], memoryview(message)[1:]
    if kind == _MSGPACK:
        return _decode(body)
    if kind == _PICKLE:
        return pickle.loads(body)
    raise ValueError(f"not a results message (first byte {bytes(kind)!r})")


def _plain(result: Result) -> bool:
    """Does MessagePack give this result back equal and of the same classes, evidence included?

    Plugins make payments, and a value of another type (a float rate, a str subclass) would
    come back converted or not at all: every field is held to its annotation's exact types.
    """
    if type(result) is not Result:
        return False
    pending: list[Any] = [result]
    while pending:
        item = pending.pop()
        for name, allowed in _FIELDS[type(item)]:  # each item's class is the one its field declares
            value = getattr(item, name)
            if type(allowed) is _Model:
                objects = allowed.objects(value)
                if objects is None:
                    return False
                pending.extend(objects)
            elif type(allowed) is _Items:
                if not allowed.holds(value):
                    return False
            elif allowed is dict:
                if type(value) is not dict or not all(
                    type(key) is str and type(entry) in _PLAIN for key, entry in value.items()
                ):
                    return False
            elif type(value) not in allowed:
                return False
    return True
