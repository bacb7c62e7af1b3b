"""Per-tenant broadcast policy: time zone, quiet hours, messaging-limit tier, frequency cap."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import Connection, select

from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import CampaignInputError
from aman.campaigns.models import CampaignSettingsRow
from aman.campaigns.schedule import DEFAULT_TZ, format_hhmm, parse_hhmm, zone
from aman.storage.sql import upsert

__all__ = ["TIERS", "CampaignSettings", "SettingsService", "load_settings"]

# Meta's business-initiated messaging limits: unique recipients per rolling 24 hours.
TIERS: tuple[int | None, ...] = (250, 2000, 10000, 100000, None)


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    tz: str = DEFAULT_TZ
    quiet_start: int | None = 21 * 60
    quiet_end: int | None = 8 * 60
    tier_limit: int | None = 250
    frequency_cap_hours: float = 24.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["quiet_hours"] = (
            None
            if self.quiet_start is None or self.quiet_end is None
            else f"{format_hhmm(self.quiet_start)}-{format_hhmm(self.quiet_end)}"
        )
        return out


def load_settings(conn: Connection, tenant: str) -> CampaignSettings:
    row = conn.execute(
        select(CampaignSettingsRow).where(CampaignSettingsRow.tenant == tenant)
    ).first()
    if row is None:
        return CampaignSettings()
    r = row
    return CampaignSettings(r.tz, r.quiet_start, r.quiet_end, r.tier_limit, r.frequency_cap_hours)


class SettingsService:
    def __init__(self, ctx: CampaignContext) -> None:
        self.ctx = ctx
        self._upsert = upsert(
            ctx.dialect,
            CampaignSettingsRow,
            ["tenant"],
            ["tz", "quiet_start", "quiet_end", "tier_limit", "frequency_cap_hours", "updated_at"],
        )

    def get(self) -> CampaignSettings:
        with self.ctx.engine.connect() as conn:
            return load_settings(conn, self.ctx.tenant)

    def update(
        self,
        actor: str,
        *,
        tz: str | None = None,
        quiet_hours: str | None = None,
        tier_limit: int | str | None = "keep",
        frequency_cap_hours: float | None = None,
    ) -> CampaignSettings:
        """Change the policy; ``quiet_hours`` is "21:00-08:00" or "off"."""
        with self.ctx.unit() as conn:
            current = load_settings(conn, self.ctx.tenant)
            new = current
            if tz is not None:
                zone(tz)
                new = replace(new, tz=tz)
            if quiet_hours is not None:
                if quiet_hours.strip().lower() in ("off", "none", ""):
                    new = replace(new, quiet_start=None, quiet_end=None)
                else:
                    try:
                        start, end = quiet_hours.split("-")
                    except ValueError:
                        raise CampaignInputError("quiet hours are HH:MM-HH:MM or off") from None
                    new = replace(new, quiet_start=parse_hhmm(start), quiet_end=parse_hhmm(end))
            if tier_limit != "keep":
                if tier_limit not in TIERS:
                    raise CampaignInputError(
                        "tier must be one of 250, 2000, 10000, 100000 or unlimited"
                    )
                new = replace(new, tier_limit=tier_limit if isinstance(tier_limit, int) else None)
            if frequency_cap_hours is not None:
                if not 0 <= frequency_cap_hours <= 24 * 90:
                    raise CampaignInputError("frequency cap is 0 to 2160 hours")
                new = replace(new, frequency_cap_hours=float(frequency_cap_hours))
            conn.execute(
                self._upsert,
                [{"tenant": self.ctx.tenant, **asdict(new), "updated_at": self.ctx.now()}],
            )
            self.ctx.record(conn, actor, "campaign_settings", "campaign_settings", new.to_dict())
        return new
