"""The usual shape of a payer plugin: one payer, its policy in one spec file.

Built-in payers use it and so can third parties; a plugin that needs more
(a benchmark, say) subclasses it and adds hook implementations.
"""

from __future__ import annotations

from typing import Any

from j9330_rules.plugins.hookspecs import hookimpl
from j9330_rules.plugins.payer import Payer


class SpecPayerPlugin:
    """Registers ``payer`` and, if given, the spec file that holds its policy."""

    def __init__(self, payer: Payer, spec: Any | None = None):
        self.payer = payer
        self.spec = spec

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.payer.name!r})"

    @hookimpl
    def j9330_register_payers(self, register):
        register(self.payer)

    @hookimpl
    def j9330_register_rulesets(self, register):
        if self.spec is not None:
            register(self.spec)
