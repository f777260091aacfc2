"""The rows a result holds one of per word or per second of the video.

They are slotted pydantic dataclasses, not models: validated and serialised alike (the same JSON
and schema), but a model's per-instance ``__dict__``, fields-set and extras made a word about
1.5 KB in memory, and an hour holds ten thousand words twice (in the transcript and in the
timeline) and a row per second three times; the join building an hour's result and the API
reading one for its report held 57 MiB of them. A row keeps no unknown key: a reader of an
older version drops a field a newer writer added to a row (sections keep theirs as extras).
"""

from __future__ import annotations

from pydantic import ConfigDict

#: The configuration of a result's row type: unknown keys are ignored, not refused, so an
#: older reader still reads a newer writer's result.
RESULT_ROW = ConfigDict(extra="ignore")
