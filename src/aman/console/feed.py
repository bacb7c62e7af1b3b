"""The live inbox feed: what changed in the caller's visible conversations since the last poll.

One ``LiveFeed`` per server-sent-events connection.  Each ``poll`` reads the
database a few times (indexed: conversations by mode, inbox and outbox by
contact) and returns events carrying only ids, states and timestamps, never
message bodies, names or phone numbers.  Visibility is the team inbox's own
(``TeamInbox.conversations``): agents see what is assigned to them or their team.

A connection resumes where the previous one stopped through the SSE event id
(``<last inbox id>.<outbox base id>``), so a reconnect loses no message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from aman.accounts.scope import TenantScope
from aman.console import repository as repo
from aman.inbox.team import ConversationSummary, TeamInbox

__all__ = ["FeedEvent", "LiveFeed", "parse_event_id"]

_PAGE = 200
_EVENT_ID = re.compile(r"^(\d{1,18})\.(\d{1,18})$")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One server-sent event: its name and JSON-ready data."""

    name: str
    data: dict[str, Any]


def parse_event_id(value: str | None) -> tuple[int, int] | None:
    """``(inbox watermark, outbox base)`` from a ``Last-Event-ID`` header, or None if unusable."""
    if not value:
        return None
    match = _EVENT_ID.match(value.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def _conv(c: ConversationSummary) -> dict[str, Any]:
    return {
        "conversation": c.id,
        "handoff_at": c.handoff_at,
        "last_inbound_at": c.last_inbound_at,
        "assigned_user_id": c.assigned_user_id,
        "assigned_team": c.assigned_team,
    }


def _conv_id(phone_number_id: str, contact_ix: str) -> str:
    return f"{phone_number_id}.{contact_ix}"


@dataclass
class LiveFeed:
    """Change detection for one connection (not thread-safe: one poll at a time)."""

    engine: Engine
    team: TeamInbox
    scope: TenantScope
    clock: Callable[[], float] = time.time
    inbox_mark: int = 0
    outbox_base: int = 0
    _convs: dict[str, ConversationSummary] = field(default_factory=dict)
    _outbound: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    _primed: bool = False

    @property
    def event_id(self) -> str:
        return f"{self.inbox_mark}.{self.outbox_base}"

    def _visible(self) -> dict[str, ConversationSummary]:
        out: dict[str, ConversationSummary] = {}
        after: str | None = None
        while len(out) < repo.MAX_WATCHED:
            page = self.team.conversations(self.scope, mode="human", after=after, limit=_PAGE)
            out.update((c.id, c) for c in page)
            if len(page) < _PAGE:
                break
            after = page[-1].id
        return out

    def prime(self, resume: tuple[int, int] | None = None) -> list[FeedEvent]:
        """Start (or resume) the feed; returns the snapshot of visible conversations."""
        if resume is None:
            with self.engine.connect() as conn:
                self.inbox_mark, self.outbox_base = repo.latest_ids(conn, self.scope)
        else:
            self.inbox_mark, self.outbox_base = resume
        self._convs = self._visible()
        self._primed = True
        snapshot = FeedEvent(
            "snapshot",
            {"conversations": [_conv(c) for c in self._convs.values()], "at": self.clock()},
        )
        # On resume, everything that happened while disconnected comes out of the next poll.
        return [snapshot, *(self._messages_and_outbound() if resume is not None else [])]

    def poll(self) -> list[FeedEvent]:
        """Events since the previous poll (or since ``prime``)."""
        if not self._primed:
            return self.prime()
        events: list[FeedEvent] = []
        now = self._visible()
        for cid, c in now.items():
            old = self._convs.get(cid)
            if old is None or (old.handoff_at, old.assigned_user_id, old.assigned_team) != (
                c.handoff_at, c.assigned_user_id, c.assigned_team
            ):
                events.append(FeedEvent("handoff", _conv(c)))
        for cid in self._convs.keys() - now.keys():
            events.append(FeedEvent("closed", {"conversation": cid}))
        self._convs = now
        events.extend(self._messages_and_outbound())
        return events

    def _messages_and_outbound(self) -> list[FeedEvent]:
        events: list[FeedEvent] = []
        contact_ixs = {c.id.partition(".")[2] for c in self._convs.values()}
        with self.engine.connect() as conn:
            inbound = repo.inbound_since(conn, self.scope, contact_ixs, self.inbox_mark)
            outbound = repo.outbound_marks(conn, self.scope, contact_ixs, self.outbox_base)
        for m in inbound:
            self.inbox_mark = max(self.inbox_mark, m.id)
            cid = _conv_id(m.phone_number_id, m.contact_ix)
            if cid in self._convs:
                events.append(
                    FeedEvent("message", {"conversation": cid, "wamid": m.wamid, "ts": m.ts})
                )
        for o in outbound:
            cid = _conv_id(o.phone_number_id, o.contact_ix)
            if cid not in self._convs:
                continue
            state = (o.state, o.delivery_status)
            if self._outbound.get(o.ref) == state:
                continue
            self._outbound[o.ref] = state
            events.append(
                FeedEvent(
                    "outbound",
                    {
                        "conversation": cid,
                        "ref": o.ref,
                        "state": o.state,
                        "status": o.delivery_status,
                        "error_code": o.error_code,
                        "created_at": o.created_at,
                        "sent_at": o.sent_at,
                    },
                )
            )
        return events
