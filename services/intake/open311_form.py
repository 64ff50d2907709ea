"""Open311's POST body: a form-encoded service request (its fields, its attributes), how it
is read, and the API key it must carry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from services.intake.api_keys import ApiKeys
from services.intake.open311_format import Open311Error

REPORTER = ("email", "phone", "first_name", "last_name", "device_id", "account_id")
ATTRIBUTE = re.compile(r"attribute\[([^\[\]]+)\](\[\])?")
FORM_FIELDS = ("api_key", "service_code", "lat", "long", "address_string", "address_id",
               "description", "media_url", *REPORTER)
FORM_BODY = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["api_key", "service_code"],
        "properties": {name: {"type": "string"} for name in FORM_FIELDS},
        "additionalProperties": {"type": "string",
                                 "description": "attribute[CODE]=value, attribute[CODE][]=v"},
    }}}}}


@dataclass
class Form:
    """A form-encoded POST: its fields, and its attributes (each a list of values)."""

    fields: dict[str, str]
    attributes: dict[str, list[str]]

    def get(self, name: str) -> str | None:
        return self.fields.get(name)

    def request(self) -> dict[str, Any]:
        """What the form asks for (its api_key aside), for an Idempotency-Key's digest."""
        fields = {name: value for name, value in self.fields.items() if name != "api_key"}
        return {"fields": fields, "attributes": self.attributes}


def parse_form(content_type: str, body: bytes) -> Form:
    """Blank values count as not sent (the spec's optional arguments)."""
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        raise Open311Error(400, "Content-Type: a service request is posted as "
                                "application/x-www-form-urlencoded; charset=utf-8")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Open311Error(400, f"body: not a UTF-8 form of at most 200 fields ({exc})") from exc
    form = Form({}, {})
    for key, value in ((k, v.strip()) for k, v in pairs if v.strip()):
        if not key.startswith("attribute"):
            form.fields[key] = value
        elif match := ATTRIBUTE.fullmatch(key):
            form.attributes.setdefault(match[1], []).append(value)
        else:
            raise Open311Error(400, f"{key}: send attribute[CODE]=value, or "
                                    "attribute[CODE][]=value for each value of a list")
    return form


async def check_api_key(api_key: str | None, keys: ApiKeys) -> None:
    if api_key is None:
        raise Open311Error(403, "api_key: missing; posting a service request needs an API key")
    if not await keys.accepts(api_key):
        raise Open311Error(403, "api_key: invalid api_key received -- can't proceed with "
                                "create_request")
