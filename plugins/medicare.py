"""Medicare Part B: JW/JZ, 340B flags, RCC coverage, MUE, and the ASP benchmark.

The policy itself is data in ``specs/medicare.yaml``, with a citation on
every parameter and rule; this module tells the host about it and prices
claims from the CMS ASP file the user loads.
"""

from importlib import resources

import attrs

from j9330_rules import Payer, hookimpl
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin
from j9330_rules.plugins.pricing import benchmark

ASP_BASIS = "units x CMS ASP payment limit (106% of ASP) for the quarter of the date of service"


class MedicarePlugin(SpecPayerPlugin):
    @hookimpl
    def j9330_benchmark(self, claim, payer, reference):
        """Allowed = units x the ASP file's payment limit, for administered and JW lines (42 CFR 414.904)."""
        if payer.name != self.payer.name:
            return None
        files = set()

        def rate_on(day):
            found = reference.asp_limit(day)
            if found is None:
                return None
            files.add(found[1].path.name)
            return found[0]

        payment = benchmark(claim, rate_on, basis=ASP_BASIS, source="")
        return payment and attrs.evolve(payment, source="CMS ASP payment limit file " + ", ".join(sorted(files)))


plugin = MedicarePlugin(
    Payer(name="medicare", display_name="Medicare Part B", policy_sourced=True),
    resources.files("j9330_specs") / "medicare.yaml",
)
