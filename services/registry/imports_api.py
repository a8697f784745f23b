"""Registry gRPC methods for 台账 imports (mixed into the servicer)."""

from __future__ import annotations

import grpc

from jinqiao.kit.grpcserver import current_principal
from jinqiao.registry import imports_service
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.imports import MemberImport
from jinqiao.registry.v1 import imports_pb2


def import_to_proto(found: MemberImport) -> imports_pb2.MemberImport:
    """The wire form of an import's progress and errors."""
    return imports_pb2.MemberImport(
        id=found.id, file_name=found.file_name, state=int(found.state), total_rows=found.total_rows,
        processed_rows=found.processed_rows, imported_rows=found.imported_rows,
        errors=[imports_pb2.ImportError(row=e.row, column=e.column, reason=e.reason) for e in found.errors],
        errors_truncated=found.errors_truncated,
    )


class ImportsApi:
    """StartMemberImport and GetMemberImport."""

    _deps: RegistryDeps

    async def StartMemberImport(
        self, request: imports_pb2.StartMemberImportRequest, context: grpc.aio.ServicerContext
    ) -> imports_pb2.StartMemberImportResponse:
        """Check and record an import, and start it in the background."""
        started = await imports_service.start_import(
            deps=self._deps, principal=current_principal(), file_name=request.file_name, fmt=request.format,
            content=request.content, request_id=request.request_id,
        )
        # "import" is a Python keyword, so the field is passed by name.
        return imports_pb2.StartMemberImportResponse(**{"import": import_to_proto(started)})

    async def GetMemberImport(
        self, request: imports_pb2.GetMemberImportRequest, context: grpc.aio.ServicerContext
    ) -> imports_pb2.GetMemberImportResponse:
        """An import's progress."""
        found = await imports_service.get_import(deps=self._deps, principal=current_principal(), import_id=request.id)
        return imports_pb2.GetMemberImportResponse(**{"import": import_to_proto(found)})
