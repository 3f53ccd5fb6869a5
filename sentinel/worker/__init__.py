"""The lease protocol and the worker service: plan, claim, run, complete."""
