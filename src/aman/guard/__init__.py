"""aman.guard: phishing and impersonation detection for inbound and outbound messages.

``scan`` judges a customer message; ``check_outbound`` / ``enforce_outbound`` vet every
message aman sends.  Nothing in this package touches the network.
"""

from aman.guard.errors import CorpusError, GuardError
from aman.guard.outbound import (
    InvalidDomainError,
    OutboundBlocked,
    Violation,
    check_outbound,
    enforce_outbound,
)
from aman.guard.scan import Verdict, scan
from aman.guard.text import is_fraud_report
from aman.guard.urls import FoundUrl, UrlFindings, analyze_url, extract_urls

__all__ = [
    "CorpusError",
    "FoundUrl",
    "GuardError",
    "InvalidDomainError",
    "OutboundBlocked",
    "UrlFindings",
    "Verdict",
    "Violation",
    "analyze_url",
    "check_outbound",
    "enforce_outbound",
    "extract_urls",
    "is_fraud_report",
    "scan",
]
