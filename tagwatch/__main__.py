"""`python -m tagwatch` runs the CLI."""

from tagwatch.cli.main import main

main()
