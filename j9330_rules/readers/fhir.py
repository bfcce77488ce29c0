"""FHIR claims: a ``Claim`` resource, a ``Bundle`` of them, a JSON list, or NDJSON (bulk export).

The details (how it works, and why) are in docs/internals.md, "The FHIR reader".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TextIO

from j9330_rules.readers.base import JSON_ERRORS, Unreadable, first_line_parses, json_problem

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
    """Claims (JSON-contract dicts) or :class:`Unreadable`, one per ``Claim`` resource, in file order."""
    text = stream.read()
    if not AVAILABLE:
        yield Unreadable(f"{label}: reading FHIR needs the fhir.resources package ({INSTALL_HINT})")
        return
    try:
        document = json.loads(text, parse_float=Decimal)
    except JSON_ERRORS as exc:
        if not first_line_parses(text.lstrip()):
            yield Unreadable(f"{label}: not valid JSON ({json_problem(exc)})")
            return
        yield from _read_ndjson(text, label, payers, version)
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


def _read_ndjson(text: str, label: str, payers, version) -> Iterator[Any]:
    top: list[tuple[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            top.append((f"line {number}", json.loads(line, parse_float=Decimal)))
        except JSON_ERRORS as exc:
            top.append((f"line {number}", _Broken(f"not valid JSON ({json_problem(exc, line=False)})")))
    yield from _File(label, payers, version).claims(top)


class _Broken:
    def __init__(self, message: str):
        self.message = message


class _File:
    """The resources of one file: claims to map, and the resources they refer to."""

    def __init__(self, label: str, payers: Mapping[str, str] | None, version: str | None):
        self.label = label
        self.payers = {str(key).strip().lower(): value for key, value in (payers or {}).items()}
        self.version = version
        self.index: dict[str, tuple[str, dict]] = {}  # reference key → (where, raw resource)
        self._valid: dict[tuple[str, str], Any] = {}

    def _where(self, where: str) -> str:
        return f"{self.label} {where}" if where else self.label

    def claims(self, top: list[tuple[str, Any]]) -> Iterator[Any]:
        items: list[tuple[str, Any, str | None]] = []  # (where, raw claim | Unreadable, the Bundle's version)
        for where, value in top:
            if isinstance(value, _Broken):
                items.append((where, Unreadable(f"{self._where(where)}: {value.message}"), None))
            elif not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
                items.append((where, Unreadable(f"{self._where(where)}: not a FHIR resource (no resourceType)"), None))
            elif value["resourceType"] == "Bundle":
                items.extend(self._bundle(where, value))
            elif value["resourceType"] == "Claim":
                items.append((where or "resource 1", value, None))
            else:
                self._add(where, value, None)
        if not items:
            bundles = any(isinstance(v, dict) and v.get("resourceType") == "Bundle" for _, v in top)
            yield Unreadable(
                f"{self.label}: {'the Bundle holds no Claim' if bundles else 'holds no FHIR Claim or Bundle'}"
            )
            return
        for where, item, version, *full_url in items:
            yield item if isinstance(item, Unreadable) else self._claim(where, item, version, *full_url)

    def _bundle(self, where: str, bundle: dict) -> list[tuple[Any, ...]]:
        """A Bundle's claims; a Bundle that says its version passes it on to claims that do not."""
        prefix = f"{where} " if where else ""
        stated = _version_of(bundle)
        version = self.version or stated or R4B
        # The envelope is validated without the resources: each resource is validated on its own,
        # so that a bad claim costs that claim only.
        shell = dict(bundle)
        entries = bundle.get("entry") or []
        if isinstance(entries, list):
            shell["entry"] = [
                {key: value for key, value in entry.items() if key != "resource"} if isinstance(entry, dict) else entry
                for entry in entries
            ]
        problems = _validate(VERSIONS[version]("Bundle"), shell, "Bundle")
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
        keys = []
        if isinstance(full_url, str) and full_url:
            keys.append(full_url)
        if isinstance(resource.get("id"), str):
            keys.append(f"{resource['resourceType']}/{resource['id']}")
        for key in keys:
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
        if key not in self._valid:
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
