"""The import-linter contracts, rendered from the declarations (one source): each registered
service's `ServiceSpec.domain`, the shared domain modules below, and the folders under
`services/`. `jiedao lint` and `jiedao test` check them (`lint_imports`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from deploy.registry import services

ROOT = Path(__file__).resolve().parent.parent
ROOT_PACKAGES = ("shared", "services", "deploy")
SHARED_DOMAIN = ("shared.events", "shared.envelope", "shared.errors", "shared.types",
                 "shared.geo", "shared.calendar")
INFRASTRUCTURE = ("fastapi", "faust", "asyncpg", "aiokafka", "uvicorn", "httpx",
                  "shared.settings", "shared.store", "shared.db", "deploy")


def service_packages(services_dir: Path = ROOT / "services") -> list[str]:
    """Every package under services/, registered or not (a folder is a service's boundary
    before it is registered, so placeholders are kept apart too)."""
    return sorted(f"services.{d.name}" for d in services_dir.iterdir()
                  if (d / "__init__.py").is_file())


def render(domain: Iterable[str], packages: Iterable[str]) -> str:
    """The INI configuration (import-linter's `.importlinter` format) of the three contracts."""
    sections = {
        "importlinter": {"root_packages": ROOT_PACKAGES, "include_external_packages": "True"},
        "importlinter:domain": {
            "name": "Domain code imports no infrastructure", "type": "forbidden",
            "source_modules": [*SHARED_DOMAIN, *domain], "forbidden_modules": INFRASTRUCTURE},
        "importlinter:independence": {
            "name": "Services do not import each other", "type": "independence",
            "modules": list(packages)},
        "importlinter:shared": {
            "name": "Shared mechanisms know no service", "type": "forbidden",
            "source_modules": ["shared"], "forbidden_modules": ["services", "deploy"]},
    }
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        for key, value in options.items():
            # a list is one module per indented line (import-linter's INI list form)
            text = f" {value}" if isinstance(value, str) else "".join(f"\n    {v}" for v in value)
            lines.append(f"{key} ={text}")
        lines.append("")
    return "\n".join(lines)


def render_registered() -> str:
    """The contracts for every registered service and every folder under services/."""
    domain = [module for spec in services().values() for module in spec.domain]
    return render(domain, service_packages())


def lint_imports(config: str, cwd: Path = ROOT, pythonpath: str | None = None) -> int:
    """Run import-linter with `config` (rendered text); its exit code."""
    with tempfile.NamedTemporaryFile("w", suffix=".ini", prefix="importlinter-") as file:
        file.write(config)
        file.flush()
        env = None if pythonpath is None else {**os.environ, "PYTHONPATH": pythonpath}
        lint = Path(sys.executable).parent / "lint-imports"
        return subprocess.call([str(lint), file.name], cwd=cwd, env=env)


if __name__ == "__main__":
    print(render_registered(), end="")
