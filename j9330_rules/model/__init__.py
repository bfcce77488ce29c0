"""The claim as the rules read it, and the result a claim editor gets back."""

from j9330_rules.model.claim import Claim, ClaimLine, Documentation, Patient, Provider
from j9330_rules.model.result import (
    BLOCKING_SEVERITIES,
    SEVERITIES,
    Audit,
    Evidence,
    Finding,
    Payment,
    PaymentLine,
    Result,
    Suppression,
)

__all__ = [
    "BLOCKING_SEVERITIES",
    "SEVERITIES",
    "Audit",
    "Claim",
    "ClaimLine",
    "Documentation",
    "Evidence",
    "Finding",
    "Patient",
    "Payment",
    "PaymentLine",
    "Provider",
    "Result",
    "Suppression",
]
