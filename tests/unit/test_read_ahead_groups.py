"""A claimed batch's invoice numbers are read in groups under the driver's parameter limit, each message's
numbers all in one group (so the database orders them among themselves as a query of that message would)."""
from __future__ import annotations

from hypothesis import given, strategies as st

from dunflow.delivery.refresh import number_groups


def test_messages_fill_groups_up_to_the_size_and_never_straddle_two() -> None:
    asked = [["a", "b"], ["b", "c"], ["d"], ["e", "f", "g", "h"], ["i"]]
    assert number_groups(asked, 3) == [["a", "b", "c"], ["d"], ["e", "f", "g", "h"], ["i"]]


@given(st.lists(st.lists(st.sampled_from([f"R-{n}" for n in range(40)]), min_size=1, max_size=12, unique=True),
                max_size=60), st.integers(min_value=1, max_value=20))
def test_every_message_is_wholly_in_one_group_and_groups_stay_small(asked: list[list[str]], size: int) -> None:
    groups = number_groups(asked, size)
    assert {n for listed in asked for n in listed} == {n for group in groups for n in group}
    for listed in asked:
        assert any(set(listed) <= set(group) for group in groups)
    for group in groups:
        assert len(group) == len(set(group))
        assert len(group) <= size or any(set(group) == set(listed) for listed in asked)
