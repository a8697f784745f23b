"""``/api/docs``: Swagger UI served from this origin (the ``swagger-ui-py`` wheel's dist files), no CDN.

The page runs no inline script, so it works under the gateway's same-origin Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import swagger_ui
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from jinqiao.gateway import idempotency

DIST = Path(swagger_ui.__file__).parent / "static"
PREFIX = "/api/docs"

_PAGE = f"""<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>金桥 Jinqiao API</title>
  <link rel="stylesheet" href="{PREFIX}/swagger-ui.css">
  <link rel="icon" href="data:,">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{PREFIX}/swagger-ui-bundle.js"></script>
  <script src="{PREFIX}/init.js"></script>
</body>
</html>
"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""

_ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}


def install(app: FastAPI) -> None:
    """Serve the docs page, its initialiser and the two Swagger UI files it loads; add the idempotency header."""

    @app.get(PREFIX, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_PAGE)

    @app.get(f"{PREFIX}/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_INIT, media_type="text/javascript")

    for name, media in _ASSETS.items():
        app.add_api_route(f"{PREFIX}/{name}", _asset(DIST / name, media), include_in_schema=False, methods=["GET"])

    # The Idempotency-Key header is read by a middleware, not by each route: document it on every unsafe operation.
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = idempotency.document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _asset(path: Path, media: str) -> Callable[[], Awaitable[FileResponse]]:
    async def serve() -> FileResponse:
        return FileResponse(path, media_type=media)

    return serve
