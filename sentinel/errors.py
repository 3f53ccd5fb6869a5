"""The exception tree. Each class's docstring is its default message."""

from __future__ import annotations


class SentinelError(Exception):
    """Sentinel failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(SentinelError):
    """The configuration is invalid."""


class DatabaseError(SentinelError):
    """The database could not be used."""


class DatabaseUnavailable(DatabaseError):
    """The database is unreachable."""


class RegistrationRefused(SentinelError):
    """Another live process owns this worker name."""


class InputError(SentinelError):
    """The input is invalid."""


class SchemaMissing(DatabaseError):
    """The database is not migrated: run `sentinel db upgrade`."""


def first_line(exc: BaseException) -> str:
    """An error in one line: the first non-empty line of its message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
