"""The report in its reader's language: words from gettext catalogues (Babel), numbers,
durations and dates as the reader's locale writes them, times in the reader's time zone.

The page's words are English message ids (``_("Key figures")``) wherever they are written:
the template (Jinja2's i18n extension), the figures, the charts. ``make catalogs`` extracts
them into ``locale/messages.pot`` and merges that into each language's ``messages.po``; the
package compiles a ``.po`` when it first renders in that language (nothing compiled is kept in
the repository). A message a catalogue lacks reads in English.

Rendering sets the reader for its thread of work (``reading``); ``_`` and the formatters below
read it, so the page's modules need no language argument.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, dates, numbers, units
from babel.lists import format_list

from ..schemas.reasons import N_, Reason, words

#: The languages the report is written in; English is the catalogue's source.
LANGUAGES = ("en", "ko")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

#: Words of the result that the page shows as they are: expression labels, action units,
#: states, rules. Marked here so that they are in the catalogue.
VOCABULARY = (
    N_("angry"),
    N_("disgust"),
    N_("fear"),
    N_("happy"),
    N_("sad"),
    N_("surprise"),
    N_("neutral"),
    N_("inner and outer brow raiser"),
    N_("brow lowerer"),
    N_("upper lid raiser"),
    N_("nose wrinkler"),
    N_("upper lip raiser"),
    N_("lip corner puller"),
    N_("lip corner depressor"),
    N_("lip stretcher"),
    N_("jaw drop"),
    N_("complete"),
    N_("partial"),
    N_("failed"),
    N_("median_after_other_speakers"),
    N_("from_video_start"),
    N_("from_question_start"),
)


class UnknownLanguage(ValueError):
    """A report language this service does not write."""

    def __init__(self, language: str) -> None:
        super().__init__(
            f"the report is written in {', '.join(LANGUAGES)}; {language!r} is not one of them"
        )
        self.language = language


@dataclass(frozen=True)
class Reader:
    """Who reads the page: the language it is written in and the time zone of its times."""

    language: str = DEFAULT_LANGUAGE
    timezone: str = "UTC"

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


_reader: ContextVar[Reader] = ContextVar("report_reader", default=Reader())  # noqa: B039 - frozen


@contextmanager
def reading(reader: Reader) -> Iterator[Reader]:
    """Words and formats of ``reader`` for the work inside the block."""
    token = _reader.set(reader)
    try:
        yield reader
    finally:
        _reader.reset(token)


def current() -> Reader:
    return _reader.get()


def _(message: str) -> str:
    """``message`` in the reader's language."""
    return translations(current().language).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n``, in the reader's language."""
    return translations(current().language).ngettext(singular, plural, n)


def reason(why: Reason) -> str:
    """A reason of the result (a ``cannot_assess``, a reliability note) in the reader's words."""
    return words(why, _)


def num(value: float, digits: int = 0) -> str:
    """``value`` with ``digits`` decimals, as the reader's locale writes numbers."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(value, format=pattern, locale=current().locale)


def signed(value: float, digits: int = 0) -> str:
    """``value`` with its sign (+3, −3, 0)."""
    text = num(abs(value), digits)
    return text if round(value, digits) == 0 else ("+" if value > 0 else "−") + text


def pct(value: float | None) -> str:
    """A share 0..1 as a whole percentage; "–" for none."""
    if value is None:
        return "–"
    return numbers.format_percent(value, format="#,##0%", locale=current().locale)


def duration(seconds: float) -> str:
    """A length of time in words: 12 sec, 1 min 5 sec / 12초, 1분 5초 (whole seconds)."""
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    locale = current().locale
    parts = [
        units.format_unit(value, unit, length="short", locale=locale)
        for value, unit in (
            (hours, "duration-hour"),
            (minutes, "duration-minute"),
            (secs, "duration-second"),
        )
        if value
    ] or [units.format_unit(0, "duration-second", length="short", locale=locale)]
    return format_list(parts, style="unit-narrow", locale=locale)


def seconds(value: float, digits: int = 1) -> str:
    """A short span in seconds with decimals: 1.5 s / 1.5초."""
    return units.format_unit(
        round(value, digits),
        "duration-second",
        length="short",
        format="#,##0" + ("." + "0" * digits if digits else ""),
        locale=current().locale,
    )


def moment(value: datetime) -> str:
    """A date and time in the reader's time zone, naming the zone: Dec 7, 2026 3:05 PM
    (Korean Standard Time) / 2026. 12. 7. 오후 3:05 (한국 표준시)."""
    reader = current()
    local = value.astimezone(reader.zone)
    day = dates.format_date(local, "medium", locale=reader.locale)
    return f"{day} {time_of_day(value)}"


def time_of_day(value: datetime) -> str:
    """A time of day in the reader's time zone, naming the zone."""
    reader = current()
    at = dates.format_time(value, "short", tzinfo=reader.zone, locale=reader.locale)
    zone = dates.format_time(value, "zzzz", tzinfo=reader.zone, locale=reader.locale)
    return f"{at} ({zone})"


def language_name(code: str) -> str:
    """A language's name in the reader's language (Korean / 한국어), the code if unknown."""
    try:
        name = Locale.parse(code).get_display_name(current().locale)
    except (ValueError, TypeError, LookupError):
        return code
    return name or code


def choose(
    asked: str | None,
    accept_language: str | None,
    setting: str | None,
    video_language: str | None,
) -> str:
    """The page's language: the one asked for (``?lang=``, ``--lang``), else the best of the
    reader's Accept-Language, else the setting, else the video's own language when the report
    is written in it, else English. An asked language the report is not written in is an
    error; a header's or the video's is passed over."""
    if asked:
        code = asked.strip().lower()
        if code not in LANGUAGES:
            raise UnknownLanguage(asked)
        return code
    for code in accepted(accept_language or ""):
        if code in LANGUAGES:
            return code
    if setting:
        return setting
    if video_language and video_language in LANGUAGES:
        return video_language
    return DEFAULT_LANGUAGE


def accepted(header: str) -> list[str]:
    """The primary language codes of an Accept-Language header, most wanted first (RFC 9110:
    ``ko-KR,ko;q=0.9,en;q=0.8``); those with q=0 left out."""
    ranked: list[tuple[float, int, str]] = []
    for k, item in enumerate(header.split(",")):
        tag, _sep, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        code = tag.strip().split("-")[0].lower()
        if code and code != "*" and q > 0:
            ranked.append((-q, k, code))
    return [code for _q, _k, code in sorted(ranked)]


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (compiled from its ``.po`` on first use); for
    English, the message ids themselves."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    if language not in LANGUAGES:
        raise UnknownLanguage(language)
    return compile_catalogue(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", language)


def compile_catalogue(po: Path, language: str) -> gettext.GNUTranslations:
    """A ``.po`` compiled in memory as ``pybabel compile`` would (fuzzy entries left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalogue = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
