"""deploy/registry.py is the one list of services: everything that runs, health-checks and
rebuilds a service reads its declaration from there."""

import pytest

from deploy.registry import API_BASE_PORT, SERVICES, api_port, services
from deploy.up import process_specs
from shared.service import ServiceSpec
from shared.settings import Settings
from shared.streams import create_worker_app

SPECS = services()


def test_each_registered_folder_declares_the_service_of_its_name():
    assert list(SPECS) == list(SERVICES)
    assert all(isinstance(spec, ServiceSpec) and spec.name == name for name, spec in SPECS.items())


@pytest.mark.parametrize("service", SERVICES)
def test_every_topic_a_service_consumes_is_a_registered_service_s(service):
    assert set(SPECS[service].consumes) <= set(SERVICES) - {service}


def test_ports_follow_the_registration_order():
    assert [api_port(name) for name in SERVICES] == [
        API_BASE_PORT + i for i in range(len(SERVICES))]


def test_jiedao_up_runs_each_registered_service_s_api_relay_and_worker_on_its_port():
    specs, urls = process_specs({}, first_port=9000)
    names = {spec.name: spec.argv for spec in specs}
    for i, service in enumerate(SERVICES):
        assert urls[service] == f"http://127.0.0.1:{9000 + i}"
        assert names[f"{service}-api"][-4:] == ["api", service, "--port", str(9000 + i)]
        assert names[f"{service}-relay"][-2:] == ["relay", service]
        if SPECS[service].has_worker:
            assert names[f"{service}-worker"][-2:] == ["worker", service]
        else:
            assert f"{service}-worker" not in names


@pytest.mark.parametrize("service", SERVICES)
def test_the_worker_has_one_reader_per_topic_it_reads(service, tmp_path):
    spec = SPECS[service]
    settings = Settings(DATABASE_URL="postgresql://nowhere/none", JIEDAO_DATA_DIR=str(tmp_path),
                        KAFKA_BOOTSTRAP_SERVERS="nowhere:9092", JIEDAO_NAMESPACE="t")
    app = create_worker_app(spec, settings)  # nothing connects until the worker starts
    wanted = {f"t.{source}" for source in spec.topics_read()}
    assert set(app.transport.readers) == wanted
    assert {name for topic in app.topics for name in topic.topics} == wanted  # subscribed
    assert not app.agents  # Faust's per-message agents are not used (shared/faust_transport)


@pytest.mark.parametrize("service", SERVICES)
def test_every_periodic_task_names_a_setting_that_holds_its_period(service):
    settings = Settings()
    for task in SPECS[service].periodic:
        assert getattr(settings, task.interval) > 0
