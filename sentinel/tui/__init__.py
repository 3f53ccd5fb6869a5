"""`sentinel-tui`: the live dashboard. Reads only through `source`."""
