"""Settings fail closed; the webhook signature matches Meta's definition."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aman.config import ConfigError, Settings
from aman.webhook.signature import sign, verify_signature

VECTOR_SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_well_known_signature_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIG
    assert verify_signature(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIG)
    assert verify_signature(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIG.upper().replace("SHA", "sha"))


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", VECTOR_SIG[:-1], VECTOR_SIG + "0", "sha1=" + VECTOR_SIG[7:],
     VECTOR_SIG.replace("7571", "7572"), "sha256=" + "z" * 64],
)
def test_bad_signatures_are_rejected(header: str | None) -> None:
    assert not verify_signature(VECTOR_SECRET, VECTOR_BODY, header)
    assert not verify_signature(b"other secret", VECTOR_BODY, VECTOR_SIG)
    assert not verify_signature(VECTOR_SECRET, VECTOR_BODY + b" ", VECTOR_SIG)


def test_settings_defaults_match_the_contract() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///./aman.db"
    assert s.graph_api_url == "https://graph.facebook.com/v23.0"
    assert s.bot == "shop" and s.send_rate == 80.0 and s.max_body == 3145728
    assert s.missing_secrets() == ["AMAN_APP_SECRET", "AMAN_VERIFY_TOKEN", "AMAN_ACCESS_TOKEN",
                                   "AMAN_PHONE_NUMBER_ID", "AMAN_MASTER_KEY"]


def test_secrets_never_show_in_repr() -> None:
    s = Settings.from_env({"AMAN_APP_SECRET": "topsecret", "AMAN_ACCESS_TOKEN": "tok123"})
    assert "topsecret" not in repr(s) and "tok123" not in repr(s) and "topsecret" not in str(s)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AMAN_SEND_RATE": "fast"}, "AMAN_SEND_RATE must be a number"),
        ({"AMAN_SEND_RATE": "0"}, "AMAN_SEND_RATE must be between"),
        ({"AMAN_MAX_BODY": "12"}, "AMAN_MAX_BODY must be between"),
        ({"AMAN_GRAPH_API_URL": "ftp://x"}, "AMAN_GRAPH_API_URL must be an http(s) URL"),
        ({"AMAN_MARK_READ": "maybe"}, "AMAN_MARK_READ must be true or false"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_serve_refuses_to_start_without_secrets(tmp_path: object) -> None:
    env = {"PATH": "/usr/bin:/bin", "AMAN_APP_SECRET": "x", "AMAN_PHONE_NUMBER_ID": "1"}
    proc = subprocess.run([sys.executable, "-m", "aman.cli", "serve"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "AMAN_VERIFY_TOKEN" in proc.stderr and "AMAN_ACCESS_TOKEN" in proc.stderr
    assert "AMAN_MASTER_KEY" in proc.stderr and "AMAN_APP_SECRET" not in proc.stderr


def test_cli_help_lists_the_commands() -> None:
    proc = subprocess.run([sys.executable, "-m", "aman.cli", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    for cmd in ("serve", "demo", "chat", "db"):
        assert cmd in proc.stdout
