"""What a detector reports: a ``Finding`` (kind, severity, subject, details) and subject helpers.

Subjects name *what* an alert is about without personal data: ``contact:<blind
index>`` (a keyed HMAC of the phone number, never the number), ``number:<Meta
phone_number_id>``, ``ip:<keyed hash>`` (the masked address goes in details),
``staff:<actor id>``, ``tenant:<tenant>``.  Details hold counts, rates, scores,
thresholds and reason codes only: never message text, numbers or secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "KINDS",
    "SEVERITIES",
    "Finding",
    "Response",
    "Severity",
    "contact_subject",
    "ip_subject",
    "mask_ip",
    "max_severity",
    "number_subject",
    "severity_rank",
    "staff_subject",
]

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
Response = Literal["throttle", "quarantine"]

# Every alert kind the monitor raises, with the one-line meaning shown to staff.
KINDS: dict[str, str] = {
    "contact_flood": "one contact sends far more messages than usual",
    "number_rate_spike": "a business number receives far more messages than usual",
    "new_contact_burst": "a wave of never-seen contacts writes to one business number",
    "verification_bruteforce": "repeated failed step-up verifications (PIN/OTP guessing)",
    "signature_failure_source": "one address sends many badly signed webhooks",
    "signature_failure_storm": "many badly signed webhooks overall",
    "delivery_failure_spike": "many outgoing messages fail on one business number",
    "number_quality_risk": "spam/block error codes put the number's quality at risk",
    "number_quality_update": "Meta reported a quality or status change for a number",
    "sending_halted": "Meta refuses sends for a business number (expired token, policy "
    "block, locked account): its replies wait until an admin fixes it",
    "staff_export": "a staff member exported data",
    "staff_mass_read": "a staff member opened very many conversations",
    "staff_login_new_address": "a staff member signed in from a new address",
    "staff_login_unusual_hour": "a staff member signed in at an unusual hour (WIB)",
    "staff_login_failures": "repeated failed sign-ins for one staff member",
    "phishing_inbound": "a customer sent a phishing message",
    "fraud_report": "a customer reported a scam attempt",
    "behaviour_outlier": "IsolationForest: a contact behaves unlike the others",
    "contact_quarantined": "a contact was quarantined: the bot no longer answers it",
}


def severity_rank(sev: str) -> int:
    for rank, name in enumerate(SEVERITIES):
        if name == sev:
            return rank
    return 0


def max_severity(a: Severity, b: Severity) -> Severity:
    return a if severity_rank(a) >= severity_rank(b) else b


@dataclass(frozen=True, slots=True)
class Finding:
    """One detection, before deduplication into an alert."""

    tenant: str
    kind: str
    severity: Severity
    subject: str
    ts: float
    details: Mapping[str, Any] = field(default_factory=dict)
    response: Response | None = None  # an automatic control for ``contact_ix``
    contact_ix: str | None = None


def contact_subject(contact_ix: str) -> str:
    return f"contact:{contact_ix[:64]}"


def number_subject(phone_number_id: str) -> str:
    return f"number:{phone_number_id[:64]}"


def staff_subject(actor: str) -> str:
    return f"staff:{actor[:64]}"


def ip_subject(key: bytes, ip: str) -> str:
    """``ip:<16 hex>``: a keyed hash, so alerts can be grouped without storing the address."""
    return "ip:" + hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:16]


def mask_ip(ip: str) -> str:
    """The network part only: 203.0.113.x for IPv4, the /48 for IPv6, 'unknown' otherwise."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return "unknown"
    if isinstance(addr, ipaddress.IPv4Address):
        return ".".join(str(addr).split(".")[:3]) + ".x"
    net = ipaddress.ip_network(f"{addr}/48", strict=False)
    return f"{net.network_address}/48"
