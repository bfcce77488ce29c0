"""Published files written by others (../shared/samples: X12 guide examples, pyx12's, the HL7
Claim examples, Synthea, Da Vinci PAS, Medplum): each claim gets exactly one result, or the file
one clear error. Third-party data: read in place, never copied; skipped where it is absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from j9330_rules.readers import read_paths
from tests.conftest import check_items

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
if not SAMPLES.is_dir():
    pytest.skip("../shared/samples is not here (a clone elsewhere)", allow_module_level=True)

X12_FILES = sorted((SAMPLES / "x12").glob("*"))
FHIR_FILES = sorted((SAMPLES / "fhir").rglob("*.json"))


def x12_claims(path: Path) -> int:
    """CLM segments, counted in the raw text (the ISA's 4th character separates elements)."""
    text = path.read_bytes().decode("utf-8-sig").lstrip()
    element, terminator = text[3], text[105]
    return sum(1 for segment in text.split(terminator) if segment.strip().startswith(f"CLM{element}"))


def fhir_claims(path: Path) -> int:
    document = json.loads(path.read_text(encoding="utf-8-sig"))
    if document.get("resourceType") == "Claim":
        return 1
    return sum(
        1 for entry in document.get("entry") or () if (entry.get("resource") or {}).get("resourceType") == "Claim"
    )


@pytest.mark.parametrize("path", X12_FILES, ids=lambda p: p.name)
def test_each_837_claim_gets_one_result(editor, path):
    results = check_items(editor, read_paths([path]))
    assert len(results) == x12_claims(path) >= 1
    for result in results:
        # None of these samples bills J9330 with an ICD-10 diagnosis under a 5010 map: each says why.
        assert result.error is None or re.search(r"not read: .*(ICD-9|GS08|element|segment)", result.error)


def test_the_errata_samples_say_their_version():
    for path in X12_FILES:
        for item in read_paths([path]):
            if isinstance(item, dict):
                assert item["x12_version"] in path.read_text()


@pytest.mark.parametrize("path", FHIR_FILES, ids=lambda p: p.name)
def test_each_fhir_claim_gets_one_result(editor, path):
    results = check_items(editor, read_paths([path]))
    expected = fhir_claims(path)
    assert len(results) == max(expected, 1)
    if expected == 0:
        (result,) = results
        assert result.error.endswith("the Bundle holds no Claim")
        return
    for result in results:
        # Dental, vision, pharmacy and office-visit claims: nothing to check, said once; a
        # preauthorization is noted, not checked.
        assert result.error is None, result.error
        assert [f.code for f in result.findings] in (["NO_J9330_LINE"], ["NOT_A_CLAIM"])


def test_the_real_cms_extracts_are_not_claims():
    """A CMS file given as claims is one clear error per file, not a result per row."""
    for path in sorted((SAMPLES / "cms").glob("*.csv")):
        (item,) = read_paths([path])
        assert item.message.endswith("row 1: the header has no claim_id column")
