from j9330_rules.cli import main

main()
