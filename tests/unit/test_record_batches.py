"""How new messages are split into recording batches (intake.pipeline.record_batch_sizes)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from intake.pipeline import RECORD_BATCH, record_batch_sizes


@given(count=st.integers(min_value=0, max_value=20_000))
def test_every_message_is_in_one_batch_and_no_batch_is_over_the_size(count: int) -> None:
    sizes = record_batch_sizes(count)

    assert count == sum(sizes)
    assert all(0 < size <= RECORD_BATCH for size in sizes)


def test_a_long_poll_starts_and_ends_with_small_batches_and_is_full_sized_between() -> None:
    sizes = record_batch_sizes(2000)

    assert [12, 24, 48] == sizes[:3]
    assert [48, 24, 12] == sizes[-3:]
    assert RECORD_BATCH == max(sizes)
    assert 25 == len(sizes)


def test_a_few_messages_are_one_batch() -> None:
    assert [7] == record_batch_sizes(7)
    assert [] == record_batch_sizes(0)
