"""The matter catalogue (目录清单) and its admission procedure. Pure Python.

A matter enters, changes or leaves the catalogue only through the reform's admission
procedure: a district department proposes it -> each named relevant department reviews it
(approve, or object with a reason) -> with every review in and none objecting, the district
government approves (or rejects). One matter's whole history is one stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.intake.commands import DecideProposal, ProposeMatter, ReviewProposal
from services.intake.events import (
    MatterAdmitted,
    MatterChanged,
    MatterProposed,
    MatterWithdrawn,
    ProposalRejected,
    ProposalReviewed,
)
from shared.access import Place
from shared.errors import DomainError, NotFound, WrongOrder
from shared.events import DomainEvent


@dataclass
class Proposal:
    number: int
    kind: str
    terms: dict[str, Any] | None
    reviewers: list[str]
    reviews: dict[str, tuple[str, str]] = field(default_factory=dict)  # dept -> verdict, reason

    def missing_reviews(self) -> list[str]:
        return [d for d in self.reviewers if d not in self.reviews]

    def objections(self) -> list[str]:
        return [f"{d}: {reason}" for d, (verdict, reason) in self.reviews.items()
                if verdict == "object"]


@dataclass
class Matter:
    matter_code: str
    version: int = 0
    terms: dict[str, Any] | None = None  # the admitted terms, while admitted
    proposals: int = 0
    pending: Proposal | None = None
    departments: set[str] = field(default_factory=set)  # who proposed, reviews or hands it down

    @property
    def stream_id(self) -> str:
        return f"matter-{self.matter_code}"

    @property
    def admitted(self) -> bool:
        return self.terms is not None

    def require_admitted(self, field_name: str = "matter_code") -> dict[str, Any]:
        if self.terms is None:
            if self.proposals == 0:
                raise NotFound(f"no matter {self.matter_code!r} in the catalogue",
                               field=field_name)
            raise DomainError(f"matter {self.matter_code!r} is not admitted to the catalogue",
                              field=field_name)
        return self.terms

    # -- decisions ----------------------------------------------------------------------------

    def propose(self, command: ProposeMatter) -> list[DomainEvent]:
        if self.pending is not None:
            raise WrongOrder(f"proposal {self.pending.number} for {self.matter_code} is still "
                             "under review", field="matter_code")
        if command.kind == "new" and self.admitted:
            raise WrongOrder(f"{self.matter_code} is already admitted; propose a change",
                             field="kind")
        if command.kind != "new" and not self.admitted:
            raise WrongOrder(f"{self.matter_code} is not admitted; only a new matter can be "
                             "proposed", field="kind")
        return [MatterProposed(
            matter_code=self.matter_code, proposal_no=self.proposals + 1, kind=command.kind,
            terms=command.terms.model_dump() if command.terms else None,
            reviewers=[d.model_dump() for d in command.reviewers],
            proposed_by=command.proposed_by.model_dump(),
        )]

    def review(self, command: ReviewProposal) -> list[DomainEvent]:
        proposal = self._pending("review")
        if command.department not in proposal.reviewers:
            raise DomainError(f"{command.department} is not a reviewer of this proposal "
                              f"(reviewers: {', '.join(proposal.reviewers)})",
                              field="department")
        if command.department in proposal.reviews:
            raise WrongOrder(f"{command.department} has already reviewed this proposal",
                             field="department")
        return [ProposalReviewed(
            matter_code=self.matter_code, proposal_no=proposal.number,
            department=command.department, verdict=command.verdict, reason=command.reason,
        )]

    def decide(self, command: DecideProposal) -> list[DomainEvent]:
        proposal = self._pending("decide")
        if missing := proposal.missing_reviews():
            raise WrongOrder("the district government decides only after every review is in; "
                             f"waiting for {', '.join(missing)}", field="decision")
        if command.decision == "reject":
            return [ProposalRejected(matter_code=self.matter_code, proposal_no=proposal.number,
                                     reason=command.reason)]
        if objections := proposal.objections():
            raise WrongOrder("cannot approve over objections: " + "; ".join(objections),
                             field="decision")
        n, code = proposal.number, self.matter_code
        if proposal.kind == "new":
            return [MatterAdmitted(matter_code=code, proposal_no=n, terms=proposal.terms)]
        if proposal.kind == "change":
            return [MatterChanged(matter_code=code, proposal_no=n, terms=proposal.terms)]
        return [MatterWithdrawn(matter_code=code, proposal_no=n)]

    def _pending(self, step: str) -> Proposal:
        if self.proposals == 0:
            raise NotFound(f"no matter {self.matter_code!r}", field="matter_code")
        if self.pending is None:
            raise WrongOrder(f"nothing to {step}: no proposal for {self.matter_code} is open",
                             field="matter_code")
        return self.pending

    def place(self) -> Place:
        """Its departments: every one that proposed it, was named to review it, or hands it
        down; a department's grant covers it (the step's own department is checked apart)."""
        return Place.of(department=self.departments)

    # -- state --------------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case MatterProposed():
                self.proposals = event.proposal_no
                self.pending = Proposal(event.proposal_no, event.kind, event.terms,
                                        [d["code"] for d in event.reviewers])
                self.departments |= {event.proposed_by["code"], *self.pending.reviewers}
            case ProposalReviewed():
                assert self.pending is not None
                self.pending.reviews[event.department] = (event.verdict, event.reason)
            case ProposalRejected():
                self.pending = None
            case MatterAdmitted() | MatterChanged():
                self.terms, self.pending = event.terms, None
                self.departments.add(event.terms["department"]["code"])
            case MatterWithdrawn():
                self.terms, self.pending = None, None
