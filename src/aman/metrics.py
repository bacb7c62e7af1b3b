"""Prometheus metrics, created once at import; label values are fixed enums (no ids)."""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "INBOX_PROCESSED",
    "OUTBOX_QUEUE",
    "SEND_LATENCY",
    "SEND_RESULTS",
    "WEBHOOK_ITEMS",
    "WEBHOOK_RESULTS",
    "WEBHOOK_VERIFY_FAILED",
    "child",
]

WEBHOOK_RESULTS = Counter("aman_webhook_requests_total", "Webhook POSTs by outcome", ["outcome"])
WEBHOOK_ITEMS = Counter(
    "aman_webhook_items_total", "Messages, statuses and events stored from webhooks"
)
WEBHOOK_VERIFY_FAILED = Counter(
    "aman_webhook_verify_failed_total", "Failed webhook subscription verifications"
)
INBOX_PROCESSED = Counter(
    "aman_inbox_processed_total", "Inbound messages handled by the bot", ["outcome"]
)
SEND_RESULTS = Counter("aman_send_total", "Graph API requests by outcome", ["kind", "outcome"])
SEND_LATENCY = Histogram(
    "aman_send_seconds",
    "Graph API request latency",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OUTBOX_QUEUE = Gauge("aman_outbox_in_flight", "Graph API requests in flight")


@lru_cache(maxsize=256)
def child(metric: Counter, *labels: str) -> Counter:
    """``metric.labels(*labels)``, looked up once: ``labels()`` takes a lock and checks
    its arguments on every call, and the hot path counts every message."""
    return metric.labels(*labels)
