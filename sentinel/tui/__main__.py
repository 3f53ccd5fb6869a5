"""`python -m sentinel.tui`: the same as `sentinel-tui`."""

from sentinel.tui.cli import main

main()
