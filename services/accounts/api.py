"""Command endpoints of the accounts service, for the district administrator (系统管理员):
users, their role grants, and Open311 API keys. Each one loads an aggregate, lets it decide
and saves its events (shared/commands.py's `act`); passwords are hashed before, in a thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field

from services.accounts.commands import (
    GrantRole,
    IssueApiKey,
    RegisterUser,
    ResetPassword,
    RevokeApiKey,
    RevokeRole,
    SetDisabled,
)
from services.accounts.credentials import Credentials
from services.accounts.domain import ApiKey, KeyShownOnce, User
from services.accounts.passwords import new_api_key
from shared.access import Role
from shared.commands import RepoDep, Sender, act, by
from shared.http import Accepted, accepted, app_state
from shared.idempotency import created_id

router = APIRouter(tags=["accounts (commands)"])
CredentialsDep = Annotated[Credentials, Depends(app_state("credentials"))]
Administrator = Annotated[Sender, by(Role.ADMINISTRATOR)]


@router.post("/users", status_code=201, response_model=Accepted)
async def register_user(command: RegisterUser, repo: RepoDep, credentials: CredentialsDep,
                        sender: Administrator) -> dict:
    """Register a user with a password (at least 12 characters) and, at once, any grants."""
    credential = await credentials.keep(command.password)
    return await act(repo, User(command.username),
                     lambda u: u.register(command, credential), command, sender)


@router.post("/users/{username}/grants", response_model=Accepted)
async def grant_role(username: str, command: GrantRole, repo: RepoDep,
                     sender: Administrator) -> dict:
    """Give the user a grant (`front_desk_clerk:jianshelu.dianzikeda`); held already: no
    change. Their next token carries it."""
    return await act(repo, User(username), lambda u: u.grant(command), command, sender)


@router.delete("/users/{username}/grants/{grant}", response_model=Accepted)
async def revoke_role(username: str, grant: str, repo: RepoDep, sender: Administrator) -> dict:
    """Take a grant back; their next token lacks it (tokens already issued last until they
    expire: JIEDAO_AUTH_TOKEN_MINUTES)."""
    command = RevokeRole(username=username, grant=grant)
    return await act(repo, User(username), lambda u: u.revoke(command), command, sender)


@router.post("/users/{username}/disable", response_model=Accepted)
async def disable_user(username: str, repo: RepoDep, sender: Administrator) -> dict:
    """The user can no longer sign in (at once: sign-in reads the user's own stream)."""
    command = SetDisabled(username=username, disabled=True)
    return await act(repo, User(username), lambda u: u.set_disabled(True), command, sender)


@router.post("/users/{username}/enable", response_model=Accepted)
async def enable_user(username: str, repo: RepoDep, sender: Administrator) -> dict:
    command = SetDisabled(username=username, disabled=False)
    return await act(repo, User(username), lambda u: u.set_disabled(False), command, sender)


@router.put("/users/{username}/password", response_model=Accepted)
async def reset_password(username: str, command: ResetPassword, repo: RepoDep,
                         credentials: CredentialsDep, sender: Administrator) -> dict:
    """Set a new password (at least 12 characters)."""
    credential = await credentials.keep(command.password)
    return await act(repo, User(username), lambda u: u.reset_password(credential),
                     command, sender)


class IssuedApiKey(Accepted):
    key_id: str
    api_key: str = Field(description="The key: shown in this answer only (only its sha256 is "
                                     "kept). Open311 clients send it as `api_key`.")


@router.post("/api-keys", status_code=201, response_model=IssuedApiKey)
async def issue_api_key(command: IssueApiKey, repo: RepoDep, sender: Administrator) -> dict:
    """Issue an Open311 API key for a client application. A retry under the same
    Idempotency-Key cannot show the key again (409): revoke that one and issue another."""
    idempotency = sender.idempotency(command)
    key_id = created_id(idempotency)
    key, key_hash = new_api_key()
    api_key = ApiKey(key_id)
    result = await repo.act(api_key, lambda k: k.issue(command.client_name, key_hash),
                            authorize=lambda k: sender.caller.authorize(k.place()),
                            idempotency=idempotency)
    if result.replayed:
        raise KeyShownOnce(f"API key {key_id} was issued by the first request with this "
                           "Idempotency-Key and is shown only once: revoke it and issue "
                           "another", field="Idempotency-Key")
    return accepted(api_key.stream_id, result, key_id=key_id, api_key=key)


@router.delete("/api-keys/{key_id}", response_model=Accepted)
async def revoke_api_key(key_id: str, repo: RepoDep, sender: Administrator) -> dict:
    """Revoke a key: Open311 refuses it as soon as intake has learnt of it (about a
    second)."""
    command = RevokeApiKey(key_id=key_id)
    return await act(repo, ApiKey(key_id), lambda k: k.revoke(), command, sender)
