"""Domain logic: registrable domains, homoglyph skeletons and lookalike matching.

A host is compared with every protected domain (the deployment's own domains plus the
built-in brand table) in five ways, strongest first:

* ``homoglyph`` - same skeleton as the protected domain ("bсa.co.id", "kIikbca.com");
* ``embedded``  - the protected name sits in the subdomain part ("bca.co.id.evil.xyz");
* ``swap``      - equal once dots and hyphens are dropped ("bca-co.id", "bca.com");
* ``typo``      - edit distance 1 (2 for long names) on the registrable label;
* ``token``     - a brand token is one of the host's words ("bca-promo.com").
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aman.guard.tables import (
    BRANDS,
    CONFUSABLES,
    KNOWN_GOOD,
    MULTI_CHAR_CONFUSABLES,
    PUBLIC_SUFFIXES,
    RESTRICTED_SUFFIXES,
    TOKEN_AFFIXES,
)

__all__ = [
    "HostInfo",
    "LookalikeMatch",
    "Protected",
    "build_protected",
    "edit_distance",
    "find_lookalike",
    "host_to_unicode",
    "registrable_domain",
    "skeleton",
    "split_host",
]

_DIGIT_AND_I_MAP = str.maketrans(
    {"0": "o", "1": "l", "i": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
)
_WORD_SPLIT = re.compile(r"[-_.]+")
# Leading labels that carry no identity ("www.bca.co.id" is "bca.co.id").
_NOISE_LABELS = frozenset({"www", "www1", "www2", "m", "mobile", "web"})
# Own-domain first labels too generic to be treated as a brand token.
_GENERIC_TOKENS = frozenset(
    {"bank", "shop", "store", "toko", "online", "login", "mail", "web", "app", "pay",
     "portal", "secure", "my", "id", "info", "promo", "official", "resmi"}
)
_PREFIXES_TO_STRIP = ("bank", "klik", "my")

# kind -> (weight for own domains, weight for built-in brands)
KIND_WEIGHTS: dict[str, tuple[float, float]] = {
    "homoglyph": (0.92, 0.9),
    "embedded": (0.9, 0.88),
    "swap": (0.9, 0.85),
    "typo": (0.8, 0.7),
    "token": (0.65, 0.5),
}
_KIND_ORDER = ("homoglyph", "embedded", "swap", "typo", "token")


@dataclass(frozen=True, slots=True)
class HostInfo:
    """A host split into labels with its public suffix and registrable domain."""

    host: str
    labels: tuple[str, ...]
    suffix: str
    registrable: str

    @property
    def core_labels(self) -> tuple[str, ...]:
        """Labels left of the suffix, without identity-free prefixes such as "www"."""
        n_suffix = self.suffix.count(".") + 1 if self.suffix else 0
        core = self.labels[: len(self.labels) - n_suffix] if n_suffix else self.labels
        start = 0
        while start < len(core) - 1 and core[start] in _NOISE_LABELS:
            start += 1
        return core[start:]

    @property
    def subdomain_labels(self) -> tuple[str, ...]:
        """Labels left of the registrable domain."""
        n_reg = self.registrable.count(".") + 1
        return self.labels[: max(0, len(self.labels) - n_reg)]


@dataclass(frozen=True, slots=True)
class Protected:
    """One protected domain with the precomputed forms used for comparison."""

    domain: str
    own: bool
    registrables: frozenset[str]
    core_labels: tuple[str, ...]
    tokens: tuple[str, ...]
    skel_full: str
    skel_core: str
    skel_flat_full: str


@dataclass(frozen=True, slots=True)
class LookalikeMatch:
    """A host that imitates ``target`` in the way named by ``kind``."""

    target: str
    kind: str
    own: bool

    @property
    def weight(self) -> float:
        own_w, brand_w = KIND_WEIGHTS[self.kind]
        return own_w if self.own else brand_w


def host_to_unicode(host: str) -> tuple[str, bool]:
    """Lowercase ``host`` and decode "xn--" labels; returns (host, all labels decoded)."""
    ok = True
    out: list[str] = []
    for label in host.strip().rstrip(".").lower().split("."):
        if label.startswith("xn--"):
            try:
                out.append(codecs.decode(label[4:].encode("ascii"), "punycode"))
            except (UnicodeError, ValueError):
                ok = False
                out.append(label)
        else:
            out.append(label)
    return ".".join(out), ok


def split_host(host: str) -> HostInfo:
    """Split a (lowercase, unicode) host using the built-in public-suffix subset."""
    labels = tuple(part for part in host.strip().rstrip(".").lower().split(".") if part)
    if not labels:
        return HostInfo(host="", labels=(), suffix="", registrable="")
    n_suffix = 1
    for k in (3, 2):
        if len(labels) >= k and ".".join(labels[-k:]) in PUBLIC_SUFFIXES:
            n_suffix = k
            break
    suffix = ".".join(labels[-n_suffix:])
    registrable = ".".join(labels[-(n_suffix + 1):]) if len(labels) > n_suffix else suffix
    return HostInfo(host=".".join(labels), labels=labels, suffix=suffix, registrable=registrable)


def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` ("login.bca.co.id" -> "bca.co.id")."""
    return split_host(host_to_unicode(host)[0]).registrable


@functools.lru_cache(maxsize=4096)
def skeleton(text: str) -> str:
    """Map ``text`` to a canonical form where look-alike characters coincide.

    "bсa" (Cyrillic с), "kIikbca", "bankrnandiri" and "examp1e" collapse onto the
    skeletons of "bca", "klikbca", "bankmandiri" and "example".
    """
    s = unicodedata.normalize("NFKC", text)
    s = "".join(CONFUSABLES.get(ch, ch) for ch in s)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    for seq, repl in MULTI_CHAR_CONFUSABLES:
        s = s.replace(seq, repl)
    return s.translate(_DIGIT_AND_I_MAP)


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (Levenshtein plus adjacent transpositions)."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _flat(labels: Iterable[str]) -> str:
    return "".join(_WORD_SPLIT.sub("", label) for label in labels)


def _own_tokens(info: HostInfo) -> tuple[str, ...]:
    core = info.core_labels
    tokens: list[str] = []
    if not core:
        return ()
    reg_label = _flat([core[-1]])
    tokens.append(reg_label)
    for prefix in _PREFIXES_TO_STRIP:
        rest = reg_label[len(prefix):]
        if reg_label.startswith(prefix) and len(rest) >= 3:
            tokens.append(rest)
    joined = _flat(core)
    if joined != reg_label:
        tokens.append(joined)
    for label in core[:-1]:
        flat = _flat([label])
        if len(flat) >= 5 and flat not in _GENERIC_TOKENS:
            tokens.append(flat)
    return tuple(dict.fromkeys(t for t in tokens if len(t) >= 3 and t not in _GENERIC_TOKENS))


def _make_protected(
    domain: str, own: bool, registrables: Iterable[str], tokens: Sequence[str]
) -> Protected:
    info = split_host(host_to_unicode(domain)[0])
    core = info.core_labels
    return Protected(
        domain=info.host,
        own=own,
        registrables=frozenset(registrables) | {info.registrable},
        core_labels=core,
        tokens=tuple(tokens),
        skel_full=skeleton(info.host),
        skel_core=skeleton(_flat(core)),
        skel_flat_full=skeleton(_flat(info.labels)),
    )


@functools.lru_cache(maxsize=256)
def _build_protected_cached(own: tuple[str, ...]) -> tuple[Protected, ...]:
    result: list[Protected] = []
    own_hosts: set[str] = set()
    for domain in own:
        info = split_host(host_to_unicode(domain)[0])
        if not info.host or info.host in own_hosts:
            continue
        own_hosts.add(info.host)
        result.append(_make_protected(info.host, True, (), _own_tokens(info)))
    for brand in BRANDS:
        for official in brand.official:
            if official in own_hosts:
                continue
            result.append(_make_protected(official, False, brand.official, brand.tokens))
    return tuple(result)


def build_protected(own_domains: Sequence[str]) -> tuple[Protected, ...]:
    """Own domains (strongest weights) followed by the built-in brands; cached."""
    return _build_protected_cached(tuple(d for d in own_domains if d and d.strip()))


def _token_hit(part: str, token: str, own: bool) -> bool:
    if part == token or skeleton(part) == skeleton(token):
        return True
    if len(token) >= (6 if own else 8) and token in part:
        return True
    if part.startswith(token) and part[len(token):] in TOKEN_AFFIXES:
        return True
    return part.endswith(token) and part[: len(part) - len(token)] in TOKEN_AFFIXES


def _contains_sequence(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    if n == 0:
        return False
    skel_needle = [skeleton(x) for x in needle]
    skel_hay = [skeleton(x) for x in haystack]
    return any(skel_hay[i : i + n] == skel_needle for i in range(len(skel_hay) - n + 1))


def _match_one(info: HostInfo, prot: Protected) -> str | None:
    core = info.core_labels
    trimmed = ".".join((*core, info.suffix)) if core else info.host
    if skeleton(trimmed) == prot.skel_full:
        return "homoglyph"
    sub = info.subdomain_labels
    if sub and _contains_sequence(sub, prot.core_labels):
        return "embedded"
    reg_label = info.registrable.split(".", 1)[0] if info.registrable != info.suffix else ""
    reg_flat = skeleton(_flat([reg_label]))
    if prot.skel_core in (skeleton(_flat(core)), reg_flat) or (
        skeleton(_flat(info.labels)) == prot.skel_flat_full
    ):
        return "swap"
    target = prot.skel_core
    min_len = 5 if prot.own else 7
    if len(target) >= min_len and abs(len(reg_flat) - len(target)) <= 2:
        limit = 2 if len(target) >= 10 else 1
        if edit_distance(reg_flat, target) <= limit:
            return "typo"
    parts = [p for label in core for p in _WORD_SPLIT.split(label) if p]
    for token in prot.tokens:
        if any(_token_hit(part, token, prot.own) for part in parts):
            return "token"
    return None


def find_lookalike(info: HostInfo, protected: Sequence[Protected]) -> LookalikeMatch | None:
    """The strongest imitation of a protected domain by ``info``, or None.

    Hosts under a protected registrable domain, under a restricted suffix (".go.id"
    and similar) or in the known-good table are never lookalikes.
    """
    if not info.host or info.suffix in RESTRICTED_SUFFIXES or info.registrable in KNOWN_GOOD:
        return None
    if any(info.registrable in prot.registrables for prot in protected):
        return None
    best: LookalikeMatch | None = None
    best_key: tuple[float, int] = (-1.0, 0)
    for prot in protected:
        kind = _match_one(info, prot)
        if kind is None:
            continue
        match = LookalikeMatch(target=prot.domain, kind=kind, own=prot.own)
        key = (match.weight, -_KIND_ORDER.index(kind))
        if key > best_key:
            best, best_key = match, key
    return best
