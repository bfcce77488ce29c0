"""Declarative rulesets and reference data, shipped as package data.

Nothing here runs: the files are read, validated against
``schema/ruleset.schema.json`` and compiled by ``j9330_rules``.
"""

#: The data files that are not rulesets: the edit catalogue, the bundled reference data and the
#: report's descriptive facts.
NOT_RULESETS = ("catalogue.yaml", "reference.yaml", "overview.yaml")
