"""docker-compose.yml runs every service `jiedao up` runs, each process health-checked. There is
no Docker engine here: this checks the file's structure, as Compose would read it."""

from pathlib import Path

import pytest
import yaml

from deploy.cli import API_BASE_PORT
from deploy.processes import services

COMPOSE = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml")
                         .read_text())
BLOCKS = [(name, kind) for name in services() for kind in ("api", "relay", "worker")]


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


def test_apis_are_published_on_the_ports_jiedao_up_uses():
    for i, service in enumerate(services()):
        ports = COMPOSE["services"][f"{service}-api"]["ports"]
        assert ports == [f"{API_BASE_PORT + i}:8000"]


def test_workers_start_after_the_relays_of_the_topics_they_read():
    assert COMPOSE["services"]["grid-worker"]["depends_on"]["grid-relay"] == {
        "condition": "service_healthy"}
    intake = COMPOSE["services"]["intake-worker"]["depends_on"]
    assert intake["intake-relay"] == intake["grid-relay"] == {"condition": "service_healthy"}
