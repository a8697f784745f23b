"""Desk gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.desk import service
from jinqiao.desk.v1 import desk_pb2_grpc


class DeskServicer(desk_pb2_grpc.DeskServiceServicer):
    """jinqiao.desk.v1.DeskService."""

    def __init__(self, deps: service.DeskDeps) -> None:
        self._deps = deps
