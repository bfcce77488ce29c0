"""The edit catalogue: the stable codes every finding carries.

The codes are a contract with claim editors, so they are data
(``specs/catalogue.yaml``) and a spec that names an unknown code fails at load.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from attrs import define


@define(frozen=True)
class EditCode:
    code: str
    severity: str
    meaning: str
    carc: str | None = None
    rarc: str | None = None


@cache
def catalogue() -> dict[str, EditCode]:
    text = (resources.files("j9330_specs") / "catalogue.yaml").read_text(encoding="utf-8")
    return {code: EditCode(code=code, **entry) for code, entry in yaml.safe_load(text).items()}
