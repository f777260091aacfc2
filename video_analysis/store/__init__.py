"""Persistence: results (MySQL or embedded SQLite), status (Redis or embedded), uploads.

Only this package talks to MySQL and Redis.
"""

from __future__ import annotations

from ..errors import SourceUnavailable
from .connect import StoreUnavailable
from .objects import ObjectStore
from .results import (
    MySQLResultStore,
    ResultStore,
    SQLiteResultStore,
    create_result_store,
    embedded_db_path,
)
from .sources import Sources
from .status import (
    TERMINAL_STATES,
    EmbeddedStatusStore,
    RedisStatusStore,
    StatusStore,
    create_status_store,
)
from .uploads import UploadStorage, sanitize_filename

__all__ = [
    "TERMINAL_STATES",
    "EmbeddedStatusStore",
    "ObjectStore",
    "MySQLResultStore",
    "RedisStatusStore",
    "ResultStore",
    "SQLiteResultStore",
    "SourceUnavailable",
    "Sources",
    "StatusStore",
    "StoreUnavailable",
    "UploadStorage",
    "create_result_store",
    "create_status_store",
    "embedded_db_path",
    "sanitize_filename",
]
