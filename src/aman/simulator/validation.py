"""Validate outbound Cloud API send bodies and raise the GraphError Meta would answer."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aman.simulator.config import TemplateRegistry, TemplateSpec
from aman.simulator.errors import GraphError

MESSAGE_TYPES = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "contacts",
     "interactive", "template", "reaction"}
)
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
_CAPTIONED = frozenset({"image", "video", "document"})
_INTERACTIVE_TYPES = (
    "button", "list", "cta_url", "location_request_message", "flow", "product", "product_list"
)
_PARAM_TYPES = frozenset(
    {"text", "currency", "date_time", "image", "document", "video", "location", "payload",
     "coupon_code", "action"}
)
_TO = re.compile(r"\+?([1-9][0-9]{7,14})")
_BAD_TEMPLATE_TEXT = re.compile(r"[\n\t]| {5}")

MAX_TEXT_BODY = 4096
MAX_OPAQUE = 512


@dataclass(frozen=True, slots=True)
class SendRequest:
    """The facts the simulator needs from a send body that passed validation."""

    to: str
    wa_id: str
    type: str
    template: TemplateSpec | None
    biz_opaque_callback_data: str | None


def _invalid(details: str) -> GraphError:
    return GraphError(100, details)


def _not_valid(details: str) -> GraphError:
    return GraphError(131009, details)


def _missing(details: str) -> GraphError:
    return GraphError(131008, details)


def _obj(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        raise _missing(f"The parameter {path} is required.")
    if not isinstance(value, dict):
        raise _invalid(f"Param {path} must be a JSON object.")
    return value


def _list(parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        raise _missing(f"The parameter {path} is required.")
    if not isinstance(value, list):
        raise _invalid(f"Param {path} must be an array.")
    return value


def _str(
    parent: Mapping[str, Any],
    key: str,
    path: str,
    *,
    max_len: int,
    min_len: int = 1,
    required: bool = True,
    code: int = 100,
) -> str | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise _missing(f"The parameter {path} is required.")
        return None
    if not isinstance(value, str):
        raise _invalid(f"Param {path} must be a string.")
    if len(value) < min_len:
        raise GraphError(code, f"Param {path} must be at least {min_len} characters long.")
    if len(value) > max_len:
        raise GraphError(code, f"Param {path} must be at most {max_len} characters long.")
    return value


def validate_send(body: Mapping[str, Any], templates: TemplateRegistry) -> SendRequest:
    """Check a /messages body like the Cloud API does; raise GraphError on the first fault."""
    if body.get("messaging_product") != "whatsapp":
        raise _invalid("Param messaging_product must be 'whatsapp'.")
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise _invalid("Param recipient_type must be 'individual'.")
    to = body.get("to")
    if to is None:
        raise _missing("The parameter to is required.")
    if not isinstance(to, str) or (match := _TO.fullmatch(to)) is None:
        raise _invalid("Param to must be a phone number in E.164 format (8 to 15 digits).")
    mtype = body.get("type", "text")
    if not isinstance(mtype, str) or mtype not in MESSAGE_TYPES:
        raise _invalid(f"Param type must be one of {{{', '.join(sorted(MESSAGE_TYPES))}}}.")
    opaque = _str(body, "biz_opaque_callback_data", "biz_opaque_callback_data",
                  max_len=MAX_OPAQUE, min_len=0, required=False)
    context = body.get("context")
    if context is not None:
        _str(_obj(body, "context", "context"), "message_id", "context['message_id']",
             max_len=512)
    template: TemplateSpec | None = None
    if mtype == "text":
        text = _obj(body, "text", "text")
        _str(text, "body", "text['body']", max_len=MAX_TEXT_BODY)
        if "preview_url" in text and not isinstance(text["preview_url"], bool):
            raise _invalid("Param text['preview_url'] must be a boolean.")
    elif mtype in MEDIA_TYPES:
        _media(_obj(body, mtype, mtype), mtype)
    elif mtype == "location":
        _location(_obj(body, "location", "location"))
    elif mtype == "contacts":
        _contacts(_list(body, "contacts", "contacts"))
    elif mtype == "reaction":
        reaction = _obj(body, "reaction", "reaction")
        _str(reaction, "message_id", "reaction['message_id']", max_len=512)
        # An empty emoji removes a reaction, so only presence and a short length are checked.
        _str(reaction, "emoji", "reaction['emoji']", min_len=0, max_len=16)
    elif mtype == "interactive":
        _interactive(_obj(body, "interactive", "interactive"))
    else:
        template = _template(_obj(body, "template", "template"), templates)
    return SendRequest(to, match.group(1), mtype, template, opaque)


def _media(media: Mapping[str, Any], path: str) -> None:
    media_id = _str(media, "id", f"{path}['id']", max_len=256, required=False)
    link = _str(media, "link", f"{path}['link']", max_len=2048, required=False)
    if media_id is None and link is None:
        raise _missing(f"Parameter '{path}['id']' or '{path}['link']' is required.")
    if link is not None and not link.startswith(("https://", "http://")):
        raise _invalid(f"Param {path}['link'] must be a valid http(s) URL.")
    base = path.split("[", 1)[0]
    if base in _CAPTIONED:
        _str(media, "caption", f"{path}['caption']", max_len=1024, min_len=0, required=False)
    if base == "document":
        _str(media, "filename", f"{path}['filename']", max_len=240, required=False)


def _location(loc: Mapping[str, Any]) -> None:
    for key, limit in (("latitude", 90.0), ("longitude", 180.0)):
        value = loc.get(key)
        if value is None:
            raise _missing(f"The parameter location['{key}'] is required.")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _invalid(f"Param location['{key}'] must be a number.")
        try:
            number = float(value)
        except ValueError:
            raise _invalid(f"Param location['{key}'] must be a number.") from None
        if not math.isfinite(number) or abs(number) > limit:
            raise _invalid(f"Param location['{key}'] is out of range.")
    _str(loc, "name", "location['name']", max_len=1000, required=False)
    _str(loc, "address", "location['address']", max_len=1000, required=False)


def _contacts(contacts: list[Any]) -> None:
    if not contacts:
        raise _missing("The parameter contacts must hold at least one contact.")
    for i, contact in enumerate(contacts):
        if not isinstance(contact, dict):
            raise _invalid(f"Param contacts[{i}] must be a JSON object.")
        name = _obj(contact, "name", f"contacts[{i}]['name']")
        _str(name, "formatted_name", f"contacts[{i}]['name']['formatted_name']", max_len=1000)


def _text_part(inter: Mapping[str, Any], part: str, max_len: int, *, required: bool) -> None:
    if part not in inter:
        if required:
            raise _missing(f"The parameter interactive['{part}'] is required.")
        return
    _str(_obj(inter, part, f"interactive['{part}']"), "text", f"interactive['{part}']['text']",
         max_len=max_len)


def _header(inter: Mapping[str, Any], *, media_ok: bool, required: bool = False) -> None:
    if "header" not in inter:
        if required:
            raise _missing("The parameter interactive['header'] is required.")
        return
    header = _obj(inter, "header", "interactive['header']")
    htype = header.get("type")
    if htype == "text":
        _str(header, "text", "interactive['header']['text']", max_len=60)
    elif media_ok and htype in ("image", "video", "document"):
        _media(_obj(header, htype, f"interactive['header']['{htype}']"),
               f"interactive['header']['{htype}']")
    else:
        allowed = "text, image, video, document" if media_ok else "text"
        raise _invalid(f"Param interactive['header']['type'] must be one of {{{allowed}}}.")


def _interactive(inter: Mapping[str, Any]) -> None:
    itype = inter.get("type")
    if itype is None:
        raise _missing("The parameter interactive['type'] is required.")
    if itype not in _INTERACTIVE_TYPES:
        allowed = ", ".join(_INTERACTIVE_TYPES)
        raise _invalid(f"Param interactive['type'] must be one of {{{allowed}}}.")
    action = _obj(inter, "action", "interactive['action']")
    _text_part(inter, "footer", 60, required=False)
    if itype == "button":
        _header(inter, media_ok=True)
        _text_part(inter, "body", 1024, required=True)
        _reply_buttons(_list(action, "buttons", "interactive['action']['buttons']"))
    elif itype == "list":
        _header(inter, media_ok=False)
        _text_part(inter, "body", 4096, required=True)
        _list_action(action)
    elif itype == "cta_url":
        _header(inter, media_ok=True)
        _text_part(inter, "body", 1024, required=True)
        if action.get("name") != "cta_url":
            raise _invalid("Param interactive['action']['name'] must be 'cta_url'.")
        params = _obj(action, "parameters", "interactive['action']['parameters']")
        _str(params, "display_text", "interactive['action']['parameters']['display_text']",
             max_len=20, code=131009)
        url = _str(params, "url", "interactive['action']['parameters']['url']", max_len=2048)
        if url is not None and not url.startswith(("https://", "http://")):
            raise _invalid("Param interactive['action']['parameters']['url'] must be a URL.")
    elif itype == "location_request_message":
        _text_part(inter, "body", 1024, required=True)
        if action.get("name") != "send_location":
            raise _invalid("Param interactive['action']['name'] must be 'send_location'.")
    elif itype == "flow":
        _header(inter, media_ok=False)
        _text_part(inter, "body", 1024, required=True)
        if action.get("name") != "flow":
            raise _invalid("Param interactive['action']['name'] must be 'flow'.")
        params = _obj(action, "parameters", "interactive['action']['parameters']")
        _str(params, "flow_cta", "interactive['action']['parameters']['flow_cta']",
             max_len=30, code=131009)
        if not isinstance(params.get("flow_id"), str) and not isinstance(
            params.get("flow_name"), str
        ):
            raise _missing("Parameter flow_id or flow_name is required.")
    elif itype == "product":
        _str(action, "catalog_id", "interactive['action']['catalog_id']", max_len=64)
        _str(action, "product_retailer_id", "interactive['action']['product_retailer_id']",
             max_len=256)
    else:
        _header(inter, media_ok=False, required=True)
        _text_part(inter, "body", 1024, required=True)
        _str(action, "catalog_id", "interactive['action']['catalog_id']", max_len=64)
        _product_sections(_list(action, "sections", "interactive['action']['sections']"))


def _reply_buttons(buttons: list[Any]) -> None:
    if not 1 <= len(buttons) <= 3:
        raise _not_valid("Buttons count is invalid. Min count: 1, Max count: 3.")
    ids: set[str] = set()
    titles: set[str] = set()
    for i, button in enumerate(buttons):
        path = f"interactive['action']['buttons'][{i}]"
        if not isinstance(button, dict) or button.get("type") != "reply":
            raise _invalid(f"Param {path}['type'] must be 'reply'.")
        reply = _obj(button, "reply", f"{path}['reply']")
        bid = _str(reply, "id", f"{path}['reply']['id']", max_len=256, code=131009)
        title = _str(reply, "title", f"{path}['reply']['title']", max_len=20, code=131009)
        if bid in ids:
            raise _not_valid("Button ids must be unique.")
        if title in titles:
            raise _not_valid("Button titles must be unique.")
        ids.add(str(bid))
        titles.add(str(title))


def _list_action(action: Mapping[str, Any]) -> None:
    _str(action, "button", "interactive['action']['button']", max_len=20, code=131009)
    sections = _list(action, "sections", "interactive['action']['sections']")
    if not 1 <= len(sections) <= 10:
        raise _not_valid("Sections count is invalid. Min count: 1, Max count: 10.")
    total = 0
    row_ids: set[str] = set()
    for s, section in enumerate(sections):
        path = f"interactive['action']['sections'][{s}]"
        if not isinstance(section, dict):
            raise _invalid(f"Param {path} must be a JSON object.")
        _str(section, "title", f"{path}['title']", max_len=24, code=131009,
             required=len(sections) > 1)
        rows = _list(section, "rows", f"{path}['rows']")
        if not rows:
            raise _not_valid(f"Section {s} must hold at least one row.")
        for r, row in enumerate(rows):
            rpath = f"{path}['rows'][{r}]"
            if not isinstance(row, dict):
                raise _invalid(f"Param {rpath} must be a JSON object.")
            rid = _str(row, "id", f"{rpath}['id']", max_len=200, code=131009)
            _str(row, "title", f"{rpath}['title']", max_len=24, code=131009)
            _str(row, "description", f"{rpath}['description']", max_len=72, min_len=0,
                 required=False, code=131009)
            if rid in row_ids:
                raise _not_valid("Row ids must be unique across sections.")
            row_ids.add(str(rid))
        total += len(rows)
    if total > 10:
        raise _not_valid(f"Total row count exceed max allowed count: 10 (got {total}).")


def _product_sections(sections: list[Any]) -> None:
    if not 1 <= len(sections) <= 10:
        raise _not_valid("Sections count is invalid. Min count: 1, Max count: 10.")
    total = 0
    for s, section in enumerate(sections):
        path = f"interactive['action']['sections'][{s}]"
        if not isinstance(section, dict):
            raise _invalid(f"Param {path} must be a JSON object.")
        _str(section, "title", f"{path}['title']", max_len=24, code=131009,
             required=len(sections) > 1)
        items = _list(section, "product_items", f"{path}['product_items']")
        if not items:
            raise _not_valid(f"Section {s} must hold at least one product.")
        total += len(items)
    if total > 30:
        raise _not_valid(f"Total product count exceed max allowed count: 30 (got {total}).")


def _template(tpl: Mapping[str, Any], templates: TemplateRegistry) -> TemplateSpec:
    name = _str(tpl, "name", "template['name']", max_len=512)
    language = _obj(tpl, "language", "template['language']")
    code = _str(language, "code", "template['language']['code']", max_len=15)
    spec = templates.get((str(name), str(code)))
    if spec is None:
        raise GraphError(132001, f"template name ({name}) does not exist in {code}")
    components = tpl.get("components", [])
    if not isinstance(components, list):
        raise _invalid("Param template['components'] must be an array.")
    counts = {"header": 0, "body": 0, "button": 0}
    for i, comp in enumerate(components):
        path = f"template['components'][{i}]"
        if not isinstance(comp, dict):
            raise _invalid(f"Param {path} must be a JSON object.")
        ctype = comp.get("type")
        if not isinstance(ctype, str) or ctype.lower() not in counts:
            raise _invalid(f"Param {path}['type'] must be one of {{header, body, button}}.")
        kind = ctype.lower()
        params = comp.get("parameters", [])
        if not isinstance(params, list):
            raise _invalid(f"Param {path}['parameters'] must be an array.")
        for j, param in enumerate(params):
            _template_param(param, f"{path}['parameters'][{j}]", body=kind == "body")
        counts[kind] += len(params)
    expected = {"header": spec.header_params, "body": spec.body_params,
                "button": spec.button_params}
    for kind in ("header", "body", "button"):
        if counts[kind] != expected[kind]:
            raise GraphError(
                132000,
                f"{kind}: number of localizable_params ({counts[kind]}) does not match the "
                f"expected number of params ({expected[kind]})",
            )
    return spec


def _template_param(param: Any, path: str, *, body: bool) -> None:
    if not isinstance(param, dict):
        raise _invalid(f"Param {path} must be a JSON object.")
    ptype = param.get("type")
    if ptype not in _PARAM_TYPES:
        allowed = ", ".join(sorted(_PARAM_TYPES))
        raise _invalid(f"Param {path}['type'] must be one of {{{allowed}}}.")
    if ptype == "text":
        text = _str(param, "text", f"{path}['text']", max_len=32768)
        if body and text is not None and _BAD_TEMPLATE_TEXT.search(text):
            raise GraphError(
                132018,
                "Param text cannot have new-line/tab characters or more than 4 consecutive "
                "spaces",
            )
    elif ptype == "payload":
        _str(param, "payload", f"{path}['payload']", max_len=256)
    elif ptype in ("image", "document", "video"):
        _media(_obj(param, ptype, f"{path}['{ptype}']"), f"{path}['{ptype}']")
