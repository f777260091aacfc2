"""Every error answer in one place: its body, its handlers, and how routes document it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Route

from ..errors import VideoAnalysisError
from ..schemas.api import ErrorBody

ERROR_SCHEMA = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}

#: What each error status means on this API, for /openapi.json.
MEANINGS: dict[int, str] = {
    401: "unauthorized: no API key, or one this service does not know "
    "(send X-API-Key or Authorization: Bearer).",
    403: "forbidden: the key lacks the scope this route needs.",
    404: "unknown_video: no video with this id.",
    409: "The video is not in a state for this (see the code).",
    410: "deleted: the video was erased.",
    413: "upload_too_large: the body is over the upload limit.",
    415: "unsupported_media_type: not a video file or not a video container.",
    422: "The request is invalid (see the code: invalid_request, invalid_metadata, ...).",
    503: "A store or the broker does not answer: retry later.",
}


class ApiError(VideoAnalysisError):
    """A 4xx/5xx answer with a code that is not one of the domain errors."""

    def __init__(self, message: str, *, code: str, http_status: int) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, **extra}


def answers(*statuses: int, **meanings: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can answer ``statuses`` with an ``ErrorBody``;
    ``meanings`` (``e409="..."``) words one status for this route."""
    # Not ``model=``: FastAPI would document the body in the route's own media type (the
    # report's text/html), while errors are always JSON.
    return {
        status: {
            "description": meanings.get(f"e{status}", MEANINGS[status]),
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for status in statuses
    }


#: Every route behind a key, and every route reading a store, can answer these.
KEYED = (401, 403, 422, 503)


def install_error_handlers(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """Every error body is ``{"error": {"code", "message"}}``, whoever raised it; a 405
    names the methods that ``routes`` serve on the path."""

    @app.exception_handler(VideoAnalysisError)
    async def _domain_error(request: Request, exc: VideoAnalysisError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.http_status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse(error_body("invalid_request", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route on the path; a path served
            # by several routes (GET and DELETE /videos/{id}) allows all of theirs.
            headers["Allow"] = ", ".join(_allowed_methods(routes, request))
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
        )


def _allowed_methods(routes: Sequence[BaseRoute], request: Request) -> list[str]:
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)
