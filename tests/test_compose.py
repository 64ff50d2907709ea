"""docker-compose.yml runs every registered service as `jiedao up` does, each process
health-checked, and is exactly what `jiedao compose` renders from the registry. There is no
Docker engine here: this checks the file's structure, as Compose would read it."""

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from deploy import compose
from deploy.cli import write_compose
from deploy.registry import api_port, services

COMPOSE_FILE = Path(__file__).resolve().parent.parent / compose.FILE_NAME
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SPECS = services()
# A service that keeps no read model has no worker.
BLOCKS = [(name, kind) for name, spec in SPECS.items()
          for kind in (["api", "relay", "worker"] if spec.has_worker else ["api", "relay"])]


@pytest.mark.parametrize(("service", "kind"), BLOCKS)
def test_every_service_process_has_a_block_with_env_and_healthy_infrastructure(service, kind):
    block = COMPOSE["services"].get(f"{service}-{kind}")
    assert block is not None, f"docker-compose.yml has no {service}-{kind}"
    assert block["command"][:2] == [kind, service]
    assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"} <= set(block["environment"])
    for infrastructure in ("postgres", "kafka"):
        assert block["depends_on"][infrastructure] == {"condition": "service_healthy"}
    assert block["restart"] == "unless-stopped"


@pytest.mark.parametrize(("service", "kind"), BLOCKS)
def test_every_service_process_is_health_checked(service, kind):
    check = COMPOSE["services"][f"{service}-{kind}"]["healthcheck"]
    command = " ".join(check["test"])
    if kind == "api":
        assert "http://127.0.0.1:8000/health" in command
    else:  # jiedao health SERVICE relay|workers
        assert check["test"][1:] == ["jiedao", "health", service,
                                     "relay" if kind == "relay" else "workers"]
    assert {"interval", "timeout", "retries"} <= set(check)


@pytest.mark.parametrize("service", list(SPECS))
def test_apis_are_published_on_the_ports_jiedao_up_uses(service):
    assert COMPOSE["services"][f"{service}-api"]["ports"] == [f"{api_port(service)}:8000"]


@pytest.mark.parametrize("service", [name for name, spec in SPECS.items() if spec.has_worker])
def test_workers_start_after_the_relays_of_the_topics_they_read(service):
    read = [source for source in [service, *SPECS[service].topics_read()] if source in SPECS]
    depends_on = COMPOSE["services"][f"{service}-worker"]["depends_on"]
    for source in read:
        assert depends_on.get(f"{source}-relay") == {"condition": "service_healthy"}, (
            f"{service}-worker reads {source}'s topic but does not wait for {source}-relay")


def test_no_block_runs_a_service_that_is_not_registered():
    run = {block["command"][1] for name, block in COMPOSE["services"].items()
           if name not in ("postgres", "kafka")}
    assert run <= set(SPECS)


def test_committed_compose_file_is_what_jiedao_compose_renders():
    assert COMPOSE_FILE.read_text() == compose.render(SPECS), (
        "docker-compose.yml is not what the registered services give: run `jiedao compose`")


def test_a_service_keeping_no_read_model_is_rendered_without_a_worker():
    bare = replace(SPECS["intake"], projections=[], consumes={})
    rendered = yaml.safe_load(compose.render({"grid": SPECS["grid"], "intake": bare}))
    assert {"intake-api", "intake-relay", "grid-worker"} <= set(rendered["services"])
    assert "intake-worker" not in rendered["services"]


def test_compose_check_fails_and_names_the_fix_when_the_file_is_stale(monkeypatch, capsys):
    before = COMPOSE_FILE.read_text()
    monkeypatch.setattr(compose, "render", lambda specs: before + "# a service added since\n")
    assert write_compose(check=True) == 1
    assert "run `jiedao compose`" in capsys.readouterr().err
    assert COMPOSE_FILE.read_text() == before
