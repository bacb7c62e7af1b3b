"""Coverage-guided fuzz target: raw webhook bytes through the parser and the ingest row builder.

Run with atheris (libFuzzer options pass through)::

    python tests/fuzz/fuzz_webhook.py -max_total_time=20 tests/fuzz/corpus/webhook
    python tests/fuzz/fuzz_webhook.py -dict=tests/fuzz/webhook.dict -max_total_time=600 CORPUS

Libfuzzer writes new interesting inputs into the first corpus folder: give it a
copy, not the seed folder in the repository.  Without atheris installed,
``fuzz_one_input`` is still importable and ``tests/test_fuzz_atheris.py`` runs
it under hypothesis instead.

The property: any body is either refused with WebhookShapeError (by the parser
or by ``Ingestor.build``: a 400) or turned into rows whose sealed payloads open,
with the keys stored in the rows, back to the parsed values.  Known bugs
(``known_bugs.py``) are tolerated unless ``AMAN_FUZZ_STRICT=1``, so a run keeps
looking for new ones.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

# Storage set-up is not under test: imported before instrumentation starts.
from aman.security.crypto import generate_master_key, load_master_key
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import Vault

atheris: Any = None
if __name__ == "__main__":  # pytest imports this module without loading atheris at all
    with contextlib.suppress(ImportError):
        atheris = importlib.import_module("atheris")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for fuzz.*

from fuzz.known_bugs import body_hits_known_bug  # noqa: E402 - needs the path above

# Coverage feedback only for the code under test, and only when run as the fuzzer
# (instrumenting SQLAlchemy and Alembic as well costs minutes of start-up).
_UNDER_TEST = ["aman.webhook"]
_instrumented = (
    atheris.instrument_imports(include=_UNDER_TEST)
    if atheris is not None
    else contextlib.nullcontext()
)
with _instrumented:
    from aman.security.blind_index import InvalidIdentifierError
    from aman.webhook.ingest import Ingestor
    from aman.webhook.parser import WebhookShapeError, parse_webhook_bytes
    from aman.webhook.types import ParsedWebhook

__all__ = ["fuzz_one_input", "main"]

STRICT = os.environ.get("AMAN_FUZZ_STRICT") == "1"


class _Target:
    """An Ingestor and Vault on a throw-away SQLite file (rows are built, never committed)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="aman-fuzz-")
        engine = make_engine(f"sqlite:///{self._dir.name}/aman.db")
        upgrade(engine)
        self.vault = Vault.open_or_create(engine, "default", load_master_key(generate_master_key()))
        self.ingestor = Ingestor(engine, self.vault, dialect="sqlite")


_target: _Target | None = None


def _get_target() -> _Target:
    global _target
    if _target is None:
        _target = _Target()
    return _target


def _known(data: bytes) -> bool:
    """True when the body runs into a bug already pinned by an xfail test."""
    if STRICT:
        return False
    try:
        body: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return body_hits_known_bug(body) is not None


def _check_rows(target: _Target, parsed: ParsedWebhook) -> None:
    """Rows match the parsed items and each sealed payload opens with the row's own key."""
    try:
        batch = target.ingestor.build(parsed)
    except WebhookShapeError as exc:  # content that cannot be stored: a 400, not a bug
        if not (exc.path and exc.reason):
            raise AssertionError("a refusal must name a path and a reason") from exc
        return
    if len(batch.inbox) != len(parsed.messages) or len(batch.statuses) != len(parsed.statuses):
        raise AssertionError("row count differs from parsed item count")
    for row, msg in zip(batch.inbox, parsed.messages, strict=True):
        # The inbox worker opens the payload with the wamid as stored in the row.
        payload = target.vault.open_json("inbox", "payload", row["wamid"], row["payload_enc"])
        if payload["wa"] != msg.wa_id or payload["type"] != msg.type:
            raise AssertionError("sealed inbox payload does not open to the parsed message")
        if not payload["secrets"] and payload["text"] != msg.text:
            raise AssertionError("sealed message text differs from the parsed text")
    for row, st in zip(batch.statuses, parsed.statuses, strict=True):
        aad = f"{row['wamid']}:{row['status']}"
        if target.vault.open_json("status_events", "payload", aad, row["payload_enc"]) != st.raw:
            raise AssertionError("sealed status payload differs from the parsed status")


def fuzz_one_input(data: bytes) -> None:
    """One fuzz iteration; raises on a bug (anything but a refusal or a known bug)."""
    try:
        parsed = parse_webhook_bytes(data)
    except WebhookShapeError:
        return
    try:
        _check_rows(_get_target(), parsed)
    except (InvalidIdentifierError, TypeError):
        if _known(data):
            return
        raise


def main(argv: list[str]) -> None:
    if atheris is None:
        raise SystemExit("atheris is not installed: pip install atheris")
    atheris.Setup(argv, fuzz_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
