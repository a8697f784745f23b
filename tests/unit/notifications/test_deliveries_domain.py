"""Deliveries' pure rules: holds (urgent, digest, quiet hours), outcomes and back-off, the digest's text, masks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.deliveries.domain import (
    HOLD_BACKOFF,
    HOLD_DIGEST,
    HOLD_QUIET,
    MAX_ATTEMPTS,
    DigestItem,
    Status,
    after_outcome,
    backoff,
    compose_digest,
    hold_for,
    idempotency_key,
    mask_email,
    next_digest_at,
)
from jinqiao.notifications.preferences.domain import QuietHours

# 23:00 and 10:00 in Beijing on 10 December 2026.
NIGHT = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
MORNING = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)


def test_urgent_goes_now_even_in_quiet_hours_and_for_a_digested_category() -> None:
    hold = hold_for(now=NIGHT, urgent=True, digest=True, quiet_until=QuietHours().until(NIGHT),
                    digest_time=time(8, 0))
    assert hold.at == NIGHT and hold.reason == ""


def test_quiet_hours_hold_until_seven_beijing() -> None:
    hold = hold_for(now=NIGHT, urgent=False, digest=False, quiet_until=QuietHours().until(NIGHT), digest_time=None)
    assert hold.reason == HOLD_QUIET
    assert hold.at == datetime(2026, 12, 10, 23, 0, tzinfo=UTC)  # 07:00 on the 11th in Beijing


def test_outside_quiet_hours_nothing_waits() -> None:
    hold = hold_for(now=MORNING, urgent=False, digest=False, quiet_until=QuietHours().until(MORNING),
                    digest_time=None)
    assert hold.at == MORNING and hold.reason == ""


def test_a_digested_category_waits_for_the_next_digest_time() -> None:
    hold = hold_for(now=MORNING, urgent=False, digest=True, quiet_until=None, digest_time=time(8, 0))
    assert hold.reason == HOLD_DIGEST
    assert hold.at == datetime(2026, 12, 11, 0, 0, tzinfo=UTC)  # 08:00 on the 11th in Beijing


def test_next_digest_at_is_today_when_the_time_is_still_ahead() -> None:
    early = datetime(2026, 12, 9, 22, 30, tzinfo=UTC)  # 06:30 on the 10th in Beijing
    assert next_digest_at(early, time(8, 0)) == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
    assert next_digest_at(datetime(2026, 12, 10, 0, 0, tzinfo=UTC), time(8, 0)) == datetime(2026, 12, 10, 0, 0,
                                                                                               tzinfo=UTC)


def test_transient_failures_back_off_longer_each_time_then_fail() -> None:
    waits = []
    for attempts in range(1, MAX_ATTEMPTS):
        decision = after_outcome(outcome="retry", attempts=attempts, now=NIGHT, detail="451 try later")
        assert decision.status is Status.QUEUED and decision.hold_reason == HOLD_BACKOFF
        assert decision.next_attempt_at is not None
        waits.append(decision.next_attempt_at - NIGHT)
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    assert waits[0] == timedelta(seconds=30)
    last = after_outcome(outcome="retry", attempts=MAX_ATTEMPTS, now=NIGHT, detail="451 try later")
    assert last.status is Status.FAILED and last.last_error == "451 try later"


def test_a_bounce_is_final_and_a_send_is_recorded() -> None:
    assert after_outcome(outcome="bounced", attempts=1, now=NIGHT, detail="550").status is Status.BOUNCED
    assert after_outcome(outcome="sent", attempts=1, now=NIGHT, detail="").status is Status.SENT
    assert after_outcome(outcome="delivered", attempts=1, now=NIGHT, detail="").status is Status.DELIVERED


def test_backoff_is_capped_at_an_hour() -> None:
    assert backoff(30) == timedelta(hours=1)


def test_the_digest_lists_every_message_oldest_first() -> None:
    items = [DigestItem("第二条", "正文二", NIGHT + timedelta(minutes=5)), DigestItem("第一条", "正文一", NIGHT),
             DigestItem("", "只有正文\n第二行", NIGHT + timedelta(minutes=9))]
    subject, body = compose_digest(items, channel=Channel.EMAIL)
    assert "3 条" in subject and "每日摘要" in body
    assert body.index("第一条") < body.index("第二条") < body.index("只有正文")
    _, sms = compose_digest(items, channel=Channel.SMS)
    assert "正文一" not in sms and "第一条" in sms


def test_email_masks_and_keys() -> None:
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_email("broken") == "******"
    assert idempotency_key(source_key="e1", recipient="member:1", channel=Channel.EMAIL) == "e1|member:1|2"
