"""One verdict for one customer message: benign, suspicious or phishing.

Scoring (deliberately simple so it can be audited):

1. Every link is analysed by :func:`aman.guard.urls.analyze_url` and the text by
   :func:`aman.guard.text.text_signals`.  Each finding is a reason with a weight
   ``w`` in [0, 1): roughly "how likely is a message malicious if this alone holds".
2. Reasons are deduplicated by code (heaviest kept).  ``link_lure`` ("klik link
   berikut") only counts when some link is neither ours nor well known.
3. If the customer is *reporting* a scam (``is_fraud_report``), text weights are
   multiplied by ``REPORT_DAMPING``; link weights are not (a pasted phishing link is
   still a phishing link).  The reason ``fraud_report`` (weight 0) is added so the
   caller can route the chat to the fraud desk.
4. ``score = 1 - prod(1 - w)`` (noisy-OR).  ``phishing`` when score >= 0.70,
   ``suspicious`` when score >= 0.40, otherwise ``benign``.

Fast path (exact, for speed only): most customer messages carry no link and hit
no signal.  Before the full analysis, ``scan`` checks that cheaply: no link, no
fraud-report marker, and none of the text-signal or secret-request regexes of
:mod:`aman.guard.text` matches any clause (a literal pre-filter,
:class:`aman.guard.prefilter.LiteralGate`, rules out most regexes without running
them).  Then every reason list would be empty and the verdict is ``benign`` with
score 0, exactly what the full analysis returns.  A new kind of text check in
``text_signals`` must be added to ``_TEXT_RULES`` below (the test comparing both
paths on the corpus guards this).

Each text is normalised once and its links are found once: the fast path, the
link analysis, the text signals and the fraud-report check share them, and the
verdict carries the links (``Verdict.urls``) for callers such as the monitor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from aman.guard.prefilter import LiteralGate
from aman.guard.reasons import Reason, merge_reasons, noisy_or
from aman.guard.tables import KNOWN_GOOD
from aman.guard.text import (
    _REPORT_MARKERS,
    _REQUEST_PATTERNS,
    _SIGNALS,
    _clauses,
    normalize_with_links,
    signals_of_normal,
)
from aman.guard.urls import FoundUrl, analyze_url, extract_urls

__all__ = [
    "MAX_SCAN_CHARS",
    "PHISHING_THRESHOLD",
    "REPORT_DAMPING",
    "SUSPICIOUS_THRESHOLD",
    "Verdict",
    "VerdictLabel",
    "scan",
]

VerdictLabel = Literal["benign", "suspicious", "phishing"]

PHISHING_THRESHOLD = 0.70
SUSPICIOUS_THRESHOLD = 0.40
REPORT_DAMPING = 0.15
# WhatsApp text messages are at most 4096 characters; anything beyond this bound is
# not analysed (the reason ``truncated`` says so).
MAX_SCAN_CHARS = 20_000

# Every regex whose match can make ``text_signals`` report a reason (the fast path).
_TEXT_RULES = LiteralGate([*(signal.pattern for signal in _SIGNALS), *_REQUEST_PATTERNS])


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of :func:`scan` for one message."""

    text: str
    verdict: VerdictLabel
    score: float
    reasons: list[str]
    details: list[Reason] = field(default_factory=list)
    # The links in the scanned text (its first MAX_SCAN_CHARS characters), as written;
    # None when not known.  Not part of the verdict's value (equality, JSON).
    urls: tuple[FoundUrl, ...] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by the CLI: text, verdict, score, reasons."""
        return {
            "text": self.text,
            "verdict": self.verdict,
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
        }


def _label(score: float) -> VerdictLabel:
    if score >= PHISHING_THRESHOLD:
        return "phishing"
    if score >= SUSPICIOUS_THRESHOLD:
        return "suspicious"
    return "benign"


class _Normalized(NamedTuple):
    """One body's normal form and links, computed once for every check of :func:`scan`."""

    norm: str  # normalize_text(body): what text_signals and is_fraud_report look at
    links: list[FoundUrl] | None  # extract_urls(body); None until needed (body not normal)

    @classmethod
    def of(cls, body: str) -> _Normalized:
        clean, norm, links = normalize_with_links(body)
        # normalize_text looks for links after NFKC and dropping zero-width characters;
        # where those leave the body as it is, its links are the body's links.
        return cls(norm, links if clean == body else None)

    def body_links(self, body: str) -> list[FoundUrl]:
        return self.links if self.links is not None else extract_urls(body)


def _nothing_to_find(body: str, prepared: _Normalized | None = None) -> bool:
    """True only when the full analysis of ``body`` would produce no reason at all."""
    norm, links = _Normalized.of(body) if prepared is None else prepared
    if "linkurl" in norm or _REPORT_MARKERS.search(norm):
        return False
    # No "linkurl": no link after NFKC; where NFKC changed the body, look in it as written.
    if links is None and extract_urls(body):
        return False
    candidates = _TEXT_RULES.candidates(norm)
    if not candidates:
        return True
    clauses = _clauses(norm)  # text signals and secret requests match clause by clause
    return not any(rule.search(clause) for rule in candidates for clause in clauses)


def scan(text: str, own_domains: Sequence[str] = ()) -> Verdict:
    """Classify one customer message (or a bare URL) without any network access."""
    if not isinstance(text, str):
        raise TypeError("scan() needs the message as str")
    prepared = _Normalized.of(text[:MAX_SCAN_CHARS])
    if len(text) <= MAX_SCAN_CHARS and _nothing_to_find(text, prepared):
        # The fast path found no link, in the body as written or after NFKC.
        return Verdict(text=text, verdict="benign", score=0.0, reasons=[], details=[], urls=())
    return _full_scan(text, own_domains, prepared)


def _full_scan(
    text: str, own_domains: Sequence[str], prepared: _Normalized | None = None
) -> Verdict:
    body = text[:MAX_SCAN_CHARS]
    if prepared is None:
        prepared = _Normalized.of(body)
    links = prepared.body_links(body)
    url_reasons: list[Reason] = []
    untrusted_link = False
    for found in links:
        findings = analyze_url(found, own_domains)
        url_reasons.extend(findings.reasons)
        if not findings.own and findings.registrable not in KNOWN_GOOD:
            untrusted_link = True
    txt_reasons = [
        r for r in signals_of_normal(prepared.norm) if r.code != "link_lure" or untrusted_link
    ]
    extra: list[Reason] = []
    if _REPORT_MARKERS.search(prepared.norm):  # is_fraud_report(body)
        txt_reasons = [
            Reason(r.code, r.text, r.weight * REPORT_DAMPING) for r in txt_reasons
        ]
        extra.append(Reason("fraud_report", "customer reports a scam attempt by someone else", 0.0))
    if len(text) > MAX_SCAN_CHARS:
        extra.append(Reason("truncated", f"only the first {MAX_SCAN_CHARS} chars were read", 0.0))
    reasons = merge_reasons([*url_reasons, *txt_reasons, *extra])
    score = noisy_or(r.weight for r in reasons)
    reasons.sort(key=lambda r: -r.weight)
    return Verdict(
        text=text,
        verdict=_label(score),
        score=score,
        reasons=[r.code for r in reasons],
        details=reasons,
        urls=tuple(links),
    )

