"""Demo data for `jiedao up`: loaded through the services' own HTTP commands, like any client."""

from __future__ import annotations

import httpx

from services.grid.seed import SeedStep, chenghua_territory


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


async def load_territory(client: httpx.AsyncClient, *, progress: bool = True) -> int:
    """Issue every seed command; ones already done on an earlier start (409) are skipped.
    Returns how many commands were newly applied."""
    steps, applied = chenghua_territory(), 0
    headers = {"X-Actor-Id": "seed", "X-Actor-Role": "district_admin"}
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

