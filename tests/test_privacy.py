"""Masking personal data in read APIs (shared/privacy.py), with no I/O."""

import pytest

from shared.privacy import mask, masked


@pytest.mark.parametrize("value, shown", [
    ("510108198001011234", "5101**********1234"),
    ("13812345678", "1381***5678"),
    ("123456789", "1234*6789"),
    ("12345678", "********"),  # too short to keep both ends of
    ("", ""),
    (None, None),
])
def test_the_first_four_and_last_four_are_kept(value, shown):
    assert mask(value) == shown


def test_only_the_named_fields_are_masked_and_the_row_is_not_changed():
    row = {"name": "张秀英", "id_number": "510108198001011234"}
    assert masked(row, ["id_number", "phone"]) == {"name": "张秀英",
                                                   "id_number": "5101**********1234"}
    assert row["id_number"] == "510108198001011234"
