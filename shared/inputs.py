"""The one gate every request of every service passes (checked by shared/edge.py): no
control character (Unicode Cc) in the path, the query string, a header, or a JSON or form
body, except tab, newline and carriage return inside body text (and tab in a header); no
lone UTF-16 surrogate (PostgreSQL cannot store one). A refused request is answered 422 with
the field at fault before any endpoint runs, so nothing is written.

Cheap on the common path: the body is scanned as bytes for anything
that could decode to a refused character; only a body with such a hit (rare: a `\\u00xx`
escape, a surrogate escape, a `%xx` control) is decoded to find the field and be sure.

It also holds every request body to `max_body_bytes` (JIEDAO_MAX_BODY_BYTES): a
Content-Length over it is answered 413 before anything is read, a chunked body as soon as it
grows over it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope

# (path, fields at fault) -> the response that refuses the request
Refusal = Callable[[str, list[dict[str, str]]], Response]

# What may decode to a refused character, searched in raw bytes (false alarms are allowed:
# they only send the body to the exact check).
JSON_SUSPECT = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\\u00[0-1789]|\\u[dD][89a-fA-F]"
)
FORM_SUSPECT = re.compile(rb"[\x00-\x1f\x7f]|%[01][0-9a-fA-F]|%7[fF]|%[cC]2")
HEADER_REFUSED = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # tab is allowed in a field value
HEADER_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Exact rules, on decoded text.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF, CR allowed
SURROGATE = re.compile(r"[\ud800-\udfff]")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def refusal_body(kind: str, fields: list[dict[str, str]], status: int) -> Response:
    """The project's error shape (shared/http.py's error_body)."""
    message = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
    return JSONResponse({"error": {"type": kind, "message": message, "fields": fields}},
                        status_code=status)


def invalid_input(_: str, fields: list[dict[str, str]]) -> Response:
    return refusal_body("invalid_input", fields, 422)


class BodyTooLarge(Exception):
    """A request body grew over the limit while it was read."""


class InputGuard:
    """Refuses what no service may store; `refusals` maps a path prefix to the error format of
    the paths under it (e.g. Open311's), the project's error shape answering for the rest."""

    def __init__(self, refusals: Mapping[str, Refusal] | None = None,
                 max_body_bytes: int = 1_048_576) -> None:
        self.refusals = dict(refusals or {})
        self.max_body_bytes = max_body_bytes

    async def check(self, scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
        """The answer refusing an HTTP request (None: let it through), and the `receive` the
        app must read the body with (the body is read here to be checked)."""
        if declared_length(scope) > self.max_body_bytes:
            return self.too_large(scope["path"]), receive
        fields = head_faults(scope)
        if not fields and scope["method"] in BODY_METHODS:
            try:
                body, receive = await buffered(receive, self.max_body_bytes)
            except BodyTooLarge:
                return self.too_large(scope["path"]), receive
            fields = body_faults(content_type(scope), body)
        if fields:
            return self.refusal(scope["path"])(scope["path"], fields), receive
        return None, receive

    def refusal(self, path: str) -> Refusal:
        return self.own_format(path) or invalid_input

    def own_format(self, path: str) -> Refusal | None:
        for prefix, refusal in self.refusals.items():
            if path.startswith(prefix):
                return refusal
        return None

    def too_large(self, path: str) -> Response:
        """413, in the path's own error format if it has one (its refusal, sent as a 413)."""
        fields = [{"field": "body", "reason": f"is over {self.max_body_bytes} bytes, the most "
                                              "a request may carry"}]
        own = self.own_format(path)
        if own is None:
            return refusal_body("too_large", fields, 413)
        response = own(path, fields)
        response.status_code = 413
        return response


def declared_length(scope: Scope) -> int:
    """The Content-Length the request declares (0 if none or unreadable: then the body is
    counted as it arrives)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def head_faults(scope: Scope) -> list[dict[str, str]]:
    faults = []
    if CONTROL.search(scope["path"]) or SURROGATE.search(scope["path"]):
        faults.append(fault("path", scope["path"]))
    query: bytes = scope["query_string"]
    if query and (b"%" in query or CONTROL.search(query.decode("latin-1"))):
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            text = unquote_to_bytes(f"{name}={value}").decode("utf-8", "replace")
            if CONTROL.search(text):
                faults.append(fault(unquote_to_bytes(name).decode("utf-8", "replace"), text,
                                    CONTROL))
    headers = b"\t".join(name + b"\t" + value for name, value in scope["headers"])
    if HEADER_REFUSED.search(headers):
        faults += [fault(header_name(name), (name + value).decode("latin-1"), HEADER_TEXT)
                   for name, value in scope["headers"] if HEADER_REFUSED.search(name + value)]
    return faults


def header_name(raw: bytes) -> str:
    """`idempotency-key` as the API documents it: `Idempotency-Key`."""
    return "-".join(part.capitalize() for part in raw.decode("latin-1").split("-"))


def body_faults(kind: str, body: bytes) -> list[dict[str, str]]:
    if kind == "json":
        if not body.isascii() and not is_utf8(body):
            return [{"field": "body", "reason": "is not UTF-8 text"}]
        if JSON_SUSPECT.search(body):
            return json_faults(body)
    elif kind == "form" and FORM_SUSPECT.search(body):
        return form_faults(body)
    return []


def is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def json_faults(body: bytes) -> list[dict[str, str]]:
    try:
        document = json.loads(body)
    except ValueError:  # e.g. a raw control byte in a string (FastAPI would refuse it too)
        return [{"field": "body", "reason": "is not valid JSON"}]
    return [fault(path or "body", text, TEXT_CONTROL) for path, text in strings(document, "")
            if TEXT_CONTROL.search(text) or SURROGATE.search(text)]


def form_faults(body: bytes) -> list[dict[str, str]]:
    faults = []
    for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        text = unquote_to_bytes(value.replace("+", " ")).decode("utf-8", "replace")
        key = unquote_to_bytes(name.replace("+", " ")).decode("utf-8", "replace")
        if CONTROL.search(key):
            faults.append(fault(key, key))
        elif TEXT_CONTROL.search(text):
            faults.append(fault(key, text, TEXT_CONTROL))
    return faults


def strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON document (keys too), with where it is (`a.b.0.c`)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            yield inner, key
            yield from strings(item, inner)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}.{i}" if path else str(i))


def fault(field: str, text: str, rule: re.Pattern[str] = CONTROL) -> dict[str, str]:
    """Why `text` (the value of `field`) is refused: its first refused character."""
    found = rule.search(text) or SURROGATE.search(text)
    char = found.group() if found else "\x00"
    kind = "a lone surrogate" if SURROGATE.match(char) else "a control character"
    return {"field": safe(field),
            "reason": f"contains {kind} (U+{ord(char):04X}), which is not accepted"}


def safe(name: str) -> str:
    """A field name fit to echo back (its own control characters shown as escapes)."""
    name = SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", name)
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", name)[:100]


def content_type(scope: Scope) -> str:
    """json, form or other: as FastAPI would read the body (no content type: JSON)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            if media == b"application/x-www-form-urlencoded":
                return "form"
            return "json" if media.endswith(b"json") else "other"
    return "json"


async def buffered(receive: Receive, limit: int) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that hands it on to the app (then the real one);
    BodyTooLarge as soon as it grows over `limit` bytes."""
    chunks: list[bytes] = []
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replay = [{"type": "http.request", "body": body, "more_body": False}] \
        if messages[-1]["type"] == "http.request" else messages

    async def replayed() -> Message:
        return replay.pop(0) if replay else await receive()

    return body, replayed
