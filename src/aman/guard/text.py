"""Message-level scam signals in Indonesian and English, and fraud-report detection.

Signals are regular expressions over a normalised copy of the message (NFKC,
lowercase, links replaced by the word ``linkurl``).  A signal inside a warning
("jangan berikan PIN", "we will never ask for your OTP", "waspada penipuan tarif")
does not count: the clause (and comma segment) before the match is searched for
negation or warning cues.  ``is_fraud_report`` recognises a customer telling us that
*someone else* tried a scam ("ada yang ngaku dari bank minta OTP").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from aman.guard.reasons import Reason
from aman.guard.urls import FoundUrl, extract_urls

__all__ = [
    "find_secret_requests",
    "is_fraud_report",
    "normalize_text",
    "normalize_with_links",
    "signal_descriptions",
    "signals_of_normal",
    "text_signals",
]

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"))
_CLAUSE_SPLIT = re.compile(r"[.!?;]+(?=\s|$)|[\n\r]+|[!?]+")
_COMMA = re.compile(r",|\s-\s|\s–\s")

_YOU = r"(?:anda|kamu|kakak|kak|bapak|ibu|bpk|bu|pak|agan|sdr|saudara)"

# What must never be handed over.
_SENSITIVE = (
    r"(?:kode\s+(?:otp|verifikasi|keamanan|aktivasi|rahasia|sms|akses|unik)"
    r"|kode\s*(?:\d|empat|enam)\s*(?:digit|angka)"
    r"|kode\s+(?:yang|yg)\s+(?:baru\s+(?:saja\s+)?)?(?:masuk|kami\s+kirim|dikirim|diterima"
    r"|(?:anda|kamu|kakak|bapak|ibu)\s+terima|muncul)"
    r"|(?:\d|enam|empat)\s*(?:digit|angka)\s+(?:kode|otp|(?:yang|yg)\s+masuk|di\s+belakang)"
    r"|\d\s*(?:digit|angka)\s+(?:angka\s+)?di\s+belakang"
    r"|\botp\b|one[-\s]?time\s+(?:password|pin|code)|verification\s+code|security\s+code"
    r"|(?:\d|six|four)[-\s]?digit\s+code"
    r"|code\s+(?:that\s+)?(?:you|we|i)\s+(?:just\s+)?(?:received|got|get|sent|send)"
    r"|\bm?pin\b|password|passcode|kata\s+sandi|\bsandi\b|\bcvv2?\b|\bcvc\b"
    r"|masa\s+berlaku\s+kartu|expiry\s+date|expiration\s+date"
    r"|nomor\s+kartu(?:\s+(?:atm|debit|kredit))?|no\.?\s+kartu|card\s+number"
    r"|user\s*id\s+dan\s+password|username\s+and\s+password|login\s+details|credentials)"
)
_SEND = (
    r"(?:kirim(?:kan|in|i)?|kirim\s+balik|sebut(?:kan|in)?|berikan|beri|kasih(?:kan)?"
    r"|bagikan|share|info(?:kan|in)?|informasikan|balas|forward|teruskan|tulis(?:kan)?"
    r"|bacakan|siapkan|mengirim(?:kan)?|memberikan|menyebutkan|membagikan"
    r"|send|tell|give|provide|reply(?:ing)?\s+with|read\s+(?:me|us|out)|text\s+(?:me|us)"
    r"|submit)"
)
_INPUT = (
    r"(?:masukkan|masukan|memasukkan|isi(?:kan)?|mengisi|input(?:kan)?|ketik(?:kan)?"
    r"|enter(?:ing)?|type|fill\s+in)"
)
_TARGET = (
    r"(?:(?:di|pada|ke|melalui|lewat|via|dalam)\s+(?:sini|link|tautan|form(?:ulir)?|website"
    r"|situs|web|halaman|chat|kolom|bawah|linkurl)|linkurl|\bhere\b|\bbelow\b"
    r"|(?:on|at|in|into|via)\s+(?:this|the|our|a)?\s*(?:link|form|page|site|chat|website))"
)
_APP_CONTEXT = re.compile(
    r"(?:di|pada|ke\s+dalam|ke|in|on|at|into)\s+(?:hanya\s+|only\s+)?(?:the\s+|our\s+)?"
    r"(?:aplikasi|app|mesin|atm|edc|m-banking|mobile\s+banking|livin|brimo|keypad)"
)
_PASSIVE = (
    r"(?:di(?:kirim|sebutkan|sebut|berikan|infokan|info|kasih|share|balas|ketik|forward"
    r"|teruskan|tulis)(?:kan)?)"
)

_REQUEST_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(rf"\b{_SEND}\b[^!?\n]{{0,40}}?{_SENSITIVE}"),
    re.compile(
        rf"{_SENSITIVE}(?:nya|-nya)?[^!?\n]{{0,30}}?(?:(?:tolong|mohon|harap|segera|boleh)\s+"
        rf"(?:tolong\s+)?{_PASSIVE}|{_PASSIVE}\s+(?:ke\s+(?:sini|saya|kami|aku|nomor\s+ini"
        rf"|chat\s+ini|admin|petugas)|ya+\b))"
    ),
    re.compile(r"\b(?:berapa|apa)\s+(?:kode\s+)?(?:otp|pin|password|kode\s+verifikasi)\b"),
    re.compile(
        rf"{_SENSITIVE}(?:nya)?\s+(?:[\w-]+\s+){{0,6}}?(?:berapa|apa)"
        r"(?!\s+(?:lama|kali|menit|saja|bedanya))(?:\s+(?:angka|kode)\w*|\s*\?|\s+ya\b|\s*$)"
    ),
    re.compile(
        rf"\bwhat(?:'s|\s+is|\s+was)\s+(?:the|your)\s+(?:{_SENSITIVE}|code)"
    ),
    re.compile(
        rf"\b(?:kami|we)\s+(?:only\s+|hanya\s+)?(?:butuh|perlu|memerlukan|membutuhkan|need"
        rf"|require)\b[^!?\n]{{0,30}}?{_SENSITIVE}"
    ),
    re.compile(rf"\b{_INPUT}\b[^!?\n]{{0,50}}?{_SENSITIVE}[^!?\n]{{0,40}}?{_TARGET}"),
)
# Outbound (strict) mode also forbids "enter/type your PIN" without a target, unless
# the clause points at the banking app or ATM.
_STRICT_INPUT = re.compile(rf"\b{_INPUT}\b[^!?\n]{{0,50}}?{_SENSITIVE}")

_NON_NEGATING = re.compile(
    r"jangan\s+(?:lupa|sampai\s+lupa|ragu|khawatir|panik|cemas|takut|sampai\s+terlambat|tunda)"
    r"|(?:don'?t|do\s+not)\s+(?:forget|worry|hesitate|panic|delay|miss)"
    r"|(?:jika|kalau|bila|apabila)\s+(?:anda\s+|kamu\s+)?tidak|if\s+you\s+(?:do\s+not|don'?t)"
    r"|if\s+not|otherwise|unless|(?:agar|supaya|biar)\s+tidak"
)
_NEGATION_CUES = re.compile(
    r"\b(?:jangan|jgn|(?:tidak|tdk|tak|ga|gak|nggak|enggak)\s+(?:pernah|akan)|takkan"
    r"|tidak\s+boleh|dilarang|tidak\s+perlu|hindari|waspada\w*|hati-hati|hati2|berhati-hati"
    r"|penipu\w*|modus|berkedok|rahasiakan|abaikan|laporkan|never|do\s+not|don'?t"
    r"|does\s+not|doesn'?t|won'?t|will\s+not|avoid|beware|scam\w*|phishing|ignore|no\s+one"
    r"|nobody|(?:jika|bila|apabila|kalau)\s+ada|if\s+(?:any|some)one|anyone\s+who|whoever"
    r"|siapa\s*pun\s+yang|tiruan|palsu|fake)\b"
)
_QUESTION_CUES = re.compile(
    r"\b(?:apakah|apa\s+(?:saya|aku)|do\s+i|should\s+i|can\s+i|how\s+(?:do|can)\s+i"
    r"|(?:gimana|bagaimana)\s+cara|cara)\b"
)
_CONTINUATION = re.compile(
    r"^\s*(?:atau|maupun|ataupun|or|nor|dan|and|serta|termasuk|including|bahkan|even|apalagi)\b"
)

_REPORT_MARKERS = re.compile(
    r"\b(?:ngaku|mengaku|ngaku-ngaku|claim(?:ing|ed)\s+to\s+be|pretend(?:ing|ed)?\s+to\s+be"
    r"|pretending|mengatasnamakan"
    r"|(?:ada|ada\s+yang|ada\s+yg|ada\s+orang|seseorang)\s+(?:\w+\s+){0,3}?"
    r"(?:telpon|telepon|nelpon|menelepon|chat|wa|sms|dm|kirim|ngirim|nawarin|menawarkan|minta)"
    r"|(?:saya|sy|aku|gue|gw|ibu\s+saya|bapak\s+saya|suami\s+saya|istri\s+saya|ortu\s+saya)"
    r"\s+(?:(?!tidak|tdk|belum|blm|gak|ga|nggak|tak)\w+\s+)?(?:dapat|dapet|dpt|terima|menerima"
    r"|ditelepon|ditelpon|dichat|di-chat|dikirimi)"
    r"\s+(?:\w+\s+)?(?:sms|pesan|wa|whatsapp|telepon|telpon|chat|dm|email|link|file|tautan)"
    r"|(?:tadi|barusan|td|brsn|kemarin|kmrn|semalam)\s+(?:ada\s+(?:yang|yg|orang|nomor|sms"
    r"|pesan|wa|telpon|telepon|link|chat|dm)|(?:saya|sy|aku)\s+(?:\w+\s+)?(?:dapat|dapet"
    r"|terima|menerima|ditelepon|ditelpon|dichat|dikirimi)|ditelepon|ditelpon|dapat|dapet)"
    r"|dari\s+nomor\s+(?:asing|lain|tidak\s+dikenal|tak\s+dikenal|baru)"
    r"|nomor\s+(?:asing|tidak\s+dikenal|tak\s+dikenal)"
    r"|(?:ini|itu)\s+(?:penipuan|penipu|hoax|hoaks|scam)|penipuan\s+(?:ya|kan|bukan|gak|ga)"
    r"|(?:itu|ini)\s+(?:beneran|benar|bener|asli|resmi)|apa\s+(?:benar|bener|betul)"
    r"|(?:aman|asli|resmi|fake)\s+(?:gak|ga|nggak|tidak|kan)\b"
    r"|is\s+(?:this|that|it)\s+(?:legit|real|a\s+scam|genuine|from\s+you|you|official)"
    r"|was\s+that\s+(?:really\s+)?you|is\s+that\s+you|scam\s*\?"
    r"|(?:i|we|my\s+\w+)\s+(?:got|received|get|receive)\s+(?:a|an|this|some|the)?\s*"
    r"(?:message|text|sms|call|email|whatsapp|dm)"
    r"|(?:got|received)\s+(?:a|an)\s+(?:message|text|sms|call|email|whatsapp)"
    r"|someone\s+(?:on\s+\w+\s+)?(?:called|texted|messaged|contacted|sent|offered|asked)"
    r"|a\s+(?:guy|man|woman|person)\s+on\s+the\s+phone"
    r"|the\s+caller|(?:mau|ingin)\s+lapor|melaporkan|i\s+want\s+to\s+report"
    r"|(?:saya|sy|aku)\s+(?:ga|gak|tidak|nggak)\s+(?:kasih|klik|buka)"
    r"|(?:untung|belum)\s+(?:saya\s+)?(?:belum\s+)?(?:dibuka|buka|klik|diklik)"
    r"|i\s+(?:hung\s+up|didn'?t\s+(?:open|click|give))|gak\s+saya\s+buka"
    r"|(?:dia|mereka|orang\s+itu|katanya)\s+(?:minta|suruh|menyuruh|bilang)"
    r"|disuruh|suruh\s+(?:kirim|bayar|update|transfer)|terlanjur|sms\s+palsu|dibajak)"
)


@dataclass(frozen=True, slots=True)
class _Signal:
    code: str
    text: str
    weight: float
    pattern: re.Pattern[str]
    question_sensitive: bool = False


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


_PHONE = r"(?:\+?62|0)\s?8\d{1,2}[\s-]?(?:\d{3,4}|x{3,4})[\s-]?(?:\d{3,5}|x{3,5})"

_SIGNALS: tuple[_Signal, ...] = (
    _Signal(
        "code_hijack", "says a code reached the wrong number and asks for it", 0.75,
        _rx(
            rf"{_SENSITIVE}[^!?\n]{{0,25}}?(?:masuk|nyasar|terkirim|salah\s+kirim|sent|went)?\s*"
            rf"(?:ke|to)\s+(?:nomor\s+|hp\s+)?(?:{_YOU}|your\s+(?:number|phone|wa|whatsapp))\b",
            r"\b(?:salah\s+kirim|nyasar|kekirim|keliru\s+kirim)\b[^!?\n]{0,30}?\b(?:kode|code|otp)\b",
            r"\b(?:kode|code|otp)\b[^!?\n]{0,30}?\b(?:salah\s+kirim|nyasar|kekirim)\b",
        ),
    ),
    _Signal(
        "account_threat", "threatens to block or close the account", 0.35,
        _rx(
            r"\b(?:akan|bakal)\s+(?:segera\s+)?(?:di|ter)?(?:blokir|nonaktifkan|nonaktif"
            r"|dinonaktifkan|tutup|ditutup|bekukan|dibekukan|hangus|hapus|dihapus|suspend"
            r"|putus|diputus|kadaluarsa|kedaluwarsa|batasi|dibatasi)",
            rf"\b(?:akun|rekening|rek|kartu|atm|m-banking|saldo|dana|dompet)(?:\s+[\w-]+)?\s+"
            rf"{_YOU}\s+(?:telah\s+|sudah\s+|sedang\s+|terindikasi\s+)?(?:di|ter)"
            r"(?:blokir|bekukan|batasi|nonaktifkan|kunci)",
            r"\b(?:will|would)\s+be\s+(?:permanently\s+|temporarily\s+)?(?:blocked|suspended"
            r"|closed|deactivated|locked|terminated|limited|frozen)",
            r"\byour\s+[\w\s-]{0,25}?(?:has|have|is|was)\s+(?:been\s+)?(?:temporarily\s+)?"
            r"(?:blocked|suspended|locked|limited|frozen|restricted|on\s+hold)",
            r"\b(?:terindikasi|terdeteksi)\s+(?:transaksi\s+)?(?:judi|kloning|mencurigakan"
            r"|pencucian|pinjol)",
            r"\bsebelum\s+(?:di|ter)?(?:blokir|nonaktif|tutup|hangus|bekukan)",
        ),
    ),
    _Signal(
        "your_account", "talks about the reader's account, balance or data", 0.2,
        _rx(
            r"\b(?:rekening|rek|akun|saldo|kartu|dana|transaksi|data|tagihan|pesanan|paket)\s+"
            r"(?:[\w-]+\s+)?(?:anda|kamu|kakak|nasabah)\b",
            r"\byour\s+(?:\w+\s+)?(?:account|card|balance|data|details|transaction|order"
            r"|package|parcel|statement)",
            r"\btransaksi\s+mencurigakan|\bsuspicious\s+(?:activity|transaction|login)",
        ),
    ),
    _Signal(
        "bill_pressure", "presses an unpaid bill or fine", 0.25,
        _rx(r"\bmenunggak|\btunggakan|\bbelum\s+terbayar|\bbayar\s+denda|\bakan\s+diputus"),
    ),
    _Signal(
        "vote_lure", "asks to vote through a link (account-takeover lure)", 0.35,
        _rx(r"\b(?:bantu|tolong|please)\s+(?:di)?vote|\bvote\s+(?:ya|dong|yuk)|\bvoting\s+lomba"),
    ),
    _Signal(
        "deadline", "pushes a short deadline", 0.2,
        _rx(
            r"\bdalam\s+(?:waktu\s+)?(?:1\s*x\s*24|2\s*x\s*24|24|48)\s*jam",
            r"\bwithin\s+(?:24|48)\s+hours",
            r"\b(?:hari\s+ini\s+juga|sekarang\s+juga|batas\s+waktu|paling\s+lambat"
            r"|sebelum\s+jam\s+\d|skrg\s+jg|before\s+midnight|today\s+only|expires?\s+(?:today"
            r"|tonight))",
            r"\b(?:final|last)\s+warning|peringatan\s+terakhir|\burgent\b|\bsegera\b",
        ),
    ),
    _Signal(
        "prize", "announces a prize, lottery or free money", 0.5,
        _rx(
            r"\bselamat\b[\s!,.]*(?:ya\s+)?(?:anda|kamu|kakak|kak|bapak|ibu|bpk|nomor|akun"
            r"|pelanggan|nasabah)?[^!?\n]{0,40}?\b(?:memenangkan|menang|mendapatkan|mendapat"
            r"|terpilih|berhak|beruntung)\b",
            r"\b(?:anda|kamu|kakak|bapak|ibu|nomor\s+(?:anda|kamu|wa|whatsapp)[\w\s]{0,15}?"
            r"|akun\s+(?:anda|kamu))\s+(?:telah\s+|sudah\s+|resmi\s+)?(?:terpilih|memenangkan"
            r"|menang|mendapat(?:kan)?\s+(?:hadiah|kiriman)|berhak\s+(?:atas|mendapat)|beruntung)",
            r"\b(?:anda|kamu|kakak|bapak|ibu)\s+(?:adalah\s+|sebagai\s+|jadi\s+)?(?:pemenang"
            r"|juara)\b",
            r"\b(?:klaim|ambil|tukarkan|tukar|cairkan)\s+(?:hadiah|poin|point|reward|saldo"
            r"|cashback|voucher|bonus)(?:nya)?\b(?!\s+dari)",
            r"\b(?:claim|redeem)\s+(?:your\s+)?(?:prize|reward|gift|bonus|voucher|points?|cash"
            r"|for\s+cash)",
            r"\bhadiah\s+(?:langsung|utama|uang|saldo|pulsa|umroh|mobil|motor)|\bberhadiah\b",
            r"\b(?:poin|point|points)\b[^!?\n]{0,40}?\b(?:hangus|kadaluarsa|kedaluwarsa"
            r"|expire)\w*\s+(?:hari\s+ini|malam\s+ini|today|tonight|besok)",
            r"\b(?:poin|points?)\s+(?:\w+\s+)?(?:anda|kamu|your)\b[^!?\n]{0,30}?(?:hangus"
            r"|kadaluarsa|kedaluwarsa|expire)",
            r"\byou(?:'ve|\s+have)?\s+(?:won|been\s+selected|been\s+chosen)"
            r"|\byou\s+are\s+(?:the|our)\s+(?:lucky\s+)?winner|\blucky\s+(?:draw|winner)"
            r"|\blottery\b|\bdear\s+winner|\bcash\s+prize"
            r"|\b(?:your\s+(?:number|account)|account\s+was)\s+(?:won|(?:was\s+)?"
            r"(?:selected|chosen))",
            r"\bcongrat(?:ulation)?s\b[^!?\n]{0,60}?\b(?:won|winner|selected|chosen|prize"
            r"|reward|dapat|menang)",
            r"\bpenerima\s+bantuan|\bkiriman\s+dana\s+rp|\b(?:saldo|pulsa|kuota)\s+gratis\b"
            r"|\bgiveaway\b",
        ),
    ),
    _Signal(
        "tariff_change", "announces a bank tariff change", 0.3,
        _rx(
            r"\b(?:perubahan|pembaruan|kenaikan|penyesuaian|pemberitahuan)\s+tarif",
            r"\btarif\s+(?:baru|lama|terbaru)|\btarif\s+[\w-]+\s+(?:[\w-]+\s+)?(?:berubah|naik)",
            r"\bskema\s+tarif|\bnew\s+(?:pricing|fee|rate|tariff)|\b(?:fee|tariff|rate)\s+will"
            r"\s+change|\btransfer\s+fee\s+will|\bmonthly\s+(?:transaction\s+)?fee",
        ),
    ),
    _Signal(
        "tariff_fee", "quotes a monthly fee in a tariff message", 0.3,
        _rx(
            r"(?:rp\.?|idr)\s?1\d{2}(?:[.,]?000|\s?rb|\s?ribu|k)\b\s*(?:/|per\s+|tiap\s+"
            r"|setiap\s+|a\s+)?\s*(?:bulan|bln|month|monthly)",
            r"\bbiaya\s+bulanan\s+rp",
        ),
    ),
    _Signal(
        "tariff_choice", "asks to pick or confirm a tariff", 0.35,
        _rx(
            r"\b(?:pilih|memilih|tetap(?:\s+di)?|setuju|persetujuan|batalkan|pembatalan"
            r"|konfirmasi|daftar)\b[^!?\n]{0,25}?\btarif",
            r"\btarif\s+lama|\bopt\s+out|\bkeep\s+the\s+old\s+rate|\bchoose\s+your\s+plan"
            r"|\btidak\s+setuju|\b(?:otomatis\s+)?(?:terdebet|didebet)\s+otomatis|\botomatis"
            r"\s+terdebet|\bautomatically\s+applied|\bform\s+persetujuan",
        ),
    ),
    _Signal(
        "job_offer", "offers easy paid work", 0.3,
        _rx(
            r"\blowongan|\bloker\b|\bkerja\s+(?:sampingan|paruh\s+waktu|online|dari\s+rumah"
            r"|di\s+rumah|dari\s+hp)|\bpart[-\s]?time|\bfreelance|\bparuh\s+waktu"
            r"|\bwork\s+from\s+home|\bremote\s+(?:data|job|work)",
            r"\b(?:gaji|penghasilan|bayaran|komisi|salary|earn|dibayar|get\s+paid)\b[^!?\n]"
            r"{0,30}?(?:per\s+hari|/\s*hari|harian|/\s*minggu|per\s+minggu|/\s*day|per\s+day"
            r"|daily|/\s*tugas|per\s+tugas|dijamin)",
            r"\btugas\s+(?:like|follow|subscribe|prabayar|review|pertama)|\blike\s+(?:video|dan|&)"
            r"|\bsubscribe\s+channel|\bhiring\b|\brecruiter|\brating\s+hotels|\bcv\s+anda\s+lolos"
            r"|\bditerima\s+bekerja|\bpassed\s+(?:our|the)\s+interview|\bkerja\s+di\s+(?:jepang"
            r"|luar\s+negeri|kapal)|\bkomisi\s+hingga|\bcuan\b|\bkesempatan\s+kerja",
        ),
    ),
    _Signal(
        "upfront_fee", "asks for a fee or deposit up front", 0.35,
        _rx(
            r"\bbiaya\s+(?:admin(?:istrasi)?|pendaftaran|registrasi|akomodasi|provisi|asuransi"
            r"|medical|pajak|pencairan|aktivasi|seragam|visa|pelatihan)",
            r"\buang\s+(?:jaminan|pendaftaran|admin|seragam|muka)|\bdeposit\s+(?:awal|dulu"
            r"|first)|\b(?:top\s+up|isi)\s+(?:a\s+)?deposit|\bregistration\s+fee|\badmin(?:istration)?"
            r"\s+fee|\bprocessing\s+fee|\btraining\s+fee|\bpay\s+(?:a|the)\s+(?:small\s+)?(?:\w+\s+)?"
            r"(?:fee|tax|deposit)|\bbayar\s+(?:registrasi|pendaftaran|biaya|uang|pajak)"
            r"|\bstarter\s+kit|\bpajak\s+hadiah|\btransfer\s+(?:biaya|uang)",
        ),
    ),
    _Signal(
        "loan_offer", "says a loan is approved", 0.3,
        _rx(
            r"\bpinjaman\s+(?:online\s+)?(?:anda|kamu)?[^!?\n]{0,40}?(?:disetujui|cair"
            r"|siap\s+dicairkan)|\b(?:loan|kta)\b[^!?\n]{0,30}?(?:approved|disetujui)"
            r"|\bdana\s+pinjaman|\bpengajuan\s+(?:kta|pinjaman)\s+(?:anda\s+)?disetujui|\bpinjol\b",
        ),
    ),
    _Signal(
        "money_request", "asks to send money", 0.35,
        _rx(
            r"\b(?:transfer|tf|kirim|bayar)(?:kan)?\s+(?:[\w.]+\s+){0,3}?(?:dulu|terlebih\s+dahulu)\b",
            r"\b(?:tolong|mohon|silakan|silahkan|harap)\s+(?:di)?(?:transfer|kembalikan|balikin)",
            r"\b(?:kembalikan|balikin)\s+ke\s+(?:rek|rekening|nomor)",
            r"\bke\s+rek(?:ening)?\s+(?:petugas|a\.?\s?n\.?|berikut)",
            r"\bpinjem\s+uang|\bpinjam\s+uang\s+dulu|\bkirim\s+uang\s+jaminan",
            r"\b(?:pay|transfer|top\s+up)\s+(?:the|a)\s+[\w\s]{0,20}?(?:fee|tax|deposit)"
            r"\s+(?:first|to|of)|\bpay\s+the\s+\w+\s+fee",
        ),
    ),
    _Signal(
        "wrong_transfer", "claims a mistaken transfer to your account", 0.45,
        _rx(
            rf"\b(?:salah|keliru)\s+(?:transfer|kirim|tf)\b[^!?\n]{{0,30}}?\b(?:ke\s+)?"
            rf"(?:rek(?:ening)?|nomor)\s+{_YOU}",
        ),
    ),
    _Signal(
        "new_number", "claims to be a contact on a new number", 0.25,
        _rx(r"\bganti\s+nomor|\bnomor\s+baru\s+(?:aku|saya|gue)|\b(?:my\s+)?new\s+number"),
    ),
    _Signal(
        "apk_file", "sends an Android app file (.apk)", 0.85,
        _rx(r"\.(?:apk|xapk|apks)\b"),
    ),
    _Signal(
        "install_request", "asks to install an app or file", 0.3,
        _rx(
            r"\b(?:install|instal|unduh|download|pasang)\s+(?:the\s+)?(?:attached\s+|tracking\s+)?"
            r"(?:aplikasi|app|file|apk)\b",
        ),
        question_sensitive=True,
    ),
    _Signal(
        "courier_lure", "courier or parcel pretext", 0.2,
        _rx(
            r"\b(?:cek|lihat|periksa)\s+(?:resi|foto\s+paket)|\bfoto\s+(?:paket|barang)",
            rf"\bpaket\s+(?:{_YOU}\s+)?(?:tertahan|gagal|nyangkut|tidak\s+dapat|belum\s+bisa"
            r"|dikenakan|menunggu)|\bpengiriman\s+gagal",
            r"\b(?:parcel|package|shipment)\b[^!?\n]{0,20}?(?:could\s+not|on\s+hold|held"
            r"|delivery\s+failed|photo)|\balamat\s+(?:anda\s+)?tidak\s+(?:lengkap|terbaca)",
        ),
    ),
    _Signal(
        "impersonation", "claims to be the bank, a shop or an official", 0.35,
        _rx(
            r"\b(?:saya|kami|aku|ini|dengan)\s+(?:adalah\s+)?(?:dari\s+|dr\s+)?(?:pihak|tim"
            r"|petugas|pegawai|staf|staff|karyawan|cs|customer\s+service|call\s+center|admin"
            r"|kurir|hrd|recruiter|bagian)\b",
            r"\b(?:saya|kami|aku|ini)\s+(?:\w+\s+){0,2}?(?:dari|dr)\s+(?:pihak\s+)?(?:bank"
            r"|kantor\s+pajak|bpjs|ojk|ppatk|pos\s+indonesia|j&t|jne|anteraja|sicepat)\b",
            r"\bdari\s+pihak\s+bank|\bpetugas\s+bank\b|\bpegawai\s+bank\b|\btim\s+keamanan"
            r"|\bdari\s+(?:j&t|jne|pos\s+indonesia|anteraja|sicepat)\b",
            r"\b(?:cs|customer\s+service|admin|petugas|pegawai|tim|call\s+center)\s+(?:resmi\s+"
            r"|official\s+)?(?:bank\s+)?(?:bca|bri|bni|mandiri|bsi|cimb|danamon|permata|shopee"
            r"|tokopedia|lazada|dana|ovo|gopay|gojek|livin|whatsapp|brimo)\b",
            r"\b(?:this\s+is|i'?m|i\s+am|we\s+are|here\s+is)\s+(?:\w+\s+){0,3}?(?:from\s+)?"
            r"(?:your\s+bank|the\s+bank|customer\s+(?:care|service)|support|security\s+team"
            r"|fraud\s+(?:team|prevention)|recruiter|courier|call\s+center|bca|bri|bni|mandiri"
            r"|whatsapp\s+support|\w+'s\s+fraud)",
            r"\b(?:your\s+bank'?s?|bank'?s)\s+(?:security|fraud)\s+team|\bsecurity\s+alert\s+from"
            r"\s+your\s+bank|\b(?:official|resmi)\s+(?:tokopedia|shopee|bca|bri|bni|mandiri)"
            r"|\bpemberitahuan\s+resmi|\b(?:courier|kurir)\s+(?:here|di\s+sini)",
        ),
    ),
    _Signal(
        "verify_lure", "asks to verify, update or unblock an account", 0.3,
        _rx(
            r"\b(?:verifikasi|perbarui|update|aktivasi|aktifkan|konfirmasi|validasi|sinkronisasi"
            r"|pulihkan|amankan|buka\s+blokir|unblock|verify|confirm|re-?verify|reactivate"
            r"|restore|unlock|secure)\s+(?:ulang\s+|kembali\s+)?(?:data|akun|rekening|identitas"
            r"|nomor|account|your|kartu|atm|token|pembayaran|payment)",
            r"\bperlu\s+(?:sinkronisasi|verifikasi|diperbarui)|\bdata\s+(?:nasabah\s+)?(?:anda\s+)?"
            r"(?:tidak\s+valid|belum\s+diperbarui)|\bbelum\s+terverifikasi|\bmust\s+re-?verify",
        ),
    ),
    _Signal(
        "link_lure", "pushes the reader to open a link", 0.2,
        _rx(
            r"\b(?:klik|click|buka|open|kunjungi|visit|akses|login|masuk|isi|daftar|register|cek"
            r"|lihat|klaim|claim|redeem|tukarkan|verifikasi|konfirmasi|bayar|pay|batalkan"
            r"|unduh|download|aktifkan|pulihkan|amankan|perbarui|update)\b[^!?\n]{0,60}?linkurl",
            r"\b(?:klik|click|buka|open)\s+(?:link|tautan|the\s+link|this\s+link)",
        ),
    ),
    _Signal(
        "contact_other", "sends the reader to another phone number or agent", 0.2,
        _rx(
            rf"\b(?:hubungi|telepon|telpon|call|contact|chat|wa|whatsapp|info)\b[^!?\n]{{0,40}}?"
            rf"{_PHONE}",
            r"\b(?:hubungi|contact|chat)\s+(?:admin|petugas|agent|cs|mentor|panitia|our\s+agent"
            r"|our\s+support)\s*(?:kami|our)?",
        ),
    ),
    _Signal(
        "ask_personal", "asks for identity documents or personal data", 0.35,
        _rx(
            r"\b(?:kirim|send)\w*\s+(?:\w+\s+){0,3}?(?:nama|name)\b[^!?\n]{0,30}?(?:alamat"
            r"|address|rekening|account|tanggal\s+lahir|ktp)",
            r"\bfoto\s+ktp|\bselfie\s+(?:dengan|dgn|with)\s+ktp|\bisi\s+data\s+(?:rekening|kartu"
            r"|diri|pemenang|nasabah)|\bverifikasi\s+data\s+pemenang|\bdata\s+kartu",
        ),
        question_sensitive=True,
    ),
    _Signal(
        "remote_access", "asks for screen sharing or a remote-control app", 0.5,
        _rx(r"\bshare\s+screen|\bberbagi\s+layar|\bscreen\s*shar|\banydesk|\bteamviewer"
            r"|\brustdesk"),
    ),
)
_TARIFF_CONTEXT = re.compile(
    r"\btarif|\btariff|\bfee\b|\bpricing|\bbiaya\s+(?:transfer|transaksi)"
)
_COMBOS: tuple[tuple[str, str, frozenset[str], frozenset[str], float], ...] = (
    ("job_fee", "paid-work offer that needs a fee first", frozenset({"job_offer"}),
     frozenset({"upfront_fee", "money_request"}), 0.6),
    ("prize_fee", "prize that needs a fee or data first", frozenset({"prize"}),
     frozenset({"upfront_fee", "money_request", "ask_personal", "contact_other"}), 0.55),
    ("loan_fee", "approved loan that needs a fee first", frozenset({"loan_offer"}),
     frozenset({"upfront_fee", "money_request"}), 0.6),
)
_ASK_SECRET = Reason("ask_secret", "asks for an OTP, PIN, password or card secret", 0.75)


def normalize_text(text: str) -> str:
    """NFKC, strip zero-width characters, replace links by ``linkurl``, lowercase."""
    return normalize_with_links(text)[1]


def normalize_with_links(text: str) -> tuple[str, str, list[FoundUrl]]:
    """``(clean, norm, links)``: ``clean`` is ``text`` after NFKC and without zero-width
    characters, ``links`` are the links found in ``clean`` and ``norm`` is
    :func:`normalize_text`'s result; for callers that need the links too (found once)."""
    clean = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    urls = extract_urls(clean)
    s = clean
    for found in reversed(urls):
        s = s[: found.start] + " linkurl " + s[found.end :]
    return clean, s.lower(), urls


def _clauses(norm: str) -> list[str]:
    return [c for c in _CLAUSE_SPLIT.split(norm) if c and c.strip()]


def _negated(clause: str, pos: int, question_sensitive: bool) -> bool:
    """Is the match at ``pos`` inside a warning, a negation or (optionally) a question?"""
    segments: list[tuple[int, str]] = []
    offset = 0
    for part in _COMMA.split(clause):
        idx = clause.find(part, offset)
        segments.append((idx, part))
        offset = idx + len(part)
    current = 0
    for i, (start, _) in enumerate(segments):
        if start <= pos:
            current = i
    scopes = [clause[segments[current][0] : pos]]
    j = current
    while j > 0 and _CONTINUATION.match(segments[j][1]):
        j -= 1
        scopes.append(segments[j][1])
    for scope in scopes:
        cleaned = _NON_NEGATING.sub(" ", scope)
        if _NEGATION_CUES.search(cleaned):
            return True
        if question_sensitive and _QUESTION_CUES.search(cleaned):
            return True
    return False


def _secret_matches(norm: str, strict: bool) -> list[str]:
    hits: list[str] = []
    for clause in _clauses(norm):
        for pattern in _REQUEST_PATTERNS:
            for m in pattern.finditer(clause):
                if not _negated(clause, m.start(), question_sensitive=not strict):
                    hits.append(m.group(0).strip())
        if strict:
            for m in _STRICT_INPUT.finditer(clause):
                if _APP_CONTEXT.search(clause, m.start()):
                    continue
                if not _negated(clause, m.start(), question_sensitive=False):
                    hits.append(m.group(0).strip())
    return list(dict.fromkeys(hits))


def find_secret_requests(text: str, *, strict: bool = False) -> list[str]:
    """Phrases in ``text`` that ask for an OTP, PIN, password, CVV or card number.

    Warnings ("jangan berikan OTP", "we will never ask for your PIN") are skipped.
    ``strict`` (used for what aman sends) also flags "ketik PIN Anda" without a link
    or chat target, unless the clause points at the app or ATM.
    """
    return _secret_matches(normalize_text(text), strict)


def _signal_codes(norm: str) -> set[str]:
    found: set[str] = set()
    for clause in _clauses(norm):
        for signal in _SIGNALS:
            if signal.code in found:
                continue
            for m in signal.pattern.finditer(clause):
                if not _negated(clause, m.start(), signal.question_sensitive):
                    found.add(signal.code)
                    break
    if not _TARIFF_CONTEXT.search(norm):
        found -= {"tariff_fee", "tariff_choice"}
    return found


def text_signals(text: str) -> list[Reason]:
    """Scam signals found in ``text`` (warnings and negations excluded), with weights."""
    return signals_of_normal(normalize_text(text))


def signals_of_normal(norm: str) -> list[Reason]:
    """:func:`text_signals` of a text already normalised by :func:`normalize_text`."""
    codes = _signal_codes(norm)
    reasons: list[Reason] = []
    if _secret_matches(norm, strict=False):
        reasons.append(_ASK_SECRET)
    for signal in _SIGNALS:
        if signal.code in codes:
            reasons.append(Reason(signal.code, signal.text, signal.weight))
    for code, desc, first, second, weight in _COMBOS:
        if codes & first and codes & second:
            reasons.append(Reason(code, desc, weight))
    return reasons


def is_fraud_report(text: str) -> bool:
    """True when the customer reports or asks about a scam attempt by someone else.

    "tadi ada yg telpon ngaku CS minta PIN", "got a message from another number
    saying my account is blocked", "ini penipuan ya?".  A scam message itself speaks
    *as* the bank; a report speaks *about* a third party.
    """
    return bool(_REPORT_MARKERS.search(normalize_text(text)))


def signal_descriptions() -> dict[str, str]:
    """Code -> human text for every text signal (for docs and the CLI)."""
    out = {s.code: s.text for s in _SIGNALS}
    out[_ASK_SECRET.code] = _ASK_SECRET.text
    for code, desc, *_ in _COMBOS:
        out[code] = desc
    return out
