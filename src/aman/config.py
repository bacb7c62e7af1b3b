"""Typed settings read once from the environment; secrets fail closed.

Every knob in CONTRACT.md lives here.  ``Settings.from_env()`` never invents a
secret: commands that talk to Meta (``serve``) call ``require_secrets()`` which
names every missing variable.  ``aman demo`` builds its own settings with
generated secrets instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from aman.privacy.policy import DEFAULT_RETENTION, RetentionPolicy

__all__ = ["DEFAULT_GRAPH_API_URL", "ConfigError", "Secret", "Settings"]

DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v23.0"
DEFAULT_MAX_BODY = 3 * 1024 * 1024


class ConfigError(Exception):
    """Configuration is missing or malformed; the message says which variable."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret string that never shows itself in repr/str or logs."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "**********"

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __bool__(self) -> bool:
        return bool(self._value)


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name, "")
    return Secret(value) if value else None


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")



def _retention(spec: str) -> str:
    """Validate ``AMAN_RETENTION`` now, so a typo stops start-up instead of a purge."""
    try:
        RetentionPolicy.parse(spec)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return spec

@dataclass(frozen=True, slots=True)
class Settings:
    """Everything aman reads from its environment (see CONTRACT.md)."""

    database_url: str = "sqlite:///./aman.db"
    app_secret: Secret | None = None
    verify_token: Secret | None = None
    access_token: Secret | None = None
    phone_number_id: str = ""
    graph_api_url: str = DEFAULT_GRAPH_API_URL
    bot: str = "shop"
    master_key: Secret | None = None
    send_rate: float = 80.0
    max_body: int = DEFAULT_MAX_BODY
    tenant: str = "default"
    mark_read: bool = True
    # Operational tuning (documented in README; rarely changed).
    worker_batch: int = 200
    sender_concurrency: int = 256
    max_send_attempts: int = 8
    reconcile_seconds: float = 30.0
    worker_stale_seconds: float = 15.0
    ingest_queue_limit: int = 20000
    poll_seconds: float = 1.0
    graph_timeout: float = 15.0
    audit_witness: str = ""
    argon2_memory_kib: int = 64 * 1024
    argon2_time_cost: int = 3
    public_url: str = "http://127.0.0.1:8080"
    # Data protection (UU PDP): days kept per data class, and the time a customer has
    # to cancel an erasure requested in chat before it runs.
    retention: str = DEFAULT_RETENTION
    keystore_url: str = ""  # contact keys in another database (crypto-shredding vs backups)
    erasure_grace: float = 3600.0
    # Set only by the embedded demo: the simulator behind the /simulator phone page.
    demo_simulator_url: str = ""
    demo_numbers: tuple[tuple[str, str], ...] = ()  # (phone_number_id, label) for that page
    # The business's own domains: links to them are allowed in outbound messages, and
    # lookalikes of them in customer messages are phishing.
    allowed_domains: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        graph = env.get("AMAN_GRAPH_API_URL", "") or DEFAULT_GRAPH_API_URL
        if not graph.startswith(("http://", "https://")):
            raise ConfigError(f"AMAN_GRAPH_API_URL must be an http(s) URL, got {graph!r}")
        return cls(
            database_url=env.get("AMAN_DATABASE_URL", "") or "sqlite:///./aman.db",
            app_secret=_secret(env, "AMAN_APP_SECRET"),
            verify_token=_secret(env, "AMAN_VERIFY_TOKEN"),
            access_token=_secret(env, "AMAN_ACCESS_TOKEN"),
            phone_number_id=env.get("AMAN_PHONE_NUMBER_ID", ""),
            graph_api_url=graph.rstrip("/"),
            bot=env.get("AMAN_BOT", "") or "shop",
            master_key=_secret(env, "AMAN_MASTER_KEY"),
            send_rate=_float(env, "AMAN_SEND_RATE", 80.0, low=0.1, high=10000.0),
            max_body=_int(env, "AMAN_MAX_BODY", DEFAULT_MAX_BODY, low=1024, high=64 * 1024 * 1024),
            tenant=env.get("AMAN_TENANT", "") or "default",
            mark_read=_bool(env, "AMAN_MARK_READ", True),
            worker_batch=_int(env, "AMAN_WORKER_BATCH", 200, low=1, high=5000),
            sender_concurrency=_int(env, "AMAN_SENDER_CONCURRENCY", 256, low=1, high=1024),
            max_send_attempts=_int(env, "AMAN_MAX_SEND_ATTEMPTS", 8, low=1, high=100),
            reconcile_seconds=_float(env, "AMAN_RECONCILE_SECONDS", 30.0, low=0.1, high=86400.0),
            worker_stale_seconds=_float(
                env, "AMAN_WORKER_STALE_SECONDS", 15.0, low=0.5, high=3600.0
            ),
            ingest_queue_limit=_int(env, "AMAN_INGEST_QUEUE_LIMIT", 20000, low=10, high=1_000_000),
            poll_seconds=_float(env, "AMAN_POLL_SECONDS", 1.0, low=0.01, high=60.0),
            graph_timeout=_float(env, "AMAN_GRAPH_TIMEOUT", 15.0, low=0.1, high=300.0),
            audit_witness=env.get("AMAN_AUDIT_WITNESS", ""),
            # Staff password hashing cost; never below OWASP's minimum (19 MiB, t=2).
            argon2_memory_kib=_int(
                env, "AMAN_ARGON2_MEMORY_KIB", 64 * 1024, low=19 * 1024, high=4 * 1024 * 1024
            ),
            argon2_time_cost=_int(env, "AMAN_ARGON2_TIME_COST", 3, low=2, high=20),
            public_url=(env.get("AMAN_PUBLIC_URL", "") or "http://127.0.0.1:8080").rstrip("/"),
            retention=_retention(env.get("AMAN_RETENTION", "") or DEFAULT_RETENTION),
            keystore_url=env.get("AMAN_KEYSTORE_URL", ""),
            erasure_grace=_float(env, "AMAN_ERASURE_GRACE", 3600.0, low=0.0, high=72 * 3600.0),
            allowed_domains=tuple(
                d.strip().lower()
                for d in env.get("AMAN_ALLOWED_DOMAINS", "").split(",")
                if d.strip()
            ),
        )

    def missing_secrets(self) -> list[str]:
        """Names of the variables ``serve`` cannot run without, in CONTRACT order."""
        missing = []
        if not self.app_secret:
            missing.append("AMAN_APP_SECRET")
        if not self.verify_token:
            missing.append("AMAN_VERIFY_TOKEN")
        if not self.access_token:
            missing.append("AMAN_ACCESS_TOKEN")
        if not self.phone_number_id:
            missing.append("AMAN_PHONE_NUMBER_ID")
        if not self.master_key:
            missing.append("AMAN_MASTER_KEY")
        return missing

    def require_secrets(self) -> None:
        missing = self.missing_secrets()
        if missing:
            raise ConfigError(
                "refusing to start: missing "
                + ", ".join(missing)
                + " (set them in the environment; see README 'Configuration')"
            )

    def master_key_bytes(self) -> bytes:
        """The decoded master key; ConfigError naming the variable when absent or bad."""
        from aman.security.crypto import MasterKeyError, load_master_key

        if self.master_key is None:
            raise ConfigError("AMAN_MASTER_KEY is not set")
        try:
            return load_master_key(self.master_key.reveal())
        except MasterKeyError as exc:
            raise ConfigError(f"AMAN_MASTER_KEY is invalid: {exc}") from None

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
