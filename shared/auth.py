"""Who is calling, and whether they may: one line per endpoint.

Every endpoint declares who may call it, with one of:
- `caller: Annotated[Caller, allow(Role.CIVIL_AFFAIRS)]` — signed in with one of these roles
  (anywhere: the place is checked later, `Caller.authorize`, once what is acted on is loaded);
- `caller: Annotated[Caller, readable_by(Role.FRONT_DESK_CLERK)]` — the same for a read, which
  the auditor (read-only, everything) may always make;
- `_: Annotated[None, public()]` — anyone, signed in or not (public information only);
- commands take `sender: Annotated[Sender, by(...)]` from shared/commands.py, which is `allow`
  plus the Idempotency-Key.
The suite fails for an endpoint that declares none (tests/test_access_matrix.py), and each
endpoint's roles are published in its OpenAPI operation as `x-roles`.

The token is an OAuth2 bearer token (the accounts service's `/auth/token`, so `/docs` can sign
in), verified by the service itself (shared/tokens.py); the actor on every event comes from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import iter_route_contexts
from fastapi.security import OAuth2PasswordBearer

from shared.access import Forbidden, Place, Principal, Role
from shared.envelope import Actor
from shared.tokens import Unauthenticated


class Allow(OAuth2PasswordBearer):
    """An endpoint's rule, as the one dependency that reads the bearer token itself (a token
    dependency under it cost FastAPI another resolution per request) and lets through a
    caller holding one of `roles`. Documented as the OAuth2 password flow (`signin`)."""

    def __init__(self, roles: frozenset[Role]) -> None:
        super().__init__(tokenUrl="/auth/token", scheme_name="signin", auto_error=False,
                         description="Sign in at the accounts service's `/auth/token` "
                                     "(OAuth2 password flow).")
        self.roles = roles  # read by rules_of() and published in the OpenAPI as x-roles

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        principal = await authenticate(request, token if scheme.lower() == "bearer" else None)
        if not principal.holding(self.roles):
            raise Forbidden(f"this needs one of the roles: {_names(self.roles)}")
        return Caller(principal, self.roles)


@dataclass(frozen=True, slots=True)
class Caller:
    """A signed-in caller, let through an endpoint's rule (`roles`)."""

    principal: Principal
    roles: frozenset[Role]

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    def authorize(self, place: Place) -> Actor:
        """The actor to record, if one of the caller's grants of the endpoint's roles covers
        `place` (where what they act on lives); else Forbidden (403)."""
        grant = self.principal.covering(self.roles, place)
        if grant is None:
            raise Forbidden(f"{self._grants()} do not cover where this is (it needs one of "
                            f"{_names(self.roles)} there)")
        return Actor(self.user_id, str(grant.role))

    def scopes(self, kind: str) -> set[str] | None:
        """Which places of `kind` this caller's grants of the endpoint's roles cover (None:
        all). Lists filter with it, so no one sees rows outside their scope."""
        return self.principal.scopes(self.roles, kind)

    def _grants(self) -> str:
        held = self.principal.holding(self.roles)
        return f"your grants ({', '.join(map(str, held))})"


async def authenticate(request: Request, token: str | None) -> Principal:
    if not token:
        raise Unauthenticated("sign in first: send `Authorization: Bearer <token>` (a token "
                              "from the accounts service's POST /auth/token)", token_given=False)
    principal = await request.app.state.token_verifier.verify(token)
    request.app.state.rate_limits.user(principal.user_id)  # 429 over JIEDAO_RATE_LIMIT
    return principal


def allow(*roles: Role) -> Any:
    """The dependency of an endpoint any of `roles` may call (somewhere: see `authorize`)."""
    return Depends(Allow(frozenset(roles)))


def readable_by(*roles: Role) -> Any:
    """`allow` for a read: the auditor may read everything."""
    return allow(*roles, Role.AUDITOR)


def public() -> Any:
    """The dependency of an endpoint anyone may call, signed in or not."""

    async def anyone() -> None:
        return None

    anyone.roles = frozenset()  # type: ignore[attr-defined]
    return Depends(anyone)


def rules_of(dependant: Any) -> list[frozenset[Role]]:
    """The rules (`allow`, `readable_by`, `public`) declared anywhere in an endpoint's
    dependency tree (FastAPI's `route.dependant`)."""
    found = []
    if hasattr(dependant.call, "roles"):
        found.append(dependant.call.roles)
    for sub in dependant.dependencies:
        found.extend(rules_of(sub))
    return found


def declared_rules(app: FastAPI) -> list[tuple[str, set[str], list[frozenset[Role]]]]:
    """Each documented route of `app` (through included routers): its path, its methods and
    the rules its dependency tree declares (none: an open door, which the suite refuses)."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if hasattr(route, "dependant") and getattr(route, "include_in_schema", False):
            found.append((context.path_format, set(route.methods), rules_of(route.dependant)))
    return found


def publish_rules(app: FastAPI, token_url: str) -> None:
    """Make `app.openapi()` give each operation its roles (`x-roles`; [] = anyone) and point
    the sign-in flow at the issuer's token endpoint."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, methods, rules in declared_rules(app):
            for method in methods if rules else ():
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is not None:
                    operation["x-roles"] = sorted(set().union(*rules))
        scheme = schema.get("components", {}).get("securitySchemes", {}).get("signin")
        if scheme:
            scheme["flows"]["password"]["tokenUrl"] = token_url
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _names(roles: Iterable[Role]) -> str:
    return ", ".join(f"{r} ({r.zh})" for r in sorted(roles))

