"""Settings, read once from the environment (see the README's configuration table)."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.ratelimit import parse_limit
from shared.tokens import Claims, TokenVerifier

DEVELOPMENT_ISSUER = "http://127.0.0.1:8102"  # the accounts service `jiedao up` runs (defaults)
DEVELOPMENT_URLS = ("grid=http://127.0.0.1:8100,intake=http://127.0.0.1:8101,"
                    "accounts=http://127.0.0.1:8102,enforcement=http://127.0.0.1:8103,"
                    "assessment=http://127.0.0.1:8104")  # deploy/registry.py's ports
ROOT = Path(__file__).resolve().parent.parent
ASYMMETRIC = ("RS", "PS", "ES", "EdDSA")  # a shared-secret (HS*) or `none` token is refused


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", alias="JIEDAO_ENV"
    )
    database_url: str | None = Field(None, alias="DATABASE_URL")
    kafka_bootstrap_servers: str | None = Field(None, alias="KAFKA_BOOTSTRAP_SERVERS")
    data_dir: Path = Field(Path(".jiedao"), alias="JIEDAO_DATA_DIR")
    namespace: str = Field("jiedao", alias="JIEDAO_NAMESPACE", pattern=r"^[a-z][a-z0-9_-]*$",
                           description="prefix of topics and consumer groups")
    topic_partitions: int = Field(4, ge=1, alias="JIEDAO_TOPIC_PARTITIONS")
    kafka_session_timeout: float = Field(4.0, gt=0, alias="JIEDAO_KAFKA_SESSION_TIMEOUT")
    # What a new event waits for on its way to the read models (bench/README.md, freshness).
    kafka_fetch_max_wait_ms: int = Field(100, ge=1, alias="JIEDAO_KAFKA_FETCH_MAX_WAIT_MS")
    relay_linger_seconds: float = Field(0.005, ge=0, alias="JIEDAO_RELAY_LINGER_SECONDS")
    relay_interval_seconds: float = Field(0.1, ge=0, alias="JIEDAO_RELAY_INTERVAL_SECONDS")
    api_processes: dict[str, PositiveInt] = Field(
        default_factory=dict, alias="JIEDAO_API_PROCESSES",
        description='how many processes serve a service\'s API, as JSON (`{"intake": 2}`); '
                    "a service not named has one. They share its port (uvicorn's workers), "
                    "each with its own connection pool and group commit")
    # How long a busy store's flush waits for more appends to carry (shared/store.py).
    store_linger_seconds: float = Field(0.002, ge=0, le=1, alias="JIEDAO_STORE_LINGER_SECONDS")
    demo_api_key: str = Field("jiedao-demo-key", alias="JIEDAO_DEMO_API_KEY")
    # Sign-in (README "Roles and sign-in"): who issues tokens, for whom, and where their keys are.
    auth_issuer: str = Field("http://127.0.0.1:8102", alias="JIEDAO_AUTH_ISSUER")
    auth_audience: str = Field("jiedao", alias="JIEDAO_AUTH_AUDIENCE")
    auth_jwks_url: str | None = Field(None, alias="JIEDAO_AUTH_JWKS_URL")
    auth_jwks: str | None = Field(None, alias="JIEDAO_AUTH_JWKS",
                                  description="the issuer's JWKS inline (JSON), instead of a URL")
    auth_token_url: str = Field("http://127.0.0.1:8102/auth/token", alias="JIEDAO_AUTH_TOKEN_URL",
                                description="where /docs signs in (the issuer's token endpoint)")
    auth_algorithms: str = Field("RS256", alias="JIEDAO_AUTH_ALGORITHMS")
    auth_claim_user: str = Field("sub", alias="JIEDAO_AUTH_CLAIM_USER")
    auth_claim_name: str = Field("name", alias="JIEDAO_AUTH_CLAIM_NAME")
    auth_claim_roles: str = Field("roles", alias="JIEDAO_AUTH_CLAIM_ROLES")
    # The accounts service's own: its signing key (PEM file) and how long its tokens last.
    auth_private_key_file: Path | None = Field(None, alias="JIEDAO_AUTH_PRIVATE_KEY_FILE")
    auth_token_minutes: float = Field(15.0, gt=0, le=1440, alias="JIEDAO_AUTH_TOKEN_MINUTES")
    # Limits (README "Limits and headers"): how much one request carries, how often one asks.
    max_body_bytes: int = Field(1_048_576, ge=1024, alias="JIEDAO_MAX_BODY_BYTES")
    cors_origins: str = Field("", alias="JIEDAO_CORS_ORIGINS",
                              description="comma-separated origins whose pages may call the "
                                          "APIs (the services' own /docs signing in at the "
                                          "accounts service)")
    forwarded_allow_ips: str = Field(
        "", alias="JIEDAO_FORWARDED_ALLOW_IPS",
        description="comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto "
                    "the APIs trust (uvicorn's forwarded_allow_ips); empty: none, and uvicorn's "
                    "proxy-header layer is left out")
    rate_limit: str = Field("2000/second", alias="JIEDAO_RATE_LIMIT",
                            description="per signed-in user and API process (`limits` syntax)")
    open311_rate_limit: str = Field("6000/minute", alias="JIEDAO_OPEN311_RATE_LIMIT",
                                    description="per Open311 API key and API process")
    sign_in_rate_limit: str = Field("10/minute", alias="JIEDAO_SIGN_IN_RATE_LIMIT",
                                    description="sign-in attempts per username and process")
    duplicate_meters: float = Field(50.0, gt=0, le=10_000, alias="JIEDAO_DUPLICATE_METERS",
                                    description="how near an open case of the same category "
                                                "must be to be suggested as a duplicate")
    # Workers mark what is past its deadline (cases, orders to rectify) overdue this often (s).
    overdue_check_seconds: float = Field(60.0, gt=0, alias="JIEDAO_OVERDUE_CHECK_SECONDS")
    # The dashboard (services/assessment/dashboard.py): where the page finds the other APIs
    # (`name=url`, comma-separated; `jiedao up` sets them) and its vendored browser code.
    public_urls: str = Field(DEVELOPMENT_URLS, alias="JIEDAO_PUBLIC_URLS",
                             description="the services' public base URLs the dashboard calls")
    vendor_dir: Path = Field(ROOT / ".cache" / "vendor", alias="JIEDAO_VENDOR_DIR",
                             description="browser code fetched at set-up (deploy/vendor.py)")
    # How often the assessment worker looks for indicators that reached their targets.
    target_check_seconds: float = Field(1.0, gt=0, alias="JIEDAO_TARGET_CHECK_SECONDS")
    holidays: str = Field("", alias="JIEDAO_HOLIDAYS",
                          description="comma-separated ISO dates that are not working days")

    def service_urls(self) -> dict[str, str]:
        """JIEDAO_PUBLIC_URLS as {service: base URL}."""
        pairs = [p.split("=", 1) for p in self.public_urls.split(",") if p.strip()]
        return {name.strip(): url.strip().rstrip("/") for name, url in pairs}

    @field_validator("public_urls")
    @classmethod
    def named_urls(cls, value: str) -> str:
        for pair in filter(str.strip, value.split(",")):
            name, _, url = pair.partition("=")
            if not name.strip() or not url.strip().startswith(("http://", "https://")):
                raise ValueError(f"{pair!r}: each entry is name=http(s)://host:port")
        return value

    def holiday_dates(self) -> list[date]:
        try:
            return [date.fromisoformat(d.strip()) for d in self.holidays.split(",") if d.strip()]
        except ValueError as exc:
            raise ValueError(f"JIEDAO_HOLIDAYS: {exc}") from exc

    @field_validator("api_processes", mode="before")
    @classmethod
    def json_mapping(cls, value: object) -> object:
        """The mapping as the environment spells it (JSON), also when the settings are made
        from a dict of environment variables (`Settings(**env)`), which is not decoded."""
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("rate_limit", "open311_rate_limit", "sign_in_rate_limit")
    @classmethod
    def is_a_rate(cls, value: str) -> str:
        parse_limit(value)  # e.g. `600/minute` or `20/second;600/minute`
        return value

    @field_validator("auth_algorithms")
    @classmethod
    def asymmetric_only(cls, value: str) -> str:
        refused = [a for a in value.split(",") if not a.strip().startswith(ASYMMETRIC)]
        if refused:
            raise ValueError(f"{', '.join(refused)}: only asymmetric signatures are accepted "
                             "(RS*, PS*, ES*, EdDSA)")
        return value

    @model_validator(mode="after")
    def production_needs_real_services(self) -> Settings:
        if self.environment == "production":
            if not self.database_url or not self.kafka_bootstrap_servers:
                raise ValueError("production needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS")
            if self.demo_api_key == "jiedao-demo-key":
                raise ValueError("production must not use the demo API key")
            if not (self.auth_jwks_url or self.auth_jwks):
                raise ValueError("production needs the token issuer's keys: JIEDAO_AUTH_JWKS_URL "
                                 "or JIEDAO_AUTH_JWKS")
            if self.auth_issuer == DEVELOPMENT_ISSUER:
                raise ValueError("production needs JIEDAO_AUTH_ISSUER: the issuer its tokens "
                                 f"name (the default, {DEVELOPMENT_ISSUER}, is the embedded one)")
            if self.auth_token_url.startswith(DEVELOPMENT_ISSUER):
                raise ValueError("production needs JIEDAO_AUTH_TOKEN_URL: where /docs signs in "
                                 "(the default is the embedded accounts service)")
        return self

    def token_verifier(self) -> TokenVerifier:
        """How this service checks the tokens it is sent (shared/tokens.py)."""
        if not (self.auth_jwks_url or self.auth_jwks):
            raise RuntimeError("no token issuer keys: set JIEDAO_AUTH_JWKS_URL or JIEDAO_AUTH_JWKS "
                               "(`jiedao up` sets them for its processes)")
        return TokenVerifier(
            issuer=self.auth_issuer, audience=self.auth_audience,
            jwks=json.loads(self.auth_jwks) if self.auth_jwks else None,
            jwks_url=self.auth_jwks_url, algorithms=self.auth_algorithms.split(","),
            claims=Claims(self.auth_claim_user, self.auth_claim_name, self.auth_claim_roles))

    def topic(self, service: str) -> str:
        """One topic per service: every event a service emits goes to `<namespace>.<service>`."""
        return f"{self.namespace}.{service}"

    def require_database(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (`jiedao up` sets it for its processes)")
        return self.database_url

    def require_kafka(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise RuntimeError(
                "KAFKA_BOOTSTRAP_SERVERS is not set (`jiedao up` sets it for its processes)"
            )
        return self.kafka_bootstrap_servers


@lru_cache
def get_settings() -> Settings:
    return Settings()
