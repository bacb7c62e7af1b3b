"""Tests for aman.guard.text: scam signals, negation handling and fraud reports."""

from __future__ import annotations

import pytest

from aman.guard.text import (
    find_secret_requests,
    is_fraud_report,
    normalize_text,
    signal_descriptions,
    text_signals,
)


def codes(text: str) -> set[str]:
    return {r.code for r in text_signals(text)}


# --- one positive and one negative example per signal -------------------------------------

POSITIVE = [
    ("ask_secret", "Mohon kirimkan kode OTP yang baru saja masuk ke HP Anda."),
    ("ask_secret", "Tolong sebutkan PIN untuk pengamanan"),
    ("ask_secret", "Please send me the code you received by SMS."),
    ("ask_secret", "kode otp yg masuk dikirim ke sini yaa"),
    ("ask_secret", "What is the OTP you just received?"),
    ("ask_secret", "Untuk aktivasi, masukkan nomor kartu, PIN, dan OTP di https://x.xyz"),
    ("ask_secret", "Kode yang masuk ke HP bapak berapa angkanya?"),
    ("code_hijack", "Maaf kode OTP saya nyasar ke nomor kakak"),
    ("code_hijack", "I accidentally sent my verification code to your number."),
    ("code_hijack", "Kak, barusan aku salah kirim kode ke nomor kamu, kirimin ya"),
    ("account_threat", "Rekening Anda akan diblokir karena data belum diperbarui"),
    ("account_threat", "Your account will be suspended due to suspicious activity."),
    ("deadline", "Selesaikan dalam 1x24 jam"),
    ("deadline", "Do it within 24 hours"),
    ("prize", "Selamat! Anda memenangkan undian Rp 100.000.000"),
    ("prize", "Congratulations! You have won an iPhone 15"),
    ("prize", "Poin anda sebanyak 1.750.000 akan hangus hari ini!"),
    ("tariff_change", "INFO PERUBAHAN TARIF TRANSAKSI untuk nasabah"),
    ("tariff_fee", "Tarif transfer naik jadi Rp 150.000/bulan mulai besok"),
    ("tariff_choice", "Silakan pilih tarif lama atau baru di link berikut"),
    ("job_offer", "Kerja paruh waktu dari rumah, gaji Rp 300.000 per hari"),
    ("upfront_fee", "Daftar dengan biaya admin Rp 100.000 saja"),
    ("job_fee", "Lowongan freelance, biaya pendaftaran Rp 75.000"),
    ("loan_offer", "Pinjaman online anda sebesar Rp 10.000.000 telah disetujui"),
    ("loan_fee", "Pinjaman anda disetujui. Transfer biaya provisi Rp 500.000 dulu"),
    ("prize_fee", "Anda menang hadiah mobil, wajib bayar pajak hadiah Rp 2.500.000"),
    ("money_request", "Tolong kembalikan ke rek 1122334455 ya"),
    ("wrong_transfer", "Aku salah transfer 2jt ke rekening kakak"),
    ("new_number", "Ini aku Rina, ganti nomor nih"),
    ("apk_file", "Mohon dicek foto paketnya ya Lihat Foto Paket.apk"),
    ("install_request", "Silakan install aplikasi ini untuk melihat tagihan"),
    ("courier_lure", "Paket anda tertahan di gudang, cek resi di sini"),
    ("impersonation", "Selamat siang, kami dari pihak Bank BCA."),
    ("impersonation", "This is your bank's security team."),
    ("verify_lure", "Segera verifikasi akun Anda"),
    ("link_lure", "Klaim sekarang di https://promo.xyz/a"),
    ("contact_other", "Hubungi CS kami di 0812-3456-7890 segera."),
    ("your_account", "Info penting terkait rekening Anda"),
    ("bill_pressure", "Pajak kendaraan Anda menunggak"),
    ("vote_lure", "Tolong bantu vote anak saya ya"),
    ("ask_personal", "Kirimkan foto KTP dan selfie dengan KTP"),
    ("remote_access", "Silakan share screen aplikasi m-banking anda"),
]

NEGATIVE = [
    ("ask_secret", "Cara ganti PIN ATM gimana ya min?"),
    ("ask_secret", "Saya sudah input kode OTP tapi katanya salah terus"),
    ("ask_secret", "Apakah kode verifikasi email dikirim ke alamat lama?"),
    ("ask_secret", "Tolong kirimkan kode promo untuk pembelian kedua"),
    ("ask_secret", "Jangan pernah berikan kode OTP kepada siapa pun."),
    ("ask_secret", "The app keeps asking me for OTP but I never receive the SMS"),
    ("ask_secret", "Apakah saya perlu memasukkan PIN setiap transfer?"),
    ("code_hijack", "OTP nya ga masuk2 ke hp saya"),
    ("account_threat", "Akun m-banking saya terblokir karena salah PIN 3x"),
    ("account_threat", "My account got blocked after too many wrong attempts"),
    ("deadline", "Kapan kantor cabang buka hari Sabtu?"),
    ("prize", "Selamat pagi, saya mau tanya soal KPR"),
    ("prize", "Saya pemenang lomba foto produk kemarin"),
    ("prize", "Bagaimana cara klaim cashback dari promo kemarin?"),
    ("prize", "Poin reward saya kapan hangus?"),
    ("prize", "Kapan pengumuman pemenang undian tabungan tahun ini?"),
    ("prize", "Congratulations on the new store opening!"),
    ("tariff_change", "Biaya administrasi bulanan tabungan berapa ya kak?"),
    ("tariff_fee", "Cicilan KPR saya Rp 150.000/bulan, bisa dipercepat?"),
    ("tariff_choice", "Tidak setuju dengan ukuran barangnya"),
    ("job_offer", "Kapan gaji saya masuk? Biasanya tanggal 1"),
    ("upfront_fee", "Kode promo HEMAT50 gak bisa dipake"),
    ("job_fee", "Lowongan kerja di toko ini masih buka?"),
    ("prize_fee", "Apakah ada program hadiah untuk pembukaan rekening baru?"),
    ("loan_fee", "Berapa biaya admin untuk pengajuan KPR?"),
    ("loan_offer", "Mau pinjam dana KUR untuk usaha, syaratnya apa?"),
    ("money_request", "Sudah transfer Rp 325.000 untuk pesanan atas nama Rina"),
    ("wrong_transfer", "Saya salah transfer, bisa dibatalkan?"),
    ("new_number", "Saya mau ubah nomor HP yang terdaftar"),
    ("apk_file", "Aplikasi resmi ada di Play Store"),
    ("apk_file", "Jangan install file .apk dari nomor tidak dikenal."),
    ("install_request", "Cara download aplikasi resminya dimana?"),
    ("courier_lure", "Ongkir ke Surabaya berapa ya?"),
    ("impersonation", "Halo min, saya mau cek saldo"),
    ("impersonation", "Jangan berikan OTP ke siapa pun, termasuk petugas bank."),
    ("verify_lure", "I need to update my address details on my account"),
    ("link_lure", "Saya sudah buka aplikasinya tapi error"),
    ("contact_other", "Virtual account 8808 0812 3456 7890 kok gagal?"),
    ("your_account", "Saldo saya kok berkurang"),
    ("bill_pressure", "Saya mau bayar tagihan kartu kredit"),
    ("vote_lure", "Saya mau memilih warna navy"),
    ("ask_personal", "Saya sudah kirim bukti transfer"),
    ("remote_access", "Aplikasi mobile banking saya error"),
]


@pytest.mark.parametrize(("code", "text"), POSITIVE)
def test_signal_positive(code: str, text: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(("code", "text"), NEGATIVE)
def test_signal_negative(code: str, text: str) -> None:
    assert code not in codes(text)


def test_every_signal_has_a_positive_and_negative_case() -> None:
    described = set(signal_descriptions())
    assert described == {c for c, _ in POSITIVE}
    assert described == {c for c, _ in NEGATIVE}


# --- negation and warning scope -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Jangan pernah berikan kode OTP kepada siapa pun, termasuk petugas bank.",
        "Bank tidak pernah meminta PIN, password, atau kode OTP melalui WhatsApp.",
        "Never share your PIN or OTP with anyone.",
        "We will NEVER ask you to send your PIN.",
        "If someone asks you to send your verification code, it is a scam.",
        "Jangan berikan PIN, atau kirimkan OTP kepada siapa pun.",
        "Waspada penipuan yang menyuruh kirim kode OTP.",
        "Our staff will never ask you to type your PIN or OTP in a chat.",
    ],
)
def test_warnings_are_not_requests(text: str) -> None:
    assert find_secret_requests(text) == []
    assert find_secret_requests(text, strict=True) == []


@pytest.mark.parametrize(
    "text",
    [
        "Jangan lupa kirimkan kode OTP ke kami ya",
        "Jangan khawatir, sebutkan PIN anda untuk verifikasi",
        "Kami tidak meminta PIN, cukup kirimkan kode OTP saja.",
        "Kami tidak akan meminta PIN Anda. Silakan kirimkan kode OTP yang Anda terima.",
        "Jika tidak kirim kode OTP, akun diblokir. Kirim kode OTP sekarang",
    ],
)
def test_requests_survive_fake_negations(text: str) -> None:
    assert find_secret_requests(text)


def test_strict_mode_flags_typing_a_pin_in_chat() -> None:
    text = "Silakan ketik PIN Anda untuk konfirmasi."
    assert find_secret_requests(text) == []
    assert find_secret_requests(text, strict=True)
    assert find_secret_requests("Masukkan PIN Anda di aplikasi.", strict=True) == []
    assert find_secret_requests("Masukkan PIN hanya di mesin ATM.", strict=True) == []


def test_prize_warning_is_not_a_prize() -> None:
    text = "Jika ada pesan 'Selamat Anda memenangkan undian', itu penipuan."
    assert "prize" not in codes(text)


def test_tariff_amount_needs_tariff_context() -> None:
    assert "tariff_fee" not in codes("Langganan paket data Rp 100rb/bulan")
    assert "tariff_fee" in codes("Tarif baru Rp 150rb/bulan berlaku besok")


# --- fraud reports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Min, tadi ada yang ngaku dari bank minta kode OTP, itu beneran dari bank gak?",
        "tadi ada yg telpon ngaku CS minta PIN, sy ga kasih",
        "I got a message from another number saying my account is blocked, is it real?",
        "Someone called me pretending to be from your bank and asked for my CVV.",
        "Ada WA dari nomor asing ngirim file Lihat Foto Paket.apk, aman gak dibuka?",
        "Is this legit? Someone offered me a part-time job but wants a fee",
        "Saya dapat SMS katanya tarif transfer naik, apa benar?",
    ],
)
def test_fraud_reports(text: str) -> None:
    assert is_fraud_report(text)


@pytest.mark.parametrize(
    "text",
    [
        "Kak, tadi ada kode OTP masuk ke nomor kakak, itu salah kirim. Kirim balik ya",
        "Selamat siang, kami dari pihak Bank BCA. Kirimkan kode OTP Anda.",
        "Halo min, saya mau cek saldo",
        "Akun Anda akan diblokir dalam 1x24 jam.",
        "Kenapa saya tidak menerima SMS OTP saat transaksi?",
        "Kak, barusan aku salah kirim kode ke nomor kamu, tolong kirimin ya",
        "Congratulations! You have won an iPhone 15.",
    ],
)
def test_not_fraud_reports(text: str) -> None:
    assert not is_fraud_report(text)


def test_normalize_replaces_links_and_lowercases() -> None:
    norm = normalize_text("Klik\u200b HTTPS://Evil.XYZ/a SEKARANG")
    assert "linkurl" in norm
    assert "evil" not in norm
    assert norm == norm.lower()


def test_reason_weights_are_probabilities() -> None:
    for reason in text_signals(
        "Kami dari pihak bank. Kirimkan kode OTP dalam 1x24 jam atau akun akan diblokir."
    ):
        assert 0.0 < reason.weight < 1.0
