from j9330_rules.cli import entry

entry()
