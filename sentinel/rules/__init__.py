"""The pure rule engine: rule packs, condition trees, detectors. No database."""
