"""Exceptions the public API raises.

They live apart from the modules that raise them so that a claim editor can
catch them without importing the engine.
"""


class ClaimError(ValueError):
    """A claim cannot be checked as given (bad shape, bad value, unknown payer).

    Messages name the field path and the problem, never the value: claims carry
    patient identifiers, and these messages end up in logs.
    """


class SpecError(ValueError):
    """A ruleset spec is invalid; raised at load so a bad spec never runs."""


class EngineUnavailable(ImportError):
    """The durable-rules C extension cannot be imported on this interpreter."""


class EngineFailure(RuntimeError):
    """The rules engine did not complete one claim; it was reset for the next.

    ``Editor.check`` raises it; ``check_many`` turns it into that claim's error.
    """
