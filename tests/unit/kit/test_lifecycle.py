"""The province's retention policy is data: loaded, validated, and refused with a message naming the kind."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jinqiao.kit import lifecycle
from jinqiao.kit.lifecycle import PolicyError, parse_policy
from jinqiao.kit.retention import RetentionPolicy
from jinqiao.kit.settings import KitSettings


def _text(*, drop: str = "", **overrides: str) -> str:
    """The shipped policy with some kinds' tables replaced (or added), or one dropped."""
    policy = lifecycle.load_policy(KitSettings())
    tables = {k: f"days = {p.days}\nfloor_days = {p.floor_days}\nbasis = \"{p.basis}\""
              for k, p in policy.kinds.items()}
    tables.update(overrides)
    tables.pop(drop, None)
    return "[schedule]\nevery_hours = 24\n" + "".join(f"\n[kinds.{k}]\n{body}\n" for k, body in tables.items())


def test_the_shipped_policy_names_every_kind_with_a_basis_and_no_period_below_its_floor():
    policy = lifecycle.load_policy(KitSettings())
    assert set(policy.kinds) == lifecycle.REQUIRED
    assert all(p.days >= p.floor_days and p.basis for p in policy.kinds.values())
    # 网络安全法 第二十一条: network logs are kept at least six months.
    assert policy.kinds["audit_rows"].floor_days >= 180
    assert policy.period("member_departed") == timedelta(days=policy.kinds["member_departed"].days)


def test_a_period_below_its_floor_is_refused_naming_the_kind_in_chinese_and_english():
    with pytest.raises(PolicyError, match="audit_rows") as refused:
        parse_policy(_text(audit_rows='days = 30\nfloor_days = 180\nbasis = "网络安全法"'))
    assert "低于法定下限" in str(refused.value) and "below its floor" in str(refused.value)


def test_an_unknown_kind_is_refused():
    with pytest.raises(PolicyError, match="未知的记录类别 parking_tickets"):
        parse_policy(_text(parking_tickets='days = 30\nfloor_days = 1\nbasis = "x"'))


def test_a_missing_kind_a_missing_basis_or_fractional_days_is_refused():
    with pytest.raises(PolicyError, match="缺少记录类别 notifications"):
        parse_policy(_text(drop="notifications"))
    with pytest.raises(PolicyError, match="basis"):
        parse_policy(_text(dead_letters='days = 90\nfloor_days = 30\nbasis = ""'))
    with pytest.raises(PolicyError, match="整数"):
        parse_policy(_text(dead_letters='days = 90.5\nfloor_days = 30\nbasis = "x"'))


def test_an_inbox_period_shorter_than_the_inbox_horizon_is_refused_and_a_longer_one_lengthens_it(tmp_path):
    short = _text(inbox_processed='days = 3\nfloor_days = 0\nbasis = "x"')
    with pytest.raises(PolicyError, match="inbox_processed"):
        parse_policy(short, inbox_horizon=timedelta(days=8))
    path = tmp_path / "retention.toml"
    path.write_text(_text(inbox_processed='days = 30\nfloor_days = 0\nbasis = "x"'), encoding="utf-8")
    policy = RetentionPolicy.from_settings(KitSettings(retention_policy_file=path))
    assert policy.inbox_horizon == timedelta(days=30)


def test_the_policy_file_is_found_through_the_environment_and_its_outbox_period_wins(tmp_path, monkeypatch):
    path = tmp_path / "province.toml"
    path.write_text(_text(outbox_sent='days = 3\nfloor_days = 1\nbasis = "运行数据"'), encoding="utf-8")
    monkeypatch.setenv("JINQIAO_RETENTION_POLICY_FILE", str(path))
    monkeypatch.setenv("JINQIAO_OUTBOX_RETENTION_SECONDS", "60")
    policy = RetentionPolicy.from_settings(KitSettings())
    assert policy.outbox == timedelta(days=3)
    assert policy.records is not None and policy.records.source == str(path)


def test_an_unreadable_policy_file_refuses_the_start(tmp_path):
    with pytest.raises(PolicyError, match="无法读取保留策略文件"):
        RetentionPolicy.from_settings(KitSettings(retention_policy_file=tmp_path / "absent.toml"))


def test_a_service_cannot_register_a_kind_the_policy_does_not_know():
    with pytest.raises(PolicyError):
        lifecycle.register(lifecycle.RecordKind(kind="everything", table="members", at="t.created_at"))
