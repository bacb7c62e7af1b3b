"""Analytics figures for a time window: one service function for the CLI, the API and the console.

``analytics_report`` returns plain JSON types.  Times are bucketed by hour
and day in the tenant's time zone.  Intent figures need a classifier (the
bot's NLU re-run over stored inbound texts); flow figures come from the
stored conversation state, which keeps each conversation's current step only.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from aman.analytics.repository import AnalyticsRepository
from aman.analytics.sessions import SessionBuilder, summary
from aman.campaigns.broadcast_repository import BroadcastRepository
from aman.campaigns.broadcasts import derive_status
from aman.storage.vault import Vault

__all__ = ["FLOW_NOTE", "INTENT_NOTE", "Classifier", "analytics_report"]

Classifier = Callable[[str, str], str]  # (phone_number_id, text) -> intent
LOOKBACK = 86400.0
INTENT_NOTE = (
    "intents are not stored per message; they are computed by re-running the bot's NLU "
    "over the stored inbound texts of the window"
)
NO_INTENTS = "no classifier given (a bot without NLU, or intents were not requested)"
FLOW_NOTE = (
    "conversation state keeps only each conversation's current flow step, so this shows where "
    "conversations active in the window are now (stalled: waiting and idle past the session gap), "
    "not a step-by-step history"
)


def _source(ref: str, inbox_id: int | None) -> str:
    if inbox_id is not None:
        return "bot"
    if ref.startswith("a"):
        return "agent"
    if ref.startswith("b"):
        return "campaign"
    return "other"


def analytics_report(
    engine: Engine,
    vault: Vault,
    start: float,
    end: float,
    *,
    tz: str = "Asia/Jakarta",
    phone_number_id: str | None = None,
    classify: Classifier | None = None,
    session_gap: float = 1800.0,
    now: float | None = None,
) -> dict[str, Any]:
    """Every figure of the analytics report for [start, end) as JSON-ready data."""
    if end <= start:
        raise ValueError("the report window must end after it starts")
    zone = ZoneInfo(tz)
    at = time.time() if now is None else now
    repo = AnalyticsRepository(vault.tenant, phone_number_id)
    days: dict[str, Counter[str]] = defaultdict(Counter)
    hours: dict[int, Counter[str]] = {h: Counter() for h in range(24)}
    numbers: dict[str, Counter[str]] = defaultdict(Counter)
    sources: Counter[str] = Counter()
    active: set[str] = set()
    builder = SessionBuilder(session_gap)
    lookback = max(LOOKBACK, session_gap)

    def bucket(kind: str, pnid: str, ts: float) -> None:
        local = datetime.fromtimestamp(ts, zone)
        days[local.date().isoformat()][kind] += 1
        hours[local.hour][kind] += 1
        numbers[pnid][kind] += 1

    with engine.connect() as conn:

        def inbound() -> Iterator[tuple[float, int, tuple[Any, ...]]]:
            for _id, pnid, ix, received, _type in repo.inbound(conn, start - lookback, end):
                ts = float(received)
                if start <= ts < end:
                    bucket("inbound", pnid, ts)
                    active.add(ix)
                yield ts, 0, (pnid, ix)

        def outbound() -> Iterator[tuple[float, int, tuple[Any, ...]]]:
            for pnid, ix, ref, inbox_id, sent in repo.outbound(
                conn, start - lookback, end + lookback
            ):
                ts, source = float(sent), _source(ref, inbox_id)
                if start <= ts < end:
                    bucket("outbound", pnid, ts)
                    sources[source] += 1
                yield ts, 1, (pnid, ix, source)

        handoffs = sorted(
            (float(ts), 2, (str(target).removeprefix("contact:"), action == "handoff"))
            for ts, action, target in repo.handoffs(conn, start - lookback, end + lookback)
        )
        # Three time-ordered streams merged: memory stays flat whatever the window holds.
        for ts, kind, data in heapq.merge(
            inbound(), outbound(), handoffs, key=lambda e: (e[0], e[1])
        ):
            if kind == 0:
                builder.inbound(data[0], data[1], ts)
            elif kind == 1:
                builder.outbound(data[0], data[1], ts, data[2])
            else:
                builder.handoff(data[0], ts, data[1])
        new = repo.first_contacts(conn, start, end)
        intents = _intents(repo, conn, vault, start, end, classify)
        flows = _flows(repo, conn, vault, start, end, at, session_gap)
        campaigns = _campaigns(repo, conn, vault, start, end)

    ordered_days = sorted(days)
    return {
        "tenant": vault.tenant,
        "from": start,
        "to": end,
        "tz": tz,
        "phone_number_id": phone_number_id,
        "generated_at": at,
        "volume": {
            "inbound": sum(c["inbound"] for c in days.values()),
            "outbound": sum(c["outbound"] for c in days.values()),
            "outbound_by_source": dict(sorted(sources.items())),
            "by_day": [
                {"day": d, "inbound": days[d]["inbound"], "outbound": days[d]["outbound"]}
                for d in ordered_days
            ],
            "by_hour": [
                {"hour": h, "inbound": hours[h]["inbound"], "outbound": hours[h]["outbound"]}
                for h in range(24)
            ],
            "by_number": {
                p: {"inbound": c["inbound"], "outbound": c["outbound"]}
                for p, c in sorted(numbers.items())
            },
        },
        "contacts": {"active": len(active), "new": len(new)},
        "conversations": {"session_gap_s": session_gap, **summary(builder.sessions, start, end)},
        "intents": intents,
        "flows": flows,
        "campaigns": campaigns,
    }


def _intents(
    repo: AnalyticsRepository,
    conn: Any,
    vault: Vault,
    start: float,
    end: float,
    classify: Classifier | None,
) -> dict[str, Any]:
    if classify is None:
        return {
            "available": False,
            "note": NO_INTENTS,
            "total": 0,
            "distribution": {},
            "fallback_rate": None,
        }
    counts: Counter[str] = Counter()
    for pnid, wamid, blob in repo.texts(conn, start, end):
        payload = vault.open_json("inbox", "payload", wamid, bytes(blob))
        text = payload.get("text") if isinstance(payload, dict) else None
        if isinstance(text, str) and text.strip():
            counts[classify(pnid, text)] += 1
    total = sum(counts.values())
    return {
        "available": True,
        "note": INTENT_NOTE,
        "total": total,
        "distribution": dict(counts.most_common()),
        "fallback_rate": counts["fallback"] / total if total else None,
    }


def _flows(
    repo: AnalyticsRepository,
    conn: Any,
    vault: Vault,
    start: float,
    end: float,
    now: float,
    gap: float,
) -> dict[str, Any]:
    flows: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    seen = 0
    for pnid, ix, blob, updated in repo.states(conn, start, end):
        state = vault.open_json("conversations", "state", f"{pnid}:{ix}", bytes(blob))
        frame = state.get("frame") if isinstance(state, dict) else None
        if not (
            isinstance(frame, list) and len(frame) == 3 and all(isinstance(x, str) for x in frame)
        ):
            continue
        seen += 1
        flow, step, waiting = frame
        flows[flow]["at_step"][step] += 1
        if waiting and now - float(updated) > gap:
            flows[flow]["stalled_at_step"][step] += 1
    return {
        "available": seen > 0,
        "note": FLOW_NOTE,
        "conversations_in_flows": seen,
        "flows": {
            name: {
                "conversations": sum(data["at_step"].values()),
                "at_step": dict(data["at_step"].most_common()),
                "stalled_at_step": dict(data["stalled_at_step"].most_common()),
            }
            for name, data in sorted(flows.items())
        },
    }


def _campaigns(
    repo: AnalyticsRepository, conn: Any, vault: Vault, start: float, end: float
) -> list[dict[str, Any]]:
    broadcasts = BroadcastRepository(conn.dialect.name, vault.tenant)
    out = []
    for run_id, cid, name, pnid, state, started, finished, queued, excluded in repo.runs(
        conn, start, end
    ):
        statuses: Counter[str] = Counter()
        funnel: Counter[str] = Counter()
        codes: Counter[int] = Counter()
        reasons: Counter[str] = Counter()
        # One GROUP BY over the run's recipients: each row stands for ``n`` of them.
        for r, n in broadcasts.status_groups(conn, int(run_id)):
            st = derive_status(r)
            statuses[st] += n
            if st == "excluded" and r.reason:
                reasons[r.reason] += n
            if r.state != "queued" or r.outbox_state is None:
                continue
            ds = r.delivery_status
            failed = r.outbox_state == "failed" or ds == "failed"
            funnel["sent"] += n * (not failed and (r.outbox_state == "sent" or ds is not None))
            funnel["delivered"] += n * (ds in ("delivered", "read", "played"))
            funnel["read"] += n * (ds in ("read", "played"))
            funnel["failed"] += n * failed
            funnel["replied"] += n * (r.replied_at is not None)
            funnel["opted_out"] += n * (r.opted_out_at is not None)
            if failed and r.error_code is not None:
                codes[r.error_code] += n
        out.append(
            {
                "campaign_id": int(cid),
                "name": name,
                "run_id": int(run_id),
                "phone_number_id": pnid,
                "state": state,
                "started_at": started,
                "finished_at": finished,
                "queued": queued,
                "excluded": excluded,
                **{
                    k: funnel[k]
                    for k in ("sent", "delivered", "read", "failed", "replied", "opted_out")
                },
                "statuses": dict(sorted(statuses.items())),
                "error_codes": {str(k): v for k, v in sorted(codes.items())},
                "excluded_reasons": dict(sorted(reasons.items())),
            }
        )
    return out
