"""Find dates and times in Indonesian/English chat text, resolved against "now" in Asia/Jakarta.

Pieces recognised (case-insensitive):
  * day words: hari ini/today, besok/bsk/tomorrow, lusa/day after tomorrow,
    kemarin/yesterday; weekdays ("senin", "hari minggu", "next friday", "jumat depan");
    "tanggal 25"/"tgl 25"; "25/12", "25-12-2026", "25.12.2026", "2026-12-25";
    "25 Des", "25 Desember 2026", "Dec 25", "December 25th, 2026"
  * times: "jam 10", "pukul 14.30", "jam 2 siang", "jam setengah 3 sore" (14:30),
    "3pm", "10:30 am", "15:00", "noon"/"tengah hari", "midnight"/"tengah malam"
  * parts of day: "nanti sore", "sore ini", "tonight", "this morning"; a bare
    "pagi"/"siang"/"sore"/"malam" counts only next to a date or time ("besok pagi")
    so that greetings like "selamat pagi" are not dates
  * offsets: "2 jam lagi", "dalam 30 menit", "in 3 days", "3 hari lagi"
Adjacent pieces merge ("besok jam 10", "tomorrow 3pm", "senin depan pukul 9 pagi").

Results: a date with a time -> kind ``datetime``, ISO "2026-11-27T10:00:00+07:00";
a date alone -> ``date`` "2026-11-27"; a time alone -> ``time`` "14:00:00".
Rules: day-first numeric dates; a date without a year is the next one on or after
today; a weekday alone or with "ini"/"this" is the next one on or after today, with
"depan"/"next" strictly after today; "minggu depan"/"next week" is a week, not a
date, and is not extracted. Period words: pagi keeps the hour, siang adds 12 below
11, sore adds 12 below 12, malam adds 12 for 6-11 and makes 12 midnight. Default
hours: pagi/morning 09:00, siang 12:00, afternoon 15:00, sore 16:00,
evening 18:00, malam/tonight 19:00.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["JAKARTA", "DateKind", "find_datetimes"]

DateKind = Literal["datetime", "date", "time"]

JAKARTA = ZoneInfo("Asia/Jakarta")

_MONTHS = {
    "jan": 1, "januari": 1, "january": 1, "feb": 2, "februari": 2, "february": 2,
    "mar": 3, "maret": 3, "march": 3, "apr": 4, "april": 4, "mei": 5, "may": 5,
    "jun": 6, "juni": 6, "june": 6, "jul": 7, "juli": 7, "july": 7,
    "agu": 8, "agt": 8, "agus": 8, "agustus": 8, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "okt": 10, "oktober": 10, "oct": 10,
    "october": 10, "nov": 11, "nopember": 11, "november": 11,
    "des": 12, "desember": 12, "dec": 12, "december": 12,
}  # fmt: skip
_WEEKDAYS = {
    "senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "jum'at": 4,
    "sabtu": 5, "minggu": 6, "ahad": 6, "monday": 0, "tuesday": 1, "wednesday": 2,
    "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_RELATIVE_DAYS = {
    "hari ini": 0, "today": 0, "besok": 1, "bsk": 1, "besuk": 1, "tomorrow": 1,
    "tmrw": 1, "lusa": 2, "day after tomorrow": 2, "kemarin": -1, "kmrn": -1,
    "yesterday": -1,
}  # fmt: skip
_PERIOD_HOURS = {
    "pagi": 9, "morning": 9, "siang": 12, "afternoon": 15, "sore": 16,
    "evening": 18, "malam": 19, "malem": 19, "mlm": 19, "tonight": 19, "night": 19,
}  # fmt: skip

_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ID_DAYS = "senin|selasa|rabu|kamis|jum'?at|sabtu|ahad"
_EN_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_PERIOD = r"pagi|siang|sore|malam|malem|mlm|dini\s+hari"
_B = r"(?<![\w'])"  # start of a word
_TGL = r"(?:(?:tanggal|tgl)\.?\s*)?"  # optional "tanggal" before a full date
_E = r"(?![\w'])"  # end of a word

_DATE = re.compile(
    rf"""{_B}(?:
      (?P<rel>hari\s+ini|today|besok|bsk|besuk|tomorrow|tmrw|lusa|day\s+after\s+tomorrow|kemarin|kmrn|yesterday)
    | (?:hari\s+)?(?P<idday>{_ID_DAYS})(?:\s+(?P<idmod>depan|ini))?
    | hari\s+(?P<sunday>minggu)(?:\s+(?P<sunmod>depan|ini))?
    | (?:(?P<enmod>next|this)\s+)?(?P<enday>{_EN_DAYS})
    | (?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})
    | {_TGL}(?P<nd>\d{{1,2}})(?P<sep>[/-])(?P<nm>\d{{1,2}})(?:(?P=sep)(?P<ny>\d{{4}}|\d{{2}}))?
    | {_TGL}(?P<dd>\d{{1,2}})\.(?P<dm>\d{{1,2}})\.(?P<dy>\d{{4}})
    | {_TGL}(?P<td>\d{{1,2}})\s*(?P<tm>{_MONTH_ALT})\.?(?:\s+(?P<ty>\d{{4}}))?
    | (?P<em>{_MONTH_ALT})\.?\s+(?P<ed>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<ey>\d{{4}}))?
    | (?:tanggal|tgl)\.?\s*(?P<dom>\d{{1,2}})(?![\d/.:-])
    ){_E}(?![/.:-]\d)""",
    re.IGNORECASE | re.VERBOSE,
)
_TIME = re.compile(
    rf"""{_B}(?:
      (?:jam|jm|pukul|pkl)\.?\s*(?:(?P<half>setengah)\s+)?(?P<h>\d{{1,2}})(?:[.:](?P<m>\d{{2}}))?
        (?:\s*(?P<per>{_PERIOD}))?(?:\s*wib)?
    | (?P<eh>\d{{1,2}})(?:[.:](?P<em>\d{{2}}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)
    | (?P<ch>\d{{1,2}}):(?P<cm>\d{{2}})(?:\s*wib)?
    | (?P<noon>noon|midday|tengah\s+hari)
    | (?P<midnight>midnight|tengah\s+malam)
    )(?![\w'])""",
    re.IGNORECASE | re.VERBOSE,
)
_PART = re.compile(
    rf"""{_B}(?:
      (?:nanti|ntar|entar)\s+(?P<later>pagi|siang|sore|malam|malem)
    | (?P<this>pagi|siang|sore|malam|malem)\s+ini
    | (?P<tonight>tonight)
    | this\s+(?P<en>morning|afternoon|evening)
    | (?P<bare>pagi|siang|sore|malam|malem|mlm|morning|afternoon|evening|night)
    ){_E}""",
    re.IGNORECASE | re.VERBOSE,
)
_OFFSET = re.compile(
    rf"""{_B}(?:
      (?:dalam\s+)?(?P<n>\d{{1,3}})\s*(?P<unit>menit|mnt|jam|hari|minggu)\s+(?:lagi|kemudian)
    | dalam\s+(?P<n2>\d{{1,3}})\s*(?P<unit2>menit|mnt|jam|hari|minggu)
    | in\s+(?P<n3>\d{{1,3}})\s*(?P<unit3>minutes?|mins?|hours?|hrs?|days?|weeks?)
    ){_E}""",
    re.IGNORECASE | re.VERBOSE,
)
_JOIN_GAP = re.compile(r"[\s,]*(?:(?:at|on|pada|pkl)\s*)?[\s,]*", re.IGNORECASE)


@dataclass(slots=True)
class _Piece:
    kind: str  # "date" | "time" | "part" | "moment"
    start: int
    end: int
    day: date | None = None
    clock: time | None = None
    explicit_period: bool = False
    period: str | None = None  # a part-of-day word
    weak: bool = False  # bare part-of-day word, only valid next to a date/time
    moment: datetime | None = None  # already complete (offsets)


def _year_for(month: int, day: int, today: date) -> date | None:
    for year in (today.year, today.year + 1, today.year + 2):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _weekday(target: int, today: date, strictly_after: bool) -> date:
    delta = (target - today.weekday()) % 7
    if delta == 0 and strictly_after:
        delta = 7
    return today + timedelta(days=delta)


def _day_of_month(dom: int, today: date) -> date | None:
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = date(year, month, dom)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None


def _full_year(raw: str) -> int:
    year = int(raw)
    return year + 2000 if len(raw) == 2 else year


def _resolve_date(m: re.Match[str], today: date) -> date | None:
    g = m.groupdict()
    if g["rel"]:
        return today + timedelta(days=_RELATIVE_DAYS[" ".join(g["rel"].lower().split())])
    if g["idday"]:
        target = _WEEKDAYS[g["idday"].lower().replace("'", "")]
        return _weekday(target, today, (g["idmod"] or "").lower() == "depan")
    if g["sunday"]:
        return _weekday(6, today, (g["sunmod"] or "").lower() == "depan")
    if g["enday"]:
        return _weekday(_WEEKDAYS[g["enday"].lower()], today, (g["enmod"] or "").lower() == "next")
    if g["dom"]:
        return _day_of_month(int(g["dom"]), today)
    if g["iy"]:
        return date(int(g["iy"]), int(g["im"]), int(g["id"]))
    if g["nd"]:
        if g["ny"]:
            return date(_full_year(g["ny"]), int(g["nm"]), int(g["nd"]))
        return _year_for(int(g["nm"]), int(g["nd"]), today)
    if g["dd"]:
        return date(int(g["dy"]), int(g["dm"]), int(g["dd"]))
    day, month, year = (g["td"], g["tm"], g["ty"]) if g["td"] else (g["ed"], g["em"], g["ey"])
    if year:
        return date(int(year), _MONTHS[month.lower()], int(day))
    return _year_for(_MONTHS[month.lower()], int(day), today)


def _apply_period(hour: int, period: str) -> int:
    period = period.lower().split()[0]
    if period in ("siang",):
        return hour + 12 if hour < 11 else hour
    if period in ("sore", "afternoon", "evening"):
        return hour + 12 if hour < 12 else hour
    if period in ("malam", "malem", "mlm", "night", "tonight"):
        if 6 <= hour <= 11:
            return hour + 12
        return 0 if hour == 12 else hour
    return hour  # pagi, dini hari, morning


def _resolve_time(m: re.Match[str]) -> tuple[time, bool, str | None] | None:
    g = m.groupdict()
    if g["noon"]:
        return time(12, 0), True, None
    if g["midnight"]:
        return time(0, 0), True, None
    if g["h"] is not None:
        hour, minute = int(g["h"]), int(g["m"] or 0)
        if g["half"]:  # "setengah 3" is half past two
            hour, minute = hour - 1, 30
        period = g["per"]
        if period:
            hour = _apply_period(hour, period)
        if not (0 <= hour <= 24 and 0 <= minute <= 59):
            return None
        return time(hour % 24, minute), period is not None, period
    if g["eh"] is not None:
        hour, minute = int(g["eh"]), int(g["em"] or 0)
        if not (1 <= hour <= 12 and 0 <= minute <= 59):
            return None
        pm = g["ampm"].lower().startswith("p")
        hour = (hour % 12) + (12 if pm else 0)
        return time(hour, minute), True, None
    hour, minute = int(g["ch"]), int(g["cm"])
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute), False, None


def _pieces(text: str, now: datetime) -> list[_Piece]:
    today = now.date()
    out: list[_Piece] = []
    for m in _DATE.finditer(text):
        try:
            day = _resolve_date(m, today)
        except (ValueError, OverflowError):
            day = None
        if day is not None:
            out.append(_Piece("date", m.start(), m.end(), day=day))
    for m in _TIME.finditer(text):
        resolved = _resolve_time(m)
        if resolved is not None:
            clock, explicit, period = resolved
            out.append(
                _Piece(
                    "time", m.start(), m.end(), clock=clock, explicit_period=explicit, period=period
                )
            )
    for m in _PART.finditer(text):
        g = m.groupdict()
        word = g["later"] or g["this"] or g["tonight"] or g["en"] or g["bare"]
        anchored = not g["bare"]
        piece = _Piece("part", m.start(), m.end(), period=word.lower(), weak=not anchored)
        if anchored:
            piece.day = today
        out.append(piece)
    for m in _OFFSET.finditer(text):
        g = m.groupdict()
        amount = int(g["n"] or g["n2"] or g["n3"])
        unit = (g["unit"] or g["unit2"] or g["unit3"]).lower()
        try:
            if unit.startswith(("menit", "mnt", "min")):
                moment = now + timedelta(minutes=amount)
            elif unit.startswith(("jam", "hour", "hr")):
                moment = now + timedelta(hours=amount)
            elif unit.startswith(("hari", "day")):
                out.append(_Piece("date", m.start(), m.end(), day=today + timedelta(days=amount)))
                continue
            else:
                out.append(_Piece("date", m.start(), m.end(), day=today + timedelta(weeks=amount)))
                continue
        except OverflowError:
            continue
        out.append(
            _Piece("moment", m.start(), m.end(), moment=moment.replace(second=0, microsecond=0))
        )
    return out


def _non_overlapping(pieces: list[_Piece]) -> list[_Piece]:
    rank = {"moment": 0, "date": 1, "time": 2, "part": 3}
    chosen: list[_Piece] = []
    for piece in sorted(pieces, key=lambda p: (-(p.end - p.start), rank[p.kind], p.start)):
        if all(piece.end <= c.start or piece.start >= c.end for c in chosen):
            chosen.append(piece)
    return sorted(chosen, key=lambda p: p.start)


def _clusters(text: str, pieces: list[_Piece]) -> list[list[_Piece]]:
    groups: list[list[_Piece]] = []
    for piece in pieces:
        if groups and piece.kind != "moment" and groups[-1][-1].kind != "moment":
            last = groups[-1]
            gap = text[last[-1].end : piece.start]
            kinds = {p.kind for p in last}
            if _JOIN_GAP.fullmatch(gap) and piece.kind not in kinds:
                last.append(piece)
                continue
        groups.append([piece])
    return groups


def _resolve_cluster(group: list[_Piece], now: datetime) -> tuple[DateKind, str] | None:
    by_kind = {p.kind: p for p in group}
    if "moment" in by_kind:
        moment = by_kind["moment"].moment
        return ("datetime", moment.isoformat()) if moment is not None else None
    date_piece, time_piece, part = by_kind.get("date"), by_kind.get("time"), by_kind.get("part")
    if part is not None and part.weak and date_piece is None and time_piece is None:
        return None
    day = date_piece.day if date_piece is not None else part.day if part is not None else None
    clock = time_piece.clock if time_piece is not None else None
    if (
        clock is not None
        and part is not None
        and time_piece is not None
        and not time_piece.explicit_period
    ):
        clock = clock.replace(hour=_apply_period(clock.hour, part.period or ""))
    if clock is None and part is not None and part.period is not None:
        clock = time(_PERIOD_HOURS.get(part.period, 12), 0)
    if day is not None and clock is not None:
        return "datetime", datetime.combine(day, clock, tzinfo=JAKARTA).isoformat()
    if day is not None:
        return "date", day.isoformat()
    if clock is not None:
        return "time", clock.isoformat()
    return None


def find_datetimes(text: str, now: datetime) -> list[tuple[DateKind, int, int, str]]:
    """(kind, start, end, ISO value) for each date/time expression; ``now`` must be aware."""
    try:
        local_now = now.astimezone(JAKARTA)
    except OverflowError:  # "now" at the very edge of the datetime range
        return []
    found: list[tuple[DateKind, int, int, str]] = []
    for group in _clusters(text, _non_overlapping(_pieces(text, local_now))):
        resolved = _resolve_cluster(group, local_now)
        if resolved is not None:
            kind, value = resolved
            found.append((kind, group[0].start, group[-1].end, value))
    return found
