"""FHIR claims: a ``Claim`` resource, a ``Bundle`` of them, a JSON list, or NDJSON (bulk export).

The details (how it works, and why) are in docs/internals.md, "The FHIR reader".
"""

from __future__ import annotations

import codecs
import io
import json
import re
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TextIO

from j9330_rules.readers.base import (
    CHUNK,
    JSON_ERRORS,
    Source,
    Unreadable,
    decode,
    first_line_parses,
    json_problem,
    raw_pieces,
)
from j9330_rules.readers.json_lines import SAMPLE_LINES, is_ndjson, starts_ndjson

_UTF16_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

try:
    from fhir.resources import get_fhir_model_class as _r5_model
    from fhir.resources.R4B import get_fhir_model_class as _r4b_model
    from pydantic import ValidationError
except ImportError:  # an optional extra: the package, and FHIR detection, work without it
    AVAILABLE = False

    class ValidationError(Exception):  # type: ignore[no-redef]  # never raised; keeps the except clauses valid
        pass

    _r5_model = _r4b_model = None
else:
    AVAILABLE = True

INSTALL_HINT = "pip install 'j9330-rules[fhir]'"
R4B, R5 = "R4B", "R5"
VERSIONS = {R4B: _r4b_model, R5: _r5_model}

EXTENSION = "urn:j9330-rules:fhir:"
EXT_PAYER = EXTENSION + "payer"
EXT_340B = EXTENSION + "is-340b"
EXT_HOSPITAL_TYPE = EXTENSION + "hospital-type"
EXT_DOSE = EXTENSION + "dose-mg"
EXT_DOCUMENTATION = EXTENSION + "documentation"

HCPCS_SYSTEMS = frozenset(
    {
        "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "http://terminology.hl7.org/CodeSystem/HCPCS",
        "urn:oid:2.16.840.1.113883.6.285",
        "http://www.ama-assn.org/go/cpt",
        "urn:oid:2.16.840.1.113883.6.12",
    }
)
ICD10CM_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90"})
NDC_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/ndc", "urn:oid:2.16.840.1.113883.6.69"})
NPI_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/us-npi", "urn:oid:2.16.840.1.113883.4.6"})
POS_SYSTEMS = frozenset(
    {
        "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
        "http://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
    }
)
CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"

_R5_CLAIM_ONLY = frozenset({"traceNumber", "encounter", "event", "diagnosisRelatedGroup", "patientPaid"})
_R5_ITEM_ONLY = frozenset({"traceNumber", "tax", "patientPaid", "request", "productOrServiceEnd"})
#: Unknown elements a message may name: they belong to another FHIR version, not to the input.
_KNOWN_ELSEWHERE = _R5_CLAIM_ONLY | _R5_ITEM_ONLY
_SEX = {"female": "F", "male": "M", "other": "U", "unknown": "U"}
_NDC_UNITS = {"ML": "ML", "MG": "ME", "G": "GR", "[IU]": "F2", "1": "UN", "{UNIT}": "UN", "{EACH}": "UN"}
_MAX_PROBLEMS = 5
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Problem(Exception):
    """A claim that cannot be mapped; the message names paths, never values."""


# ---------------------------------------------------------------- reading


def read_fhir(
    stream: TextIO, label: str, *, payers: Mapping[str, str] | None = None, version: str | None = None
) -> Iterator[Any]:
    """Claims (JSON-contract dicts) or :class:`Unreadable`, one per ``Claim`` resource, in file order.

    NDJSON (a bulk export) is read a line at a time: memory is about the largest line, whatever
    the file's size (see :func:`_read_ndjson`). A JSON document (a resource or Bundle spread
    over lines, a list) is one record and is read whole.
    """
    if not AVAILABLE:
        yield Unreadable(f"{label}: reading FHIR needs the fhir.resources package ({INSTALL_HINT})")
        return
    source = Source.of(stream)
    head = source.head_text(SAMPLE_LINES + 1).lstrip()
    if not head.startswith("[") and starts_ndjson(head):
        yield from _read_ndjson(source, label, payers, version)
        return
    text = source.read_text()
    try:
        document = json.loads(text, parse_float=Decimal)
    except JSON_ERRORS as exc:
        stripped = text.lstrip()
        if not first_line_parses(stripped) and not is_ndjson(stripped):
            yield Unreadable(f"{label}: not valid JSON ({json_problem(exc)})")
            return
        yield from _read_ndjson(Source.of(io.StringIO(text)), label, payers, version)
        return
    yield from fhir_claims(document, label, payers=payers, version=version)


def fhir_claims(
    document: Any, label: str = "<fhir>", *, payers: Mapping[str, str] | None = None, version: str | None = None
) -> Iterator[Any]:
    """The claims in parsed FHIR JSON: a resource, a Bundle, or a list of either."""
    if version is not None and version not in VERSIONS:
        raise ValueError(f"version must be one of {', '.join(VERSIONS)}")
    if not AVAILABLE:
        raise ImportError(f"reading FHIR needs the fhir.resources package ({INSTALL_HINT})")
    if isinstance(document, list):
        top = [(f"resource {index + 1}", item) for index, item in enumerate(document)]
    else:
        top = [("", document)]
    yield from _File(label, payers, version).claims(top)


_SPACE = re.compile(r"[ \t\r\n]*")


def resource_type(head: str) -> str | None:
    """The ``resourceType`` of the first JSON object in ``head`` (a file's first characters), read
    at that object's top level only; None if the head is not JSON or that key is not found in it.

    Needs no fhir.resources: the readers' ``detect`` uses it.
    """
    decoder = json.JSONDecoder()
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        text = text[1:]
    at = _SPACE.match(text).end()
    if not text.startswith("{", at):
        return None
    at += 1
    try:
        while True:
            at = _SPACE.match(text, at).end()
            if not text.startswith('"', at):
                return None
            key, at = decoder.raw_decode(text, at)
            at = _SPACE.match(text, at).end()
            if not text.startswith(":", at):
                return None
            at = _SPACE.match(text, at + 1).end()
            value, at = decoder.raw_decode(text, at)
            if key == "resourceType":
                return value if isinstance(value, str) else None
            at = _SPACE.match(text, at).end()
            if not text.startswith(",", at):
                return None
            at += 1
    except (*JSON_ERRORS, IndexError):
        return None  # not JSON, or the object goes on past the head (or nests too deeply, or a number is too long)


def fhir_ndjson(head: str) -> bool:
    """NDJSON of FHIR resources: among its first lines, the first that is a JSON object of its
    own is a resource, and one of them is a Claim or a Bundle. A broken first line, or a Patient
    before the claims, so costs nothing but itself."""
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return False
    first = None
    for line in text.split("\n", SAMPLE_LINES + 1)[: SAMPLE_LINES + 1]:
        line = line.rstrip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        kind = resource_type(line)
        if kind is None and first is None:
            try:
                if isinstance(json.loads(line), dict):
                    return False  # the first whole object is no resource: plain claims
            except JSON_ERRORS:
                continue
            continue
        first = first or kind
        if kind in ("Claim", "Bundle"):
            return True
    return False


def _read_ndjson(source: Source, label: str, payers, version) -> Iterator[Any]:
    """One line at a time, each line its own record: a bad line (or a bad byte in it) costs that
    line. A claim may refer to a resource on any line, before or after it, so a first pass
    indexes where each resource other than a Claim is (:class:`_LineIndex`); the second maps the
    claims, reading a referenced line again when it is needed."""
    file = _File(label, payers, version)
    index = _LineIndex(source, file)
    file.index = index
    found = bundles = False
    for number, line in index.lines():
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except JSON_ERRORS as exc:
            value = _Broken(f"not valid JSON ({json_problem(exc, line=False)})")
        bundles = bundles or (isinstance(value, dict) and value.get("resourceType") == "Bundle")
        for where, item, stated, *full_url in file.items(f"line {number}", value):
            found = True
            yield item if isinstance(item, Unreadable) else file._claim(where, item, stated, *full_url)
    if not found:
        yield Unreadable(f"{label}: {'the Bundle holds no Claim' if bundles else 'holds no FHIR Claim or Bundle'}")


#: How many resources read again for references, and validated, are kept for the next claim.
CACHED = 256


class _LineIndex:
    """Where each resource a claim may refer to is (its line, and its entry if the line is a
    Bundle), not the resource: a line is read again, and parsed, when a claim refers to it.

    The first pass reads the stream once. A seekable binary file is then read again from the
    start; anything else (a pipe, a text stream) is copied as it is read to a temporary file
    (in memory up to 8 MiB), so memory stays at one line plus one small entry per resource.
    """

    def __init__(self, source: Source, file: _File):
        self.source = source
        self.file = file
        self.keys: dict[str, tuple[int, int, int, int | None]] = {}  # key → (offset, length, line, entry)
        self._parsed: OrderedDict[int, Any] = OrderedDict()
        head = source.head()
        self.base = None if isinstance(head, str) or head.startswith(_UTF16_MARKS) else source.origin
        if self.base is not None and head.startswith(codecs.BOM_UTF8):
            self.base += len(codecs.BOM_UTF8)
        # Closed when the second pass ends (lines()), or with the reader if that never comes.
        self.spool = None if self.base is not None else tempfile.SpooledTemporaryFile(max_size=8 * CHUNK)  # noqa: SIM115
        offset = 0
        for number, raw in enumerate(raw_pieces(source, "\n"), start=1):
            text = raw if isinstance(raw, str) else decode(raw)
            if self.spool is not None:
                raw = text.encode("utf-8", "surrogatepass")
                self.spool.write(raw)
            self._index(text, number, offset, len(raw))
            offset += len(raw)

    def lines(self) -> Iterator[tuple[int, str]]:
        """The second pass: (line number, text)."""
        if self.spool is not None:
            self.spool.seek(0)
            stream: Any = self.spool
        else:
            self.source.rewind()
            stream = self.source
        try:
            for number, raw in enumerate(raw_pieces(stream, "\n"), start=1):
                yield number, self._text(raw)
        finally:
            if self.spool is not None:
                self.spool.close()

    def _text(self, raw: str | bytes) -> str:
        if isinstance(raw, str):
            return raw
        return raw.decode("utf-8", "surrogatepass") if self.spool is not None else decode(raw)

    def _index(self, text: str, number: int, offset: int, length: int) -> None:
        stripped = text.strip()
        if not stripped.startswith("{") or resource_type(stripped) == "Claim":
            return  # a claim is read in the second pass; only what it refers to is indexed
        try:
            value = json.loads(stripped, parse_float=Decimal)
        except JSON_ERRORS:
            return
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            return
        if value["resourceType"] == "Bundle":
            if self.file.bundle_problems(value) is not None:
                return
            entries = value.get("entry")
            for position, entry in enumerate(entries if isinstance(entries, list) else ()):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
                    self._add(resource, entry.get("fullUrl"), (offset, length, number, position))
        elif value["resourceType"] != "Claim":
            self._add(value, None, (offset, length, number, None))

    def _add(self, resource: dict, full_url: Any, locator: tuple[int, int, int, int | None]) -> None:
        for key in _keys(resource, full_url):
            self.keys.setdefault(key, locator)

    def get(self, key: str) -> tuple[str, dict] | None:
        locator = self.keys.get(key)
        if locator is None:
            return None
        offset, length, number, position = locator
        value = self._parsed.get(offset)
        if value is None:
            value = json.loads(self._read_at(offset, length), parse_float=Decimal)
            self._parsed[offset] = value
            if len(self._parsed) > CACHED:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(offset)
        if position is None:
            return f"line {number}", value
        return f"line {number} Bundle.entry[{position}]", value["entry"][position]["resource"]

    def _read_at(self, offset: int, length: int) -> str:
        stream = self.spool if self.spool is not None else self.source.stream
        here = stream.tell()
        try:
            stream.seek((self.base or 0) + offset)
            return self._text(stream.read(length))
        finally:
            stream.seek(here)


def _keys(resource: dict, full_url: Any) -> list[str]:
    """The references that name a resource: its entry's fullUrl, and Type/id."""
    keys = []
    if isinstance(full_url, str) and full_url:
        keys.append(full_url)
    if isinstance(resource.get("id"), str):
        keys.append(f"{resource['resourceType']}/{resource['id']}")
    return keys


class _Broken:
    def __init__(self, message: str):
        self.message = message


class _File:
    """The resources of one file: claims to map, and the resources they refer to."""

    def __init__(self, label: str, payers: Mapping[str, str] | None, version: str | None):
        self.label = label
        self.payers = {str(key).strip().lower(): value for key, value in (payers or {}).items()}
        self.version = version
        self.index: dict[str, tuple[str, dict]] | _LineIndex = {}  # reference key → (where, raw resource)
        self._valid: OrderedDict[tuple[str, str], Any] = OrderedDict()  # the last CACHED validated

    def _where(self, where: str) -> str:
        return f"{self.label} {where}" if where else self.label

    def claims(self, top: list[tuple[str, Any]]) -> Iterator[Any]:
        """The claims of a whole document: every resource is indexed before any claim is mapped."""
        items = [item for where, value in top for item in self.items(where, value)]
        if not items:
            bundles = any(isinstance(v, dict) and v.get("resourceType") == "Bundle" for _, v in top)
            yield Unreadable(
                f"{self.label}: {'the Bundle holds no Claim' if bundles else 'holds no FHIR Claim or Bundle'}"
            )
            return
        for where, item, version, *full_url in items:
            yield item if isinstance(item, Unreadable) else self._claim(where, item, version, *full_url)

    def items(self, where: str, value: Any) -> list[tuple[Any, ...]]:
        """One top-level value's claims: (where, raw claim | Unreadable, the Bundle's version[, fullUrl])."""
        if isinstance(value, _Broken):
            return [(where, Unreadable(f"{self._where(where)}: {value.message}"), None)]
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            return [(where, Unreadable(f"{self._where(where)}: not a FHIR resource (no resourceType)"), None)]
        if value["resourceType"] == "Bundle":
            return self._bundle(where, value)
        if value["resourceType"] == "Claim":
            return [(where or "resource 1", value, None)]
        self._add(where, value, None)
        return []

    def bundle_problems(self, bundle: dict) -> str | None:
        """What is wrong with a Bundle's envelope, validated without its resources (each
        resource is validated on its own, so that a bad claim costs that claim only)."""
        version = self.version or _version_of(bundle) or R4B
        shell = dict(bundle)
        entries = bundle.get("entry") or []
        if isinstance(entries, list):
            shell["entry"] = [
                {key: value for key, value in entry.items() if key != "resource"} if isinstance(entry, dict) else entry
                for entry in entries
            ]
        return _validate(VERSIONS[version]("Bundle"), shell, "Bundle")

    def _bundle(self, where: str, bundle: dict) -> list[tuple[Any, ...]]:
        """A Bundle's claims; a Bundle that says its version passes it on to claims that do not."""
        prefix = f"{where} " if where else ""
        stated = _version_of(bundle)
        version = self.version or stated or R4B
        entries = bundle.get("entry") or []
        problems = self.bundle_problems(bundle)
        if problems:
            return [
                (where, Unreadable(f"{self._where(where)}: the Bundle is not valid FHIR {version}: {problems}"), None)
            ]
        found: list[tuple[Any, ...]] = []  # (where, raw claim | Unreadable, version[, the entry's fullUrl])
        for position, entry in enumerate(entries if isinstance(entries, list) else ()):
            place = f"{prefix}Bundle.entry[{position}]"
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if resource is None:
                continue
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                found.append((place, Unreadable(f"{self._where(place)}: not a FHIR resource (no resourceType)"), None))
            elif resource["resourceType"] == "Claim":
                self._add(place, resource, entry.get("fullUrl"))
                found.append((place, resource, stated, entry.get("fullUrl")))
            else:
                self._add(place, resource, entry.get("fullUrl"))
        return found

    def _add(self, where: str, resource: dict, full_url: Any) -> None:
        if isinstance(self.index, dict):  # a document; NDJSON's index was made in a first pass
            for key in _keys(resource, full_url):
                self.index.setdefault(key, (where, resource))

    # ------------------------------------------------------------ one claim

    def _claim(self, where: str, raw: dict, bundle_version: str | None = None, full_url: Any = None) -> Any:
        version = self.version or _version_of(raw) or bundle_version or R4B
        try:
            claim = VERSIONS[version]("Claim").model_validate(raw)
        except ValidationError as exc:
            return Unreadable(f"{self._where(where)}: Claim is not valid FHIR {version}: {_describe(exc, 'Claim')}")
        except Exception as exc:  # a model-level check that is not a ValidationError
            return Unreadable(f"{self._where(where)}: Claim is not valid FHIR {version} ({type(exc).__name__})")
        try:
            return _Mapper(self, claim, version, full_url if isinstance(full_url, str) else None).build()
        except _Problem as exc:
            return Unreadable(f"{self._where(where)}: {exc}")
        except Exception as exc:  # a shape the mapping did not foresee: this claim only, and no values
            return Unreadable(f"{self._where(where)}: the Claim could not be mapped ({type(exc).__name__})")

    def resolve(self, reference: Any, claim: Any, version: str) -> Any:
        """The resource a Reference points to, validated; None if it points outside the file."""
        target = getattr(reference, "reference", None)
        if not target:
            return None
        if target.startswith("#"):
            for resource in claim.contained or ():
                if getattr(resource, "id", None) == target[1:]:
                    return resource
            return None
        found = self.index.get(target)
        if found is None and "/" in target and not target.startswith("urn:"):
            found = self.index.get("/".join(target.rstrip("/").split("/")[-2:]))
        if found is None:
            return None
        where, raw = found
        key = (where, version)
        if key in self._valid:
            self._valid.move_to_end(key)
        else:
            if len(self._valid) >= CACHED:
                self._valid.popitem(last=False)
            kind = raw["resourceType"]
            try:
                model = VERSIONS[version](kind)
            except (KeyError, ValueError):
                self._valid[key] = _Problem(f"the Claim refers to {where}, which is not a FHIR {version} resource type")
            else:
                try:
                    self._valid[key] = model.model_validate(raw)
                except ValidationError as exc:
                    self._valid[key] = _Problem(
                        f"the Claim refers to {where}, a {kind} that is not valid FHIR {version}: {_describe(exc, kind)}"
                    )
                except Exception as exc:
                    self._valid[key] = _Problem(
                        f"the Claim refers to {where}, a {kind} that is not valid FHIR {version} ({type(exc).__name__})"
                    )
        value = self._valid[key]
        if isinstance(value, _Problem):
            raise _Problem(str(value))
        return value


def _version_of(raw: dict) -> str | None:
    meta = raw.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    for profile in profiles if isinstance(profiles, list) else ():
        if isinstance(profile, str) and "|" in profile:
            release = profile.rsplit("|", 1)[1]
            if release.startswith("5."):
                return R5
            if release.startswith("4."):
                return R4B
    if raw.get("resourceType") == "Claim":
        if _R5_CLAIM_ONLY & raw.keys():
            return R5
        items = raw.get("item")
        if isinstance(items, list) and any(isinstance(i, dict) and _R5_ITEM_ONLY & i.keys() for i in items):
            return R5
    return None


def _validate(model: Any, raw: dict, kind: str) -> str | None:
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        return _describe(exc, kind)
    except Exception as exc:
        return f"{kind} ({type(exc).__name__})"
    return None


def _describe(exc: ValidationError, kind: str) -> str:
    """Element paths and what is wrong there; pydantic's own text can quote the value, so it is not used."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path = kind
        loc = tuple(error.get("loc", ()))
        # An unknown name is the input's, which may be anything (a patient's name as a key):
        # only an element of another FHIR version is named (R5's traceNumber says "R5").
        unnamed = error.get("type") == "extra_forbidden" and bool(loc) and loc[-1] not in _KNOWN_ELSEWHERE
        for part in loc[:-1] if unnamed else loc:
            if isinstance(part, int):
                path += f"[{part}]"
            elif isinstance(part, str) and _NAME.match(part):
                path += f".{'resourceType' if part == 'resource_type' else part}"
        what = (
            "holds an element that is not part of this resource (its name is not quoted)" if unnamed else _what(error)
        )
        problem = f"{path}: {what}"
        if problem not in problems:
            problems.append(problem)
    shown = "; ".join(problems[:_MAX_PROBLEMS])
    return shown + (f"; and {len(problems) - _MAX_PROBLEMS} more" if len(problems) > _MAX_PROBLEMS else "")


def _what(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    message = str(error.get("msg", ""))
    if kind.endswith("missing"):
        return "required element missing"
    if kind == "extra_forbidden":
        return "not an element of this resource"
    if kind == "fhir-validation-wrong-resource-type":
        return "wrong resourceType"
    if kind == "string_pattern_mismatch" or "regex" in message:
        return "not in the FHIR format for this element"
    if "Any of one field value is expected" in message:
        return "more than one choice of a [x] element"
    if kind.endswith(("_parsing", "_type")) or kind in ("model_attributes_type",):
        return "wrong type of value"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "value out of range"
    if "too_long" in kind or "too_short" in kind:
        return "wrong length"
    return "invalid value"


# ---------------------------------------------------------------- mapping


def _codings(concept: Any) -> list[Any]:
    return [c for c in (getattr(concept, "coding", None) or ()) if c is not None and c.code]


def _code(concept: Any, systems: frozenset[str] = frozenset(), *, avoid: frozenset[str] = frozenset()) -> str | None:
    """The code from ``systems`` if one is there, else the first code not from ``avoid``."""
    codings = _codings(concept)
    for coding in codings:
        if coding.system in systems:
            return coding.code
    for coding in codings:
        if coding.system not in avoid:
            return coding.code
    return None


def _text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _extension(owner: Any, url: str) -> Any:
    for extension in getattr(owner, "extension", None) or ():
        if extension is not None and extension.url == url:
            return extension
    return None


_VALUE_KINDS = (
    "valueString",
    "valueCode",
    "valueBoolean",
    "valueDecimal",
    "valueInteger",
    "valueDate",
    "valueQuantity",
    "valueCoding",
    "valueCodeableConcept",
    "valuePositiveInt",
    "valueId",
)


def _value(extension: Any) -> Any:
    for name in _VALUE_KINDS:
        value = getattr(extension, name, None)
        if value is not None:
            return value
    return None


def _identifiers(resource: Any) -> list[Any]:
    found = getattr(resource, "identifier", None)
    if found is None:
        return []
    return [i for i in (found if isinstance(found, list) else [found]) if i is not None and i.value]


def _typed_identifier(resource: Any, code: str) -> str | None:
    for identifier in _identifiers(resource):
        if any(c.code == code for c in _codings(identifier.type)):
            return identifier.value
    return None


class _Mapper:
    def __init__(self, file: _File, claim: Any, version: str, full_url: str | None = None):
        self.file, self.claim, self.version, self.full_url = file, claim, version, full_url

    def resolve(self, reference: Any) -> Any:
        return self.file.resolve(reference, self.claim, self.version)

    def build(self) -> dict[str, Any]:
        claim = self.claim
        diagnoses, positions = self._diagnoses()
        items = claim.item or []
        payer, payer_id, payer_name = self._payer()
        out: dict[str, Any] = {
            # A Claim in a transaction Bundle may have no id yet: its entry's fullUrl names it.
            "claim_id": claim.id or next((i.value for i in _identifiers(claim)), None) or self.full_url,
            "payer": payer,
            "payer_id": payer_id,
            "payer_name": payer_name,
            "use": claim.use if claim.use != "claim" else None,
            "form": _code(claim.type, frozenset({CLAIM_TYPE_SYSTEM})),
            "type_of_bill": self._type_of_bill(),
            "place_of_service": next(
                (code for item in items if (code := _code(item.locationCodeableConcept, POS_SYSTEMS))), None
            ),
            "diagnoses": diagnoses,
            "patient": self._patient(),
            "provider": self._provider(),
            "prior_authorization": self._prior_authorization(),
            "lines": [self._line(index, item, positions) for index, item in enumerate(items)],
        }
        return {key: value for key, value in out.items() if value is not None}

    def _payer(self) -> tuple[str | None, str | None, str | None]:
        """(payer, payer_id, payer_name): the payer from the extension or the reader's map; else the
        insurer's (or, with no insurer, the focal coverage's payor's) identifier and name for the
        Editor's payer map."""
        explicit = _value(_extension(self.claim, EXT_PAYER))
        if isinstance(explicit, str) and explicit.strip():
            return explicit, None, None
        party = self.claim.insurer
        if party is None:
            insurance = self._focal_insurance()
            coverage = self.resolve(insurance.coverage) if insurance is not None else None
            party = next(iter(getattr(coverage, "payor", None) or ()), None)
        if party is None:
            return None, None, None
        organisation = self.resolve(party)
        own = party.identifier.value if party.identifier is not None else None
        identifiers = [
            v for v in (own, *(i.value for i in _identifiers(organisation))) if isinstance(v, str) and v.strip()
        ]
        names = [n for n in (party.display, getattr(organisation, "name", None)) if isinstance(n, str) and n.strip()]
        for candidate in (*identifiers, *names):
            mapped = self.file.payers.get(candidate.strip().lower())
            if mapped is not None:
                return mapped, None, None
        return None, next(iter(identifiers), None), next(iter(names), None)

    def _type_of_bill(self) -> str | None:
        for info in self.claim.supportingInfo or ():
            if any(c.code.lower() == "typeofbill" for c in _codings(info.category)):
                return _code(info.code)
        return None

    def _diagnoses(self) -> tuple[list[str], dict[int, int]]:
        entries = sorted(
            enumerate(self.claim.diagnosis or ()), key=lambda pair: (pair[1].sequence is None, pair[1].sequence or 0)
        )
        codes, positions = [], {}
        for index, diagnosis in entries:
            concept = diagnosis.diagnosisCodeableConcept
            if concept is None and diagnosis.diagnosisReference is not None:
                concept = getattr(self.resolve(diagnosis.diagnosisReference), "code", None)
            code = _code(concept, ICD10CM_SYSTEMS)
            if code is None:
                raise _Problem(
                    f"Claim.diagnosis[{index}]: no diagnosis code (an ICD-10-CM coding, or a Condition in the file)"
                )
            codes.append(code)
            positions.setdefault(diagnosis.sequence, len(codes))
        return codes, positions

    def _patient(self) -> dict[str, Any] | None:
        patient = self.resolve(self.claim.patient)
        out = {}
        if patient is not None:
            out["birth_date"] = _text(patient.birthDate)
            out["sex"] = _SEX.get(patient.gender or "", patient.gender)
        out["member_id"] = self._member_id(patient)
        out = {key: value for key, value in out.items() if value is not None}
        return out or None

    def _member_id(self, patient: Any) -> str | None:
        insurance = self._focal_insurance()
        coverage = self.resolve(insurance.coverage) if insurance is not None else None
        if coverage is not None:
            subscriber = coverage.subscriberId
            if isinstance(subscriber, list):  # R5: a list of Identifier
                subscriber = next((i.value for i in subscriber if i is not None and i.value), None)
            if subscriber:
                return subscriber
            member = _typed_identifier(coverage, "MB")
            if member:
                return member
        return _typed_identifier(patient, "MB") if patient is not None else None

    def _provider(self) -> dict[str, Any] | None:
        reference = self.claim.provider
        resource = self.resolve(reference) if reference is not None else None
        npi = None
        own = getattr(reference, "identifier", None)
        if own is not None and own.system in NPI_SYSTEMS and own.value:
            npi = own.value
        if npi is None:
            npi = next((i.value for i in _identifiers(resource) if i.system in NPI_SYSTEMS), None)
        out: dict[str, Any] = {"npi": npi}
        for key, url in (("is_340b", EXT_340B), ("hospital_type", EXT_HOSPITAL_TYPE)):
            found = _extension(self.claim, url) or _extension(resource, url)
            if found is not None:
                value = _value(found)
                out[key] = _code(value) if hasattr(value, "coding") else value
        out = {key: value for key, value in out.items() if value is not None}
        return out or None

    def _focal_insurance(self) -> Any:
        insurances = [i for i in self.claim.insurance or () if i is not None]
        return next((i for i in insurances if i.focal), insurances[0] if insurances else None)

    def _prior_authorization(self) -> str | None:
        focal = self._focal_insurance()
        ordered = [focal] + [i for i in self.claim.insurance or () if i is not focal] if focal else []
        for insurance in ordered:
            for reference in insurance.preAuthRef or ():
                if reference:
                    return reference
        return None

    def _line(self, index: int, item: Any, positions: dict[int, int]) -> dict[str, Any]:
        pointers = []
        for number, sequence in enumerate(item.diagnosisSequence or ()):
            if sequence not in positions:
                raise _Problem(f"Claim.item[{index}].diagnosisSequence[{number}]: names no diagnosis of the claim")
            pointers.append(positions[sequence])
        line: dict[str, Any] = {
            "line": item.sequence,
            "hcpcs": _code(item.productOrService, HCPCS_SYSTEMS, avoid=NDC_SYSTEMS),
            "modifiers": [code for concept in item.modifier or () if (code := _code(concept, HCPCS_SYSTEMS))],
            "units": _text(item.quantity.value) if item.quantity is not None else None,
            "service_date": self._service_date(item),
            "charge": _text(self._charge(item)),
            "revenue_code": _code(item.revenue),
            "dx_pointers": pointers,
            **self._ndc(item),
            "dose_mg": self._dose(index, item),
            "documentation": self._documentation(item),
        }
        return {key: value for key, value in line.items() if value is not None}

    def _service_date(self, item: Any) -> Any:
        if item.servicedDate is not None:
            return _text(item.servicedDate)
        if item.servicedPeriod is not None and item.servicedPeriod.start is not None:
            return _date_part(item.servicedPeriod.start)
        period = self.claim.billablePeriod
        if period is not None and period.start is not None:
            return _date_part(period.start)
        return None

    @staticmethod
    def _charge(item: Any) -> Decimal | None:
        if item.net is not None and item.net.value is not None:
            return item.net.value
        if item.unitPrice is not None and item.unitPrice.value is not None:
            quantity = item.quantity.value if item.quantity is not None and item.quantity.value is not None else 1
            return item.unitPrice.value * Decimal(quantity) * Decimal(item.factor if item.factor is not None else 1)
        return None

    @staticmethod
    def _ndc(item: Any) -> dict[str, Any]:
        for detail in item.detail or ():
            code = _code(detail.productOrService, NDC_SYSTEMS, avoid=HCPCS_SYSTEMS)
            if code and any(c.system in NDC_SYSTEMS for c in _codings(detail.productOrService)):
                quantity = detail.quantity
                unit = (quantity.code or quantity.unit) if quantity is not None else None
                return {
                    "ndc": code,
                    "ndc_quantity": _text(quantity.value) if quantity is not None else None,
                    "ndc_unit": _NDC_UNITS.get(unit.strip().upper(), unit) if unit else None,
                }
        for coding in _codings(item.productOrService):
            if coding.system in NDC_SYSTEMS:
                return {"ndc": coding.code}
        for extension in item.extension or ():
            value = _value(extension)
            codings = [value] if hasattr(value, "system") and hasattr(value, "code") else _codings(value)
            for coding in codings:
                if coding.system in NDC_SYSTEMS and coding.code:
                    return {"ndc": coding.code}
        return {}

    @staticmethod
    def _dose(index: int, item: Any) -> Any:
        value = _value(_extension(item, EXT_DOSE))
        if value is None:
            return None
        if hasattr(value, "value") and hasattr(value, "code"):  # a Quantity
            unit = (value.code or value.unit or "mg").strip().lower()
            if unit != "mg":
                raise _Problem(f"Claim.item[{index}].extension({EXT_DOSE}): the dose must be in mg")
            value = value.value
        return _text(value)

    @staticmethod
    def _documentation(item: Any) -> dict[str, Any] | None:
        documentation = _extension(item, EXT_DOCUMENTATION)
        if documentation is None:
            return None
        out = {}
        for key in ("lot", "expiration", "route"):
            value = _value(_extension(documentation, key))
            if hasattr(value, "coding"):
                value = _code(value)
            elif hasattr(value, "code") and hasattr(value, "system"):
                value = value.code
            if value is not None:
                out[key] = _text(value)
        return out


def _date_part(value: Any) -> Any:
    """A dateTime's date (the contract takes a date); a partial date stays as given, for the converter to refuse."""
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    return _text(value)
