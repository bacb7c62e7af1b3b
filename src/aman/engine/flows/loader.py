"""Load a bot folder (bot.yaml, flows/*.yaml, nlu.yaml) into a validated BotSpec, once per process.

``inspect_bot`` returns every problem found (for ``aman flows check``);
``load_bot`` raises FlowLoadError listing them.
"""

from __future__ import annotations

from pathlib import Path

from aman.engine.flows.checks import check_bot, check_outbound_texts
from aman.engine.flows.config import parse_config
from aman.engine.flows.errors import FlowLoadError, Problem
from aman.engine.flows.model import BotSpec, Flow, Trigger
from aman.engine.flows.schema import FlowOutline, outline_flows, parse_flow
from aman.engine.flows.schema_send import OutboundText, SchemaContext
from aman.engine.flows.yamlsrc import load_yaml_file

__all__ = ["BOT_FILE", "FLOWS_DIR", "builtin_bot_dir", "inspect_bot", "load_bot"]

BOT_FILE = "bot.yaml"
FLOWS_DIR = "flows"
_MAX_FLOW_FILES = 200


def builtin_bot_dir(name: str) -> Path:
    """The packaged folder of a built-in bot (``aman/bots/<name>``)."""
    return Path(__file__).resolve().parents[2] / "bots" / name


def _intents(directory: Path) -> tuple[frozenset[str] | None, list[Problem]]:
    if not (directory / "nlu.yaml").is_file():
        return frozenset({"fallback"}), []
    from aman.nlu.data import read_bot_nlu
    from aman.nlu.errors import NluError

    try:
        data = read_bot_nlu(directory)
    except NluError as exc:
        return None, [Problem("nlu.yaml", 0, "", "nlu", str(exc))]
    return frozenset(data.intents) | {"fallback"}, []


def inspect_bot(directory: Path) -> tuple[BotSpec | None, list[Problem]]:
    """Parse and check everything; (spec, []) when valid, else (None or spec, problems)."""
    directory = Path(directory)
    problems: list[Problem] = []
    if not (directory / BOT_FILE).is_file():
        return None, [Problem(str(directory), 0, "", "io", f"no {BOT_FILE} in this folder")]
    ctx = SchemaContext(BOT_FILE, ("id", "en"))
    try:
        raw, found = load_yaml_file(directory / BOT_FILE, BOT_FILE)
    except FlowLoadError as exc:
        problems.extend(exc.problems)
        config, flow_refs = None, dict[str, int]()
    else:
        problems.extend(found)
        config, flow_refs = parse_config(ctx, raw)
    problems.extend(ctx.problems)
    texts: list[OutboundText] = list(ctx.texts)
    languages = ctx.languages

    flow_dir = directory / FLOWS_DIR
    files = sorted(flow_dir.glob("*.yaml")) + sorted(flow_dir.glob("*.yml"))
    if not files:
        problems.append(Problem(FLOWS_DIR, 0, "", "io", "no flow files (flows/*.yaml)"))
    if len(files) > _MAX_FLOW_FILES:
        problems.append(Problem(FLOWS_DIR, 0, "", "io", f"more than {_MAX_FLOW_FILES} flow files"))
        files = files[:_MAX_FLOW_FILES]
    intents, nlu_problems = _intents(directory)
    problems.extend(nlu_problems)

    outlines: dict[str, FlowOutline] = {}
    contexts: dict[str, SchemaContext] = {}
    for path in files:
        shown = f"{FLOWS_DIR}/{path.name}"
        fctx = SchemaContext(shown, languages)
        contexts[shown] = fctx
        try:
            doc, found = load_yaml_file(path, shown)
        except FlowLoadError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(found)
        for outline in outline_flows(fctx, doc, path.stem):
            other = outlines.get(outline.name)
            if other is not None:
                fctx.err(
                    outline.line,
                    outline.name,
                    "schema",
                    f"flow {outline.name!r} is also defined in {other.file}:{other.line}",
                )
                continue
            outlines[outline.name] = outline

    flows: dict[str, Flow] = {}
    for outline in outlines.values():
        fctx = contexts[outline.file]
        flows[outline.name] = parse_flow(fctx, outline, outlines, intents)
    for fctx in contexts.values():
        problems.extend(fctx.problems)
        texts.extend(fctx.texts)
    triggers: list[Trigger] = [t for f in flows.values() for t in f.triggers]
    if config is None:
        return None, problems
    problems.extend(check_bot(config, flows, triggers, flow_refs, BOT_FILE))
    problems.extend(check_outbound_texts(texts, config.allowed_domains))
    spec = BotSpec(
        config=config,
        flows=flows,
        triggers=tuple(triggers),
        intents=intents or frozenset({"fallback"}),
        directory=directory,
    )
    return spec, sorted(set(problems))


def load_bot(directory: Path) -> BotSpec:
    """The validated bot in ``directory``; FlowLoadError lists every problem otherwise."""
    spec, problems = inspect_bot(directory)
    if problems or spec is None:
        raise FlowLoadError(problems or [Problem(str(directory), 0, "", "io", "cannot load")])
    return spec
