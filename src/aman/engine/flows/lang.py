"""Guess whether a chat message is Indonesian or English from common function and chat words.

Cheap on purpose (a set lookup per word): the answer only picks which translation
of a flow text to send, and an unclear message keeps the conversation's language.
"""

from __future__ import annotations

import re

__all__ = ["guess_language"]

_WORD = re.compile(r"[a-z']+")
_ID = frozenset(
    """
    saya aku gue gw kamu anda mau ingin minta tolong dong deh sih nih ya yg yang dan atau di
    ke dari untuk utk buat dengan dgn sudah udah sdh belum blm tidak tdk gak ga nggak enggak
    bisa bs apa apakah gimana bagaimana kenapa kapan berapa brp mana siapa ini itu ada tidak
    juga lagi aja saja kak min gan bang pak bu mas mbak halo hai selamat pagi siang sore
    malam terima kasih makasih trims cek saldo rekening kirim pesanan barang beli bayar
    pembayaran batal batalkan kartu blokir tabungan uang transfer kok kah punya tolongin
    mohon bantu bantuan tanya nanya lacak retur tukar harga produk jam buka besok hari ini
    sekarang baru lama sampai belanja ongkir toko stok tersedia warna ukuran
    """.split()  # noqa: SIM905
)
_EN = frozenset(
    """
    i me my mine you your we our the a an is are was were be been am do does did don't want
    would like please pls could can will should what what's where where's when why how which
    who this that these those there here to of for from with and or not no yes have has had
    my order package parcel track tracking return refund cancel payment pay balance account
    card block check money send help agent human talk speak hello hi hey thanks thank good
    morning afternoon evening appointment book branch transfer price product stock available
    size color colour shipping delivery item items it it's
    """.split()  # noqa: SIM905
)


def guess_language(text: str | None, current: str = "") -> str:
    """``"id"`` or ``"en"`` for ``text``; ``current`` (or "") when the words do not tell."""
    if not text:
        return current
    words = _WORD.findall(text.lower())
    id_score = sum(1 for w in words if w in _ID)
    en_score = sum(1 for w in words if w in _EN)
    if id_score == en_score:
        return current
    return "id" if id_score > en_score else "en"
