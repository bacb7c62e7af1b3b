"""Find links in message text and score what their structure says about them.

Nothing here touches the network: a URL is judged only by how it is written.
``extract_urls`` finds links with or without a scheme (markdown and HTML anchors
included, with their visible text); ``analyze_url`` turns one link into reasons
with weights (see :mod:`aman.guard.reasons`).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

from aman.guard.domains import (
    HostInfo,
    build_protected,
    find_lookalike,
    host_to_unicode,
    split_host,
)
from aman.guard.reasons import Reason, merge_reasons, noisy_or
from aman.guard.tables import (
    AMBIGUOUS_TLDS,
    CONFUSABLES,
    FREE_HOST_SUFFIXES,
    HOST_KEYWORDS,
    KNOWN_GOOD,
    SHORTENERS,
    SUSPICIOUS_TLDS,
    TLDS,
)

__all__ = ["FoundUrl", "UrlFindings", "analyze_url", "extract_urls", "parse_url"]

_TLD_ALT = "|".join(sorted(TLDS, key=len, reverse=True))
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_SCHEME_URL = re.compile(r"(?i)(?<![\w+.-])(?:https?|ftp)://[^\s<>\"'`]+")
_SPECIAL_URL = re.compile(
    r"(?i)(?<![\w+.-])(?:data:[\w.+-]+/[\w.+-]+[;,][^\s<>\"']*|javascript:[^\s<>\"']+)"
)
_MARKDOWN = re.compile(r"\[([^\]\n]{1,300})\]\(\s*<?([^()\s<>]{1,2000})>?\s*\)")
_HTML_A = re.compile(
    r"(?is)<a\b[^>]{0,300}?\bhref\s*=\s*[\"']?([^\"'\s>]{1,2000})[\"']?[^>]{0,300}>(.{0,300}?)</a>"
)
_BARE = re.compile(
    rf"(?<![\w@.\-/:])((?:{_LABEL}\.)+)({_TLD_ALT})(?![\w@-])(?!\.[^\W_])"
    r"(:\d{2,5})?(/[^\s<>\"']*)?",
    re.IGNORECASE,
)
_BARE_IP = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?=[:/])(?::\d{2,5})?(?:/[^\s<>\"']*)?")
_DISPLAY_GAP = re.compile(r"\s*(?:[:=|>→»\-–—]+\s*|(?:di|at|ke|->)\s+)?")
_TRAILING = ".,;:!?'\"»”’)]}"
_DOTS = str.maketrans({"。": ".", "．": ".", "｡": "."})
_EXECUTABLE = re.compile(
    r"(?i)[./_-](?:apk|xapk|apks|exe|scr|msi|bat|cmd|vbs|jar|ps1)(?=$|[?#&/=\s])"
)
_FORM_HOSTS = frozenset({"forms.gle", "jotform.com", "typeform.com", "forms.office.com"})
# Every link the patterns above can find contains one of these: a dot before a letter or
# digit (a domain before its TLD, an IPv4 address), "://" (scheme URLs, also as markdown or
# HTML targets), or a data:/javascript: scheme (same case folding as _SPECIAL_URL).  A text
# without any of them holds no link, so extract_urls skips its patterns.
_LINK_HINT = re.compile(r"(?i)\.\w|://|data:|javascript:")

# Weights of the URL reasons (documented in scan.py).
W_DATA_URL = 0.85
W_JAVASCRIPT_URL = 0.9
W_MALFORMED = 0.3
W_USERINFO_DOMAIN = 0.85
W_USERINFO = 0.6
W_IP_HOST = 0.6
W_PUNYCODE = 0.4
W_MIXED_SCRIPT = 0.85
W_SHORTENER = 0.35
W_FREE_HOST = 0.2
W_KEYWORD_HOST = 0.25
W_DEEP_SUBDOMAIN = 0.2
W_APK = 0.85
W_FORM = 0.2
W_DISPLAY_MISMATCH = 0.85
W_ODD_PORT = 0.15


@dataclass(frozen=True, slots=True)
class FoundUrl:
    """A link found in text.

    ``url`` always carries a scheme ("http://" is added to bare domains); ``host`` is
    lowercase with punycode decoded ("" for data:/javascript: links and unparsable
    ones); ``display`` is visible text claiming to be the link (markdown label, HTML
    anchor text, or a domain written right before it).
    """

    raw: str
    url: str
    start: int
    end: int
    scheme: str
    host: str
    has_scheme: bool
    display: str | None = None


@dataclass(frozen=True, slots=True)
class UrlFindings:
    """What one link's structure says: reasons with weights, and whether it is ours."""

    url: FoundUrl
    registrable: str
    own: bool
    reasons: tuple[Reason, ...]

    @property
    def score(self) -> float:
        """Noisy-OR of the reason weights."""
        return noisy_or(r.weight for r in self.reasons)

    @property
    def codes(self) -> list[str]:
        """The reason codes, in order."""
        return [r.code for r in self.reasons]


def _strip_trailing(raw: str) -> str:
    while raw and raw[-1] in _TRAILING:
        if raw[-1] == ")" and raw.count("(") >= raw.count(")"):
            break
        raw = raw[:-1]
    return raw


def _host_of(url: str) -> tuple[str, str]:
    """(netloc, host) of a URL with a scheme; host "" when it cannot be parsed."""
    try:
        parts = urlsplit(url.replace("\\", "/").translate(_DOTS))
        host = parts.hostname or ""
    except ValueError:
        return "", ""
    host = unquote(host).strip().rstrip(".").lower()
    return parts.netloc, host_to_unicode(host)[0] if host else ""


def parse_url(raw: str, start: int = 0, display: str | None = None) -> FoundUrl:
    """Build a :class:`FoundUrl` from one link as written (scheme optional)."""
    text = raw.strip()
    lower = text.lower()
    if lower.startswith(("data:", "javascript:")):
        scheme = lower.split(":", 1)[0]
        return FoundUrl(text, text, start, start + len(text), scheme, "", True, display)
    has_scheme = bool(re.match(r"(?i)^[a-z][a-z0-9+.-]*://", text))
    url = text if has_scheme else "http://" + text
    scheme = url.split(":", 1)[0].lower()
    _, host = _host_of(url)
    return FoundUrl(text, url, start, start + len(text), scheme, host, has_scheme, display)


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < e and s < end for s, e in spans)


def extract_urls(text: str) -> list[FoundUrl]:
    """All links in ``text`` in order of appearance.

    Finds scheme URLs, data:/javascript: URLs, markdown ``[label](target)`` and HTML
    ``<a href>`` links, "www." hosts and bare domains with a known TLD (so "1.5jt" and
    "Rp 250.000" are not links).  Emails are skipped.
    """
    if ("." not in text and ":" not in text) or _LINK_HINT.search(text) is None:
        return []
    return _extract(text)


def _extract(text: str) -> list[FoundUrl]:
    """``extract_urls`` without the pre-check (every pattern runs)."""
    found: list[FoundUrl] = []
    spans: list[tuple[int, int]] = []

    def add(raw: str, start: int, display: str | None = None) -> None:
        raw = _strip_trailing(raw)
        end = start + len(raw)
        if not raw or _overlaps(spans, start, end):
            return
        spans.append((start, end))
        found.append(parse_url(raw, start, display))

    for m in _MARKDOWN.finditer(text):
        target = m.group(2)
        if _looks_like_link(target):
            spans_before = len(spans)
            add(target, m.start(2), m.group(1).strip())
            if len(spans) > spans_before:
                spans[-1] = (m.start(), m.end())
    for m in _HTML_A.finditer(text):
        if _looks_like_link(m.group(1)):
            spans_before = len(spans)
            add(m.group(1), m.start(1), re.sub(r"<[^>]*>", "", m.group(2)).strip())
            if len(spans) > spans_before:
                spans[-1] = (m.start(), m.end())
    for pattern in (_SCHEME_URL, _SPECIAL_URL):
        for m in pattern.finditer(text):
            add(m.group(0), m.start())
    for m in _BARE.finditer(text):
        tld = m.group(2).lower()
        if tld in AMBIGUOUS_TLDS and not m.group(4) and not m.group(1).lower().startswith("www."):
            continue
        add(m.group(0), m.start())
    for m in _BARE_IP.finditer(text):
        if _plausible_bare_ip(text, m):
            add(m.group(0), m.start())
    found.sort(key=lambda f: f.start)
    return _attach_adjacent_display(text, found)


def _plausible_bare_ip(text: str, m: re.Match[str]) -> bool:
    """"10.1.2.3/admin" yes; "Rp 1.250.000.000/bulan" (an amount) no."""
    if re.search(r"(?i)(?:rp\.?|idr)\s*$", text[max(0, m.start() - 5) : m.start()]):
        return False
    address = re.split(r"[:/]", m.group(0), maxsplit=1)[0]
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return True


def _looks_like_link(target: str) -> bool:
    lower = target.lower()
    if lower.startswith(("http://", "https://", "ftp://", "data:", "javascript:")):
        return True
    return bool(_BARE.match(target) or _BARE_IP.match(target))


def _attach_adjacent_display(text: str, found: list[FoundUrl]) -> list[FoundUrl]:
    """'klik bca.co.id: http://evil.xyz' - a bare domain right before a scheme URL."""
    out = list(found)
    for i in range(1, len(out)):
        cur, prev = out[i], out[i - 1]
        if cur.display is not None or not cur.has_scheme or prev.has_scheme:
            continue
        gap = text[prev.end : cur.start]
        if len(gap) <= 6 and _DISPLAY_GAP.fullmatch(gap):
            out[i] = replace(cur, display=prev.raw)
    return out


def _is_ip_host(host: str) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return False
    for part in parts:
        try:
            if part.startswith("0x"):
                int(part[2:], 16)
            elif part.isdigit():
                int(part, 10)
            else:
                return False
        except ValueError:
            return False
    return True


def _scripts(label: str) -> set[str]:
    scripts: set[str] = set()
    for ch in label:
        if not ch.isalpha():
            continue
        if ch.isascii():
            scripts.add("LATIN")
            continue
        name = unicodedata.name(ch, "")
        scripts.add(name.split(" ", 1)[0] if name else "UNKNOWN")
    return scripts


def _mixed_script(host: str) -> bool:
    """A label mixing scripts, or a non-Latin label built only of Latin look-alikes."""
    for label in host.split("."):
        scripts = _scripts(label)
        if len(scripts) > 1:
            return True
        letters = [ch for ch in label if ch.isalpha()]
        if (
            scripts
            and "LATIN" not in scripts
            and letters
            and all(ch in CONFUSABLES for ch in letters)
        ):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _own_registrables(own: tuple[str, ...]) -> frozenset[str]:
    regs: set[str] = set()
    for prot in build_protected(own):
        if prot.own:
            regs |= prot.registrables
    return frozenset(regs)


def _display_mismatch(display: str, info: HostInfo) -> bool:
    shown = extract_urls(display)
    if not shown:
        return False
    for item in shown:
        if not item.host:
            continue
        shown_reg = split_host(item.host).registrable
        if shown_reg and shown_reg != info.registrable:
            return True
    return False


def _target_tail(url: str) -> str:
    """Path, query and fragment of a URL (unquoted), without the authority."""
    after = url.split("://", 1)[1] if "://" in url else url
    slash = min((i for i in (after.find("/"), after.find("?"), after.find("#")) if i >= 0),
                default=-1)
    return unquote(after[slash:]) if slash >= 0 else ""


def analyze_url(url: str | FoundUrl, own_domains: Sequence[str] = ()) -> UrlFindings:
    """Reasons (code, text, weight) for one link; never fetches anything.

    Codes: ``lookalike:<domain>``, ``shortener``, ``ip_host``, ``userinfo``,
    ``punycode``, ``mixed_script``, ``suspicious_tld``, ``apk_download``,
    ``display_mismatch``, ``data_url``, ``javascript_url``, ``free_host``,
    ``keyword_host``, ``deep_subdomain``, ``form_link``, ``odd_port``, ``malformed_url``.
    """
    found = url if isinstance(url, FoundUrl) else parse_url(url)
    reasons: list[Reason] = []
    if found.scheme == "data":
        reasons.append(Reason("data_url", "data: URL carries its own page content", W_DATA_URL))
        return UrlFindings(found, "", False, tuple(reasons))
    if found.scheme == "javascript":
        reasons.append(
            Reason("javascript_url", "javascript: URL runs code when opened", W_JAVASCRIPT_URL)
        )
        return UrlFindings(found, "", False, tuple(reasons))
    netloc, host = _host_of(found.url)
    if not host:
        reasons.append(Reason("malformed_url", "link has no readable host", W_MALFORMED))
        return UrlFindings(found, "", False, tuple(reasons))
    info = split_host(host)
    own_key = tuple(d for d in own_domains if d and d.strip())
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        w = W_USERINFO_DOMAIN if "." in userinfo else W_USERINFO
        reasons.append(Reason("userinfo", "text before '@' hides the real host", w))
    tail = _target_tail(found.url)
    if _EXECUTABLE.search(tail):
        reasons.append(Reason("apk_download", "link downloads an app or executable file", W_APK))
    if _is_ip_host(host):
        reasons.append(Reason("ip_host", "link points to a bare IP address", W_IP_HOST))
        return UrlFindings(found, host, False, tuple(merge_reasons(reasons)))
    own = info.registrable in _own_registrables(own_key)
    if found.display and _display_mismatch(found.display, info):
        reasons.append(
            Reason("display_mismatch", "visible link text names another site", W_DISPLAY_MISMATCH)
        )
    raw_host = netloc.rsplit("@", 1)[-1].lower()
    if any(label.startswith("xn--") for label in raw_host.split(".")):
        reasons.append(Reason("punycode", "host is written in punycode (xn--)", W_PUNYCODE))
    if not host.isascii() and _mixed_script(host):
        reasons.append(
            Reason("mixed_script", "host mixes look-alike letters from other scripts",
                   W_MIXED_SCRIPT)
        )
    if own:
        return UrlFindings(found, info.registrable, True, tuple(merge_reasons(reasons)))
    if info.registrable in _FORM_HOSTS or (
        info.registrable == "google.com" and tail.startswith("/forms")
    ):
        reasons.append(Reason("form_link", "link opens an online form", W_FORM))
    if info.registrable in KNOWN_GOOD:
        return UrlFindings(found, info.registrable, False, tuple(merge_reasons(reasons)))
    match = find_lookalike(info, build_protected(own_key))
    if match is not None:
        reasons.append(
            Reason(f"lookalike:{match.target}", f"host imitates {match.target} ({match.kind})",
                   match.weight)
        )
    if info.registrable in SHORTENERS or info.host in SHORTENERS:
        reasons.append(Reason("shortener", "link shortener hides the destination", W_SHORTENER))
    else:
        core = ".".join(info.core_labels)
        if any(word in core for word in HOST_KEYWORDS):
            reasons.append(
                Reason("keyword_host", "host name uses login/prize/verify words", W_KEYWORD_HOST)
            )
    tld = info.labels[-1] if info.labels else ""
    if tld in SUSPICIOUS_TLDS:
        reasons.append(
            Reason("suspicious_tld", f"top-level domain .{tld} is common in scams",
                   SUSPICIOUS_TLDS[tld])
        )
    if info.suffix in FREE_HOST_SUFFIXES:
        reasons.append(Reason("free_host", "site on free hosting", W_FREE_HOST))
    if len(info.subdomain_labels) >= 4:
        reasons.append(Reason("deep_subdomain", "unusually many subdomain levels",
                              W_DEEP_SUBDOMAIN))
    port = netloc.rsplit("@", 1)[-1].rsplit("]", 1)[-1]
    if ":" in port and port.rsplit(":", 1)[1] not in ("", "80", "443"):
        reasons.append(Reason("odd_port", "link uses a non-standard port", W_ODD_PORT))
    return UrlFindings(found, info.registrable, False, tuple(merge_reasons(reasons)))
