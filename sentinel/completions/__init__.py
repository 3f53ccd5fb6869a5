"""Signed run-completion records: one DSSE envelope per completed run."""
