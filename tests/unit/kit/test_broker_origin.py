"""The kit's consumer refuses a message whose subject names another producer than the stream's."""

from __future__ import annotations

import pytest

from jinqiao.kit import broker


def test_the_subjects_service_must_be_the_streams_producer():
    broker._check_producer("jinqiao.411525.organizations.checked_in", "organizations")
    for subject in ("jinqiao.411525.registry.checked_in", "jinqiao.411525.organizations", "x.411525.a.b.c"):
        with pytest.raises(broker.PoisonMessage):
            broker._check_producer(subject, "organizations")


def test_each_login_reads_its_replies_under_its_own_prefix():
    assert broker.inbox_prefix("registry") == "_INBOX_registry" and broker.inbox_prefix("") == "_INBOX"
    built = broker.build_broker(url="nats://127.0.0.1:1", name="t", user="insights", password="p")
    assert broker._inbox_of(built) == "_INBOX_insights"
