"""The rule kinds: one module each, with its parameters and its detector.

A kind is a module with a `SPEC`, listed below; the others are what kinds
share (`_base`, `episode`) or what one kind draws on (`spc`: `baselines`,
`charts`; `run`: `timeline`)."""

from __future__ import annotations

from typing import Final

from sentinel.rules.kinds import condition, count, flatline, rate, run, silence, spc, threshold
from sentinel.rules.kinds._base import KindSpec

KINDS: Final[dict[str, KindSpec]] = {
    module.SPEC.name: module.SPEC
    for module in (condition, threshold, spc, rate, flatline, silence, count, run)
}
