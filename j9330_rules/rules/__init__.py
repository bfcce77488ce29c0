"""The declarative rulesets: spec loading and checks, payer policy, the edit catalogue, overrides."""
