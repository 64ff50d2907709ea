"""The services jiedao runs: one line each, naming its folder `services/<name>/`, whose
`app.py` declares `SPEC` (shared/service.py). Their order gives their API ports."""

from __future__ import annotations

import importlib

from shared.service import ServiceSpec

SERVICES = (
    "grid",
    "intake",
    "accounts",
    "enforcement",
    "assessment",
)

API_BASE_PORT = 8100  # the first service's; each next one's is one more


def services() -> dict[str, ServiceSpec]:
    """Each registered service's spec, by name, in registration order (imported when asked,
    not when this module is)."""
    specs = {}
    for name in SERVICES:
        spec = importlib.import_module(f"services.{name}.app").SPEC
        if spec.name != name:
            raise RuntimeError(f"services/{name}/app.py declares a service named {spec.name!r}")
        specs[name] = spec
    return specs


def api_port(name: str, first_port: int = API_BASE_PORT) -> int:
    """The port `jiedao up` gives the service's API (and docker-compose.yml publishes it on)."""
    return first_port + SERVICES.index(name)


def api_url(name: str, first_port: int = API_BASE_PORT) -> str:
    return f"http://127.0.0.1:{api_port(name, first_port)}"
