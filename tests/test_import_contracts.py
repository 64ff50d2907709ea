"""The import-linter contracts in pyproject.toml cover every registered service: its domain
modules import no infrastructure, and no service imports another."""

import importlib.util
import tomllib
from pathlib import Path

import pytest

from deploy.registry import services

PYPROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml")
                          .read_text())
CONTRACTS = {c["name"]: c for c in PYPROJECT["tool"]["importlinter"]["contracts"]}
DOMAIN = CONTRACTS["Domain code imports no infrastructure"]
INDEPENDENT = CONTRACTS["Services do not import each other"]
SPECS = services()


@pytest.mark.parametrize("service", list(SPECS))
def test_every_declared_domain_module_is_in_the_domain_contract(service):
    missing = set(SPECS[service].domain) - set(DOMAIN["source_modules"])
    assert not missing, f"add {sorted(missing)} to the domain contract in pyproject.toml"


@pytest.mark.parametrize("service", list(SPECS))
def test_every_service_declares_domain_modules_that_exist(service):
    domain = SPECS[service].domain
    assert domain, f"{service}'s spec declares no domain modules"
    for module in domain:
        assert module.startswith(f"services.{service}."), module
        assert importlib.util.find_spec(module) is not None, f"{module} does not exist"


def test_the_domain_contract_names_no_service_module_left_undeclared():
    declared = {m for spec in SPECS.values() for m in spec.domain}
    listed = {m for m in DOMAIN["source_modules"] if m.startswith("services.")}
    assert listed <= declared, f"not declared in any spec: {sorted(listed - declared)}"


@pytest.mark.parametrize("service", list(SPECS))
def test_every_service_is_in_the_independence_contract(service):
    assert f"services.{service}" in INDEPENDENT["modules"]
