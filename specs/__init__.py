"""Declarative rulesets and reference data, shipped as package data.

Nothing here runs: the files are read, validated against
``schema/ruleset.schema.json`` and compiled by ``j9330_rules``.
"""
