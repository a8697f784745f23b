"""Registry gRPC methods for 台账 imports (mixed into the servicer): unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.imports import service
from jinqiao.registry.imports.domain import MemberImport
from jinqiao.registry.v1 import imports_pb2


def import_to_proto(found: MemberImport) -> imports_pb2.MemberImport:
    """The wire form of an import's progress and errors."""
    return imports_pb2.MemberImport(
        id=found.id, file_name=found.file_name, state=imports_pb2.ImportState.ValueType(found.state),
        total_rows=found.total_rows,
        processed_rows=found.processed_rows, imported_rows=found.imported_rows,
        errors=[imports_pb2.ImportError(row=e.row, column=e.column, reason=e.reason) for e in found.errors],
        errors_truncated=found.errors_truncated, error_count=found.error_count,
        phase=imports_pb2.ImportPhase.ValueType(int(found.phase)),
    )


class ImportsApi:
    """StartMemberImport, GetMemberImport and GetImportTemplate."""

    _deps: RegistryDeps

    async def StartMemberImport(
        self, request: imports_pb2.StartMemberImportRequest, context: Context
    ) -> imports_pb2.StartMemberImportResponse:
        """Check and record an import, and start it in the background."""
        started = await service.start_import(
            deps=self._deps, principal=current_principal(), file_name=request.file_name, fmt=request.format,
            content=request.content, request_id=request.request_id,
        )
        # "import" is a Python keyword, so the field is passed by name.
        return imports_pb2.StartMemberImportResponse(**{"import": import_to_proto(started)})

    async def GetMemberImport(
        self, request: imports_pb2.GetMemberImportRequest, context: Context
    ) -> imports_pb2.GetMemberImportResponse:
        """An import's progress."""
        found = await service.get_import(deps=self._deps, principal=current_principal(), import_id=request.id)
        return imports_pb2.GetMemberImportResponse(**{"import": import_to_proto(found)})

    async def GetImportTemplate(
        self, request: imports_pb2.GetImportTemplateRequest, context: Context
    ) -> imports_pb2.GetImportTemplateResponse:
        """The template's columns and the file size limit."""
        template = service.import_template()
        return imports_pb2.GetImportTemplateResponse(
            columns=[imports_pb2.ImportColumn(field=c.field, label=c.label, required=c.required)
                     for c in template.columns],
            max_file_bytes=template.max_file_bytes,
        )
