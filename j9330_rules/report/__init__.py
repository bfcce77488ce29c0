"""The national overview report built from the specs and the loaded reference data."""
