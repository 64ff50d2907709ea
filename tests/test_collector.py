"""A service process sets Python's garbage collector once it has started (shared/collector.py):
what exists then is frozen out of the collector's sight, the youngest generation is examined
every YOUNG_THRESHOLD net allocations instead of 700, and reference cycles made afterwards are
still collected without anyone asking."""

import gc
import uuid
import weakref

import pytest

from deploy.embedded import ensure_database
from shared import collector
from shared.events import EventRegistry
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings
from tests.platform import auth_env


@pytest.fixture
def default_collector():
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    gc.unfreeze()
    yield
    gc.set_threshold(*before)


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_settle_freezes_what_exists_and_spaces_young_collections(default_collector):
    collector.settle()
    assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0
    assert gc.get_count()[0] < 100  # collected, frozen: the youngest generation starts empty


def test_a_cycle_made_after_settling_waits_for_the_threshold_and_is_then_collected_unasked(
        default_collector):
    collector.settle()
    cycle = Node()
    gone = weakref.ref(cycle)
    del cycle
    kept = []
    for _ in range(collector.YOUNG_THRESHOLD // 2):  # net allocations; 700 would collect it
        kept.append([])
    assert gone() is not None
    for _ in range(collector.YOUNG_THRESHOLD):
        kept.append([])
    assert gone() is None


async def test_an_api_process_settles_its_collector_when_it_has_started(
        database_url, tmp_path_factory, default_collector):
    url = await ensure_database(database_url, f"collector_{uuid.uuid4().hex[:8]}")
    spec = ServiceSpec(name="probe", title="probe", registry=EventRegistry(), routers=[])
    settings = Settings(DATABASE_URL=url, **auth_env(tmp_path_factory.mktemp("keys")))
    app = create_service_app(spec, settings)
    assert gc.get_threshold()[0] == 700
    async with app.router.lifespan_context(app):
        assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
