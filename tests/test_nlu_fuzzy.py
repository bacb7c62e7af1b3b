"""One-edit typo tolerance, shared by flows and the opt-out and data-rights commands."""

from __future__ import annotations

import pytest

from aman.engine.optout import is_opt_out
from aman.nlu.fuzzy import one_edit_apart
from aman.privacy.commands import command_of


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("besar", "besar"),  # equal
        ("besra", "besar"),  # neighbours swapped
        ("besat", "besar"),  # one changed
        ("bsar", "besar"),  # one dropped, in the middle
        ("besar", "besarr"),  # one added at the end
        ("xbesar", "besar"),  # one added at the start
        ("", "a"),
    ],
)
def test_one_edit_apart(a: str, b: str) -> None:
    assert one_edit_apart(a, b) and one_edit_apart(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("besar", "bayar"),  # two changed
        ("abcde", "cdeab"),
        ("besar", "beras"),  # two apart by a swap that is not of neighbours
        ("bsr", "besar"),  # two dropped
        ("berhenti", "hentiber"),
        ("ab", "ba c"),
    ],
)
def test_more_than_one_edit(a: str, b: str) -> None:
    assert not one_edit_apart(a, b) and not one_edit_apart(b, a)


def test_commands_forgive_one_typo_of_any_kind_in_long_enough_phrases() -> None:
    # A swap of neighbours counts as one typo for STOP as it does in flows.
    assert is_opt_out("berhneti") and is_opt_out("BERHENTI") and is_opt_out("unsb")
    assert command_of("hapsu data saya") == "erasure"
    # Four-letter phrases are only recognised exactly.
    assert not is_opt_out("stpo") and not is_opt_out("sotp")
