"""Tests for aman.guard.urls and aman.guard.domains: link extraction and URL reasons."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.guard.domains import (
    build_protected,
    edit_distance,
    find_lookalike,
    host_to_unicode,
    registrable_domain,
    skeleton,
    split_host,
)
from aman.guard.evaluate import load_corpus
from aman.guard.urls import _extract, analyze_url, extract_urls, parse_url

OWN = ("bank.example.co.id", "klikbank.example.co.id", "aman-shop.example.id")


# --- extraction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login di https://bca-co.id/login sekarang", ["https://bca-co.id/login"]),
        ("buka bca-co.id/login ya", ["bca-co.id/login"]),
        ("cek www.batikrina.com kak", ["www.batikrina.com"]),
        ("situs bank.example.co.id.", ["bank.example.co.id"]),
        ("pakai s.id/promo-amanshop", ["s.id/promo-amanshop"]),
        ("chat wa.me/6281234567890 ya", ["wa.me/6281234567890"]),
        ("(lihat https://x.com/a_(b))", ["https://x.com/a_(b)"]),
        ("Login: https://bсa.co.id/reset!", ["https://bсa.co.id/reset"]),
        ("two: http://a.xyz, http://b.top;", ["http://a.xyz", "http://b.top"]),
        ("ip http://185.234.72.19/login", ["http://185.234.72.19/login"]),
        ("bare ip 10.1.2.3/admin here", ["10.1.2.3/admin"]),
    ],
)
def test_extract_finds_links(text: str, expected: list[str]) -> None:
    assert [u.raw for u in extract_urls(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Harganya 1.5jt atau 1,5 juta kak?",
        "Rp 250.000 sudah termasuk ongkir?",
        "Transfer Rp 1.250.000.000 ke rekening",
        "Berat paketnya 2.5kg",
        "Versi aplikasi 5.2.1 tidak bisa login",
        "Kantor di Jl. Sudirman No.5 lt.12",
        "sudah saya kirim.Tolong dicek",
        "Email saya budi.santoso@gmail.com ya",
        "oh ok.so what now",
        "Lihat Foto Paket.apk",
        "Jam 08.00-15.00 ya",
        "Rp 1.250.000.000/bulan",
    ],
)
def test_extract_ignores_non_links(text: str) -> None:
    assert extract_urls(text) == []


def test_bare_domain_gets_http_scheme_and_host() -> None:
    (found,) = extract_urls("kunjungi Bank-Example.co.id/login")
    assert found.url == "http://Bank-Example.co.id/login"
    assert found.host == "bank-example.co.id"
    assert not found.has_scheme


def test_markdown_link_keeps_label_as_display() -> None:
    (found,) = extract_urls("Silakan [bank.example.co.id](http://evil.xyz/masuk) ya")
    assert found.host == "evil.xyz"
    assert found.display == "bank.example.co.id"


def test_html_anchor_keeps_text_as_display() -> None:
    (found,) = extract_urls('Situs: <a href="http://mandiri-update.top">bankmandiri.co.id</a>')
    assert found.host == "mandiri-update.top"
    assert found.display == "bankmandiri.co.id"


def test_domain_written_before_link_becomes_display() -> None:
    found = extract_urls("Klik bca.co.id: http://bca-verifikasi.info/login")
    assert [u.host for u in found] == ["bca.co.id", "bca-verifikasi.info"]
    assert found[1].display == "bca.co.id"


def test_far_apart_domain_is_not_display() -> None:
    found = extract_urls("bca.co.id itu resmi, kalau yang ini http://x.xyz aneh")
    assert found[1].display is None


def test_ambiguous_tld_needs_path() -> None:
    assert [u.raw for u in extract_urls("gabung t.me/cuanharian")] == ["t.me/cuanharian"]
    assert extract_urls("gabung t.me sekarang") == []


def test_punycode_host_is_decoded() -> None:
    (found,) = extract_urls("https://xn--ba-omc.co.id/login")
    assert found.host == "bсa.co.id"


def test_data_and_javascript_urls_are_found() -> None:
    found = extract_urls("a data:text/html;base64,PHNj b javascript:alert(1)")
    assert [u.scheme for u in found] == ["data", "javascript"]


# --- domains ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "registrable"),
    [
        ("login.bca.co.id", "bca.co.id"),
        ("www.tokopedia.com", "tokopedia.com"),
        ("bankmandiri.co.id.verify-login.xyz", "verify-login.xyz"),
        ("tokopedia-giveaway.web.app", "tokopedia-giveaway.web.app"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("s.id", "s.id"),
        ("co.id", "co.id"),
        ("XN--BA-OMC.CO.ID", "bсa.co.id"),
    ],
)
def test_registrable_domain(host: str, registrable: str) -> None:
    assert registrable_domain(host) == registrable


def test_skeleton_collapses_confusables() -> None:
    assert skeleton("bсa") == skeleton("bca")
    assert skeleton("kIikbca") == skeleton("klikbca")
    assert skeleton("bankrnandiri") == skeleton("bankmandiri")
    assert skeleton("examp1e") == skeleton("example")
    assert skeleton("tοkopedia") == skeleton("tokopedia")
    assert skeleton("bca") != skeleton("bni")


def test_edit_distance() -> None:
    assert edit_distance("klikbca", "klikbca") == 0
    assert edit_distance("klickbca", "klikbca") == 1
    assert edit_distance("tokopedia", "tokopdeia") == 1
    assert edit_distance("abc", "xyz") == 3
    assert edit_distance("", "abc") == 3


@pytest.mark.parametrize(
    ("host", "target", "kind"),
    [
        ("bca-co.id", "bca.co.id", "swap"),
        ("bca.com", "bca.co.id", "swap"),
        ("kIikbca.com", "klikbca.com", "homoglyph"),
        ("bсa.co.id", "bca.co.id", "homoglyph"),
        ("bankmandiri.co.id.verify-login.xyz", "bankmandiri.co.id", "embedded"),
        ("klickbca.com", "klikbca.com", "typo"),
        ("bca-promo.com", "bca.co.id", "token"),
        ("klikbca-verify.net", "bca.co.id", "token"),
        ("bank-example.co.id", "bank.example.co.id", "swap"),
        ("bank.exarnple.co.id", "bank.example.co.id", "homoglyph"),
        ("undian-bankexample.xyz", "bank.example.co.id", "token"),
    ],
)
def test_lookalike_kinds(host: str, target: str, kind: str) -> None:
    match = find_lookalike(split_host(host_to_unicode(host)[0]), build_protected(OWN))
    assert match is not None
    assert (match.target, match.kind) == (target, kind)


@pytest.mark.parametrize(
    "host",
    [
        "bca.co.id", "www.klikbca.com", "ib.bankmandiri.co.id", "promo.example.co.id",
        "batikrina.com", "genius.com", "livingroom.com", "fabric.com", "danacepat.com",
        "sdn1-bandung.sch.id", "bpjs-kesehatan.go.id", "tokokopi.my.id", "google.com",
    ],
)
def test_not_lookalikes(host: str) -> None:
    assert find_lookalike(split_host(host_to_unicode(host)[0]), build_protected(OWN)) is None


# --- analyze_url: one positive and one negative per reason code ---------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://bca-co.id/login", "lookalike:bca.co.id"),
        ("https://kIikbca.com", "lookalike:klikbca.com"),
        ("https://bankmandiri.co.id.verify-login.xyz", "lookalike:bankmandiri.co.id"),
        ("https://bank.example.co.id.secure-login.xyz/u", "lookalike:bank.example.co.id"),
        ("https://bit.ly/3xYz", "shortener"),
        ("s.id/cair-saldo", "shortener"),
        ("https://shorturl.at/aBc12", "shortener"),
        ("http://185.234.72.19/login", "ip_host"),
        ("http://0xC0A80001/x", "ip_host"),
        ("http://3232235777/claim", "ip_host"),
        ("http://[2001:db8::15]/s", "ip_host"),
        ("https://bank.example.co.id@secure-update.xyz/login", "userinfo"),
        ("https://xn--ba-omc.co.id/login", "punycode"),
        ("https://bсa.co.id/reset", "mixed_script"),
        ("https://bаnk.example.co.id/masuk", "mixed_script"),
        ("http://promo-hemat.xyz/daftar", "suspicious_tld"),
        ("http://track-parcel.top/resi.apk", "apk_download"),
        ("https://drive.google.com/uc?id=1&name=bankapp.apk", "apk_download"),
        ("https://s.id/resi-online-apk", "apk_download"),
        ("http://x.example.net/setup.exe?x=1", "apk_download"),
        ("data:text/html;base64,PHNjcmlwdD4=", "data_url"),
        ("javascript:alert(1)", "javascript_url"),
        ("https://aktivasi-atm.weebly.com", "free_host"),
        ("https://nasabah-secure.click", "keyword_host"),
        ("https://forms.gle/xYz12AbC", "form_link"),
        ("https://docs.google.com/forms/d/e/1F/viewform", "form_link"),
        ("http://203.0.113.45:8080/bank", "ip_host"),
        ("https://a.b.c.d.evil-site.net/", "deep_subdomain"),
        ("https://shop-promo.net:8443/x", "odd_port"),
        ("http://", "malformed_url"),
    ],
)
def test_reason_present(url: str, code: str) -> None:
    assert code in analyze_url(url, OWN).codes


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://www.bca.co.id/kurs", "lookalike:bca.co.id"),
        ("https://bank.example.co.id/login", "lookalike:bank.example.co.id"),
        ("https://www.batikrina.com", "lookalike:bri.co.id"),
        ("https://bitly-news.com/a", "shortener"),
        ("https://185.example.com/x", "ip_host"),
        ("https://www.tiktok.com/@amanshop", "userinfo"),
        ("https://www.bca.co.id", "punycode"),
        ("https://пример.рф/", "mixed_script"),
        ("https://bücher.de/", "mixed_script"),
        ("https://tokoku.com", "suspicious_tld"),
        ("https://example.net/apk-guide", "apk_download"),
        ("https://apps.apple.com/id/app/bank/id123", "apk_download"),
        ("https://www.google.com/search?q=x", "form_link"),
        ("https://shopee.co.id/product/1/2", "keyword_host"),
        ("https://verify-login.xyz/", "deep_subdomain"),
        ("https://shop-promo.net:443/x", "odd_port"),
    ],
)
def test_reason_absent(url: str, code: str) -> None:
    assert code not in analyze_url(url, OWN).codes


def test_shop_tld_weighs_less_than_xyz() -> None:
    shop = {r.code: r.weight for r in analyze_url("https://tokoku.shop", OWN).reasons}
    xyz = {r.code: r.weight for r in analyze_url("https://tokoku.xyz", OWN).reasons}
    assert shop["suspicious_tld"] < xyz["suspicious_tld"]


def test_display_mismatch_positive_and_negative() -> None:
    bad = extract_urls("[bank.example.co.id](http://bank-login-secure.xyz/masuk)")[0]
    assert "display_mismatch" in analyze_url(bad, OWN).codes
    same = extract_urls("[bank.example.co.id](https://bank.example.co.id/masuk)")[0]
    assert "display_mismatch" not in analyze_url(same, OWN).codes
    words = extract_urls("[klik di sini](https://bank.example.co.id/promo)")[0]
    assert analyze_url(words, OWN).codes == []


def test_own_subdomain_is_trusted() -> None:
    findings = analyze_url("https://checkout.aman-shop.example.id/pay/1", OWN)
    assert findings.own
    assert findings.reasons == ()
    assert findings.score == 0.0


def test_own_domain_only_protected_when_listed() -> None:
    assert analyze_url("https://bank-example.co.id/verifikasi", ()).codes == []
    assert "lookalike:bank.example.co.id" in analyze_url(
        "https://bank-example.co.id/verifikasi", OWN
    ).codes


def test_reasons_have_text_and_weight() -> None:
    findings = analyze_url("https://bankmandiri.co.id.verify-login.xyz", OWN)
    assert findings.score > 0.85
    for reason in findings.reasons:
        assert reason.text
        assert 0.0 < reason.weight < 1.0


def test_parse_url_accepts_bare_string() -> None:
    found = parse_url("  bca-co.id/login ")
    assert found.host == "bca-co.id"
    assert found.url == "http://bca-co.id/login"


# --- the literal pre-check: skipping the patterns never loses a link ------------------------


@pytest.mark.parametrize(
    "text",
    [
        "jam 10:30 ya kak",
        "Rp 250.000 saja",
        "ftp://files/x",
        "DATA:text/html,<b>x</b>",
        "JavaScript:alert(1)",
        "java\u017fcript:alert(1)",  # long s: the same case folding as the patterns
        "[klik](http://x)",
        '<a href="javascript:void(0)">x</a>',
        "10.1.2.3/admin",
        "lihat \uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com ya",
        "halo kak, pesanan A-000123 sudah dikirim belum?",
        "selesai. terima kasih",
        "",
    ],
)
def test_pre_check_keeps_every_link(text: str) -> None:
    assert extract_urls(text) == _extract(text)


def test_pre_check_keeps_every_link_of_the_corpus() -> None:
    items = load_corpus().items
    assert sum(bool(_extract(i.text)) for i in items) > 100  # the corpus is full of links
    for item in items:
        assert extract_urls(item.text) == _extract(item.text), item.text


_URL_BITS = st.sampled_from(
    ["http", "https", "ftp", "://", ":", ".", "..", "/", "www", "com", "id", "co", "xyz",
     "data", "javascript", "DATA", "JaVaScRiPt", "\u017f", "\u212a", "[a](", ")", "<a href=",
     ">b</a>", "1", "10", "250", " ", "\n", "\uff0e", "@", "-", "bit", "ly", "apk", "\u0430"]
)


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(parts=st.lists(st.one_of(_URL_BITS, st.text(max_size=3)), max_size=16))
def test_pre_check_keeps_every_link_of_generated_texts(parts: list[str]) -> None:
    text = "".join(parts)
    assert extract_urls(text) == _extract(text)
