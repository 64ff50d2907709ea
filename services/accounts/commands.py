"""Commands of the accounts service: the administrator's input for users and API keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.types import ONE_LINE, Code, Command, Name

MIN_PASSWORD_LENGTH = 12
# Longer passwords only make argon2 work longer for nothing a passphrase needs.
MAX_PASSWORD_LENGTH = 128

Username = Annotated[Code, Field(description="The user's sign-in name and id (the token's "
                                             "`sub`), e.g. `clerk-0042`")]
Password = Annotated[str, Field(
    min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, pattern=ONE_LINE,
    description=f"At least {MIN_PASSWORD_LENGTH} characters; stored only as an argon2 hash")]
GrantText = Annotated[str, Field(
    min_length=2, max_length=100, pattern=r"^[a-z_]+(:[a-z0-9][a-z0-9_.-]*)?$",
    description="A role, and for most roles the id of the place it covers: "
                "`front_desk_clerk:jianshelu.dianzikeda`, `district_department:civil_affairs`, "
                "`auditor`")]


class RegisterUser(Command):
    username: Username
    name: Name = Field(description="The display name (the token's `name`)")
    password: Password
    grants: list[GrantText] = Field(default=[], max_length=50,
                                    description="Grants to give at once (see POST …/grants)")


class GrantRole(Command):
    grant: GrantText


class RevokeRole(Command):
    """Made from the path of DELETE /users/{username}/grants/{grant}."""

    username: str
    grant: str


class SetDisabled(Command):
    """Made from the path of POST /users/{username}/disable and /enable."""

    username: str
    disabled: bool


class ResetPassword(Command):
    password: Password


class IssueApiKey(Command):
    client_name: Name = Field(description="The client application the key is for")


class RevokeApiKey(Command):
    """Made from the path of DELETE /api-keys/{key_id}."""

    key_id: str
