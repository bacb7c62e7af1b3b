"""Whole-bot checks after parsing: reachability, loops without a wait, flow references, triggers,
and the phishing guard on every outbound text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from aman.engine.flows.errors import Problem
from aman.engine.flows.model import (
    AskStep,
    BotConfig,
    CallStep,
    ConditionStep,
    EndStep,
    Flow,
    GotoStep,
    HandlerStep,
    HandoffStep,
    HttpStep,
    ReturnStep,
    Step,
    Target,
    Trigger,
    VerifyStep,
    WaitStep,
)
from aman.engine.flows.schema_send import OutboundText

__all__ = ["check_bot", "check_outbound_texts", "successors"]

Node = tuple[str, int]
_PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*(?:\|[a-z_]+)?\}")
_BLOCKING = (AskStep, VerifyStep, WaitStep, HandoffStep, EndStep, ReturnStep)


def _resolve(flows: Mapping[str, Flow], target: Target | None) -> Node | None:
    if target is None or target.kind != "step":
        return None
    flow = flows.get(target.flow)
    if flow is None:
        return None
    if not target.step:
        return (flow.name, 0)
    index = flow.index.get(target.step)
    return None if index is None else (flow.name, index)


def successors(flows: Mapping[str, Flow], node: Node) -> tuple[list[Node], list[Node]]:
    """(after-input successors, immediate successors) of one step."""
    flow = flows[node[0]]
    step = flow.steps[node[1]]
    seq: Node | None = (flow.name, node[1] + 1) if node[1] + 1 < len(flow.steps) else None
    targets: list[Target | None] = []
    follows = True  # falls through to `next` / the following step
    if isinstance(step, GotoStep):
        targets.append(step.target)
        follows = False
    elif isinstance(step, ConditionStep):
        targets.extend(t for _, t in step.branches)
        if step.otherwise is not None:
            targets.append(step.otherwise)
            follows = False
    elif isinstance(step, HandlerStep):
        targets.extend(step.outcomes.values())
    elif isinstance(step, HttpStep):
        targets.append(step.on_error)
    elif isinstance(step, AskStep):
        targets.append(step.on_fail)
    elif isinstance(step, EndStep | ReturnStep | HandoffStep):
        follows = False
    nxt = getattr(step, "next", None)
    if follows:
        if nxt is not None:
            targets.append(nxt)
        elif seq is not None:
            targets.append(Target(seq[0], flow.steps[seq[1]].id))
    resolved = [n for n in (_resolve(flows, t) for t in targets) if n is not None]
    if isinstance(step, CallStep) and step.flow in flows:
        resolved.append((step.flow, 0))
    if isinstance(step, _BLOCKING):
        return resolved, []
    return resolved, resolved


def _entry_points(flows: Mapping[str, Flow]) -> set[Node]:
    entries = {(name, 0) for name in flows}
    for flow in flows.values():
        for i in range(len(flow.steps)):
            for n in successors(flows, (flow.name, i))[0]:
                if n[0] != flow.name:
                    entries.add(n)
    return entries


def _unreachable(flows: Mapping[str, Flow]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[Node] = set()
    stack = list(_entry_points(flows))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n in successors(flows, node)[0] if n[0] == node[0])
    for flow in flows.values():
        for i, step in enumerate(flow.steps):
            if (flow.name, i) not in seen:
                problems.append(
                    Problem(
                        flow.file,
                        step.line,
                        f"{flow.name}.{step.id}",
                        "unreachable_step",
                        "no path leads to this step",
                    )
                )
    return problems


def _loops(flows: Mapping[str, Flow]) -> list[Problem]:
    """Cycles of steps that run without waiting for the customer (Tarjan's SCC, iterative)."""
    graph = {
        (f.name, i): successors(flows, (f.name, i))[1]
        for f in flows.values()
        for i in range(len(f.steps))
    }
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    counter = 0
    components: list[list[Node]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[Node, int]] = [(root, 0)]
        while work:
            node, pos = work.pop()
            if pos == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            edges = graph[node]
            if pos < len(edges):
                work.append((node, pos + 1))
                child = edges[pos]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                comp: list[Node] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                components.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    problems: list[Problem] = []
    for comp in components:
        if len(comp) == 1 and comp[0] not in graph[comp[0]]:
            continue
        first = min(comp, key=lambda n: (flows[n[0]].file, flows[n[0]].steps[n[1]].line))
        flow = flows[first[0]]
        step: Step = flow.steps[first[1]]
        names = ", ".join(sorted(f"{f}.{flows[f].steps[i].id}" for f, i in comp))
        problems.append(
            Problem(
                flow.file,
                step.line,
                f"{flow.name}.{step.id}",
                "loop_without_wait",
                f"these steps loop without an ask or wait: {names}",
            )
        )
    return problems


def _trigger_clashes(triggers: Iterable[Trigger]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[str, str], Trigger] = {}
    for trig in triggers:
        if trig.kind not in ("intent", "button", "schedule", "message_type"):
            continue
        key = (trig.kind, trig.value)
        other = seen.get(key)
        if other is not None and other.flow != trig.flow:
            problems.append(
                Problem(
                    trig.file,
                    trig.line,
                    trig.flow,
                    "duplicate_trigger",
                    f"{trig.kind} {trig.value!r} already starts flow {other.flow!r} "
                    f"({other.file}:{other.line})",
                )
            )
        seen.setdefault(key, trig)
    return problems


def check_outbound_texts(
    texts: Iterable[OutboundText], allowed_domains: tuple[str, ...]
) -> list[Problem]:
    """Run the outbound guard on every text a bot can send."""
    try:
        from aman.guard.outbound import check_outbound
    except ImportError:  # pragma: no cover - the guard ships with aman
        return []
    problems: list[Problem] = []
    for item in texts:
        sample = _PLACEHOLDER.sub("x", item.text).replace("{verify_link}", "")
        for violation in check_outbound(sample, list(allowed_domains)):
            if item.link_only and violation.code == "asks_secret":
                continue
            problems.append(
                Problem(
                    item.file,
                    item.line,
                    item.step,
                    f"unsafe_text:{violation.code}",
                    violation.message,
                )
            )
    return problems


def check_bot(
    config: BotConfig,
    flows: Mapping[str, Flow],
    triggers: Iterable[Trigger],
    flow_refs: Mapping[str, int],
    config_file: str,
) -> list[Problem]:
    """Checks that need the whole bot; returns the problems found."""
    problems: list[Problem] = []
    for what, line in flow_refs.items():
        name = {
            "start_flow": config.start_flow,
            "fallback_flow": config.fallback_flow,
        }.get(what)
        if name is None:
            cmd = next((c for c in config.commands if f"command {c.name}" == what), None)
            name = cmd.flow if cmd is not None else None
        if name is not None and name not in flows:
            problems.append(
                Problem(config_file, line, what, "missing_target", f"no flow named {name!r}")
            )
    problems.extend(_unreachable(flows))
    problems.extend(_loops(flows))
    problems.extend(_trigger_clashes(triggers))
    return problems
