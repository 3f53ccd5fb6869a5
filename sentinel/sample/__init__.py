"""The sample plant: a bundled rule pack and a deterministic event generator
with injected faults (used by `sentinel demo` and the tests)."""
