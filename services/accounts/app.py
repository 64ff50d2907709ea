"""The accounts service, declared: users and their role grants, sign-in (tokens, JWKS,
OpenID discovery), Open311 API keys; its accounts read model."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.accounts import api, read_api, signin
from services.accounts.credentials import Credentials
from services.accounts.events import registry
from services.accounts.projections import VIEW_SCHEMA, AccountsProjection
from services.accounts.signing import signer_from
from shared.service import ServiceSpec
from shared.settings import Settings


def _attach(state: Any, pool: asyncpg.Pool, settings: Settings) -> None:
    state.token_signer = signer_from(settings)  # production: refuses to start without a key
    state.token_url = settings.auth_token_url
    state.accounts_view = read_api.AccountsView(pool, VIEW_SCHEMA)
    state.credentials = Credentials(pool)


SPEC = ServiceSpec(
    name="accounts",
    title="jiedao accounts service (账号: users, roles, sign-in)",
    registry=registry,
    routers=[signin.router, api.router, read_api.router],
    projections=[AccountsProjection()],
    domain=["services.accounts.domain", "services.accounts.events",
            "services.accounts.commands"],
    attach=_attach,
    secrets={"JIEDAO_AUTH_PRIVATE_KEY_FILE": "jiedao_signing_key"},
)
