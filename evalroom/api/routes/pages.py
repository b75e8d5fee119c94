"""The web pages (evalroom/web): each page's HTML at its path, its scripts and styles under ``/static``.

A page holds no data and needs no token: it asks the API for everything with the token its user logs in with.
Every page is sent with a Content-Security-Policy that allows only this origin's scripts, styles, media and
connections (no inline script, no third party), and may not be framed. The one other place a page may connect to
is the seat's local signer on loopback (``seat_signer_url``), which holds the expert's key; ``GET
/api/v1/web/config`` tells the pages where it is.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from evalroom.api.deps import Ctx
from evalroom.config import Settings
from evalroom.web import PAGES, STATIC

router = APIRouter(include_in_schema=False)
config_router = APIRouter(tags=["pages"])


def headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                                   f"media-src 'self' blob:; connect-src 'self' {settings.seat_signer_url}; "
                                   "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def _page(file: str):  # noqa: ANN202 - a route handler
    def serve(ctx: Ctx) -> FileResponse:
        return FileResponse(STATIC / file, media_type="text/html; charset=utf-8", headers=headers(ctx.settings))

    return serve


for path, file in PAGES.items():
    router.add_api_route(f"/{path}", _page(file), methods=["GET"], name=f"page:{path or 'index'}")


@config_router.get("/web/config", summary="What the pages need to know of this deployment (public)")
def web_config(ctx: Ctx) -> dict[str, str]:
    return {"seat_signer_url": ctx.settings.seat_signer_url}
