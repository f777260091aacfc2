"""The report's words as its catalogue has them, and what a reader of a page sees: for the tests
that walk the catalogue over a Korean page (no English string left) and an English one."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from video_analysis.report.i18n import DOMAIN, LOCALE_DIR

#: A field of a message: {name}, {name:.0%} or %(name)s.
FIELD = re.compile(r"\{[a-z_]+(?::[^}]*)?\}|%\([a-z_]+\)s")
#: An English word of at least three letters.
WORD = re.compile(r"[A-Za-z]{3,}")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def template() -> Catalog:
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as fh:
        return read_po(fh)


def catalogue(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
        return read_po(fh, locale=language)


def fields(text: str) -> set[str]:
    return set(FIELD.findall(text))


@dataclass(frozen=True)
class Left:
    """An English piece of a message found on a page that should have had it translated."""

    message: str
    piece: str


def english_left(page: str, language: str = "ko") -> list[Left]:
    """The pieces of the catalogue's English messages that a reader of ``page`` still sees
    (text, text alternatives, titles, the script's and the style's strings), leaving out what
    the page quotes rather than words: the transcript's words and the models' names. A piece
    the translation keeps as it is (Hz, FACS, m:ss) is not English left over."""
    seen = visible(page)
    translated = catalogue(language)
    left = []
    for message in template():
        if not message.id or not isinstance(message.id, str):
            continue
        own = translated.get(message.id)
        kept = own.string if own is not None and isinstance(own.string, str) else ""
        for piece in FIELD.split(message.id):
            piece = piece.strip(" .,;:()–-\n")
            if not WORD.search(piece) or piece in kept:
                continue
            # Not inside an identifier (an error code, a part's key: unreadable_media,
            # face:frames:3), which the page quotes as it is.
            if re.search(rf"(?<![\w:-]){re.escape(piece)}(?![\w:-])", seen):
                left.append(Left(message.id, piece))
    return left


def visible(page: str) -> str:
    """What a reader of the page can see or hear, one piece a line."""
    reader = _Visible()
    reader.feed(page)
    return "\n".join(reader.pieces)


class _Visible(HTMLParser):
    #: Attributes a reader meets: screen readers read labels, browsers show titles.
    SPOKEN = ("aria-label", "title", "alt", "placeholder")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skip = 0  # inside the transcript's words or the models' rows
        self._stack: list[str] = []
        self._in = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        quoted = (tag == "p" and self._stack and self._stack[-1] == "turn") or (
            tag == "tbody" and self._in == "models"
        )
        if tag == "div":
            self._stack.append("turn" if "turn" in (named.get("class") or "").split() else "div")
        elif tag == "table" and named.get("id") == "models":
            self._in = "models"
        elif tag in ("script", "style"):
            self._in = tag
        if quoted:
            self._skip += 1
        if not self._skip:
            self.pieces += [html.unescape(v) for k, v in attrs if k in self.SPOKEN and v]

    def handle_endtag(self, tag: str) -> None:
        if self._skip and tag in ("p", "tbody"):
            self._skip -= 1
        elif tag == "div" and self._stack:
            self._stack.pop()
        elif tag in ("script", "style", "table"):
            self._in = ""

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in == "script":  # its messages (words with spaces), not its CSS values
            self.pieces += [
                text for text in re.findall(r'"((?:[^"\\]|\\.)*)"', data) if " " in text
            ]
        elif self._in == "style":
            self.pieces += re.findall(r'content:\s*"((?:[^"\\]|\\.)*)"', data)
        elif data.strip():
            self.pieces.append(data)


def hangul(text: str) -> bool:
    return bool(HANGUL.search(text))
