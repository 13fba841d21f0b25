"""Writes held by tessera.write_batch: one round trip, and never a stale read."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from tessera import write_batch
from tessera.timers.models import Timer


def timer(owner: str) -> Timer:
    from django.utils import timezone

    return Timer(purpose="test.noop", due_at=timezone.now(), owner=owner, payload={"n": 1})


@pytest.mark.django_db
def test_outside_a_batch_rows_are_written_at_once_with_their_id():
    row = timer("a")
    write_batch.insert(row)
    assert row.pk and Timer.objects.get(pk=row.pk).payload == {"n": 1}
    row.owner = "b"
    write_batch.update(row, ["owner"])
    assert Timer.objects.get(pk=row.pk).owner == "b"
    assert write_batch.execute("DELETE FROM timers_timer WHERE owner = %s", ["b"]) == 1


@pytest.mark.django_db
def test_a_batch_sends_its_writes_together_at_the_end():
    with (
        CaptureQueriesContext(connection) as queries,
        transaction.atomic(),
        write_batch.batch(),
    ):
        for owner in ("a", "b", "c"):
            write_batch.insert(timer(owner))
        assert write_batch.execute("DELETE FROM timers_timer WHERE owner = %s", ["b"]) is None
        sent_inside = len(queries.captured_queries)
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SAVEPOINT")]
    if connection.vendor == "postgresql":
        assert len([w for w in writes if "timers_timer" in w]) == 1  # one round trip
    assert sent_inside <= 1  # only the savepoint went out inside the block
    assert sorted(Timer.objects.values_list("owner", flat=True)) == ["a", "c"]


@pytest.mark.django_db
def test_a_read_inside_the_batch_sees_the_writes_before_it():
    with transaction.atomic(), write_batch.batch():
        write_batch.insert(timer("seen"))
        assert Timer.objects.filter(owner="seen").count() == 1
        row = Timer.objects.get(owner="seen")
        row.owner = "moved"
        write_batch.update(row)
        with write_batch.batch():  # nested: joins the outer batch
            write_batch.execute("UPDATE timers_timer SET attempts = 7 WHERE owner = %s", ["moved"])
        assert Timer.objects.get(owner="moved").attempts == 7


@pytest.mark.django_db(transaction=True)
def test_a_failing_held_write_fails_the_block_and_its_transaction_rolls_back():
    with pytest.raises(IntegrityError), transaction.atomic(), write_batch.batch():
        write_batch.insert(timer("kept-out"))
        write_batch.execute("INSERT INTO timers_timer (id) VALUES (NULL)")  # NOT NULL columns
    assert not Timer.objects.exists()
    assert not write_batch.holding()
