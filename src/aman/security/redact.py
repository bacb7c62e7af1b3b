"""Redaction of secrets (PIN, OTP, password, card, CVV, NIK, account number) from customer text.

Every message body passes through :func:`redact` before it is stored or logged. Findings
are replaced by typed placeholders such as ``[PIN]`` and reported with their offsets in
the original text.

Rules (keywords are matched case-insensitively, in Indonesian and English, with common
slang and typos):

* ``CARD``: 13-19 digits (optionally grouped by spaces or dashes) that pass the Luhn check
  and do not look like a phone number.
* ``NIK``: 16 digits that are not a card number, or 16 digits after ``nik`` / ``ktp``.
* ``ACCOUNT``: 10-16 digits near ``rek`` / ``rekening`` / ``norek`` / ``account`` / ``acc``.
* ``CVV``: 3-4 digits near ``cvv`` / ``cvc`` / ``kode keamanan`` / ``3 angka di belakang``.
* ``PIN`` / ``OTP``: 4-8 digits near ``pin`` / ``m-pin`` / ``otp`` / ``kode`` /
  ``kode verifikasi`` / ``kode rahasia`` / ``kodenya`` / ``token`` / ``code`` ...
  ("kode pos", "kode promo", "promo code" and the like are not secrets).
* ``PASSWORD``: the token after ``password`` / ``pass`` / ``pw`` / ``kata sandi`` /
  ``sandi``: always after ``:`` or ``=``, otherwise only if it looks like a password
  (contains a digit, a symbol or inner capitals) and has at least 4 characters.

"Near" means the keyword comes first with at most six words, no sentence end and no
amount/date/order words (``transfer``, ``rp``, ``tgl``, ...) in between; or the number
comes first followed only by filler words (``482913 adalah kode OTP Anda``).
With ``expecting`` a message that is nothing but one such value is redacted as that kind.
Amounts (``100000``, ``Rp 150.000``, ``100rb``), dates, times, order ids
(``ORD-12345``) and phone numbers stay intact.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass

from aman.security.patterns import digits_only, luhn_valid

__all__ = [
    "KINDS",
    "SECRET_WARNING_EN",
    "SECRET_WARNING_ID",
    "Finding",
    "Redaction",
    "RedactionError",
    "contains_secret",
    "redact",
]

KINDS = frozenset({"PIN", "OTP", "PASSWORD", "CARD", "CVV", "NIK", "ACCOUNT"})

# The two warning texts below are messages for customers, not credentials.
SECRET_WARNING_ID = (
    "Demi keamanan Anda, "  # noqa: S105  # nosec B105
    "jangan pernah membagikan PIN, kode OTP, password, atau CVV "
    "kepada siapa pun, termasuk kepada pihak bank atau petugas kami. "
    "Pesan tersebut sudah kami sembunyikan."
)
SECRET_WARNING_EN = (
    "For your safety, "  # noqa: S105  # nosec B105
    "never share your PIN, OTP code, password or CVV with anyone, "
    "not even the bank or our staff. We have hidden that message."
)


class RedactionError(ValueError):
    """Bad arguments to :func:`redact`."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One redacted span of the original text (``text[start:end]``)."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and what was removed from where."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds of secret found."""
        return frozenset(f.kind for f in self.findings)


_B = r"(?<![^\W_])"  # left word boundary (letters/digits only count as word chars)
_E = r"(?![^\W_])"
_SFX = r"(?:[- ]?(?:nya|ny|ku|mu)(?![^\W_]))?"

# Keyword groups; order matters where phrases overlap (longest/most specific first).
_KEYWORDS = re.compile(
    _B + r"(?:" + r"(?P<CVV>(?:cvv|cvc|cvn)2?"
    r"|kode\s+keamanan(?:\s+kartu)?"
    r"|security\s+code|card\s+verification(?:\s+(?:value|code))?"
    r"|(?:3|4|tiga|empat)\s+(?:angka|digit|nomor|nomer)\s+(?:(?:di|yg|yang|bagian)\s+)*"
    r"(?:belakang|balik)(?:\s+kartu)?"
    r"|(?:angka|digit|nomor)\s+(?:di\s+)?belakang\s+kartu"
    r"|(?:3|4|three|four)\s+digits?\s+(?:on|at)\s+the\s+back(?:\s+of\s+(?:the|my|your)\s+card)?"
    r")" + r"|(?P<OTP>(?:kode|kd|code)\s+(?:otp|0tp|ver\w*|fer\w*|rahasia|aktivasi|akses"
    r"|sekali\s+pakai|login|masuk|konfirmasi|tac)"
    r"|otp|0tp|one[-\s]?time[-\s]?(?:password|passcode|code|pin)"
    r"|(?:verification|verify|auth(?:entication)?|login|confirmation|access|otp)\s+code"
    r"|kode\s*nya|kodeny|tac"
    r")"
    + r"|(?P<PIN>(?:kode\s+|nomor\s+|no\.?\s*)?(?:m[-\s]?)?pin|passcode)"
    + r"|(?P<PASSWORD>pas{1,2}w(?:o?r)?d|pass|pwd|pw|kata\s*sandi|sandi|kata\s*kunci)"
    + r"|(?P<NIK>nik|e-?ktp|ktp|nomor\s+induk\s+kependudukan)"
    + r"|(?P<ACCOUNT>(?:no(?:mor|mer)?\.?\s*)?rek(?:ening)?"
    r"|norek|acc(?:oun)?t(?:\s+(?:number|no))?|acc|a/c)(?:\.(?=\s))?"
    + r"|(?P<GENERIC>kode|kd|code|token)"
    + r")"
    + _SFX
    + _E,
    re.IGNORECASE,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that make a following "kode"/"token" (or a preceding "code") a non-secret.
_KODE_QUALIFIERS_AFTER = _words(
    "pos booking pesanan produk promo voucher bayar pembayaran unik area barang resi kupon "
    "referral referal bank negara wilayah billing tagihan invoice pelanggan member tiket "
    "diskon transfer listrik pln prabayar qr swift kota telepon telpon warna"
)
_CODE_QUALIFIERS_BEFORE = _words(
    "zip postal promo discount voucher product booking order tracking area country bank "
    "referral coupon swift sort branch qr source dress color colour gift"
)
_PIN_QUALIFIERS_AFTER = _words("lokasi location point map maps chat pesan")

# Words that break the link between a keyword and a later number.
_BLOCKERS = _words(
    "transfer tf trf kirim kirimin bayar harga total saldo nominal sebesar jumlah rp idr "
    "order pesanan invoice inv resi tanggal tgl jam pukul hp hape telp telpon telepon "
    "ponsel amount price balance date phone ongkir biaya diskon cashback pos booking promo "
    "voucher struk menit detik jam hari minutes seconds hours days"
)
# Words allowed between a number and a keyword that follows it.
_FILLERS = _words(
    "adalah ialah itu ini merupakan is are was your you my our the as sebagai anda kamu "
    "saya aku gw gue yang yg jadi nya ya sbg"
)
_PW_FILLERS = (
    r"saya|aku|ku|gw|gue|nya|anda|kamu|my|your|is|adalah|baru|lama|new|old|akun|account"
    r"|login|email|yg|yang|itu|ini|the"
)
_PW_TAIL = re.compile(
    rf"(?:[ \t]+(?:{_PW_FILLERS})(?![^\W_]))*[ \t]*(?P<sep>[:=])?"
    rf"(?:[ \t]*(?:{_PW_FILLERS})(?![^\W_]))*[ \t]*[\"'“”‘’]?(?P<tok>[^\s\"'“”‘’]+)",
    re.IGNORECASE,
)

# A number: digits grouped by single spaces or dashes, or spaced single digits
# ("1 2 3 4 5 6"), not glued to letters ("100rb", "ORD-12345") or decimals ("1.500.000").
_NUMBER = re.compile(
    r"(?<![^\W_])(?<![+])(?<![^\W_][-/.,])"
    r"(?P<plus>\+)?"
    r"(?P<num>[0-9](?: [0-9]){3,7}(?! ?[0-9])|[0-9]{1,19}(?:-[0-9]{1,8}| [0-9]{2,8})*)"
    r"(?![^\W_])(?![.,/][0-9])(?![-/][^\W_])"
)
_ANY_DIGIT = re.compile(r"[0-9]")  # _NUMBER needs one; most texts have none
_DATE = re.compile(r"\d{1,2}-\d{1,2}-\d{2,4}|\d{4}-\d{1,2}-\d{1,2}")
_GAP_WORD = re.compile(r"[^\s:=,()\[\]\"'*#<>-]+")
_TERMINATOR = re.compile(r"[.!?;\n]")
_NEXT_WORD = re.compile(r"[\s:]*([^\W_]+)")
_PREV_WORD = re.compile(r"([^\W_]+)\s*$")
_MAX_GAP_WORDS = 6
_MAX_GAP_CHARS = 60
_MAX_AFTER_WORDS = 4

_LENGTHS: dict[str, tuple[int, int]] = {
    "CVV": (3, 4),
    "PIN": (4, 8),
    "OTP": (4, 8),
    "ACCOUNT": (10, 16),
    "NIK": (16, 16),
    "PASSWORD": (4, 64),
}


@dataclass(frozen=True, slots=True)
class _Keyword:
    start: int
    end: int
    kind: str | None  # None: a non-secret use such as "kode pos"


def _ascii_digits(text: str) -> str:
    """Map every Unicode decimal digit to its ASCII digit, keeping offsets unchanged."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text
    )


def _word_after(text: str, pos: int) -> str:
    m = _NEXT_WORD.match(text, pos)
    return m.group(1).lower() if m else ""


def _word_before(text: str, pos: int) -> str:
    m = _PREV_WORD.search(text[max(0, pos - 40) : pos])
    return m.group(1).lower() if m else ""


# Lower-case pieces of which every match of _KEYWORDS contains one (tests derive matches
# from the pattern and check that).  Most chat texts contain none: a few substring tests
# then stand in for the keyword scan, which costs 10-20 µs per text in ``re``.  Keep
# them in step with _KEYWORDS.
_KEYWORD_HINTS = (
    "cv", "kod", "kd", "cod", "verif", "belakang", "balik", "digit", "otp", "0tp", "tac",
    "pin", "pass", "pasw", "pw", "sandi", "kunci", "nik", "ktp", "induk", "rek", "acc",
    "a/c", "token",
)  # fmt: skip


def _may_have_keyword(text: str) -> bool:
    """False only when ``text`` certainly holds no match of _KEYWORDS."""
    if not text.isascii():
        # IGNORECASE folds some other letters onto ASCII ones (the long s, the Kelvin
        # sign): lower() would not, so those texts always get the full scan.
        return True
    low = text.lower()
    return any(hint in low for hint in _KEYWORD_HINTS)


def _keywords(text: str) -> list[_Keyword]:
    out: list[_Keyword] = []
    if not _may_have_keyword(text):
        return out
    for m in _KEYWORDS.finditer(text):
        kind = m.lastgroup
        if kind == "GENERIC":
            word = m.group(0).lower().rstrip(".")
            nxt = _word_after(text, m.end())
            if word.startswith("code"):
                ok = _word_before(text, m.start()) not in _CODE_QUALIFIERS_BEFORE
            else:
                ok = True
            kind = "OTP" if ok and nxt not in _KODE_QUALIFIERS_AFTER else None
        elif kind == "PIN" and _word_after(text, m.end()) in _PIN_QUALIFIERS_AFTER:
            kind = None
        out.append(_Keyword(m.start(), m.end(), kind))
    return out


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _gap_ok_before(text: str, start: int, end: int, secrets: list[tuple[int, int]]) -> bool:
    gap = text[start:end]
    if len(gap) > _MAX_GAP_CHARS or _TERMINATOR.search(gap):
        return False
    words = list(_GAP_WORD.finditer(gap))
    if len(words) > _MAX_GAP_WORDS:
        return False
    for w in words:
        word = w.group(0).lower()
        if any(ch.isdigit() for ch in word):
            if not _inside(secrets, start + w.start(), start + w.end()):
                return False
        elif word in _BLOCKERS:
            return False
    return True


def _gap_ok_after(text: str, start: int, end: int) -> bool:
    gap = text[start:end]
    if len(gap) > _MAX_GAP_CHARS or _TERMINATOR.search(gap):
        return False
    words = [w.group(0).lower() for w in _GAP_WORD.finditer(gap)]
    return len(words) <= _MAX_AFTER_WORDS and all(w in _FILLERS for w in words)


def _fits(kind: str, n: int) -> bool:
    lo, hi = _LENGTHS[kind]
    return lo <= n <= hi


def _phone_like(digits: str, plus: bool) -> bool:
    n = len(digits)
    if plus:
        return True
    if digits.startswith("08"):
        return 10 <= n <= 13
    return digits.startswith("628") and 11 <= n <= 14


def _looks_like_password(token: str) -> bool:
    if any(ch.isdigit() for ch in token):
        return True
    if any(not ch.isalnum() for ch in token):
        return True
    inner = token[1:]
    return any(ch.isupper() for ch in inner) and any(ch.islower() for ch in token)


def _passwords(text: str, keywords: list[_Keyword]) -> list[Finding]:
    out: list[Finding] = []
    for kw in keywords:
        if kw.kind != "PASSWORD":
            continue
        m = _PW_TAIL.match(text, kw.end)
        if m is None:
            continue
        tok_start, tok = m.start("tok"), m.group("tok").rstrip(".,;)")
        if not tok:
            continue
        if m.group("sep") or (len(tok) >= 4 and _looks_like_password(tok)):
            out.append(Finding("PASSWORD", tok_start, tok_start + len(tok)))
    return out


def _classify(
    text: str,
    m: re.Match[str],
    keywords: list[_Keyword],
    starts: list[int],
    secrets: list[tuple[int, int]],
) -> str | None:
    num = m.group("num")
    digits = digits_only(num)
    n = len(digits)
    start, end = m.start(), m.end()
    is_date = _DATE.fullmatch(num) is not None

    before: str | None = None
    i = bisect.bisect_right(starts, start) - 1
    while i >= 0 and keywords[i].end > start:
        i -= 1
    if i >= 0 and keywords[i].kind is not None:
        kw = keywords[i]
        if _gap_ok_before(text, kw.end, start, secrets):
            before = kw.kind
    after: str | None = None
    j = bisect.bisect_left(starts, end)
    if (
        j < len(keywords)
        and keywords[j].kind not in (None, "NIK")
        and _gap_ok_after(text, end, keywords[j].start)
    ):
        after = keywords[j].kind

    if before in ("ACCOUNT", "NIK") and _fits(before, n):
        return before
    if 13 <= n <= 19 and luhn_valid(digits) and not _phone_like(digits, bool(m.group("plus"))):
        return "CARD"
    if not is_date:
        for kind in (before, after):
            if kind is not None and kind != "NIK" and _fits(kind, n):
                return kind
    if n == 16 and not m.group("plus"):
        return "NIK"
    return None


def _bare(text: str, expecting: frozenset[str]) -> Finding | None:
    stripped = text.strip()
    if not stripped:
        return None
    lead = len(text) - len(text.lstrip())
    m = _NUMBER.fullmatch(stripped)
    if m is not None and not m.group("plus"):
        n = len(digits_only(m.group("num")))
        is_date = _DATE.fullmatch(m.group("num")) is not None
        for kind in ("OTP", "PIN", "CVV", "ACCOUNT"):
            if kind in expecting and _fits(kind, n) and not is_date:
                return Finding(kind, lead, lead + len(stripped))
    if "PASSWORD" in expecting and not any(ch.isspace() for ch in stripped):
        return Finding("PASSWORD", lead, lead + len(stripped))
    return None


def redact(text: str, *, expecting: frozenset[str] = frozenset()) -> Redaction:
    """Replace secrets in ``text`` with ``[KIND]`` placeholders.

    ``expecting`` names kinds the conversation is waiting for; a message consisting of
    just one such value is then redacted even without a keyword.
    """
    if not isinstance(text, str):
        raise RedactionError("text must be a string")
    unknown = set(expecting) - KINDS
    if unknown:
        raise RedactionError(
            f"unknown kinds in expecting: {sorted(unknown)}; use some of {sorted(KINDS)}"
        )
    scan = _ascii_digits(text)
    keywords = _keywords(scan)
    starts = [k.start for k in keywords]
    found = _passwords(scan, keywords)
    secrets = [(f.start, f.end) for f in found]
    for m in _NUMBER.finditer(scan) if _ANY_DIGIT.search(scan) else ():
        kind = _classify(scan, m, keywords, starts, secrets)
        if kind is not None:
            found.append(Finding(kind, m.start(), m.end()))
            secrets.append((m.start(), m.end()))
    if not found and expecting:
        bare = _bare(scan, frozenset(expecting))
        if bare is not None:
            found.append(bare)
    if not found:
        return Redaction(text, ())

    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if kept and f.start < kept[-1].end:
            continue
        kept.append(f)
    parts: list[str] = []
    pos = 0
    for f in kept:
        parts.append(text[pos : f.start])
        parts.append(f"[{f.kind}]")
        pos = f.end
    parts.append(text[pos:])
    return Redaction("".join(parts), tuple(kept))


def contains_secret(text: str, *, expecting: frozenset[str] = frozenset()) -> bool:
    """True when :func:`redact` would remove anything from ``text``."""
    return bool(redact(text, expecting=expecting).findings)
