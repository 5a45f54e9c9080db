"""`python -m softland.cli`: the `softland` command."""

from softland.cli import main

main()
