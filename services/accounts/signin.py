"""Sign-in: the OAuth2 password flow (RFC 6749 §4.3) at POST /auth/token, so `/docs` can
sign in, and the documents verifiers and OpenID Connect clients read: the signing keys
(JWKS) and the discovery document. Tokens are RS256 JWTs (shared/tokens.py) carrying the
user's id (`sub`), display name (`name`) and grants (`roles`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from services.accounts.credentials import Credentials
from services.accounts.domain import User
from services.accounts.passwords import verify_password
from shared.auth import public
from shared.commands import RepoDep
from shared.http import ErrorBody, app_state
from shared.tokens import TokenSigner

router = APIRouter(tags=["sign-in"])
Anyone = Annotated[None, public()]
SignerDep = Annotated[TokenSigner, Depends(app_state("token_signer"))]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1
CLAIMS = ["sub", "name", "roles", "iss", "aud", "exp", "iat", "jti"]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds until the token expires")


class TokenError(BaseModel):
    """RFC 6749 §5.2's error answer."""

    error: Literal["invalid_grant"]
    error_description: str


WRONG = "the username or password is wrong"


@router.post("/auth/token", response_model=Token, responses={
    400: {"model": TokenError, "description": "Wrong username or password, or the user is "
                                              "disabled (RFC 6749 §5.2 `invalid_grant`)"},
    429: {"model": ErrorBody, "description": "Too many sign-in attempts as this username "
                                             "(JIEDAO_SIGN_IN_RATE_LIMIT); see Retry-After"}})
async def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], repo: RepoDep,
                      credentials: Annotated[Credentials, Depends(app_state("credentials"))],
                      signer: SignerDep, request: Request, response: Response,
                      _: Anyone) -> Any:
    """Sign in with a username and password (form fields, `grant_type=password`): a signed
    access token for every jiedao service. The user is read from its own stream, so a
    revoked grant or a disabled user takes effect at the next sign-in."""
    request.app.state.rate_limits.sign_in(form.username)  # 429 to password guessing
    user = await repo.load(User(form.username))
    password_hash = await credentials.hash_of(user.credential_id)
    # Unknown users are checked against a dummy hash: the answer takes as long either way.
    right = await asyncio.to_thread(verify_password, form.password, password_hash)
    if not right:
        return refuse(WRONG)
    if not user.may_sign_in():
        return refuse("this user is disabled")
    response.headers.update(NO_STORE)
    token = signer.issue(user.username, user.grants, name=user.name or "")
    return {"access_token": token, "token_type": "bearer",
            "expires_in": int(signer.minutes * 60)}


def refuse(description: str) -> JSONResponse:
    return JSONResponse(status_code=400, headers=NO_STORE,
                        content={"error": "invalid_grant", "error_description": description})


@router.get("/.well-known/jwks.json")
async def jwks(signer: SignerDep, _: Anyone) -> dict[str, Any]:
    """The public keys tokens are signed with (what every service verifies them against)."""
    return signer.jwks()


@router.get("/.well-known/openid-configuration")
async def openid_configuration(signer: SignerDep, token_url: Annotated[
        str, Depends(app_state("token_url"))], _: Anyone) -> dict[str, Any]:
    """OpenID Connect discovery: where to sign in and where the keys are."""
    issuer = signer.issuer.rstrip("/")
    return {
        "issuer": signer.issuer,
        "token_endpoint": token_url,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": ["password"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [signer.algorithm],
        "token_endpoint_auth_methods_supported": ["none"],
        "claims_supported": CLAIMS,
    }
