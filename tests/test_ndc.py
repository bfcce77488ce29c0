"""NDC normalisation to the 11-digit 5-4-2 claim form."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from j9330_rules.facts import ndc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0008-1179-01", "00008117901"),  # 4-4-2: Torisel
        ("68083-202-01", "68083020201"),  # 5-3-2: Gland
        ("12345-6789-1", "12345678901"),  # 5-4-1
        ("00008-1179-01", "00008117901"),  # already 5-4-2
        ("00008117901", "00008117901"),
        (" 00008117901 ", "00008117901"),
    ],
)
def test_valid_forms(text, expected):
    assert ndc.normalise(text) == expected


@pytest.mark.parametrize(
    "text", ["0008117901", "123456789012", "12345678911", "1234-567-89", "abcde-fghi-jk", "", "0008-1179-001"]
)
def test_invalid_forms(text):
    assert ndc.normalise(text) is None


segments = st.sampled_from([(4, 4, 2), (5, 3, 2), (5, 4, 1)]).flatmap(
    lambda widths: st.tuples(*(st.text("0123456789", min_size=w, max_size=w) for w in widths))
)


@given(segments)
def test_every_ten_digit_form_pads_to_a_valid_eleven_digit_ndc(parts):
    digits = ndc.normalise("-".join(parts))
    assert digits is not None and len(digits) == 11 and ndc.has_valid_origin(digits)
    labeler, product, package = parts
    assert digits == labeler.zfill(5) + product.zfill(4) + package.zfill(2)
