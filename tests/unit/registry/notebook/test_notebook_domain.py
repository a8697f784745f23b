"""Notebook rules without a database: 双向评议."""

from __future__ import annotations

from jinqiao.registry.notebook import domain as notebook


def test_the_merged_grade_is_the_lower_once_both_sides_are_in():
    assert notebook.merged_grade(0, 0) == (0, False)
    assert notebook.merged_grade(1, 0) == (1, False)
    assert notebook.merged_grade(1, 3) == (3, True)
    assert notebook.merged_grade(2, 1) == (2, True)
