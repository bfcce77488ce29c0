"""A payer as a plugin declares it."""

from __future__ import annotations

import re

from attrs import define, field


def _check_name(_instance, _attribute, value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError("a payer name is lower-case letters, digits and underscores")


@define(frozen=True)
class PayerId:
    """A payer ID (837 loop 2010BB NM109) the payer publishes, with where it says so."""

    id: str
    source: str
    reviewed: str  # YYYY-MM-DD: when the source was last read
    note: str = ""


@define(frozen=True)
class Payer:
    """Who pays the claim; ``policy_sourced`` is False until a cited policy is encoded.

    A payer without a sourced policy is checked against the national rules
    only, and every result says so (``PAYER_POLICY_NOT_PROVIDED``).
    """

    name: str = field(validator=_check_name)
    display_name: str
    policy_sourced: bool
    note: str = ""
    #: The payer IDs claims to this payer carry; the Editor maps them onto it (plugins/payer_map.py).
    payer_ids: tuple[PayerId, ...] = field(default=(), converter=tuple)
