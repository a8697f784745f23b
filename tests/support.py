"""Test data builders shared by the test layers."""

from __future__ import annotations

import itertools
import os
import random
from datetime import date, timedelta
from pathlib import Path

import grpc
from google.rpc import error_details_pb2, status_pb2

from jinqiao.kit import pii
from jinqiao.registry.v1 import registry_pb2

_rng = random.Random()
_sequence = itertools.count(1)


def id_number(county: str = "411525") -> str:
    """A valid, session-unique ID number of someone born in the county."""
    n = next(_sequence)
    # Born 1955-1984, so that any join date used by the tests falls after the 18th birthday.
    birth = date(1955, 1, 1) + timedelta(days=(n * 37 + _rng.randrange(0, 9000)) % 10950)
    return pii.make_id_number(county, birth, _rng.randrange(0, 1000))


def wrong_check_digit(number: str) -> str:
    """The same number with a check character that cannot be right."""
    options = "0123456789X"
    return number[:17] + options[(options.index(number[17]) + 1) % len(options)]


def member_request(county: str = "411525", **overrides: object) -> registry_pb2.CreateMemberRequest:
    """A valid CreateMember request for a member of the county."""
    fields: dict[str, object] = {
        "name": "张建国", "id_number": id_number(county), "phone": "13812345678",
        "membership_status": registry_pb2.MEMBERSHIP_STATUS_FULL, "township": "陈淋子镇", "village": "新庄村",
        "occupation": "建筑工人", "join_date": "2010-07-01",
    }
    fields.update(overrides)
    return registry_pb2.CreateMemberRequest(**fields)


def member_json(county: str = "411525", **overrides: object) -> dict[str, object]:
    """A valid JSON body for POST /members."""
    body: dict[str, object] = {
        "name": "李秀英", "id_number": id_number(county), "phone": "139 0000 1234",
        "membership_status": "full", "township": "城关镇", "village": "南街社区", "occupation": "个体经营",
        "join_date": "2012-05-04",
    }
    body.update(overrides)
    return body


def field_violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    """The google.rpc.BadRequest field violations carried by a failed call."""
    for key, value in err.trailing_metadata():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return {v.field: v.description for v in bad.field_violations}
    return {}


def embedded_env(*, data: Path, keys: Path, **extra: str) -> dict[str, str]:
    """The environment of a `jinqiao up` of its own: this data and key directory, every port free (never the
    defaults, so a developer's running platform does not collide), plus ``extra`` variables."""
    from jinqiao.kit import catalog
    from jinqiao.kit.runtime.ports import free_port

    values = {**os.environ, "JINQIAO_DATA_DIR": str(data), "JINQIAO_KEY_DIR": str(keys),
              "JINQIAO_PG_PORT": str(free_port()), "JINQIAO_NATS_PORT": str(free_port()),
              "JINQIAO_NATS_MONITOR_PORT": str(free_port()), "JINQIAO_HTTP_PORT": str(free_port())}
    for entry in catalog.load():
        if entry.grpc_port:
            values[f"JINQIAO_{entry.env_name}_GRPC_PORT"] = str(free_port())
        if entry.metrics_port:
            values[f"JINQIAO_{entry.env_name}_METRICS_PORT"] = str(free_port())
    values.update(extra)
    return values
