"""`jiedao up`: PostgreSQL and Kafka (embedded unless the environment names external ones),
then every service as its own processes (API, relay, Faust worker), then the demo data. A
process (or embedded server) that dies is restarted; see deploy/supervisor.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import FrameType

import httpx

from deploy.demo import load_catalogue, load_territory
from deploy.demo_users import ADMIN, Accounts, create_people, passwords, print_people
from deploy.embedded import EmbeddedKafka, EmbeddedPostgres, ensure_database
from deploy.registry import api_port, api_url, services
from deploy.supervisor import ProcessSpec, Supervisor, SupervisorError
from services.accounts.bootstrap import ensure_admin
from shared.settings import Settings, get_settings
from shared.tokens import generate_private_key


def infrastructure(settings: Settings, data_dir: Path, stack: ExitStack,
                   embedded: dict[str, EmbeddedPostgres | EmbeddedKafka] | None = None
                   ) -> dict[str, str]:
    """Start what the environment does not name; the started servers go into `embedded`."""
    embedded = {} if embedded is None else embedded
    if settings.database_url:
        database_url = settings.database_url
        print(f"PostgreSQL: external ({database_url.split('@')[-1]})", flush=True)
    else:
        print("PostgreSQL: starting embedded server ...", flush=True)
        postgres = embedded["postgres"] = stack.enter_context(EmbeddedPostgres(data_dir / "pg"))
        database_url = asyncio.run(ensure_database(postgres.url, "jiedao"))
    if settings.kafka_bootstrap_servers:
        bootstrap = settings.kafka_bootstrap_servers
        print(f"Kafka: external ({bootstrap})", flush=True)
    else:
        print("Kafka: starting embedded Tansu broker ...", flush=True)
        kafka = embedded["kafka"] = stack.enter_context(EmbeddedKafka(log_dir=data_dir / "logs"))
        bootstrap = kafka.bootstrap
    return {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "JIEDAO_DATA_DIR": str(data_dir),
    }


def token_issuer(settings: Settings, data_dir: Path, first_port: int) -> dict[str, str]:
    """Who issues tokens: the environment's OpenID Connect provider if it names one's keys,
    else the accounts service, signing with a key made once in the data directory (0600)."""
    if settings.auth_jwks_url or settings.auth_jwks:
        print(f"tokens: issued by {settings.auth_issuer} (external)", flush=True)
        return {}
    key_file = data_dir / "auth" / "signing-key.pem"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(generate_private_key())
    accounts = api_url("accounts", first_port)
    docs = [f"http://{host}:{api_port(name, first_port)}" for name in services()
            for host in ("127.0.0.1", "localhost")]
    return {"JIEDAO_AUTH_PRIVATE_KEY_FILE": str(key_file), "JIEDAO_AUTH_ISSUER": accounts,
            "JIEDAO_AUTH_JWKS_URL": f"{accounts}/.well-known/jwks.json",
            "JIEDAO_AUTH_TOKEN_URL": f"{accounts}/auth/token",
            "JIEDAO_CORS_ORIGINS": ",".join(docs)}  # each /docs signs in at the accounts API


def dashboard_env(settings: Settings, issuer: dict[str, str], first_port: int
                  ) -> dict[str, str]:
    """Where the dashboard's page finds the APIs (the ports given here), and CORS letting the
    page (served by the assessment API) call them, added to any origins already allowed."""
    urls = {name: api_url(name, first_port) for name in services()}
    page = [f"http://{host}:{api_port('assessment', first_port)}"
            for host in ("127.0.0.1", "localhost")]
    allowed = issuer.get("JIEDAO_CORS_ORIGINS", settings.cors_origins)
    origins = [o for o in allowed.split(",") if o.strip()]
    origins += [o for o in page if o not in origins]
    return {"JIEDAO_PUBLIC_URLS": ",".join(f"{n}={u}" for n, u in urls.items()),
            "JIEDAO_CORS_ORIGINS": ",".join(origins)}


def _demo_flow_spec(env: dict[str, str], urls: dict[str, str]) -> ProcessSpec:
    argv = [sys.executable, "-m", "deploy.cli", "demo", "--grid", urls["grid"],
            "--intake", urls["intake"], "--accounts", urls["accounts"],
            "--assessment", urls["assessment"]]
    return ProcessSpec("demo-flow", argv, env)


def process_specs(env: dict[str, str], first_port: int, names: list[str] | None = None
                  ) -> tuple[list[ProcessSpec], dict]:
    """An API, a relay and (if it keeps read models) a worker per registered service, its port
    from its place in the registry; the API must answer /health, and the relay and worker
    count as started once the API's /health reports them running."""
    specs, urls = [], {}
    for name, spec in services().items():
        urls[name] = api_url(name, first_port)
        if names is None or name in names:
            specs += _service_processes(env, name, first_port, worker=spec.has_worker)
    return specs, urls


def _service_processes(env: dict[str, str], name: str, first_port: int, worker: bool
                       ) -> list[ProcessSpec]:
    run = [sys.executable, "-m", "deploy.cli"]
    health = f"{api_url(name, first_port)}/health"
    specs = [
        ProcessSpec(f"{name}-api", [*run, "api", name, "--port", str(api_port(name, first_port))],
                    env, health_url=health),
        ProcessSpec(f"{name}-relay", [*run, "relay", name], env,
                    ready=partial(_reported_running, health, "relay"),
                    ready_means=f"{health} (relay running)"),
    ]
    if worker:
        specs.append(ProcessSpec(f"{name}-worker", [*run, "worker", name], env,
                                 ready=partial(_reported_running, health, "workers"),
                                 ready_means=f"{health} (workers running)"))
    return specs


def _reported_running(health_url: str, part: str) -> bool:
    """Whether the API's /health reports the relay (or every worker projection) running."""
    try:
        with httpx.Client(trust_env=False, timeout=2) as client:
            reported = client.get(health_url).json()[part]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    parts = reported if isinstance(reported, list) else [reported]
    return all(p["status"] == "running" for p in parts)


async def _load_demo(urls: dict[str, str], data_dir: Path) -> None:
    """The demo people, then the territory (as civil affairs) and the catalogue (as the
    departments and the district government), each signed in through the accounts service."""
    admin_password, users = await create_people(urls["accounts"], data_dir)
    async with httpx.AsyncClient(base_url=urls["accounts"], timeout=30) as client:
        sign_in = Accounts(client, users).sign_in
        async with httpx.AsyncClient(base_url=urls["grid"], timeout=30) as grid:
            applied = await load_territory(grid, sign_in)
        print(f"demo territory loaded ({applied} new commands)", flush=True)
        async with httpx.AsyncClient(base_url=urls["intake"], timeout=30) as intake:
            admitted = await load_catalogue(intake, sign_in)
        print(f"demo catalogue admitted ({admitted} new matters)", flush=True)
    print_people(admin_password, users)


def _print_urls(urls: dict[str, str], api_key: str) -> None:
    print("\njiedao is up:")
    for name, url in urls.items():
        print(f"  {name:<12} {url}/docs   (API docs)")
    print(f"  territory    {urls['grid']}/territory/streets")
    print(f"  catalogue    {urls['intake']}/catalogue?level=street")
    print(f"  Open311      {urls['intake']}/open311/v2   (GeoReport v2; demo api_key: {api_key})")
    print(f"  violations   {urls['enforcement']}/catalogue   (the enforcement catalogue)")
    print(f"  dashboard    {urls['assessment']}/dashboard   (live scores; ?lang=en for English)")
    print("Press Ctrl-C to stop.\n", flush=True)


def up(first_port: int, demo: bool) -> int:
    settings = get_settings()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        embedded: dict[str, EmbeddedPostgres | EmbeddedKafka] = {}
        env = infrastructure(settings, data_dir, stack, embedded)
        env |= token_issuer(settings, data_dir, first_port)
        env |= dashboard_env(settings, env, first_port)
        specs, urls = process_specs(env, first_port)
        supervisor = stack.enter_context(_Stoppable(specs, data_dir / "logs"))
        for name, server in embedded.items():  # restarted like the processes when they die
            supervisor.watch(name, server.alive, server.restart, server.log_file)
        try:
            supervisor.start()
            asyncio.run(ensure_admin(Settings(**{**os.environ, **env}), ADMIN,
                                     passwords(data_dir)[ADMIN]))
            if demo:
                asyncio.run(_load_demo(urls, data_dir))
                supervisor.add(_demo_flow_spec(env, urls))
        except SupervisorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        _print_urls(urls, settings.demo_api_key)
        return supervisor.wait()
    return 0


class _Stoppable(Supervisor):
    """A supervisor that Ctrl-C and SIGTERM stop cleanly, as a context manager."""

    def __init__(self, specs: list[ProcessSpec], log_dir: Path) -> None:
        super().__init__(specs, log_dir=log_dir)

    def __enter__(self) -> _Stoppable:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            print(f"\nreceived {signal.Signals(signum).name}, stopping ...", flush=True)
            self.request_stop()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        return self
