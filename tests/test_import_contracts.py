"""The import-linter contracts are rendered from the declarations (deploy/contracts.py): each
registered service's domain modules import no infrastructure, and no service imports another."""

import configparser
import importlib.util

import pytest

from deploy.contracts import ROOT, lint_imports, render, render_registered, service_packages
from deploy.registry import services

SPECS = services()


def _contracts(config: str) -> dict[str, list[str]]:
    parser = configparser.ConfigParser()
    parser.read_string(config)
    return {name: parser[name] for name in parser.sections()}


@pytest.mark.parametrize("service", list(SPECS))
def test_every_service_declares_domain_modules_that_exist_in_its_folder(service):
    domain = SPECS[service].domain
    assert domain, f"{service}'s spec declares no domain modules"
    for module in domain:
        assert module.startswith(f"services.{service}."), module
        assert importlib.util.find_spec(module) is not None, f"{module} does not exist"


@pytest.mark.parametrize("service", list(SPECS))
def test_the_rendered_contracts_cover_each_declared_service(service):
    contracts = _contracts(render_registered())
    sources = contracts["importlinter:domain"]["source_modules"].split()
    assert set(SPECS[service].domain) <= set(sources)
    assert f"services.{service}" in contracts["importlinter:independence"]["modules"].split()


def test_every_folder_under_services_is_kept_independent():
    assert {"services.grid", "services.intake"} <= set(service_packages())


def test_the_rendered_contracts_are_kept_by_the_code():
    assert lint_imports(render_registered()) == 0


def test_a_domain_module_importing_asyncpg_breaks_the_rendered_contract(tmp_path, capfd):
    # a fake `services` package shadows the real one; shared and deploy come from the repo
    fake = tmp_path / "services" / "fake"
    fake.mkdir(parents=True)
    (tmp_path / "services" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "domain.py").write_text("import asyncpg\n")
    config = render(["services.fake.domain"], ["services.fake"])
    assert lint_imports(config, cwd=tmp_path, pythonpath=f"{tmp_path}:{ROOT}") == 1
    out = capfd.readouterr().out
    assert "Domain code imports no infrastructure BROKEN" in out
    assert "services.fake.domain -> asyncpg" in out
