"""Lay out one conversation flow as a diagram: boxes for steps, routed arrows for jumps.

``flow_diagram(flow, lang)`` returns plain data (coordinates, labels) that the
console draws as SVG with DOM calls; nothing here is markup, so no flow text
can ever be interpreted by the browser.  Steps stand in one column in their
written order; a step falling through to the next gets a short straight arrow,
every other jump is routed in its own lane on the right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aman.engine.flows import model as m

__all__ = ["Diagram", "flow_diagram"]

BOX_W = 260
BOX_H = 46
GAP = 30
MARGIN = 16
LANE = 18
LABEL_MAX = 36

_TERMINAL = (m.HandoffStep, m.EndStep, m.ReturnStep, m.GotoStep)


@dataclass
class Diagram:
    """A laid-out flow: ``nodes`` and ``edges`` as JSON-ready dicts, and the canvas size."""

    flow: str
    file: str
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    width: int = 0
    height: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow, "file": self.file, "nodes": self.nodes, "edges": self.edges,
                "width": self.width, "height": self.height}


def _text(text: m.Text | None, lang: str) -> str:
    if not text:
        return ""
    for key in (lang, "*", "en", "id"):
        if key in text:
            return text[key]
    return next(iter(text.values()), "")


def _short(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= LABEL_MAX else value[: LABEL_MAX - 1] + "…"


def _send_label(send: m.SendSpec | None, lang: str) -> str:
    if send is None:
        return ""
    if send.template is not None:
        return f"template {send.template.name}"
    if send.media is not None:
        return f"{send.media.kind}"
    return _text(send.text, lang)


def _kind(step: m.Step) -> str:
    return type(step).__name__.removesuffix("Step").lower()


def _label(step: m.Step, lang: str) -> str:
    if isinstance(step, m.SendStep):
        detail = _send_label(step.send, lang)
    elif isinstance(step, m.AskStep):
        detail = f"{step.kind} → {step.field}"
    elif isinstance(step, m.HandlerStep):
        detail = step.call.rpartition(":")[2]
    elif isinstance(step, m.HandoffStep):
        detail = step.reason
    elif isinstance(step, m.HttpStep):
        detail = f"{step.method} {step.url}"
    elif isinstance(step, m.CallStep):
        detail = f"call {step.flow}"
    elif isinstance(step, m.SetStep):
        detail = ", ".join(sorted(step.values))
    elif isinstance(step, m.TagStep):
        detail = " ".join([*(f"+{t}" for t in step.add), *(f"-{t}" for t in step.remove)])
    elif isinstance(step, m.WaitStep):
        detail = f"{step.seconds:g} s"
    elif isinstance(step, m.ReminderStep):
        detail = f"{step.name} → {step.flow}"
    elif isinstance(step, m.VerifyStep):
        detail = step.purpose
    elif isinstance(step, m.AuditStep):
        detail = step.action
    elif isinstance(step, m.EndStep):
        detail = _send_label(step.send, lang)
    else:
        detail = ""
    return _short(detail)


def _exits(step: m.Step) -> list[tuple[m.Target | None, str, str]]:
    """(target, label, edge kind) of every way out of ``step``; None = fall through."""
    out: list[tuple[m.Target | None, str, str]] = []
    if isinstance(step, m.ConditionStep):
        for i, (_pred, target) in enumerate(step.branches, start=1):
            out.append((target, f"if {i}", "branch"))
        out.append((step.otherwise, "else", "branch"))
        return out
    if isinstance(step, m.GotoStep):
        return [(step.target, "goto", "next")]
    if isinstance(step, (m.HandoffStep, m.EndStep, m.ReturnStep)):
        return []
    if isinstance(step, m.AskStep) and step.on_fail is not None:
        out.append((step.on_fail, "fail", "branch"))
    if isinstance(step, m.HttpStep) and step.on_error is not None:
        out.append((step.on_error, "error", "branch"))
    if isinstance(step, m.HandlerStep):
        out.extend((t, name, "branch") for name, t in sorted(step.outcomes.items()))
    if isinstance(step, m.CallStep):
        out.append((m.Target(step.flow), "call", "call"))
    out.append((getattr(step, "next", None), "", "next"))
    return out


def flow_diagram(flow: m.Flow, lang: str = "id") -> Diagram:
    """Lay out ``flow`` (see the module docstring)."""
    d = Diagram(flow.name, flow.file)
    ids: list[str] = []
    for i, step in enumerate(flow.steps):
        node_id = f"s:{step.id}"
        ids.append(node_id)
        d.nodes.append({"id": node_id, "step": step.id, "kind": _kind(step),
                        "label": _label(step, lang), "line": step.line,
                        "x": MARGIN, "y": MARGIN + i * (BOX_H + GAP), "w": BOX_W, "h": BOX_H})
    extra: dict[str, dict[str, Any]] = {}

    def node_for(target: m.Target) -> str:
        if target.kind == "step" and target.flow == flow.name:
            index = flow.index.get(target.step, 0) if target.step else 0
            return ids[index] if ids else _extra("end", "end")
        if target.kind == "end":
            return _extra("end", "end")
        if target.kind == "return":
            return _extra("return", "return")
        shown = f"{target.flow}.{target.step}" if target.step else target.flow
        return _extra(f"flow:{shown}", "flow", shown)

    def _extra(key: str, kind: str, label: str = "") -> str:
        if key not in extra:
            extra[key] = {"id": f"x:{key}", "step": "", "kind": kind, "label": _short(label),
                          "line": 0, "x": MARGIN, "y": 0, "w": BOX_W, "h": BOX_H}
        return str(extra[key]["id"])

    pending: list[tuple[str, str, str, str]] = []  # (from, to, label, kind)
    for i, step in enumerate(flow.steps):
        for target, label, kind in _exits(step):
            if target is None:
                if kind != "next" and label != "else":
                    continue
                to = ids[i + 1] if i + 1 < len(ids) else _extra("end", "end")
            else:
                to = node_for(target)
            pending.append((ids[i], to, label, kind))
    y = MARGIN + len(ids) * (BOX_H + GAP)
    for node in extra.values():
        node["y"] = y
        d.nodes.append(node)
        ids.append(str(node["id"]))
        y += BOX_H + GAP
    where = {n["id"]: n for n in d.nodes}
    order = {node_id: i for i, node_id in enumerate(ids)}
    lanes = 0
    outs: dict[str, int] = {}
    ins: dict[str, int] = {}
    for src, dst, label, kind in pending:
        a, b = where[src], where[dst]
        if order[dst] == order[src] + 1:
            x = a["x"] + BOX_W // 2
            points = [[x, a["y"] + BOX_H], [x, b["y"]]]
            at = [x + 4, (a["y"] + BOX_H + b["y"]) // 2 + 4]
        else:
            lanes += 1
            lane_x = MARGIN + BOX_W + lanes * LANE
            # Spread the lanes' ends over the box edges so arrows stay apart.
            k_out, k_in = outs.get(src, 0), ins.get(dst, 0)
            outs[src], ins[dst] = k_out + 1, k_in + 1
            ya = a["y"] + 8 + (k_out % 4) * 10
            yb = b["y"] + BOX_H - 8 - (k_in % 4) * 10
            points = [[a["x"] + BOX_W, ya], [lane_x, ya], [lane_x, yb], [b["x"] + BOX_W, yb]]
            at = [lane_x + 3, (ya + yb) // 2]
        d.edges.append({"from": src, "to": dst, "label": label, "kind": kind, "points": points,
                        "label_at": at})
    d.width = MARGIN * 2 + BOX_W + (lanes + 1) * LANE + 40
    d.height = max(y - GAP + MARGIN, MARGIN * 2 + BOX_H)
    return d
