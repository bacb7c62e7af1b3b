"""Normalise chat text (Indonesian/English) before intent classification.

One job: turn "Sldo brp yaaa?? 🙏" into "saldo berapa ya". Steps, in order:

1. Unicode NFKC and lower-case; apostrophes and combining marks dropped, emoji and
   other punctuation turned into spaces. ``.,:/-`` survive only between two digits
   ("1.5", "25/12", "10:30").
2. Indonesian reduplication with a trailing 2 ("brg2" -> "brg brg"), unless that 2
   starts a number ("brg2.5" -> "brg 2.5", "hari2:30" -> "hari 2:30").
3. Letters and digits are split apart ("100rb" -> "100 rb", "ord12345" -> "ord 12345").
4. Per token: runs of 3+ identical letters collapse to one, or to two when that gives
   a word listed in ``keep_double``; stretched particles lose their extra final letters
   ("yaa" -> "ya"); then abbreviations/slang expand from the data file ``slang.yaml``.

``normalize`` is idempotent: ``normalize(normalize(x)) == normalize(x)`` for every
string; the slang loader rejects tables that would break that.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from aman.nlu.errors import NluDataError, NluInputError

__all__ = [
    "RULES_VERSION",
    "Normalizer",
    "SlangTable",
    "default_normalizer",
    "load_slang_table",
    "normalize",
]

# Bump whenever a rule below changes what ``normalize`` returns.
RULES_VERSION = "normalize-2"

_DROP = re.compile(r"['’‘`´]")
_NOISE = re.compile(r"[^\w\s.,:/-]|_")
_LONE_PUNCT = re.compile(r"(?<!\d)[.,:/-]|[.,:/-](?!\d)")
# The 2 must not start a number: removing it would strand the separator between a
# letter and a digit, and a second pass would then drop it (not idempotent).
_REDUPLICATION = re.compile(r"(?<![\w])([^\W\d_]{3,})2(?![\w]|[.,:/-]\d)")
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_RUN = re.compile(r"([^\W\d_])\1{2,}")
_NUMBER = re.compile(r"\d(?:[\d.,:/-]*\d)?")
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class SlangTable:
    """Validated contents of a slang file.

    ``digest`` identifies the table and the normalisation rules (``RULES_VERSION``) in
    model cache keys, so a model fitted on differently normalised text is never reused.
    """

    words: Mapping[str, tuple[str, ...]]
    after_number: Mapping[str, tuple[str, ...]]
    keep_double: frozenset[str]
    particles: frozenset[str]
    digest: str


def _str_map(raw: Any, section: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise NluDataError(f"slang table: '{section}' must be a mapping")
    out: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _TOKEN.fullmatch(key):
            raise NluDataError(f"slang table: '{section}' key {key!r} is not a lower-case token")
        if not isinstance(value, str) or not value.split():
            raise NluDataError(f"slang table: '{section}.{key}' needs a non-empty string value")
        words = tuple(value.split())
        for word in words:
            if not _TOKEN.fullmatch(word):
                raise NluDataError(f"slang table: '{section}.{key}' value {value!r} is not plain")
        out[key] = words
    return out


def _str_set(raw: Any, section: str) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise NluDataError(f"slang table: '{section}' must be a list")
    for item in raw:
        if not isinstance(item, str) or not _TOKEN.fullmatch(item):
            raise NluDataError(f"slang table: '{section}' entry {item!r} is not a lower-case token")
    return frozenset(raw)


def _stretched_particle(token: str, particles: frozenset[str]) -> str | None:
    """The particle that ``token`` stretches ("dongg" -> "dong"), else None."""
    stripped = token
    while len(stripped) > 1 and stripped[-1] == stripped[-2]:
        stripped = stripped[:-1]
        if stripped in particles:
            return stripped
    return None


def load_slang_table(text: str | None = None) -> SlangTable:
    """Parse and validate a slang YAML document (default: the packaged ``slang.yaml``)."""
    if text is None:
        text = resources.files("aman.nlu").joinpath("slang.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NluDataError(f"slang table is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise NluDataError("slang table must be a mapping with 'words', 'after_number', ...")
    unknown = set(data) - {"words", "after_number", "keep_double", "particles"}
    if unknown:
        raise NluDataError(f"slang table: unknown sections {sorted(unknown)}")
    words = _str_map(data.get("words"), "words")
    after_number = _str_map(data.get("after_number"), "after_number")
    keep_double = _str_set(data.get("keep_double"), "keep_double")
    particles = _str_set(data.get("particles"), "particles")
    for word in keep_double:
        if not re.search(r"([a-z])\1", word) or _RUN.search(word):
            raise NluDataError(f"slang table: keep_double {word!r} needs exactly a double letter")
    for particle in particles:
        if _stretched_particle(particle, particles - {particle}) is not None:
            raise NluDataError(f"slang table: particle {particle!r} stretches another particle")
    # Idempotence guard: an expansion must come out of a second pass unchanged.
    for section, table in (("words", words), ("after_number", after_number)):
        for key, value in table.items():
            for word in value:
                if word in words or word in after_number:
                    raise NluDataError(
                        f"slang table: '{section}.{key}' expands to {word!r}, itself a key"
                    )
                if _RUN.search(word) or _stretched_particle(word, particles) is not None:
                    raise NluDataError(
                        f"slang table: '{section}.{key}' expands to stretched word {word!r}"
                    )
    digest = hashlib.sha256(f"{RULES_VERSION}\n{text}".encode()).hexdigest()
    return SlangTable(words, after_number, keep_double, particles, digest)


class Normalizer:
    """Callable text normaliser bound to one slang table; regexes compiled once."""

    def __init__(self, table: SlangTable) -> None:
        self.table = table

    def _collapse_runs(self, token: str) -> str:
        if not _RUN.search(token):
            return token
        single = _RUN.sub(r"\1", token)
        if single in self.table.keep_double:
            return single
        # Try restoring a double letter at each collapsed run, left to right.
        for match in _RUN.finditer(token):
            letter = match.group(1)
            prefix = _RUN.sub(r"\1", token[: match.start()])
            suffix = _RUN.sub(r"\1", token[match.end() :])
            candidate = prefix + letter * 2 + suffix
            if candidate in self.table.keep_double:
                return candidate
        return single

    def _token(self, token: str, after_number: bool) -> tuple[str, ...]:
        if not token[0].isdigit():
            token = self._collapse_runs(token)
            particle = _stretched_particle(token, self.table.particles)
            if particle is not None:
                token = particle
        if after_number and token in self.table.after_number:
            return self.table.after_number[token]
        return self.table.words.get(token, (token,))

    def __call__(self, text: str) -> str:
        """Return the normalised form of ``text`` (see the module docstring)."""
        if not isinstance(text, str):
            raise NluInputError(f"normalize() needs a str, got {type(text).__name__}")
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).lower())
        if not folded.isascii():
            folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Mn")
        folded = _DROP.sub("", folded)
        folded = _NOISE.sub(" ", folded)
        folded = _LONE_PUNCT.sub(" ", folded)
        folded = _REDUPLICATION.sub(r"\1 \1", folded)
        folded = _LETTER_DIGIT.sub(" ", folded)
        out: list[str] = []
        previous_is_number = False
        for token in folded.split():
            out.extend(self._token(token, previous_is_number))
            previous_is_number = _NUMBER.fullmatch(token) is not None
        return " ".join(out)


@lru_cache(maxsize=1)
def default_normalizer() -> Normalizer:
    """The normaliser for the packaged slang table (loaded and validated once)."""
    return Normalizer(load_slang_table())


def normalize(text: str) -> str:
    """Normalise ``text`` with the packaged slang table; see the module docstring."""
    return default_normalizer()(text)
