"""A payer as a plugin declares it."""

from __future__ import annotations

import re

from attrs import define, field


def _check_name(_instance, _attribute, value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError("a payer name is lower-case letters, digits and underscores")


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
