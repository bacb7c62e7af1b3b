"""Guard for everything aman sends: links, secret requests and full account numbers.

``check_outbound`` runs on every outgoing message (flow replies, agent replies,
broadcasts).  A message passes only when:

* every link uses https (or no scheme) and points to an allow-listed domain or one of
  its subdomains, with no "user@" part and no visible text naming another site;
* it does not ask the customer for an OTP, PIN, password, CVV or card number
  (warnings such as "jangan pernah berikan PIN" are fine);
* it carries no full card number, NIK or account number (masked ``****1234`` is fine;
  phone numbers, amounts and labelled references or virtual-account numbers are not
  account numbers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aman.guard.domains import host_to_unicode, split_host
from aman.guard.errors import GuardError
from aman.guard.text import find_secret_requests
from aman.guard.urls import FoundUrl, extract_urls
from aman.security.patterns import CARD_CANDIDATE, NIK_CANDIDATE, digits_only, is_card_number

__all__ = [
    "InvalidDomainError",
    "OutboundBlocked",
    "Violation",
    "check_outbound",
    "enforce_outbound",
]

_DOMAIN_SHAPE = re.compile(r"^(?!-)[^\s/:@?#\\]+\.[^\s/:@?#\\.]+$")
_LONG_NUMBER = re.compile(r"(?<![\w*•#])\d(?:[ .-]?\d){9,}(?![\w*•])")
_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_AMOUNT_BEFORE = re.compile(r"(?i)(?:rp\.?|idr|usd|\$)\s*$")
_PHONE_CONTEXT = re.compile(
    r"(?i)(?:telp|tel|telepon|telpon|phone|call|hubungi|fax|wa|whatsapp|hp|halo\s+\w+|cs)"
    r"[^\d\n]{0,20}$"
)
_REFERENCE_LABEL = re.compile(
    r"(?i)(?:ref(?:erensi)?|no\.?\s*ref|resi|awb|invoice|inv|order|pesanan|booking|tiket"
    r"|ticket|trx|transaksi\s+id|id\s+transaksi|kode\s+bayar|kode\s+pembayaran"
    r"|virtual\s+account|\bva\b|meter|id\s+pelanggan)[^\d\n]{0,15}$"
)


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason an outgoing message must not be sent (no message content inside)."""

    code: str
    message: str


class InvalidDomainError(GuardError, ValueError):
    """An allow-list entry is not a bare domain name."""


class OutboundBlocked(GuardError):
    """Raised by :func:`enforce_outbound`; ``violations`` says why."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        codes = ", ".join(v.code for v in self.violations)
        super().__init__(f"outbound message blocked: {codes}")


def _normalize_allowed(allowed_domains: Sequence[str]) -> tuple[str, ...]:
    if isinstance(allowed_domains, str):
        raise InvalidDomainError("allowed_domains must be a sequence of domains, not one str")
    out: list[str] = []
    for entry in allowed_domains:
        if not isinstance(entry, str):
            raise InvalidDomainError("allowed domain entries must be str")
        domain = entry.strip().lower().removeprefix("*.").removeprefix(".").rstrip(".")
        if not _DOMAIN_SHAPE.match(domain):
            raise InvalidDomainError(f"not a bare domain name: {entry!r}")
        out.append(host_to_unicode(domain)[0])
    return tuple(out)


def _host_allowed(host: str, allowed: Sequence[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in allowed)


def _link_violations(found: FoundUrl, allowed: Sequence[str]) -> list[Violation]:
    out: list[Violation] = []
    if found.scheme not in ("http", "https"):
        return [Violation("link_scheme", f"{found.scheme}: links are never sent")]
    if not found.host:
        return [Violation("link_malformed", "link has no readable host")]
    authority = found.url.split("://", 1)[1].replace("\\", "/").split("/", 1)[0]
    if "@" in authority:
        out.append(Violation("link_userinfo", "link hides its host behind 'user@'"))
    if not _host_allowed(found.host, allowed):
        out.append(Violation("link_not_allowed", f"link to {found.host} is not allow-listed"))
    elif found.has_scheme and found.scheme == "http":
        out.append(Violation("link_insecure", f"link to {found.host} must use https"))
    if found.display:
        for shown in extract_urls(found.display):
            if shown.host and (
                split_host(shown.host).registrable != split_host(found.host).registrable
            ):
                out.append(
                    Violation("link_display_mismatch", "link text names a different site")
                )
                break
    return out


def _mask_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)


def _plausible_nik(digits: str) -> bool:
    """Province 11-94, birth day 01-31 (or +40 for women), month 01-12."""
    if len(digits) != 16:
        return False
    province, day, month = int(digits[:2]), int(digits[6:8]), int(digits[8:10])
    return 11 <= province <= 94 and (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12


def _number_violations(text: str) -> list[Violation]:
    out: list[Violation] = []
    seen: set[str] = set()

    def add(code: str, message: str) -> None:
        if code not in seen:
            seen.add(code)
            out.append(Violation(code, message))

    card_spans: list[tuple[int, int]] = []
    for m in CARD_CANDIDATE.finditer(text):
        if is_card_number(m.group(0)):
            card_spans.append(m.span())
            add("card_number", "full card number; show only the last 4 digits")
    rest = _mask_spans(text, card_spans)
    for m in NIK_CANDIDATE.finditer(rest):
        if _plausible_nik(m.group(0)) and not _REFERENCE_LABEL.search(rest[: m.start()]):
            add("nik", "full NIK (national ID number); mask it")
    for m in _LONG_NUMBER.finditer(rest):
        raw = m.group(0)
        before = rest[max(0, m.start() - 40) : m.start()]
        digits = digits_only(raw)
        if _THOUSANDS.match(raw) or _AMOUNT_BEFORE.search(before):
            continue
        if before.rstrip().endswith("+") or digits.startswith(("08", "628")):
            continue
        if _PHONE_CONTEXT.search(before) or _REFERENCE_LABEL.search(before):
            continue
        if len(digits) == 16 and _plausible_nik(digits):
            continue
        add("account_number", "full account number; show only the last 4 digits")
    return out


def check_outbound(text: str, allowed_domains: Sequence[str]) -> list[Violation]:
    """All reasons ``text`` must not be sent; an empty list means it may go out.

    Raises :class:`InvalidDomainError` when an allow-list entry is not a domain name
    and ``TypeError`` when ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError("check_outbound() needs the message as str")
    allowed = _normalize_allowed(allowed_domains)
    violations: list[Violation] = []
    urls = extract_urls(text)
    for found in urls:
        for v in _link_violations(found, allowed):
            if v not in violations:
                violations.append(v)
    if find_secret_requests(text, strict=True):
        violations.append(
            Violation("asks_secret", "asks the customer for an OTP, PIN, password or card data")
        )
    masked = _mask_spans(text, [(f.start, f.end) for f in urls])
    violations.extend(_number_violations(masked))
    return violations


def enforce_outbound(text: str, allowed_domains: Sequence[str]) -> None:
    """Raise :class:`OutboundBlocked` unless :func:`check_outbound` finds nothing."""
    violations = check_outbound(text, allowed_domains)
    if violations:
        raise OutboundBlocked(violations)
