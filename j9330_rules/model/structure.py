"""Dict → model: the one converter every entry point goes through.

Every reader (JSON, NDJSON, and later X12, FHIR, CSV) produces the JSON claim
contract and hands it to :func:`structure_claim`, so the shape is checked in
one place. Hooks raise :class:`Invalid` with a message that never contains
the offending value: claims carry patient identifiers, and error text ends up
in logs.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from j9330_rules.errors import ClaimError
from j9330_rules.facts import ndc
from j9330_rules.model import Claim, ClaimLine, Documentation, Patient, Provider, Result

# Bounds that no real J9330 claim approaches; past them a value is an input error.
MAX_QUANTITY = Decimal("1e8")
MAX_CHARGE = Decimal("1e10")
MAX_LINES = 999
MAX_MODIFIERS = 4

_HCPCS = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")
_DATE_DIGITS = re.compile(r"\d{8}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_POS = re.compile(r"[0-9]{1,2}")
NO_MODIFIER = "00"  # the seed's "no modifier" placeholder


class Invalid(ValueError):
    """A value failed a check; the message describes the problem, not the value."""


def _remembered(check):
    """Claims repeat the same dates, codes, amounts and code lists: the outcome for a string,
    an integer or a list of them is worked out once (values that fail are checked again each
    time, and raise again). Keys carry the types: ``True`` and ``1`` are equal keys otherwise,
    and only one of them is valid. Strings, integers and lists of strings each have a plain
    dict holding keys of that one type only, which the fast path (_fast_claim) reads itself."""
    cached = functools.lru_cache(maxsize=8192)(lambda value, _types: check(value))
    strings: dict[str, Any] = {}
    integers: dict[int, Any] = {}  # exact ints only: True and 1.0 must not hit 1, so readers check the type
    lists: dict[tuple[str, ...], Any] = {}  # lists of exact strs: no other value equals one

    def remember(memo: dict, key: Any, value: Any) -> Any:
        found = check(value)
        if len(memo) >= 8192:
            memo.clear()
        memo[key] = found
        return found

    @functools.wraps(check)
    def hook(value: Any, _type: Any = None) -> Any:
        kind = type(value)
        if kind is str:
            found = strings.get(value)
            return remember(strings, value, value) if found is None else found
        if kind is int:
            found = integers.get(value)
            return remember(integers, value, value) if found is None else found
        if kind is list:
            types = tuple(map(type, value))
            # Only flat lists of strings and integers are keys: hashing a nested value recurses
            # in C without a limit (a 200,000-deep tuple crashes the interpreter).
            if all(t is str for t in types):
                key = tuple(value)
                found = lists.get(key)
                return remember(lists, key, value) if found is None else found
            if all(t is str or t is int for t in types):
                return cached(tuple(value), types)
        return check(value)

    hook.strings, hook.integers, hook.lists = strings, integers, lists  # type: ignore[attr-defined]
    return hook


def _decimal(value: Any, _type: type = Decimal, *, limit: Decimal = MAX_QUANTITY) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise Invalid("expected a number or a decimal string")
    try:
        # repr() keeps a float's shortest decimal form: 0.1 stays 0.1.
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise Invalid("expected a number or a decimal string") from None
    if not number.is_finite():
        raise Invalid("expected a finite number")
    if abs(number) >= limit:
        raise Invalid("number is too large")
    return number


_quantity = _remembered(_decimal)


@_remembered
def _charge(value: Any) -> Decimal:
    amount = _decimal(value, limit=MAX_CHARGE)
    if amount < 0:
        raise Invalid("a charge cannot be negative")
    if amount.as_tuple().exponent < -2:
        raise Invalid("a charge has at most two decimal places")
    return amount


@_remembered
def _positive(value: Any) -> Decimal:
    number = _decimal(value)
    if number <= 0:
        raise Invalid("must be above zero")
    return number


@_remembered
def _date(value: Any, _type: type = dt.date) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise Invalid("expected a date as YYYY-MM-DD or YYYYMMDD")
    text = value.strip()
    try:
        if _DATE_DIGITS.fullmatch(text):
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid("expected a date as YYYY-MM-DD or YYYYMMDD") from None


def _text(value: Any, _type: type = str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Invalid("expected a string")
    return str(value).strip()


def _bool(value: Any, _type: type = bool) -> bool:
    if not isinstance(value, bool):
        raise Invalid("expected true or false")
    return value


#: Whole numbers on a claim (line numbers, diagnosis pointers) are small; a bound keeps a
#: 5,000-digit one from reaching code that prints or hashes it.
INT_LIMIT = 10**9


def _int(value: Any, _type: type = int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("expected a whole number")
    if not -INT_LIMIT < value < INT_LIMIT:
        raise Invalid("expected a whole number below a billion")
    return value


@_remembered
def _hcpcs(value: Any) -> str:
    code = _text(value).upper()
    if not _HCPCS.match(code):
        raise Invalid("expected a five-character HCPCS/CPT code")
    return code


@_remembered
def _modifiers(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise Invalid("expected a list of two-character modifiers")
    codes = []
    for position, item in enumerate(value):
        if isinstance(item, bool):
            raise Invalid(f"modifier {position + 1} is not a two-character modifier")
        code = f"{item:02d}" if isinstance(item, int) else _text(item).upper()
        if not _MODIFIER.match(code):
            raise Invalid(f"modifier {position + 1} is not a two-character modifier")
        if code != NO_MODIFIER:
            codes.append(code)
    if len(codes) > MAX_MODIFIERS:
        raise Invalid(f"at most {MAX_MODIFIERS} modifiers fit on a line")
    return tuple(codes)


@_remembered
def _ndc(value: Any) -> str:
    text = _text(value)
    # An invalid NDC is kept as given so that the NDC_INVALID edit can report it.
    return ndc.normalise(text) or text


@_remembered
def _diagnoses(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise Invalid("expected a list of ICD-10-CM codes")
    codes = []
    for position, item in enumerate(value):
        code = _text(item).upper().replace(".", "")
        if not _ICD10.match(code):
            raise Invalid(f"diagnosis {position + 1} is not an ICD-10-CM code")
        codes.append(code)
    return tuple(codes)


@_remembered
def _pointers(value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        raise Invalid("expected a list of diagnosis pointers")
    pointers = tuple(_int(item) for item in value)
    if any(pointer < 1 for pointer in pointers):
        raise Invalid("diagnosis pointers count from 1")
    return pointers


def _digits(value: Any, width: int, what: str) -> str:
    """A numeric code, zero-padded: claims drop leading zeros (636 is 0636)."""
    code = _text(value)
    if not (code.isascii() and code.isdigit() and width - 1 <= len(code) <= width):
        raise Invalid(f"expected {what}")
    return code.zfill(width)


@_remembered
def _place_of_service(value: Any) -> str:
    code = _text(value)
    if not _POS.fullmatch(code):
        raise Invalid("expected a two-digit CMS place-of-service code")
    return code.zfill(2)


@_remembered
def _form(value: Any) -> str:
    form = _text(value).lower()
    if form not in ("professional", "institutional"):
        raise Invalid("expected 'professional' or 'institutional'")
    return form


_FIELD_HOOKS = {
    (ClaimLine, "hcpcs"): _hcpcs,
    (ClaimLine, "modifiers"): _modifiers,
    (ClaimLine, "charge"): _charge,
    (ClaimLine, "dose_mg"): _positive,
    (ClaimLine, "ndc_quantity"): _positive,
    (ClaimLine, "revenue_code"): lambda value: _digits(value, 4, "a four-digit revenue code"),
    (Claim, "type_of_bill"): lambda value: _digits(value, 4, "a three- or four-digit type of bill"),
    (Provider, "hospital_type"): lambda value: _text(value).lower(),
    (ClaimLine, "ndc_unit"): lambda value: _text(value).upper(),
    (ClaimLine, "ndc"): _ndc,
    (ClaimLine, "dx_pointers"): _pointers,
    (Claim, "diagnoses"): _diagnoses,
    (Claim, "place_of_service"): _place_of_service,
    (Claim, "form"): _form,
    (Claim, "payer"): lambda value: _text(value).lower(),
}


def _optional(hook):
    return lambda value, _type=None: None if value is None else hook(value)


def _make_converter(detailed: bool) -> cattrs.Converter:
    """The checked converter (``detailed``) names every problem with its path; the quick one
    stops at the first, and runs first: the checked one only re-reads a claim that failed."""
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed)
    for kind, plain in ((Decimal, _quantity), (dt.date, _date), (str, _text), (bool, _bool), (int, _int)):
        converter.register_structure_hook(kind, plain)
        if not detailed:  # skips cattrs' generic Optional dispatch
            converter.register_structure_hook_func(lambda t, kind=kind: t == kind | None, _optional(plain))

    for cls in (Patient, Provider, Documentation, ClaimLine, Claim):
        overrides = {
            name: cattrs.override(struct_hook=_optional(hook))
            for (owner, name), hook in _FIELD_HOOKS.items()
            if owner is cls
        }
        converter.register_structure_hook(cls, _keeping_extra(cls, make_dict_structure_fn(cls, converter, **overrides)))
    return converter


def _keeping_extra(cls: type, structure):
    """Unknown keys ride along in ``extra``: claim editors pass their own fields through."""
    names = {a.name for a in attrs.fields(cls)}
    keeps_extra = "extra" in names
    known = frozenset(names - {"extra"})
    copies = keeps_extra or cls is Claim

    def hook(value: Any, _type: type) -> Any:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise Invalid("expected an object")
        unknown = value.keys() - known
        if unknown and not all(isinstance(key, str) for key in unknown):
            raise Invalid("object keys must be strings")
        # null means "absent": the field's default applies.
        if unknown or None in value.values():
            data = {key: item for key, item in value.items() if key in known and item is not None}
        else:
            data = dict(value) if copies else value
        if keeps_extra:
            data["extra"] = {key: value[key] for key in unknown}
        if cls is Claim and "lines" in data:
            data["lines"] = _numbered(data["lines"])
        return structure(data, _type)

    return hook


def _numbered(lines: Any) -> Any:
    """Lines without a ``line`` number take their 1-based position."""
    if not isinstance(lines, (list, tuple)):
        return lines
    if len(lines) > MAX_LINES:
        raise Invalid(f"a claim holds at most {MAX_LINES} lines")
    return [
        {**item, "line": position} if isinstance(item, Mapping) and item.get("line") is None else item
        for position, item in enumerate(lines, start=1)
    ]


_CONVERTER = _make_converter(detailed=True)
_QUICK = _make_converter(detailed=False)


class _Unusual(Exception):
    """Something the fast path leaves to the converters, which name the problem precisely."""


def _known(cls: type) -> frozenset[str]:
    return frozenset(a.name for a in attrs.fields(cls) if a.init and a.name != "extra")


_LINE_KEYS, _CLAIM_KEYS = _known(ClaimLine), _known(Claim)
_PATIENT_KEYS, _PROVIDER_KEYS, _DOCUMENTATION_KEYS = _known(Patient), _known(Provider), _known(Documentation)
_HCPCS_SEEN, _DATE_SEEN, _QUANTITY_INTS = _hcpcs.strings, _date.strings, _quantity.integers
_MODIFIER_LISTS, _DIAGNOSIS_LISTS = _modifiers.lists, _diagnoses.lists
_QUANTITY_SEEN, _CHARGE_SEEN, _POSITIVE_SEEN, _NDC_SEEN = (
    _quantity.strings,
    _charge.strings,
    _positive.strings,
    _ndc.strings,
)
_REVENUE_CODE, _NDC_UNIT = _FIELD_HOOKS[ClaimLine, "revenue_code"], _FIELD_HOOKS[ClaimLine, "ndc_unit"]
_TYPE_OF_BILL, _PAYER = _FIELD_HOOKS[Claim, "type_of_bill"], _FIELD_HOOKS[Claim, "payer"]
_HOSPITAL_TYPE = _FIELD_HOOKS[Provider, "hospital_type"]


#: Fields the converters ignore in the input (computed ones): not passed, and not extra either.
_COMPUTED = frozenset(a.name for cls in (Claim, ClaimLine) for a in attrs.fields(cls) if not a.init)


def _extra(value: dict, known: frozenset[str]) -> dict[str, Any]:
    """The unknown keys, which ride along in ``extra``; the converters judge any that is not a string."""
    extra = {key: item for key, item in value.items() if key not in known}
    if not all(type(key) is str and key not in _COMPUTED for key in extra):
        raise _Unusual
    return extra


def _seen(memo: dict, hook: Any, value: Any) -> Any:
    """A remembered hook's outcome, read from its memo for an exact string or int (hashing any
    other value could recurse without a limit: a deeply nested tuple), else the hook's."""
    found = memo.get(value) if type(value) in _PLAIN_KEYS else None
    return hook(value) if found is None else found


_PLAIN_KEYS = frozenset({str, int})  # type(True) is bool: not one of them
_STRINGS_ONLY = {str}


def _listed(lists: dict, hook: Any, value: Any) -> Any:
    """The same for a list, read from its memo when it holds exact strings only."""
    found = lists.get(tuple(value)) if type(value) is list and set(map(type, value)) <= _STRINGS_ONLY else None
    return hook(value) if found is None else found


def _fast_line(value: Any, position: int) -> ClaimLine:
    """One line, as the converters build it, with the same hooks (remembered strings read directly)."""
    if type(value) is not dict:
        raise _Unusual
    extra = {} if value.keys() <= _LINE_KEYS else _extra(value, _LINE_KEYS)
    get = value.get
    number, hcpcs, day = get("line"), get("hcpcs"), get("service_date")
    if number is None:  # absent or null: its position, as _numbered gives it
        number = position
    if hcpcs is None or day is None:
        raise _Unusual
    modifiers, units, charge, ndc_code = get("modifiers"), get("units"), get("charge"), get("ndc")
    ndc_unit, ndc_quantity, revenue_code = get("ndc_unit"), get("ndc_quantity"), get("revenue_code")
    pointers, dose, documentation = get("dx_pointers"), get("dose_mg"), get("documentation")
    return ClaimLine(
        _int(number),
        _seen(_HCPCS_SEEN, _hcpcs, hcpcs),
        _seen(_DATE_SEEN, _date, day),
        () if modifiers is None else _listed(_MODIFIER_LISTS, _modifiers, modifiers),
        None if units is None else _seen(_QUANTITY_INTS if type(units) is int else _QUANTITY_SEEN, _quantity, units),
        None if charge is None else _seen(_CHARGE_SEEN, _charge, charge),
        None if ndc_code is None else _seen(_NDC_SEEN, _ndc, ndc_code),
        None if ndc_unit is None else _NDC_UNIT(ndc_unit),
        None if ndc_quantity is None else _seen(_POSITIVE_SEEN, _positive, ndc_quantity),
        None if revenue_code is None else _REVENUE_CODE(revenue_code),
        () if pointers is None else _pointers(pointers),
        None if dose is None else _seen(_POSITIVE_SEEN, _positive, dose),
        None if documentation is None else _fast_documentation(documentation),
        extra,
    )


def _fast_documentation(value: Any) -> Documentation:
    if type(value) is not dict or not value.keys() <= _DOCUMENTATION_KEYS:
        raise _Unusual
    lot, expiration, route = value.get("lot"), value.get("expiration"), value.get("route")
    return Documentation(
        None if lot is None else _text(lot),
        None if expiration is None else _seen(_DATE_SEEN, _date, expiration),
        None if route is None else _text(route),
    )


def _fast_patient(value: Any) -> Patient:
    if type(value) is not dict or not value.keys() <= _PATIENT_KEYS:
        raise _Unusual
    born, sex, member = value.get("birth_date"), value.get("sex"), value.get("member_id")
    return Patient(
        None if born is None else _seen(_DATE_SEEN, _date, born),
        None if sex is None else _text(sex),
        None if member is None else _text(member),
    )


def _fast_provider(value: Any) -> Provider:
    if type(value) is not dict or not value.keys() <= _PROVIDER_KEYS:
        raise _Unusual
    npi, is_340b, hospital_type = value.get("npi"), value.get("is_340b"), value.get("hospital_type")
    return Provider(
        None if npi is None else _text(npi),
        False if is_340b is None else _bool(is_340b),
        None if hospital_type is None else _HOSPITAL_TYPE(hospital_type),
    )


def _fast_claim(value: Any) -> Claim:
    """The claim of a plain dict in one pass over it; raises on anything the converters must judge."""
    if type(value) is not dict:
        raise _Unusual
    extra = {} if value.keys() <= _CLAIM_KEYS else _extra(value, _CLAIM_KEYS)
    get = value.get
    claim_id, payer, lines = get("claim_id"), get("payer"), get("lines")
    if claim_id is None or payer is None or (type(lines) is not list and type(lines) is not tuple):
        raise _Unusual
    if len(lines) > MAX_LINES:
        raise _Unusual
    form, bill, place, diagnoses = get("form"), get("type_of_bill"), get("place_of_service"), get("diagnoses")
    patient, provider, authorization = get("patient"), get("provider"), get("prior_authorization")
    return Claim(
        _text(claim_id),
        _PAYER(payer),
        tuple(_fast_line(item, position) for position, item in enumerate(lines, start=1)),
        "professional" if form is None else _form(form),
        None if bill is None else _TYPE_OF_BILL(bill),
        None if place is None else _place_of_service(place),
        () if diagnoses is None else _listed(_DIAGNOSIS_LISTS, _diagnoses, diagnoses),
        Patient() if patient is None else _fast_patient(patient),
        Provider() if provider is None else _fast_provider(provider),
        None if authorization is None else _text(authorization),
        extra,
    )


def _check_fast_path() -> None:
    """The fast path names each field of the models positionally: a field added, removed or moved
    must be added to it too (tests/test_structure_fast.py compares it with the converters)."""
    expected = {
        ClaimLine: ("line", "hcpcs", "service_date", "modifiers", "units", "charge", "ndc", "ndc_unit"),
        Claim: ("claim_id", "payer", "lines", "form", "type_of_bill", "place_of_service", "diagnoses"),
        Documentation: ("lot", "expiration", "route"),
        Patient: ("birth_date", "sex", "member_id"),
        Provider: ("npi", "is_340b", "hospital_type"),
    }
    expected[ClaimLine] += ("ndc_quantity", "revenue_code", "dx_pointers", "dose_mg", "documentation", "extra")
    expected[Claim] += ("patient", "provider", "prior_authorization", "extra")
    for cls, names in expected.items():
        if tuple(a.name for a in attrs.fields(cls) if a.init) != names:
            raise TypeError(f"model/structure.py's fast path does not build {cls.__name__} field by field")


_check_fast_path()


def _quick_claim(data: Any) -> Claim | None:
    """The claim of a well-formed plain dict in one pass, consistency included; None for any
    other input, which the converters then read (and, if it is wrong, name every problem)."""
    try:
        claim = _fast_claim(data)
    except Exception:  # _Unusual, Invalid or whatever a hook met: the converters decide
        return None
    count = len(claim.diagnoses)
    seen = set()
    for line in claim.lines:
        number = line.line
        if number < 1 or number in seen:
            return None
        seen.add(number)
        for pointer in line.dx_pointers:
            if pointer > count:
                return None
    if not claim.claim_id or not claim.lines:
        return None
    return claim


def _describe(exc: BaseException, _type: type | None) -> str:
    if isinstance(exc, Invalid):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    name = getattr(_type, "__name__", None)
    return f"invalid value, expected {name}" if name else "invalid value"


def structure_claim(data: Any) -> Claim:
    """Build a :class:`Claim` from the JSON contract, or raise :class:`ClaimError`."""
    if isinstance(data, Claim):
        # A model built in Python skipped the converter's checks: run them now.
        data = _CONVERTER.unstructure(data)
    claim = _quick_claim(data)
    if claim is not None:
        return claim
    try:
        claim = _QUICK.structure(data, Claim)
    except Exception:
        claim = _checked(data)  # raises ClaimError, naming every problem
    _check_consistency(claim)
    return claim


def _checked(data: Any) -> Claim:
    try:
        return _CONVERTER.structure(data, Claim)
    except Invalid as exc:
        raise ClaimError(f"$: {exc}") from None
    except Exception as exc:  # cattrs wraps every field failure in an ExceptionGroup
        problems = cattrs.transform_error(exc, path="$", format_exception=_describe)
        raise ClaimError("; ".join(_path_first(problem) for problem in problems)) from None


def _path_first(problem: str) -> str:
    """cattrs says "problem @ path"; a reader scans for the path first."""
    message, _, path = problem.rpartition(" @ ")
    return f"{path}: {message}" if message else problem


def _check_consistency(claim: Claim) -> None:
    problems = []
    if not claim.claim_id:
        problems.append("$.claim_id: must not be empty")
    if not claim.lines:
        problems.append("$.lines: a claim needs at least one line")
    seen: set[int] = set()
    for index, line in enumerate(claim.lines):
        if line.line < 1 or line.line in seen:
            problems.append(f"$.lines[{index}].line: line numbers must be unique and start at 1")
        seen.add(line.line)
        if any(pointer > len(claim.diagnoses) for pointer in line.dx_pointers):
            problems.append(f"$.lines[{index}].dx_pointers: points past the claim's {len(claim.diagnoses)} diagnoses")
    if problems:
        raise ClaimError("; ".join(problems))


def safe_claim_id(data: Any) -> str | None:
    """The claim id of raw input, for labelling an error result; None if unusable (including
    a mapping that raises when read: an error result must never raise itself)."""
    try:
        return _claim_id(data)
    except Exception:
        return None


def _claim_id(data: Any) -> str | None:
    if isinstance(data, Claim):
        return data.claim_id
    if isinstance(data, Mapping):
        claim_id = data.get("claim_id")
        if isinstance(claim_id, str) and len(claim_id) <= 64:
            return claim_id
        # Bounded before str(): str() of an int past 4300 digits raises ValueError.
        if isinstance(claim_id, int) and not isinstance(claim_id, bool) and -(10**63) < claim_id < 10**64:
            return str(claim_id)
    return None


#: What an error result may echo of a claim's payer: an identifier (lower-case letters, digits,
#: ``_`` and ``-``, at most 32), never free text, which may be a patient's name in the wrong field.
PAYER_LABEL = re.compile(r"[a-z0-9_-]{1,32}")


def safe_payer(data: Any) -> str | None:
    """The payer of raw input, for labelling an error result; None unless it looks like an identifier."""
    try:
        payer = data.get("payer") if isinstance(data, Mapping) else getattr(data, "payer", None)
    except Exception:
        return None
    return payer if isinstance(payer, str) and PAYER_LABEL.fullmatch(payer) else None


def error_result(data: Any, message: str) -> Result:
    """The one result of an input that could not be checked, labelled as far as it is safe."""
    return Result(safe_claim_id(data), safe_payer(data), error=message)
