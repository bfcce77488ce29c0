"""Cigna: Oncology Medications (1403) and eviCore precertification, as a spec in ``specs/cigna.yaml``."""

from importlib import resources

from j9330_rules import Payer, PayerId
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(
        name="cigna",
        display_name="Cigna",
        policy_sourced=True,
        payer_ids=(
            PayerId(
                "62308",
                source="Cigna Healthcare Provider Newsroom, 2024-04-01 (providernewsroom.com/?p=307): "
                '"Please submit your claims via electronic data interchange using payer ID 62308"',
                reviewed="2026-12-06",
            ),
        ),
    ),
    resources.files("j9330_specs") / "cigna.yaml",
)
