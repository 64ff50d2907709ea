"""Each intake endpoint declares who may call it, as issue 9's table says (read from the
OpenAPI document, where each operation publishes its roles as `x-roles`), with no I/O."""

import pytest

from deploy.registry import services
from shared.service import create_service_app
from shared.settings import Settings

ANYONE: set[str] = set()
DEPARTMENT = {"district_department"}
STATION = {"front_desk_clerk", "street_service_staff"}
STATION_OR_RESIDENT = STATION | {"resident"}
RULES = {
    ("post", "/catalogue/proposals"): DEPARTMENT,
    ("post", "/catalogue/{matter_code}/reviews"): DEPARTMENT,
    ("post", "/catalogue/{matter_code}/decision"): {"district_government"},
    ("get", "/catalogue"): ANYONE,
    ("get", "/catalogue/categories"): ANYONE,
    ("get", "/catalogue/{matter_code}"): ANYONE,
    ("get", "/catalogue/{matter_code}/history"): DEPARTMENT | {"district_government", "auditor"},
    ("post", "/applications"): STATION_OR_RESIDENT,
    ("post", "/applications/{application_id}/return"): STATION,
    ("post", "/applications/{application_id}/acceptance"): STATION,
    ("post", "/applications/{application_id}/completion"): STATION,
    ("post", "/applications/{application_id}/refusal"): STATION,
    ("post", "/applications/{application_id}/materials"): STATION_OR_RESIDENT,
    ("post", "/consultations"): STATION,
    ("get", "/applications"): STATION_OR_RESIDENT | {"auditor"},
    ("get", "/applications/{application_id}"): STATION_OR_RESIDENT | {"auditor"},
    ("get", "/stations/{community_id}/queue"): STATION | {"auditor"},
    ("get", "/consultations"): STATION | {"auditor"},
    ("get", "/open311/v2/discovery.{format}"): ANYONE,
    ("get", "/open311/v2/services.{format}"): ANYONE,
    ("get", "/open311/v2/services/{service_code}.{format}"): ANYONE,
    ("get", "/open311/v2/requests.{format}"): ANYONE,
    ("get", "/open311/v2/requests/{service_request_id}.{format}"): ANYONE,
    ("get", "/open311/v2/tokens/{token}.{format}"): ANYONE,
    ("post", "/open311/v2/requests.{format}"): ANYONE,  # let in by its api_key
}


@pytest.fixture(scope="module")
def operations() -> dict[tuple[str, str], dict]:
    document = create_service_app(services()["intake"], Settings()).openapi()
    return {(method, path): operation for path, methods in document["paths"].items()
            for method, operation in methods.items()}


@pytest.mark.parametrize("method, path", sorted(RULES))
def test_each_intake_endpoint_declares_its_roles(operations, method, path):
    assert set(operations[(method, path)]["x-roles"]) == RULES[(method, path)]
    signs_in = bool(operations[(method, path)].get("security"))
    assert signs_in == bool(RULES[(method, path)])


def test_every_intake_endpoint_declares_a_rule(operations):
    assert not [key for key, operation in operations.items() if "x-roles" not in operation]
