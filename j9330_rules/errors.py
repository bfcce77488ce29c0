"""Every exception the public API raises, under one base class.

They live apart from the modules that raise them so that a claim editor can catch them
(``except J9330Error``) without importing the engine. Each also keeps the built-in base
callers caught before (ValueError, ImportError, RuntimeError).
"""

from __future__ import annotations

from pathlib import Path


class J9330Error(Exception):
    """The base of every error j9330-rules raises on purpose."""


class ClaimError(J9330Error, ValueError):
    """A claim cannot be checked as given (bad shape, bad value, unknown payer).

    Messages name the field path and the problem, never the value: claims carry
    patient identifiers, and these messages end up in logs.
    """


class SpecError(J9330Error, ValueError):
    """A ruleset spec is invalid; raised at load so a bad spec never runs."""


class EngineUnavailable(J9330Error, ImportError):
    """The durable-rules C extension cannot be imported on this interpreter."""


class EngineFailure(J9330Error, RuntimeError):
    """The rules engine did not complete one claim; it was reset for the next.

    ``Editor.check`` raises it; ``check_many`` turns it into that claim's error.
    """


class ReferenceFileError(J9330Error, ValueError):
    """A CMS reference file cannot be read as the kind of file it was given as.

    The message names the file and says what was expected and what was found;
    it never quotes the file's contents.
    """

    def __init__(self, path: str | Path, message: str, *, expected: str | None = None, found: str | None = None):
        self.path = Path(path)
        self.expected = expected
        self.found = found
        super().__init__(f"{self.path}: {message}")


class PayerMapError(J9330Error, ValueError):
    """A payer map cannot be used (unreadable, or mapping onto a payer no plugin registers)."""


class ConfigError(J9330Error, ValueError):
    """A settings file or ``J9330_RULES_*`` variable is invalid; the message names the file and key."""


class HistoryError(J9330Error, RuntimeError):
    """The claim history cannot be opened, read or written.

    Messages name the problem and, at most, the database path; never a patient
    identifier, patient key or claim id.
    """


class WorkerStartupError(J9330Error, RuntimeError):
    """A worker process could not build its Editor, or keeps dying before it is ready."""
