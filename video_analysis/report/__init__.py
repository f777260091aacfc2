"""The report of one interview: a self-contained HTML page (no network, works from a file).

``render(result)`` gives the page the API serves at ``/videos/{id}/report`` and the CLI writes
with ``report`` and ``analyze --report``: key figures with their coverage and what could not be
judged, a timeline chart (server-side SVG), the transcript by speaker turn, the figures per
question and the models that produced it. A long interview gets an overview and a panel per
question (or per five minutes); the page the API serves can play the video from a time. The
page is written in Korean or English (``Reader``: the language and the time zone of its times).
"""

from __future__ import annotations

from .i18n import LANGUAGES, Reader, UnknownLanguage
from .i18n import choose as choose_language
from .render import Recording, render

__all__ = ["LANGUAGES", "Reader", "Recording", "UnknownLanguage", "choose_language", "render"]
