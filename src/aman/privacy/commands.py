"""Data-rights commands a customer can send in chat, in Indonesian or English.

Like STOP they work in every state (also while an agent owns the chat) and are
matched with the same typo tolerance (``aman.engine.optout.matches_command``).
"""

from __future__ import annotations

from aman.engine.optout import matches_command

__all__ = ["CONFIRMATIONS", "OBJECTION_REASON", "command_of"]

_PHRASES: dict[str, tuple[str, ...]] = {
    "erasure": (
        "hapus data",
        "hapus data saya",
        "hapus semua data saya",
        "hapus akun saya",
        "lupakan saya",
        "delete my data",
        "erase my data",
        "delete all my data",
        "forget me",
    ),
    "cancel_erasure": (
        "batal hapus",
        "batal hapus data",
        "batalkan hapus data",
        "cancel delete",
        "cancel erasure",
        "keep my data",
    ),
    "export": (
        "data saya",
        "minta data saya",
        "salinan data saya",
        "unduh data saya",
        "my data",
        "export my data",
        "download my data",
        "copy of my data",
    ),
    "object": (
        "tanpa bot",
        "bukan bot",
        "tolak otomatis",
        "keberatan otomatis",
        "saya keberatan diproses otomatis",
        "no bot",
        "no automation",
        "i object to automated processing",
        "object to automated processing",
    ),
    "allow": (
        "pakai bot",
        "aktifkan bot",
        "boleh bot",
        "allow bot",
        "use the bot",
    ),
}

OBJECTION_REASON = "objection to automated processing"

CONFIRMATIONS: dict[str, str] = {
    "erasure": (
        "Permintaan penghapusan data Anda kami terima. Semua data Anda akan dihapus dalam "
        "1 jam dan tidak dapat dipulihkan. Ketik BATAL HAPUS untuk membatalkan.\n"
        "We received your request to erase your data. All of it will be erased within "
        "1 hour and cannot be recovered. Send CANCEL DELETE to stop it."
    ),
    "erasure_pending": (
        "Permintaan penghapusan Anda sudah tercatat. Ketik BATAL HAPUS untuk membatalkan.\n"
        "Your erasure request is already recorded. Send CANCEL DELETE to stop it."
    ),
    "cancel_erasure": ("Penghapusan data dibatalkan. / Your erasure request was cancelled."),
    "cancel_none": (
        "Tidak ada permintaan penghapusan yang aktif. / There is no erasure request to cancel."
    ),
    "export": (
        "Permintaan salinan data Anda kami terima; petugas kami akan mengirimkannya dalam "
        "3 x 24 jam.\nWe received your request for a copy of your data; our staff will "
        "send it within 3 x 24 hours."
    ),
    "export_pending": (
        "Permintaan salinan data Anda sudah tercatat. / Your data request is already recorded."
    ),
    "object": (
        "Baik, pesan Anda selanjutnya akan ditangani langsung oleh petugas kami, tanpa "
        "pemrosesan otomatis. Ketik AKTIFKAN BOT untuk kembali.\n"
        "Understood: a member of our staff will handle your messages from now on, without "
        "automated processing. Send ALLOW BOT to change this."
    ),
    "allow": (
        "Asisten otomatis kami aktif kembali untuk Anda. / Our automated assistant is on again."
    ),
}


def command_of(text: str | None) -> str | None:
    """``erasure``, ``cancel_erasure``, ``export``, ``object``, ``allow`` or None."""
    if not text or len(text) > 60:
        return None
    for name, phrases in _PHRASES.items():
        if matches_command(text, phrases):
            return name
    return None
