"""How `cnncourse grade --scheduler` deals a class into tasks: `cluster.batch_sizes`."""

from __future__ import annotations

import pytest

from cnncourse.grading.cluster import MAX_BATCH, SPREAD, batch_sizes

CLASSES = [(n, workers) for n in (0, 1, 2, 7, 16, 100, 1000, 5003) for workers in (1, 2, 3, 50)]


@pytest.mark.parametrize(("count", "workers"), CLASSES)
def test_every_submission_is_in_exactly_one_batch(count, workers):
    sizes = batch_sizes(count, workers)
    assert sum(sizes) == count, f"batch_sizes({count}, {workers}) = {sizes}"
    assert all(size >= 1 for size in sizes), f"batch_sizes({count}, {workers}) = {sizes}"


@pytest.mark.parametrize(("count", "workers"), CLASSES)
def test_no_batch_is_larger_than_max_batch(count, workers):
    sizes = batch_sizes(count, workers)
    assert max(sizes, default=0) <= MAX_BATCH, f"batch_sizes({count}, {workers}) = {sizes}"


@pytest.mark.parametrize(("count", "workers"), CLASSES)
def test_batches_shrink_as_the_class_runs_out(count, workers):
    sizes = batch_sizes(count, workers)
    assert sizes == sorted(sizes, reverse=True), f"batch_sizes({count}, {workers}) = {sizes}"


@pytest.mark.parametrize(("count", "workers"), CLASSES)
def test_the_last_tasks_carry_one_submission_each(count, workers):
    """Once SPREAD x workers remain, every batch is one submission: the class ends with at
    least SPREAD x workers - 1 of them (fewer only where it has fewer submissions)."""
    sizes = batch_sizes(count, workers)
    singles = len(sizes) - next((i for i in range(len(sizes), 0, -1) if sizes[i - 1] > 1), 0)
    wanted = min(count, SPREAD * workers - 1)
    assert singles >= wanted, f"batch_sizes({count}, {workers}) = {sizes}: {singles} single"


def test_100_submissions_on_2_workers_go_in_25_tasks():
    """Worked by hand: each batch is ceil(remaining / 8), at most 8, the last seven are one."""
    expected = [8, 8, 8, 8, 8, 8, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    assert batch_sizes(100, 2) == expected


def test_one_worker_gets_batches_too():
    """Worked by hand: 20 left -> 5, 15 -> 4, 11 -> 3, 8 -> 2, 6 -> 2, then four ones."""
    assert batch_sizes(20, 1) == [5, 4, 3, 2, 2, 1, 1, 1, 1]


@pytest.mark.parametrize(
    ("count", "workers", "error", "named"),
    [
        (-1, 2, ValueError, "count=-1"),
        (10, 0, ValueError, "workers=0"),
        (10.0, 2, TypeError, "count must be an int, got float"),
        (10, "2", TypeError, "workers must be an int, got str"),
        (True, 2, TypeError, "count must be an int, got bool"),
    ],
)
def test_bad_arguments_are_refused_by_name(count, workers, error, named):
    with pytest.raises(error, match=named):
        batch_sizes(count, workers)
