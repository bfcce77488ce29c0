"""Turning a claim into the typed facts the rules match on: units, modifiers, NDCs."""
