"""Production starts only when configured: no embedded services, no demo API key, no
development issuer, no shared-secret tokens (shared/settings.py); malformed limits are refused
at startup, not at the first request."""

import pytest
from pydantic import ValidationError

from shared.settings import Settings

PRODUCTION = {
    "JIEDAO_ENV": "production",
    "DATABASE_URL": "postgresql://jiedao@db.example/jiedao",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka.example:9092",
    "JIEDAO_DEMO_API_KEY": "a-key-of-the-districts-own",
    "JIEDAO_AUTH_JWKS_URL": "https://sso.example/realms/chenghua/protocol/openid-connect/certs",
    "JIEDAO_AUTH_ISSUER": "https://sso.example/realms/chenghua",
    "JIEDAO_AUTH_TOKEN_URL": "https://sso.example/realms/chenghua/protocol/openid-connect/token",
}


@pytest.fixture(autouse=True)
def no_settings_from_the_environment(monkeypatch):
    """Only what a test gives counts (CI may set DATABASE_URL, for one)."""
    for name in PRODUCTION:
        monkeypatch.delenv(name, raising=False)


def test_a_complete_production_configuration_is_accepted():
    settings = Settings(**PRODUCTION)
    assert settings.environment == "production"
    assert settings.auth_issuer == PRODUCTION["JIEDAO_AUTH_ISSUER"]


@pytest.mark.parametrize("changed, says", [
    ({"DATABASE_URL": None}, "DATABASE_URL"),
    ({"KAFKA_BOOTSTRAP_SERVERS": None}, "KAFKA_BOOTSTRAP_SERVERS"),
    ({"JIEDAO_DEMO_API_KEY": "jiedao-demo-key"}, "demo API key"),
    ({"JIEDAO_AUTH_JWKS_URL": None}, "JIEDAO_AUTH_JWKS_URL or JIEDAO_AUTH_JWKS"),
    ({"JIEDAO_AUTH_ISSUER": None}, "JIEDAO_AUTH_ISSUER"),
    ({"JIEDAO_AUTH_TOKEN_URL": None}, "JIEDAO_AUTH_TOKEN_URL"),
    ({"JIEDAO_AUTH_ALGORITHMS": "HS256"}, "only asymmetric signatures"),
    ({"JIEDAO_AUTH_ALGORITHMS": "none"}, "only asymmetric signatures"),
])
def test_production_refuses_a_missing_or_development_only_setting(changed, says):
    config = {name: value for name, value in {**PRODUCTION, **changed}.items()
              if value is not None}
    with pytest.raises(ValidationError, match=says):
        Settings(**config)


@pytest.mark.parametrize("name", ["JIEDAO_RATE_LIMIT", "JIEDAO_OPEN311_RATE_LIMIT"])
def test_a_malformed_rate_limit_is_refused_at_startup(name):
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: "lots"})
    assert Settings(**{name: "20/second;600/minute"})


def test_the_body_limit_is_at_least_a_kibibyte():
    with pytest.raises(ValidationError, match="JIEDAO_MAX_BODY_BYTES"):
        Settings(JIEDAO_MAX_BODY_BYTES="10")
