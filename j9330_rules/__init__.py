"""j9330-rules: claim edits for HCPCS J9330 (temsirolimus, 1 mg).

The public API, held stable for claim editors and notebooks::

    from j9330_rules import Editor, ClaimError
    result = Editor().check(claim_dict)
"""

from importlib import metadata

from j9330_rules.batch.frames import check_frame
from j9330_rules.config import EditorConfig
from j9330_rules.editor import Editor
from j9330_rules.errors import (
    ClaimError,
    EngineFailure,
    EngineUnavailable,
    HistoryError,
    J9330Error,
    PayerMapError,
    ReferenceFileError,
    SpecError,
    WorkerStartupError,
)
from j9330_rules.model import Claim, ClaimLine, Finding, Payment, Result
from j9330_rules.model.results import Results
from j9330_rules.plugins.hookspecs import hookimpl
from j9330_rules.plugins.payer import Payer, PayerId
from j9330_rules.plugins.payer_map import PayerMap
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin
from j9330_rules.plugins.pricing import benchmark
from j9330_rules.refdata.reference import ReferenceData
from j9330_rules.rules.policy import PayerPolicy

__version__ = metadata.version("j9330-rules")

__all__ = [
    "Claim",
    "ClaimError",
    "ClaimLine",
    "Editor",
    "EditorConfig",
    "EngineFailure",
    "EngineUnavailable",
    "Finding",
    "HistoryError",
    "J9330Error",
    "Payer",
    "PayerId",
    "PayerMap",
    "PayerMapError",
    "PayerPolicy",
    "Payment",
    "ReferenceData",
    "ReferenceFileError",
    "Result",
    "Results",
    "SpecError",
    "SpecPayerPlugin",
    "WorkerStartupError",
    "__version__",
    "benchmark",
    "check_frame",
    "hookimpl",
]
