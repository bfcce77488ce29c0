"""Acme Health (FICTIONAL EXAMPLE): J9330 policy for j9330-rules.

The policy itself is data in acme_health.yaml; this module only tells the host about it.
"""

from importlib import resources

from j9330_rules import Payer, hookimpl

PAYER = Payer(
    name="acme_health",
    display_name="Acme Health (fictional example)",
    policy_sourced=True,
)
SPEC = resources.files(__name__) / "acme_health.yaml"


@hookimpl
def j9330_register_payers(register):
    register(PAYER)


@hookimpl
def j9330_register_rulesets(register):
    register(SPEC)
