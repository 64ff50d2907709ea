"""Demo data for `jiedao up`: loaded through the services' own HTTP commands, like any client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from services.grid.seed import SeedStep, chenghua_territory
from services.intake.catalogue_seed import reform_catalogue

# Signs in as someone holding a grant (`civil_affairs`, `district_department:legal_affairs`):
# the request headers that carry their token. `jiedao up` signs in as its demo users; the
# tests mint tokens of their own.
SignIn = Callable[[str], Awaitable[dict[str, str]]]


def _request(step: SeedStep) -> tuple[str, str]:
    match step.kind:
        case "street":
            return "POST", "/streets"
        case "community":
            return "POST", "/communities"
        case "grid":
            return "POST", "/grids"
        case "member":
            return "POST", f"/grids/{step.grid_id}/members"
        case "manager":
            return "PUT", f"/grids/{step.grid_id}/manager"
    raise ValueError(f"unknown seed step {step.kind}")


async def load_territory(client: httpx.AsyncClient, sign_in: SignIn, *,
                         progress: bool = True) -> int:
    """Issue every seed command as the district civil affairs bureau; ones already done on an
    earlier start (409) are skipped. Returns how many commands were newly applied."""
    steps, applied = chenghua_territory(), 0
    headers = await sign_in("civil_affairs")
    for i, step in enumerate(steps, 1):
        method, path = _request(step)
        response = await client.request(
            method, path, json=step.command.model_dump(mode="json"), headers=headers
        )
        if response.status_code in (200, 201):
            applied += bool(response.json()["positions"])  # no events: it was already so
        elif response.status_code != 409:
            raise RuntimeError(f"seed step {step.kind} {path} failed: {response.text}")
        if progress and (i % 100 == 0 or i == len(steps)):
            print(f"  territory seed: {i}/{len(steps)} commands", flush=True)
    return applied



async def admit(client: httpx.AsyncClient, proposal: dict[str, Any], sign_in: SignIn) -> bool:
    """Take one proposal through the admission procedure: submitted by its department,
    reviewed by each relevant department, approved by the district government. Returns False
    when the matter was already in the catalogue (an earlier start)."""
    code = proposal["matter_code"]
    submitted = await client.post("/catalogue/proposals", json=proposal,
                                  headers=await _department(sign_in, proposal["proposed_by"]))
    if submitted.status_code == 409:
        return False
    _check(submitted)
    for reviewer in proposal["reviewers"]:
        _check(await client.post(f"/catalogue/{code}/reviews",
                                 json={"department": reviewer["code"], "verdict": "approve"},
                                 headers=await _department(sign_in, reviewer)))
    _check(await client.post(f"/catalogue/{code}/decision", json={"decision": "approve"},
                             headers=await sign_in("district_government")))
    return True


async def load_catalogue(client: httpx.AsyncClient, sign_in: SignIn, *,
                         progress: bool = True) -> int:
    """Admit the reform's catalogue through the admission procedure, so its whole history is
    in the audit log. Returns how many matters were newly admitted."""
    proposals, admitted = reform_catalogue(), 0
    for i, proposal in enumerate(proposals, 1):
        admitted += await admit(client, proposal.model_dump(mode="json"), sign_in)
        if progress and (i % 40 == 0 or i == len(proposals)):
            print(f"  catalogue seed: {i}/{len(proposals)} matters", flush=True)
    return admitted


async def _department(sign_in: SignIn, department: dict[str, Any]) -> dict[str, str]:
    return await sign_in(f"district_department:{department['code']}")


def _check(response: httpx.Response) -> None:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.method} {response.request.url.path} failed: "
                           f"{response.status_code} {response.text}")
