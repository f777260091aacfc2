"""An upload's metadata as the platform gives it: one reading for the API's form and the CLI."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from .errors import InvalidMetadata
from .schemas import VideoMetadata


def read_metadata(text: str | None, **fields: str | None) -> VideoMetadata:
    """The metadata of an upload: the JSON object ``text`` (none when empty), with ``fields``
    given apart (an upload's form fields, the command line's options) winning over the same
    keys inside it. InvalidMetadata says what is wrong, every problem at once."""
    data: dict[str, Any] = {}
    if text:
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise InvalidMetadata(f"metadata is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise InvalidMetadata("metadata must be a JSON object")
        data.update(parsed)
    data.update({name: value for name, value in fields.items() if value})
    try:
        return VideoMetadata.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidMetadata(f"metadata is invalid: {problems}") from exc
