"""JSON Schemas of the contract: the claim a caller sends and the result it gets back.

Both are generated, at run time, from the attrs models (:mod:`j9330_rules.model`): every field,
its type, whether it is required and the choices an attrs ``in_`` validator allows come from
the classes, so a field added to ``Claim`` or ``Result`` reaches the schemas without being listed
here. What the models cannot say is declared once below, beside the module it mirrors:

- the claim schema describes what :func:`j9330_rules.model.structure.structure_claim` *accepts*
  (a decimal as a number or a string, a date as ``YYYY-MM-DD`` or ``YYYYMMDD``, null as absent,
  unknown keys passed through in ``extra``), so it is never stricter than the converter;
- the result schema describes what :func:`j9330_rules.writers.serialise.result_to_dict` *emits*
  (decimals as strings, dates as ISO strings, tuples as arrays) plus its three derived keys.

``tests/test_schemas.py`` holds both to the code: every field refinement names a real field,
the derived keys are exactly the ones ``result_to_dict`` adds, and the schemas validate every
example claim and every result of the examples. ``j9330-rules schema claim|result`` prints them;
the HTTP service puts them into its OpenAPI document (docs/service.md).
"""

from __future__ import annotations

import copy
import datetime as dt
import types
import typing
from decimal import Decimal
from functools import cache
from typing import Any

import attrs

from j9330_rules.model import Claim, ClaimLine, Documentation, Patient, Provider, Result
from j9330_rules.model.disposition import ACCEPT, CLAIM, LINE, NOT_CHECKED
from j9330_rules.model.structure import MAX_LINES

__all__ = ["DERIVED_RESULT_KEYS", "SCHEMAS", "claim_schema", "result_schema", "schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_BASE = "https://github.com/j9330-rules/j9330-rules/schemas"

# -- the claim (input) -------------------------------------------------------------------------

_DECIMAL_IN = {"type": ["number", "string"], "description": "a number or a decimal string (exact)"}
_DATE_IN = {
    "type": "string",
    "pattern": r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8})\s*$",
    "description": "a date as YYYY-MM-DD or YYYYMMDD",
}
_TEXT_IN = {"type": ["string", "integer"]}

#: Where a field accepts more or less than its type says (model/structure.py's field hooks).
CLAIM_REFINEMENTS: dict[tuple[type, str], dict[str, Any]] = {
    (Claim, "claim_id"): {"description": "the caller's id of the claim; results carry it back"},
    (Claim, "payer"): {"description": "a payer name (GET /v1/payers); or give payer_id / payer_name for the payer map"},
    (Claim, "lines"): {"minItems": 1, "maxItems": MAX_LINES},
    (Claim, "form"): {"description": "professional or institutional (any case)"},
    (Claim, "diagnoses"): {"description": "ICD-10-CM codes, with or without the dot"},
    (Claim, "place_of_service"): {"description": "a two-digit CMS place-of-service code"},
    (Claim, "type_of_bill"): {"description": "a three- or four-digit type of bill"},
    (ClaimLine, "line"): {"minimum": 1, "description": "the line number; default: the line's 1-based position"},
    (ClaimLine, "hcpcs"): {"description": "a five-character HCPCS/CPT code"},
    (ClaimLine, "modifiers"): {"maxItems": 8, "description": "two-character modifiers (at most 4 besides 00)"},
    (ClaimLine, "dx_pointers"): {"items": {"type": "integer", "minimum": 1}},
    (ClaimLine, "revenue_code"): {"description": "a four-digit revenue code"},
    (ClaimLine, "charge"): {"description": "a charge: not negative, at most two decimal places"},
    (ClaimLine, "dose_mg"): {"description": "the dose given in mg, above zero"},
    (ClaimLine, "ndc_quantity"): {"description": "above zero"},
}
#: Required by the model but filled in by the converter or the Editor when absent.
CLAIM_DEFAULTED = frozenset({(ClaimLine, "line"), (Claim, "payer")})
#: Keys a claim may carry beside the model's fields (kept in ``extra``), that the Editor reads.
CLAIM_EXTRA_KEYS: dict[str, dict[str, Any]] = {
    "payer_id": {"type": ["string", "null"], "description": "a payer ID (837 NM1*PR) the payer map maps onto a payer"},
    "payer_name": {"type": ["string", "null"], "description": "a payer name the payer map maps onto a payer"},
}

# -- the result (output) -----------------------------------------------------------------------

_DECIMAL_OUT = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "a decimal, exact"}
_DATE_OUT = {"type": "string", "format": "date"}

#: The keys result_to_dict adds to the Result's fields (writers/serialise.py).
DERIVED_RESULT_KEYS: dict[str, dict[str, Any]] = {
    "blocking": {"type": "boolean", "description": "true when a finding is a reject or a deny"},
    "disposition": {"enum": sorted({*CLAIM.values(), ACCEPT, NOT_CHECKED})},
    "line_dispositions": {
        "type": "object",
        "propertyNames": {"pattern": "^[0-9]+$"},
        "additionalProperties": {"enum": sorted({*LINE.values(), ACCEPT})},
        "description": "each line number (as a string) with its disposition",
    },
}
#: Fields result_to_dict may leave out (``audit=False``).
RESULT_OPTIONAL = frozenset({(Result, "audit")})


@cache
def claim_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of one claim, as the Editor and the service accept it."""
    return _document("claim", "A claim billing HCPCS J9330, as j9330-rules accepts it.", Claim, _ClaimSide())


@cache
def result_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of one result, as the CLI's json/ndjson formats and the service emit it."""
    return _document("result", "The result of checking one claim.", Result, _ResultSide())


SCHEMAS = {"claim": claim_schema, "result": result_schema}


def schema(name: str) -> dict[str, Any]:
    """``claim`` or ``result``: a fresh copy the caller may change."""
    return copy.deepcopy(SCHEMAS[name]())


def _document(name: str, title: str, root: type, side: _Side) -> dict[str, Any]:
    body = side.object(root)
    defs = {key: value for key, value in side.defs.items() if key != root.__name__}
    return {
        "$schema": DIALECT,
        "$id": f"{_BASE}/{name}.schema.json",
        "title": title,
        **body,
        **({"$defs": dict(sorted(defs.items()))} if defs else {}),
    }


class _Side:
    """Turns attrs classes into schemas; the subclasses say how a scalar looks on their side."""

    scalars: typing.ClassVar[dict[type, dict[str, Any]]]

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}

    def object(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        properties, required = {}, []
        for field in attrs.fields(cls):
            if not field.init or field.name == "extra":
                continue
            prop = self.field(cls, field, hints[field.name])
            properties[field.name] = prop
            if self.is_required(cls, field):
                required.append(field.name)
        schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
        if cls.__doc__:
            schema["description"] = " ".join(cls.__doc__.split())
        return self.finish(cls, schema)

    def field(self, cls: type, field: attrs.Attribute, hint: Any) -> dict[str, Any]:
        prop = self.type(hint, nullable=not self.is_required(cls, field))
        options = getattr(field.validator, "options", None)  # attrs.validators.in_
        if options is not None:
            prop["enum"] = [*options, *([None] if "null" in _types(prop) else [])]
        return prop

    def type(self, hint: Any, *, nullable: bool = False) -> dict[str, Any]:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (types.UnionType, typing.Union):
            members = [arg for arg in args if arg is not type(None)]
            schema = self.type(members[0]) if len(members) == 1 else {"anyOf": [self.type(m) for m in members]}
            return _nullable(schema) if type(None) in args or nullable else schema
        if nullable:
            return _nullable(self.type(hint))
        if hint in self.scalars:
            return copy.deepcopy(self.scalars[hint])
        if origin is tuple or origin is list:
            if (len(args) == 2 and args[1] is Ellipsis) or origin is list:
                return {"type": "array", "items": self.type(args[0])}
            return {
                "type": "array",
                "prefixItems": [self.type(arg) for arg in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        if hint is dict or origin is dict:
            return {"type": "object"}
        if attrs.has(hint):
            if hint.__name__ not in self.defs:
                self.defs[hint.__name__] = {}  # a placeholder: a class that holds itself terminates
                self.defs[hint.__name__] = self.object(hint)
            return {"$ref": f"#/$defs/{hint.__name__}"}
        raise TypeError(f"no JSON Schema for {hint!r}: add it to schemas.py")

    def is_required(self, cls: type, field: attrs.Attribute) -> bool:
        raise NotImplementedError

    def finish(self, cls: type, schema: dict[str, Any]) -> dict[str, Any]:
        return schema


class _ClaimSide(_Side):
    scalars: typing.ClassVar[dict[type, dict[str, Any]]] = {
        str: _TEXT_IN,
        int: {"type": "integer"},
        bool: {"type": "boolean"},
        Decimal: _DECIMAL_IN,
        dt.date: _DATE_IN,
    }

    def is_required(self, cls: type, field: attrs.Attribute) -> bool:
        return field.default is attrs.NOTHING and (cls, field.name) not in CLAIM_DEFAULTED

    def field(self, cls: type, field: attrs.Attribute, hint: Any) -> dict[str, Any]:
        prop = super().field(cls, field, hint)
        refinement = CLAIM_REFINEMENTS.get((cls, field.name), {})
        target = prop
        if "anyOf" in prop and len(prop["anyOf"]) == 2 and {"type": "null"} in prop["anyOf"]:
            target = next(item for item in prop["anyOf"] if item != {"type": "null"})
        for key, value in refinement.items():
            (prop if key == "description" else target)[key] = value
        return prop

    def finish(self, cls: type, schema: dict[str, Any]) -> dict[str, Any]:
        # Unknown keys ride along in ``extra`` (or are ignored): claim editors pass their own fields.
        schema["additionalProperties"] = True
        if cls is Claim:
            schema["properties"].update(copy.deepcopy(CLAIM_EXTRA_KEYS))
            schema["anyOf"] = [{"required": ["payer"]}, {"required": ["payer_id"]}, {"required": ["payer_name"]}]
        return schema


class _ResultSide(_Side):
    scalars: typing.ClassVar[dict[type, dict[str, Any]]] = {
        str: {"type": "string"},
        int: {"type": "integer"},
        bool: {"type": "boolean"},
        Decimal: _DECIMAL_OUT,
        dt.date: _DATE_OUT,
    }

    def is_required(self, cls: type, field: attrs.Attribute) -> bool:
        return (cls, field.name) not in RESULT_OPTIONAL  # cattrs writes every field, null or not

    def field(self, cls: type, field: attrs.Attribute, hint: Any) -> dict[str, Any]:
        # Output is exact: a field is null only where its type allows None.
        prop = self.type(hint)
        options = getattr(field.validator, "options", None)
        if options is not None:
            prop["enum"] = list(options)
        return prop

    def finish(self, cls: type, schema: dict[str, Any]) -> dict[str, Any]:
        schema["additionalProperties"] = False
        if cls is Result:
            schema["properties"].update(copy.deepcopy(DERIVED_RESULT_KEYS))
            schema["required"] += list(DERIVED_RESULT_KEYS)
        return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema or "anyOf" in schema or "enum" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kinds = _types(schema)
    if "null" not in kinds:
        schema["type"] = [*kinds, "null"]
    return schema


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


# The classes the claim schema covers, for the tests' "every field is described" check.
CLAIM_CLASSES = (Claim, ClaimLine, Patient, Provider, Documentation)
