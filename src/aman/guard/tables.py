"""Static reference tables for the guard: suffixes, TLDs, shorteners, brands, confusables.

Everything here is data written for aman (no downloads, no network). The public-suffix
subset covers what Indonesian customers meet in practice; unknown multi-label suffixes
fall back to "last label is the suffix", which only makes lookalike checks stricter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "AMBIGUOUS_TLDS",
    "BRANDS",
    "CONFUSABLES",
    "FREE_HOST_SUFFIXES",
    "HOST_KEYWORDS",
    "KNOWN_GOOD",
    "MULTI_CHAR_CONFUSABLES",
    "PUBLIC_SUFFIXES",
    "RESTRICTED_SUFFIXES",
    "SHORTENERS",
    "SUSPICIOUS_TLDS",
    "TLDS",
    "TOKEN_AFFIXES",
    "Brand",
]

# Multi-label public suffixes (registrable domain = one label + suffix).  Single-label
# TLDs need no entry: the last label is the suffix when nothing longer matches.
PUBLIC_SUFFIXES: Final[frozenset[str]] = frozenset(
    {
        # Indonesia (PANDI second-level domains)
        "co.id", "go.id", "ac.id", "or.id", "web.id", "my.id", "biz.id", "sch.id",
        "mil.id", "net.id", "ponpes.id", "desa.id", "id.id",
        # common elsewhere in the region and beyond
        "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "com.sg",
        "edu.sg", "gov.sg", "com.my", "gov.my", "co.th", "co.jp", "ne.jp", "com.cn",
        "com.hk", "com.tw", "co.kr", "com.ph", "com.vn", "com.br", "co.in", "co.nz",
        # hosting platforms where every customer gets its own subdomain
        "web.app", "firebaseapp.com", "github.io", "netlify.app", "vercel.app",
        "pages.dev", "workers.dev", "herokuapp.com", "blogspot.com", "wixsite.com",
        "weebly.com", "000webhostapp.com", "glitch.me", "webflow.io", "carrd.co",
        "repl.co", "ngrok.io", "ngrok-free.app", "translate.goog",
    }
)

# Suffixes whose registration needs official documents: treat as trusted for lookalikes.
RESTRICTED_SUFFIXES: Final[frozenset[str]] = frozenset(
    {"go.id", "ac.id", "sch.id", "mil.id", "desa.id", "gov.uk", "gov.sg", "gov.my"}
)

# Free or throwaway hosting often used for phishing pages (weighted lightly).
FREE_HOST_SUFFIXES: Final[frozenset[str]] = frozenset(
    {
        "web.app", "firebaseapp.com", "github.io", "netlify.app", "vercel.app", "pages.dev",
        "workers.dev", "herokuapp.com", "blogspot.com", "wixsite.com", "weebly.com",
        "000webhostapp.com", "glitch.me", "webflow.io", "carrd.co", "repl.co", "ngrok.io",
        "ngrok-free.app", "my.id", "biz.id",
    }
)

# TLDs recognised for scheme-less ("bare") domains such as "bca-co.id/login".
TLDS: Final[frozenset[str]] = frozenset(
    {
        "com", "net", "org", "id", "info", "biz", "io", "co", "app", "dev", "xyz", "top",
        "click", "icu", "cyou", "shop", "site", "online", "store", "tech", "live", "vip",
        "club", "link", "ly", "gl", "gd", "cc", "tk", "ml", "ga", "cf", "gq", "pw", "ws",
        "buzz", "fun", "space", "website", "monster", "rest", "sbs", "lol", "cfd", "bond",
        "win", "work", "support", "page", "asia", "mobi", "tv", "uk", "sg", "au", "jp",
        "cn", "ru", "de", "fr", "nl", "ph", "vn", "th", "kr", "hk", "tw", "ee", "gg",
        "ai", "pro", "gov", "edu", "me", "to", "in", "is", "it", "at", "am", "as", "so",
        "do", "no", "be", "us", "my", "qpon", "loan", "bid", "date", "racing", "review",
        "stream", "download", "xin", "mom", "cam", "today", "zone", "ink", "one",
    }
)

# TLDs that are also ordinary words ("ok.so", "x.in"): bare matches need a "/path".
AMBIGUOUS_TLDS: Final[frozenset[str]] = frozenset(
    {"me", "to", "in", "is", "it", "at", "am", "as", "so", "do", "no", "be", "us", "my",
     "one", "today", "date", "win", "work", "zone", "page", "ink", "mom", "pro"}
)

# Weight per suspicious TLD: cheap, throwaway-friendly TLDs weigh more than ".shop"
# (which legitimate Indonesian shops do use).
SUSPICIOUS_TLDS: Final[dict[str, float]] = {
    "xyz": 0.3, "top": 0.3, "click": 0.3, "icu": 0.3, "cyou": 0.3, "buzz": 0.3,
    "monster": 0.3, "rest": 0.3, "sbs": 0.3, "cfd": 0.3, "bond": 0.3, "lol": 0.3,
    "tk": 0.3, "ml": 0.3, "ga": 0.3, "cf": 0.3, "gq": 0.3, "pw": 0.3, "qpon": 0.3,
    "loan": 0.3, "bid": 0.3, "racing": 0.3, "review": 0.25, "stream": 0.25,
    "download": 0.3, "xin": 0.3, "cam": 0.25, "win": 0.25, "work": 0.2,
    "vip": 0.2, "online": 0.2, "site": 0.2, "live": 0.15, "fun": 0.2, "space": 0.15,
    "website": 0.15, "store": 0.12, "shop": 0.12, "info": 0.12, "link": 0.15,
    "support": 0.15,
}

SHORTENERS: Final[frozenset[str]] = frozenset(
    {
        "bit.ly", "bitly.com", "s.id", "tinyurl.com", "cutt.ly", "shorturl.at", "rebrand.ly",
        "t.ly", "is.gd", "v.gd", "ow.ly", "goo.gl", "rb.gy", "t.co", "tiny.cc", "bit.do",
        "short.link", "shorte.st", "adf.ly", "lnkd.in", "soo.gd", "clck.ru", "qrco.de",
        "u.to", "tny.im", "linkr.ee", "heylink.me", "msha.ke",
    }
)

# Registrable domains that are widely used and never worth a URL-structure warning.
KNOWN_GOOD: Final[frozenset[str]] = frozenset(
    {
        "google.com", "google.co.id", "youtube.com", "youtu.be", "wa.me", "whatsapp.com",
        "tokopedia.com", "shopee.co.id", "shopee.com", "gojek.com", "gopay.co.id",
        "instagram.com", "facebook.com", "fb.com", "tiktok.com", "x.com", "twitter.com",
        "wikipedia.org", "github.com", "apple.com", "icloud.com", "lazada.co.id",
        "bukalapak.com", "blibli.com", "detik.com", "kompas.com", "zoom.us", "imgur.com",
        "paypal.com", "jne.co.id", "jet.co.id", "sicepat.com", "anteraja.id",
        "posindonesia.co.id", "cekrekening.id", "aduannomor.id", "spotify.com",
        "microsoft.com", "linkedin.com", "telegram.org", "t.me", "grab.com", "traveloka.com",
        "dana.id", "ovo.id", "bca.co.id", "klikbca.com", "bankmandiri.co.id", "bri.co.id",
        "bni.co.id", "bankbsi.co.id", "cimbniaga.co.id", "telkomsel.com", "pln.co.id",
        "linktr.ee", "forms.gle", "ojk.go.id",
    }
)


@dataclass(frozen=True, slots=True)
class Brand:
    """A widely impersonated brand: its official domains and the tokens scammers reuse."""

    name: str
    official: tuple[str, ...]
    tokens: tuple[str, ...]


# Built-in brands protected even when the deployment lists only its own domains.
BRANDS: Final[tuple[Brand, ...]] = (
    Brand("BCA", ("bca.co.id", "klikbca.com"), ("bca", "klikbca", "mybca")),
    Brand("Mandiri", ("bankmandiri.co.id",), ("mandiri", "bankmandiri", "livin")),
    Brand("BRI", ("bri.co.id",), ("bri", "brimo")),
    Brand("BNI", ("bni.co.id",), ("bni",)),
    Brand("BSI", ("bankbsi.co.id",), ("bankbsi",)),
    Brand("CIMB Niaga", ("cimbniaga.co.id",), ("cimb", "cimbniaga")),
    Brand("Danamon", ("danamon.co.id",), ("danamon",)),
    Brand("Permata", ("permatabank.com",), ("permatabank",)),
    Brand("Jenius", ("jenius.com",), ("jenius",)),
    Brand("DANA", ("dana.id",), ("dana",)),
    Brand("OVO", ("ovo.id",), ("ovo",)),
    Brand("GoPay", ("gojek.com", "gopay.co.id"), ("gopay", "gojek")),
    Brand("ShopeePay", ("shopee.co.id", "shopee.com"), ("shopee", "shopeepay")),
    Brand("Tokopedia", ("tokopedia.com",), ("tokopedia",)),
    Brand("Lazada", ("lazada.co.id",), ("lazada",)),
    Brand("Bukalapak", ("bukalapak.com",), ("bukalapak",)),
    Brand("Blibli", ("blibli.com",), ("blibli",)),
    Brand("Telkomsel", ("telkomsel.com",), ("telkomsel", "tsel")),
    Brand("PLN", ("pln.co.id",), ("pln",)),
    Brand("JNE", ("jne.co.id",), ("jne",)),
    Brand("J&T", ("jet.co.id",), ("jnt", "jntexpress")),
    Brand("SiCepat", ("sicepat.com",), ("sicepat",)),
    Brand("AnterAja", ("anteraja.id",), ("anteraja",)),
    Brand("BPJS", ("bpjs-kesehatan.go.id", "bpjsketenagakerjaan.go.id"), ("bpjs",)),
    Brand("WhatsApp", ("whatsapp.com", "wa.me"), ("whatsapp",)),
    Brand("Apple", ("apple.com", "icloud.com"), ("appleid", "icloud")),
    Brand("PayPal", ("paypal.com",), ("paypal",)),
)

# Words glued to a brand token in phishing hosts ("klikbca", "bcaonline", "mybri").
TOKEN_AFFIXES: Final[frozenset[str]] = frozenset(
    {
        "klik", "my", "m", "e", "i", "ib", "login", "secure", "verify", "verifikasi", "promo",
        "cs", "help", "online", "app", "web", "id", "official", "resmi", "care", "support",
        "update", "info", "layanan", "hadiah", "undian", "bonus", "poin", "cek", "tarif",
        "nasabah", "bank", "mobile", "net", "pay", "cash", "kaget", "reward", "akun",
        "center", "service", "portal", "ku", "kita", "indonesia", "ind", "co",
    }
)

# Host words typical of credential-phishing pages (not used for own/known-good hosts).
HOST_KEYWORDS: Final[tuple[str, ...]] = (
    "login", "signin", "logon", "verify", "verif", "secure", "security", "update", "akun",
    "account", "aktivasi", "activate", "konfirmasi", "confirm", "blokir", "unblock",
    "unlock", "hadiah", "undian", "klaim", "claim", "reward", "poin", "bonus", "refund",
    "tarif", "resi", "recover", "pemulihan", "pembatalan", "restitusi", "cashback",
    "giveaway", "bansos", "winner", "gratis", "nasabah", "appeal", "banding", "pencairan",
    "cair", "lacak", "track", "tagihan", "premium",
)

# Single characters that look like an ASCII letter/digit -> that ASCII character.
# Latin lookalikes, Cyrillic, Greek, and a few symbols; digits map to letters last
# (see domains.skeleton) so "0"/"o" and "1"/"l"/"i" collapse together.
CONFUSABLES: Final[dict[str, str]] = {
    # Cyrillic lower / upper
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y",
    "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g", "ь": "b",
    "А": "a", "В": "b", "Е": "e", "Н": "h", "І": "i", "Ј": "j", "К": "k", "М": "m",
    "О": "o", "Р": "p", "С": "c", "Т": "t", "У": "y", "Х": "x", "Ѕ": "s", "Ԁ": "d",
    # Greek lower / upper
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "Α": "a", "Β": "b", "Ε": "e",
    "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t",
    "Υ": "y", "Χ": "x", "Ζ": "z",
    # Latin look-alikes and symbols
    "ı": "i", "ɩ": "i", "ǀ": "l", "|": "l", "ɑ": "a", "ɒ": "a", "ɛ": "e", "ɪ": "i",
    "ʟ": "l", "ɴ": "n", "ʀ": "r", "ꜱ": "s", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z", "ß": "b",
    "ø": "o", "đ": "d", "ł": "l", "ƚ": "l",
}

# Letter sequences that render like one letter in most fonts.
MULTI_CHAR_CONFUSABLES: Final[tuple[tuple[str, str], ...]] = (
    ("rn", "m"), ("vv", "w"), ("cl", "d"),
)
