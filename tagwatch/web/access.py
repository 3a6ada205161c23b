"""The optional read token: pages and API need it when set; health, metrics, webhooks never.

Programs send `Authorization: Bearer <token>`. Browsers cannot add a header to a navigation,
so a page opened once with `?token=<token>` (the form at /login does that) stores it in an
HttpOnly, SameSite=Strict cookie and is redirected to the same URL without it, so the token
does not stay in the address bar or history.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from tagwatch.web.pages.render import templates

__all__ = ["COOKIE", "guard"]

COOKIE = "tagwatch_read"
#: Paths that never ask for the read token: probes, scrapes, pushes (own secrets), assets.
OPEN_PREFIXES = ("/healthz", "/readyz", "/metrics", "/webhooks/", "/static/", "/login")

_Next = Callable[[Request], Awaitable[Response]]


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _open(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in OPEN_PREFIXES)


def _local(path: str | None) -> str:
    """A path on this server to go back to; anything else (another host) becomes `/`."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def guard(app: FastAPI, token: str | None) -> None:
    """Require `token` on every page and API path of `app` (nothing when None)."""

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    def login(
        request: Request, next: str | None = None, token_: str | None = Query(None, alias="token")
    ) -> Response:
        """The token form; a right token is kept in the cookie and `next` opened."""
        if token is not None and token_ is not None and _same(token_, token):
            return _remember(request, token, _local(next))
        return _login_page(
            request,
            _local(next),
            problem="that token is not the read token" if token_ is not None else None,
            required=token is not None,
            status=401 if token_ is not None else 200,
        )

    if token is None:
        return

    @app.middleware("http")
    async def require_token(request: Request, call_next: _Next) -> Response:
        path = request.url.path
        if _open(path):
            return await call_next(request)
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(bearer.strip(), token):
            return await call_next(request)
        given = request.query_params.get("token")
        if given is not None and _same(given, token) and request.method in ("GET", "HEAD"):
            clean = request.url.remove_query_params("token")
            return _remember(
                request, token, clean.path + (f"?{clean.query}" if clean.query else "")
            )
        if _same(request.cookies.get(COOKIE), token):
            return await call_next(request)
        wrong = given is not None or bool(bearer) or COOKIE in request.cookies
        if path.startswith("/api/") or path == "/openapi.json":
            return JSONResponse(
                {"detail": "wrong read token" if wrong else "this API needs the read token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="tagwatch"'},
            )
        back = request.url.remove_query_params("token")
        return _login_page(
            request,
            _local(back.path + (f"?{back.query}" if back.query else "")),
            problem="that token is not the read token" if wrong else None,
            required=True,
            status=401,
        )


def _remember(request: Request, token: str, target: str) -> Response:
    """Keep the token in the cookie and go to `target` (a local path)."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def _login_page(
    request: Request, next_path: str, *, problem: str | None, required: bool, status: int
) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"next": next_path, "clusters": [], "problem": problem, "required": required},
        status_code=status,
        headers={"WWW-Authenticate": 'Bearer realm="tagwatch"'} if status == 401 else None,
    )
