"""The web pages for the four roles, served by the coordinator (docs/web.md).

Plain HTML, one small CSS file and ES modules with no build step and no third-party code: what an expert's
seat, an operator's console or a supervisor's laptop loads is exactly what is in ``static/``. The pages speak
only the public API (``/api/v1``) and its websockets, with the caller's own token, so they can do nothing a
script with the same token could not; every rule stays on the server.
"""

from pathlib import Path

STATIC = Path(__file__).parent / "static"
PAGES = {"": "index.html", "expert": "expert.html", "operator": "operator.html", "supervisor": "supervisor.html",
         "admin": "admin.html"}
"""URL path (under /) → the page's file in ``static/``."""

__all__ = ["PAGES", "STATIC"]
