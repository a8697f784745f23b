"""Tickets: the moves between states, numbers, reopening windows and what a member sees."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from jinqiao.desk.tickets.domain import (
    CommentKind,
    Move,
    TicketStatus,
    WrongState,
    move,
    reopen_until,
    text_problem,
    ticket_number,
    visible_to_member,
)


@pytest.mark.parametrize(("start", "action", "end"), [
    (TicketStatus.NEW, Move.ACCEPT, TicketStatus.ACCEPTED),
    (TicketStatus.ACCEPTED, Move.START, TicketStatus.IN_PROGRESS),
    (TicketStatus.IN_PROGRESS, Move.REQUEST_INFO, TicketStatus.AWAITING_INFO),
    (TicketStatus.ACCEPTED, Move.REQUEST_INFO, TicketStatus.AWAITING_INFO),
    (TicketStatus.AWAITING_INFO, Move.RESUME, TicketStatus.IN_PROGRESS),
    (TicketStatus.IN_PROGRESS, Move.RESOLVE, TicketStatus.RESOLVED),
    (TicketStatus.AWAITING_INFO, Move.CLOSE, TicketStatus.CLOSED),
    (TicketStatus.RESOLVED, Move.RATE, TicketStatus.REVIEWED),
    (TicketStatus.REVIEWED, Move.REOPEN, TicketStatus.IN_PROGRESS),
])
def test_allowed_moves(start, action, end):
    assert move(start, action) is end


@pytest.mark.parametrize(("start", "action"), [
    (TicketStatus.NEW, Move.RESOLVE), (TicketStatus.NEW, Move.START), (TicketStatus.RESOLVED, Move.CLOSE),
    (TicketStatus.CLOSED, Move.REOPEN), (TicketStatus.IN_PROGRESS, Move.RATE), (TicketStatus.ACCEPTED, Move.ACCEPT),
    (TicketStatus.AWAITING_INFO, Move.RESOLVE),
])
def test_a_wrong_move_names_the_state_in_chinese(start, action):
    with pytest.raises(WrongState) as exc:
        move(start, action)
    assert "工单当前为" in exc.value.message


def test_ticket_number_is_county_date_and_sequence():
    assert ticket_number("650410", date(2026, 12, 1), 7) == "650410-20261201-0007"


def test_reopen_until_is_resolution_plus_days_or_none():
    at = datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert reopen_until(at, 15) == at + timedelta(days=15)
    assert reopen_until(at, 0) is None


def test_a_member_never_sees_notes_or_internal_acts():
    assert not visible_to_member("comment", CommentKind.NOTE)
    assert not visible_to_member("assigned", 0)
    assert not visible_to_member("sla_breached", 0)
    assert visible_to_member("comment", CommentKind.REPLY)
    assert visible_to_member("accepted", 0)


def test_text_bounds():
    assert text_problem("a", low=2, high=60, label="标题") == "标题：至少2个字"
    assert text_problem("", low=1, high=60, label="内容") == "内容：必填"
    assert text_problem("x" * 61, low=2, high=60, label="标题") == "标题：不能超过60个字"
    assert text_problem("讨薪求助", low=2, high=60, label="标题") is None
