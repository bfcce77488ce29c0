"""The hooks a j9330-rules plugin implements.

Every hook a plugin can implement is here, with when it is called and what
it returns. A plugin is a module or object with functions decorated by
:data:`hookimpl` and is installed through the ``j9330_rules`` entry-point
group (see docs/plugins.md). The built-in Medicare plugin is installed the
same way.

Every hook is called through pluggy (ordering, ``firstresult`` and
``wrapper=True`` as pluggy documents). If a plain implementation raises, that
plugin's contribution is dropped, the claims it concerns get a
``PLUGIN_FAILED`` finding naming it, and the other plugins still run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from j9330_rules.model import Claim, Payment
    from j9330_rules.plugins.payer import Payer
    from j9330_rules.refdata.reference import ReferenceData
    from j9330_rules.rules.policy import PayerPolicy

PROJECT = "j9330_rules"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def j9330_register_payers(register: Callable[[Payer], None]) -> None:
    """Declare the payers this plugin serves.

    Called once when an ``Editor`` is built. Call ``register(Payer(...))`` for
    each payer; its ``name`` is what claims put in ``"payer"``. Two plugins
    may not register the same name.
    """


@hookspec
def j9330_register_rulesets(register: Callable[[Any], None]) -> None:
    """Contribute declarative ruleset specs.

    Called once when an ``Editor`` is built. Call ``register(path)`` with a
    YAML or JSON spec file (a ``pathlib.Path`` or an ``importlib.resources``
    traversable). The spec's ``applies_to`` says which payers it covers. The
    file is validated against ``specs/schema/ruleset.schema.json``; an invalid
    spec raises ``SpecError`` naming the file and rule, and the editor does
    not start.
    """


@hookspec
def j9330_register_reference_data(register: Callable[..., None]) -> None:
    """Contribute reference data items.

    Called once when an ``Editor`` is built. Call
    ``register(name, value, source="citation")``. Known names: ``kit_mg``
    (labeled mg per kit) and ``temsirolimus_ndcs`` (11-digit NDCs). A later
    plugin's item replaces an earlier one of the same name.
    """


@hookspec(firstresult=True)
def j9330_benchmark(claim: Claim, payer: Payer, policy: PayerPolicy, reference: ReferenceData) -> Payment | None:
    """Compute the expected payment for a claim of one of your payers.

    Called once per checked claim. ``policy.parameters_on(date)`` gives the
    payer's parameters (``benchmark_basis`` says how it pays: ``asp`` or
    ``fee_schedule``); ``reference`` holds the loaded files. Return ``None``
    for payers or bases you do not price, or when the data you need is not
    loaded; the first non-None result becomes ``Result.payment``.
    """
