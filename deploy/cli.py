"""The `jiedao` command: start the platform, run its processes, run the tests."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deploy import contracts, processes, registry
from deploy.registry import API_BASE_PORT

if TYPE_CHECKING:
    from shared.service import ServiceSpec
    from shared.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="jiedao", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the whole platform (embedded by default)")
    up.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    up.add_argument("--port", type=int, default=API_BASE_PORT, help="first API port")
    commands.add_parser("setup", help="fetch what the dashboard serves (ECharts, pinned, from "
                                      "the npm registry; ./jiedao does it on every start)")
    commands.add_parser("test", help="run the checks and the test suite (other arguments "
                                     "go to pytest); installs Debian's chromium for the "
                                     "browser test if missing")
    commands.add_parser("lint", help="check the import contracts (rendered from the services' "
                                     "declarations, deploy/contracts.py)")
    for name, text in (("api", "a service's HTTP API"), ("relay", "a service's outbox relay"),
                       ("worker", "a service's Faust worker"),
                       ("rebuild", "a service's read models from its event store")):
        sub = commands.add_parser(name, help=f"run {text} (as `jiedao up` does)")
        sub.add_argument("service")
        if name == "api":
            sub.add_argument("--host", default="127.0.0.1")
            sub.add_argument("--port", type=int, help="default: the one `jiedao up` gives it")
    dead = commands.add_parser("deadletters", help="list a service's dead letters (events "
                                                   "its read models could not apply, or its "
                                                   "reactions could not act on)")
    dead.add_argument("service")
    dead.add_argument("--retry", nargs="*", metavar="EVENT_ID",
                      help="apply them again after a fix (all, or these events' streams)")
    check = commands.add_parser("health", help="exit 0 when a service's relay and workers run "
                                               "(for container health checks)")
    check.add_argument("service")
    check.add_argument("part", nargs="?", choices=["relay", "workers", "all"], default="all")
    compose = commands.add_parser("compose", help="write docker-compose.yml from the registered "
                                                  "services (deploy/registry.py)")
    compose.add_argument("--check", action="store_true",
                         help="write nothing; exit 1 if docker-compose.yml is not up to date")
    accounts = commands.add_parser("accounts", help="manage accounts without signing in")
    accounts_commands = accounts.add_subparsers(dest="accounts_command", required=True)
    admin = accounts_commands.add_parser(
        "create-admin", help="register the first administrator straight in the accounts "
                             "store (password from JIEDAO_ADMIN_PASSWORD, else generated and "
                             "printed once); an existing username is left as it is")
    admin.add_argument("username")
    flow = commands.add_parser("demo", help="keep demo traffic flowing (as `jiedao up` does)")
    flow.add_argument("--grid", default=registry.api_url("grid"))
    flow.add_argument("--intake", default=registry.api_url("intake"))
    flow.add_argument("--accounts", default=registry.api_url("accounts"))
    flow.add_argument("--assessment", default=registry.api_url("assessment"))
    flow.add_argument("--every", type=float, default=1.0, help="seconds between filings")
    args, extra = parser.parse_known_args(argv)
    if args.command == "test":
        sys.exit(run_tests(extra))
    if args.command == "setup":
        from deploy.vendor import ensure_vendored

        sys.exit(ensure_vendored())
    if args.command == "lint":
        sys.exit(contracts.lint_imports(contracts.render_registered()))
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "compose":
        sys.exit(write_compose(check=args.check))
    if args.command == "demo":
        from deploy.demo_flow import keep_flowing

        asyncio.run(keep_flowing(args.grid, args.intake, args.accounts,
                                 environment_settings().data_dir, assessment_url=args.assessment,
                                 every=args.every))
        return
    if args.command == "accounts":
        sys.exit(create_admin(args.username))
    if args.command == "up":
        from deploy.up import up as start_platform

        environment_settings()
        sys.exit(start_platform(first_port=args.port, demo=not args.no_demo))
    service = _service(args.service)
    settings = environment_settings()
    if args.command == "api":
        port = args.port or registry.api_port(service.name)
        processes.run_api(service, settings, args.host, port)
    elif args.command == "relay":
        processes.run_relay(service, settings)
    elif args.command == "worker":
        processes.run_worker(service, settings)
    elif args.command == "health":
        report = asyncio.run(processes.check_health(service, settings, args.part))
        print(json.dumps(report, indent=2, default=str))
        sys.exit(0 if report["ok"] else 1)
    elif args.command == "rebuild":
        asyncio.run(processes.rebuild_read_models(service, settings))
    elif args.command == "deadletters":
        from deploy import operations

        if args.retry is None:
            asyncio.run(operations.list_dead_letters(service, settings))
        else:
            left = asyncio.run(operations.retry_dead_letters(service, settings, args.retry or None))
            sys.exit(1 if left else 0)


def environment_settings() -> Settings:
    """The settings the environment gives, or exit naming each variable at fault and why."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from shared.settings import Settings, get_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"jiedao: bad setting: {reasons}") from None
    except SettingsError as exc:  # a value that should be JSON and is not
        field = re.search(r'field "(\w+)"', str(exc))
        name = Settings.model_fields[field[1]].alias if field else "a setting"
        raise SystemExit(f"jiedao: bad setting: {name}: not JSON ({exc.__cause__})") from None
    unknown = sorted(set(settings.api_processes).difference(registry.SERVICES))
    if unknown:
        raise SystemExit(f"jiedao: bad setting: JIEDAO_API_PROCESSES names no service "
                         f"{', '.join(map(repr, unknown))} (services: "
                         f"{', '.join(registry.SERVICES)})")
    return settings


def _service(name: str) -> ServiceSpec:
    known = registry.services()
    if name not in known:
        raise SystemExit(f"unknown service {name!r}; known: {', '.join(known)}")
    return known[name]


def write_compose(check: bool) -> int:
    """Render docker-compose.yml from the registry; with `check`, only say whether it differs."""
    from deploy.compose import FILE_NAME, render

    path = Path(__file__).resolve().parent.parent / FILE_NAME
    text = render(registry.services())
    if path.exists() and path.read_text() == text:
        print(f"jiedao compose: {FILE_NAME} is up to date")
        return 0
    if check:
        print(f"jiedao compose: {FILE_NAME} differs from the registered services: "
              "run `jiedao compose`", file=sys.stderr)
        return 1
    path.write_text(text)
    print(f"jiedao compose: wrote {FILE_NAME} ({', '.join(registry.SERVICES)})")
    return 0


def create_admin(username: str) -> int:
    """`jiedao accounts create-admin USERNAME`: exit 0 once the user exists."""
    import os
    import secrets

    from pydantic import ValidationError

    from services.accounts.bootstrap import ensure_admin
    from shared.settings import get_settings

    given = os.environ.get("JIEDAO_ADMIN_PASSWORD")
    password = given or secrets.token_urlsafe(18)
    try:
        made = asyncio.run(ensure_admin(get_settings(), username, password))
    except ValidationError as exc:  # only the reasons: the input may be the password
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"jiedao accounts: {reasons}", file=sys.stderr)
        return 2
    if not made:
        print(f"jiedao accounts: {username!r} exists already; nothing changed")
    elif given:
        print(f"jiedao accounts: administrator {username!r} created (password from "
              "JIEDAO_ADMIN_PASSWORD)")
    else:
        print(f"jiedao accounts: administrator {username!r} created; password (shown once): "
              f"{password}")
    return 0


def run_tests(pytest_args: list[str]) -> int:
    """Static checks (ruff, import contracts), then pytest over tests/. A run that skipped a
    test or ran none fails (tests/conftest.py)."""
    root = Path(__file__).resolve().parent.parent
    bin_dir = Path(sys.executable).parent
    ruff = [str(bin_dir / "ruff"), "check", "shared", "services", "deploy", "tests", "bench"]
    print("jiedao test: ruff", *ruff[2:], flush=True)
    if subprocess.call(ruff, cwd=root) != 0:
        return 1
    print("jiedao test: lint-imports (contracts rendered by deploy/contracts.py)", flush=True)
    if contracts.lint_imports(contracts.render_registered(), cwd=root) != 0:
        return 1
    if browser_set_up() != 0:
        return 1
    code = subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=root)
    if code == 5:
        print("jiedao test: no test ran", file=sys.stderr)
        return 1
    return code


def browser_set_up() -> int:
    """What the dashboard's browser test needs: the vendored charts and Debian's chromium."""
    from deploy.browser import ChromiumMissing, ensure_chromium
    from deploy.vendor import ensure_vendored

    print("jiedao test: browser test set-up (ECharts vendored, Debian's chromium)", flush=True)
    if ensure_vendored() != 0:
        return 1
    try:
        ensure_chromium()
    except ChromiumMissing as exc:
        print(f"jiedao test: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    main()
