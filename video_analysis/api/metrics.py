"""The API's Prometheus metrics: uploads by outcome and request latency by route."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """Per-app registry, so several apps (tests) never clash on metric names."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            "video_analysis_uploads",
            "Uploads to POST /analyze-video by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "video_analysis_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def time_requests(self, app: FastAPI) -> None:
        """Observe every request's latency under its route's path template."""

        @app.middleware("http")
        async def _time_requests(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            started = time.perf_counter()
            status_code = 500
            try:
                response = await call_next(request)
                status_code = response.status_code
                return response
            finally:
                route = request.scope.get("route")
                path = getattr(route, "path", "unmatched")
                self.latency.labels(request.method, path, str(status_code)).observe(
                    time.perf_counter() - started
                )
