"""The first administrator, written straight to the accounts event store (no HTTP, no token:
there is no one yet to sign in as). `jiedao accounts create-admin` and `jiedao up` use it."""

from __future__ import annotations

from services.accounts.commands import RegisterUser
from services.accounts.credentials import Credentials
from services.accounts.domain import User
from services.accounts.events import registry
from shared.access import Role
from shared.db import client_name, create_pool
from shared.envelope import Actor
from shared.errors import ConcurrencyConflict
from shared.repository import Repository
from shared.settings import Settings
from shared.store import EventStore

BOOTSTRAP = Actor(user_id="jiedao-bootstrap", role="system")


async def ensure_admin(settings: Settings, username: str, password: str,
                       name: str = "系统管理员 Administrator") -> bool:
    """Register `username` holding `administrator`, unless the username exists: True if it was
    made. The password rule is the API's (RegisterUser: a pydantic ValidationError)."""
    command = RegisterUser(username=username, name=name, password=password,
                           grants=[str(Role.ADMINISTRATOR)])
    pool = await create_pool(settings.require_database(), min_size=1, max_size=2,
                             name=client_name("accounts", "bootstrap"))
    store = EventStore(pool, "accounts", "accounts")
    try:
        await store.setup()
        repo = Repository(store, registry)
        user = await repo.load(User(username))
        if user.exists:
            return False
        credential = await Credentials(pool).keep(password)
        try:
            await repo.save(user, user.register(command, credential), actor=BOOTSTRAP)
        except ConcurrencyConflict:
            return False  # made a moment ago by another process
        return True
    finally:
        await store.close()
        await pool.close()
