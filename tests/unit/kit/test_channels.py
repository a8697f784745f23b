"""The channels' service config: gRPC retries UNAVAILABLE on reads and de-duplicated writes only (kit/channels.py)."""

from __future__ import annotations

import json

import grpc
import pytest

from jinqiao.kit import catalog, channels


def _descriptors():
    return [channels.service_descriptor(e.proto_service, stub=e.stub) for e in catalog.grpc_services()
            if e.proto_service and e.stub]


def _retried(config: dict) -> set[tuple[str, str]]:
    return {(n["service"], n["method"]) for mc in config["methodConfig"] for n in mc["name"]}


def test_reads_are_named_by_their_verb_and_a_check_in_is_a_write():
    assert channels.is_read("GetMember") and channels.is_read("ListFlows") and channels.is_read("SearchOrgs")
    assert channels.is_read("GetCheckInCode")
    assert not channels.is_read("CheckInMembership") and not channels.is_read("CheckInByCode")
    assert not channels.is_read("CreateOrg") and not channels.is_read("Getaway")  # a verb, not a prefix of a word


def test_the_config_retries_reads_and_request_id_writes_of_every_catalogued_service():
    descriptors = _descriptors()
    config = channels.service_config(descriptors)
    retried = _retried(config)
    every = {(s.full_name, m.name) for s in descriptors for m in s.methods}
    assert retried <= every
    registry, orgs = "jinqiao.registry.v1.RegistryService", "jinqiao.organizations.v1.OrganizationsService"
    # Reads, found in the descriptors rather than listed by hand.
    assert {(registry, "GetMember"), (registry, "ListMembers"), (orgs, "SearchOrgs"), (orgs, "GetCheckInCode"),
            ("jinqiao.insights.v1.InsightsService", "GetMemberCounts")} <= retried
    # Writes the registry de-duplicates by request id.
    assert {(registry, "CreateMember"), (registry, "RegisterFlow"), (registry, "CreateApplicant"),
            (registry, "StartMemberImport")} <= retried
    # Writes without a request id are never repeated by the channel.
    assert not {(registry, "UpdateMember"), (registry, "ReturnFlow"), (orgs, "CreateOrg"),
                (orgs, "CheckInMembership"), (orgs, "CheckInByCode")} & retried
    for service, method in retried:
        descriptor = next(s for s in descriptors if s.full_name == service)
        m = descriptor.methods_by_name[method]
        assert channels.is_read(method) or "request_id" in m.input_type.fields_by_name, method


def test_the_policy_is_unavailable_only_five_attempts_and_never_waits_for_ready():
    config = channels.service_config(_descriptors())
    for method_config in config["methodConfig"]:
        assert method_config["retryPolicy"] == {
            "maxAttempts": 5, "initialBackoff": "0.5s", "maxBackoff": "5s", "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"]}
        assert "waitForReady" not in method_config
    assert config["retryThrottling"]["maxTokens"] > 0


def test_channel_options_enable_retries_and_carry_the_config():
    options = dict(channels.channel_options(_descriptors()))
    assert options["grpc.enable_retries"] == 1
    assert _retried(json.loads(options["grpc.service_config"]))
    assert options["grpc.max_reconnect_backoff_ms"] <= 5000
    # No service: retries stay on for transparent retries, but no method policy is configured.
    assert "grpc.service_config" not in dict(channels.channel_options())
    assert channels.service_config([]) == {}


@pytest.mark.asyncio
async def test_grpc_accepts_the_config():
    # An invalid service config makes every call fail; a call to nothing must fail only as UNAVAILABLE.
    from jinqiao.insights.v1 import insights_pb2, insights_pb2_grpc
    from jinqiao.kit.runtime.ports import free_port

    descriptor = channels.service_descriptor("jinqiao.insights.v1.InsightsService",
                                             stub="jinqiao.insights.v1.insights_pb2_grpc:InsightsServiceStub")
    async with channels.open_channel(f"127.0.0.1:{free_port()}", services=[descriptor]) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await insights_pb2_grpc.InsightsServiceStub(channel).GetFlowMatrix(insights_pb2.GetFlowMatrixRequest(),
                                                                               timeout=0.5)
    assert raised.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
