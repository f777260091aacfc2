"""The names the stream processing is built from: worker roles, app ids, tables and their
changelog topics. Free of Faust (and of every agent), so the API, the CLI and the topic admin
import them without loading the stream runtime; topic names are in ``topics.py``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings


class Role(StrEnum):
    """What one worker process runs (``video-analysis worker --role``)."""

    SPLITTER = "splitter"
    QUALITY = "quality"
    FACE = "face"
    POSE = "pose"
    SPEECH = "speech"
    JOIN = "join"
    #: Every agent in one process (small deployments, tests).
    ALL = "all"


#: Every role, as the command line spells them.
WORKER_ROLES: tuple[str, ...] = tuple(role.value for role in Role)
#: The roles that run analyzers on frame batches or audio chunks.
ANALYZER_ROLES: tuple[str, ...] = (Role.QUALITY, Role.FACE, Role.POSE, Role.SPEECH)
#: The analyzer roles that keep cores busy for long (``dev`` gives each a share of them).
HEAVY_ROLES: tuple[str, ...] = (Role.FACE, Role.POSE, Role.SPEECH)
#: The roles ``dev`` runs, one process each, in the order of their metrics ports.
DEV_ROLES: tuple[str, ...] = tuple(role.value for role in Role if role is not Role.ALL)
#: The roles that run the join, and so hold its tables.
JOIN_ROLES: tuple[str, ...] = (Role.JOIN, Role.ALL)

#: The join's tables: each video's join state, and the parts received.
JOIN_TABLE = "video-joins"
PARTS_TABLE = "video-parts"
TABLES = (JOIN_TABLE, PARTS_TABLE)


def app_id_for_role(settings: Settings, role: str) -> str:
    """Each role is its own consumer group, so heavy analyzers scale on their own."""
    return f"{settings.topic_prefix}{settings.app_id}-{role}"


def changelog_topics(settings: Settings) -> list[str]:
    """Changelog topics of the Faust tables of every app id a role can run the join under."""
    return [
        f"{app_id_for_role(settings, role)}-{table}-changelog"
        for role in JOIN_ROLES
        for table in TABLES
    ]
