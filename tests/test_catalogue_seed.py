"""Pure unit tests of the reform's matter catalogue (services/intake/catalogue_seed.py)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from services.intake.catalogue_seed import (
    CATEGORIES,
    DOCUMENT_COUNTS,
    SOURCED_CATEGORIES,
    SOURCED_MATTERS,
    counts,
    materials_table,
    reform_catalogue,
)
from services.intake.commands import ProposeMatter

#: The category names the 2012 document quotes, per level.
DOCUMENT_CATEGORY_NAMES = {
    "street": {"民政事务", "社会保险", "计划生育"},
    "community": {"住房保障", "教育文体", "综治维稳"},
}


@pytest.fixture(scope="module")
def catalogue() -> list[ProposeMatter]:
    return reform_catalogue()


def _by_level(catalogue: list[ProposeMatter]) -> dict[str, list[ProposeMatter]]:
    grouped: dict[str, list[ProposeMatter]] = defaultdict(list)
    for proposal in catalogue:
        grouped[proposal.terms.level].append(proposal)
    return grouped


@pytest.mark.parametrize(("level", "categories", "items"),
                         [("street", 9, 77), ("community", 9, 75)])
def test_level_counts_match_the_document(catalogue, level, categories, items):
    matters = _by_level(catalogue)[level]
    assert len(matters) == items
    assert len({m.terms.category.code for m in matters}) == categories
    assert DOCUMENT_COUNTS[level] == (categories, items)
    assert counts()[level] == (categories, items)


def test_district_level_matters_exist(catalogue):
    assert _by_level(catalogue)["district"]
    assert set(_by_level(catalogue)) == {"street", "community", "district"}


def test_matter_codes_are_unique_and_prefixed_by_level(catalogue):
    codes = [p.matter_code for p in catalogue]
    assert len(codes) == len(set(codes))
    prefix = {"street": "st.", "community": "cm.", "district": "dt."}
    for proposal in catalogue:
        assert proposal.matter_code.startswith(prefix[proposal.terms.level])


def test_every_proposal_is_a_valid_new_matter(catalogue):
    for proposal in catalogue:
        assert proposal.kind == "new"
        assert proposal.terms is not None
        assert ProposeMatter.model_validate(proposal.model_dump()) == proposal


def test_documented_categories_present_and_sourced(catalogue):
    by_level = _by_level(catalogue)
    for level, names in DOCUMENT_CATEGORY_NAMES.items():
        sourced = SOURCED_CATEGORIES[level]
        assert {CATEGORIES[code].name_zh for code in sourced} == names
        present = {m.terms.category.code for m in by_level[level]}
        assert set(sourced) <= present
    assert SOURCED_CATEGORIES["district"] == ()


def test_matters_are_sourced_only_when_the_document_names_them(catalogue):
    assert SOURCED_MATTERS == frozenset()  # the document names categories, not matters
    for proposal in catalogue:
        assert proposal.terms.sourced == (proposal.matter_code in SOURCED_MATTERS)


def test_every_matter_has_reviewers_materials_and_a_proposer(catalogue):
    for proposal in catalogue:
        terms = proposal.terms
        assert 1 <= len(proposal.reviewers) <= 3
        assert 1 <= len(terms.materials) <= 5
        reviewer_codes = [d.code for d in proposal.reviewers]
        assert len(reviewer_codes) == len(set(reviewer_codes))
        assert proposal.proposed_by.code not in reviewer_codes
        assert proposal.proposed_by == terms.department
        assert 1 <= terms.time_limit_days <= 30


def test_materials_come_from_the_shared_table(catalogue):
    table = materials_table()
    for proposal in catalogue:
        for material in proposal.terms.materials:
            assert table[material.code] == material


def test_names_are_non_empty_in_both_languages(catalogue):
    for proposal in catalogue:
        terms = proposal.terms
        named = [terms, terms.category, terms.department, proposal.proposed_by,
                 *proposal.reviewers, *terms.materials]
        for item in named:
            assert item.name_zh.strip() and item.name_en.strip()
            assert any("\u4e00" <= ch <= "\u9fff" for ch in item.name_zh)
            assert item.name_en.isascii()


def test_is_deterministic(catalogue):
    assert reform_catalogue() == catalogue
    assert [p.matter_code for p in reform_catalogue()] == [p.matter_code for p in catalogue]
