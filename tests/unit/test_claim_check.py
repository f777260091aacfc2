"""Results of any length on analysis-results: whole when they fit, else a compact result with a
``result_ref`` to the full one (claim check), and a send that fails is retried or shrunk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, ProducerClosed
from faust.exceptions import ProducerSendError

from tests.interviews import dense_interview, interview
from video_analysis import claim_check
from video_analysis.claim_check import COMPACT_OMITS, SUMMARY_OMITS, Message
from video_analysis.errors import ResultUnavailable
from video_analysis.schemas import AnalysisResult
from video_analysis.schemas.speech import (
    Fillers,
    Pauses,
    ResponseDelay,
    SpeakerFigures,
    WordsPerMinute,
)
from video_analysis.settings import Settings
from video_analysis.streams.delivery import deliver


def _forms(result: AnalysisResult, limit: int) -> list[Message]:
    body = claim_check.body_of(result)
    ref = claim_check.reference(result, body, object_uri=None)
    return list(claim_check.fitting(claim_check.forms(result, body, ref), limit))


def test_a_result_that_fits_is_published_whole() -> None:
    result = interview(60, questions=1)
    first = _forms(result, 900_000)[0]
    assert first.form == "inline"
    assert first.value == claim_check.body_of(result)
    assert json.loads(first.value)["result_ref"] is None


def test_a_long_interview_becomes_a_compact_result_pointing_at_the_full_one() -> None:
    result = interview(1200, questions=20)
    body = claim_check.body_of(result)
    ref = claim_check.reference(
        result, body, public_base_url="https://va.example.com/", object_uri="s3://r/x.json"
    )
    compact = next(m for m in claim_check.fitting(claim_check.forms(result, body, ref), 100_000))
    assert len(body) > 100_000 >= len(compact.value)
    assert compact.form == "compact"
    notice = AnalysisResult.model_validate_json(compact.value)  # the same schema as a result
    assert notice.result_ref is not None
    assert notice.result_ref.sha256 == hashlib.sha256(body).hexdigest()
    assert notice.result_ref.size_bytes == len(body)
    assert notice.result_ref.api_path == "/videos/iv-42/result"
    assert notice.result_ref.url == "https://va.example.com/videos/iv-42/result"
    assert notice.result_ref.object_uri == "s3://r/x.json"
    assert notice.omitted == list(COMPACT_OMITS)
    # What grows with the video is left out...
    assert notice.timeline == [] and notice.speech.segments == [] and notice.speech.turns == []
    assert notice.speech.transcript == "" and notice.face.expression.timeline == []
    # ...the key figures, the structure and the identity stay.
    assert notice.status == result.status and notice.run == result.run
    assert notice.created_at == result.created_at
    assert notice.face.coverage == result.face.coverage
    assert notice.gaze.eye_contact_ratio == result.gaze.eye_contact_ratio
    assert notice.speech.speakers.talk_ratio == result.speech.speakers.talk_ratio
    assert notice.structure == result.structure
    assert len(notice.structure.questions) == 20
    assert notice.models == result.models
    assert notice.media == result.media


def _emptied_json(node: Any, keys: list[str]) -> None:
    """The path emptied in the result's JSON, as a consumer reads the contract."""
    if not isinstance(node, dict) or not keys:
        return
    head, rest = keys[0], keys[1:]
    for key in list(node) if head == "*" else [head] if head in node else []:
        if rest:
            _emptied_json(node[key], rest)
        elif isinstance(node[key], list | str | dict):
            node[key] = type(node[key])()


@pytest.mark.parametrize("limit", [100_000, 8_000])
def test_a_smaller_form_is_the_whole_result_with_its_lists_emptied_and_nothing_else(
    limit: int,
) -> None:
    result = dense_interview(1200, questions=4)
    speech = result.speech
    assert speech.speakers is not None
    delays = [ResponseDelay(after="S2", at=3.5, delay_s=0.4)]
    speech.speakers.per_speaker["S1"] = SpeakerFigures(
        words_per_minute=WordsPerMinute(speaking=150.0, words=2800, speaking_s=1120.0),
        pauses=Pauses(
            count=40,
            mean_s=0.9,
            longest_s=3.1,
            total_s=36.0,
            long_count=6,
            per_min=2.1,
            min_pause_s=0.3,
        ),
        fillers=Fillers(method="whisper_filler_prompt"),
        first_word_s=3.5,
        response_delays=delays,
        response_delay_s=0.4,
        response_delay_basis="median_after_other_speakers",
        confidence=0.9,
    )
    speech.response_delays = delays
    body = claim_check.body_of(result)
    ref = claim_check.reference(result, body, object_uri="s3://r/x.json")
    form = next(claim_check.fitting(claim_check.forms(result, body, ref), limit))
    omits = COMPACT_OMITS if form.form == "compact" else SUMMARY_OMITS
    expected = json.loads(body)
    for path in omits:
        _emptied_json(expected, path.split("."))
    expected["result_ref"] = ref.model_dump(mode="json")
    expected["omitted"] = list(omits)
    assert json.loads(form.value) == expected
    assert claim_check.body_of(result) == body  # the result itself is left as it was


def test_a_very_low_limit_gives_a_summary_without_per_answer_lists() -> None:
    result = interview(1200, questions=20)
    summary = _forms(result, 8_000)[0]
    assert summary.form == "summary"
    notice = AnalysisResult.model_validate_json(summary.value)
    assert notice.omitted == list(SUMMARY_OMITS)
    assert notice.structure.answers == [] and notice.structure.questions == []
    assert notice.structure.talk_ratio == result.structure.talk_ratio
    assert notice.structure.answer_count == result.structure.answer_count


def test_no_form_fits_a_limit_below_the_summary() -> None:
    assert _forms(interview(1200, questions=20), 1_024) == []


def test_the_full_result_is_verified_against_the_hash_the_message_names() -> None:
    result = interview(60)
    body = claim_check.body_of(result)
    ref = claim_check.reference(result, body, object_uri=None)
    assert claim_check.verified(body, ref) == result
    newer = result.model_copy(update={"run": 1})
    assert claim_check.verified(claim_check.body_of(newer), ref) is None


def test_result_objects_are_one_per_run() -> None:
    assert claim_check.object_key("results/", "iv-42", 0) == "results/iv-42/result-run0.json"
    assert claim_check.object_key("", "iv-42", 3) == "iv-42/result-run3.json"


# --- delivery -----------------------------------------------------------------------------


class FakeBroker:
    """Answers each send with the next outcome: None (taken) or an exception to raise."""

    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[bytes] = []

    async def send(self, value: bytes) -> None:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(value)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _wrapped(exc: BaseException) -> ProducerSendError:
    """As Faust raises a client error from ``send``."""
    try:
        raise ProducerSendError(f"Error while sending: {exc!r}") from exc
    except ProducerSendError as wrapped:
        return wrapped


MESSAGES = [Message("inline", b"x" * 100), Message("compact", b"y" * 10)]


async def test_a_result_the_broker_refuses_as_too_large_goes_out_as_the_claim_check() -> None:
    broker = FakeBroker(_wrapped(MessageSizeTooLargeError()))
    clock = Clock()
    delivery = await deliver(
        broker.send, MESSAGES, video_id="v", patience_s=60, sleep=clock.sleep, clock=clock
    )
    assert (delivery.form, delivery.tries, delivery.error) == ("compact", 2, None)
    assert broker.sent == [b"y" * 10]
    assert clock.slept == []  # no point waiting to send the same too-large message


async def test_a_broker_that_comes_back_gets_the_result_after_retries() -> None:
    broker = FakeBroker(KafkaConnectionError(), _wrapped(KafkaConnectionError()), None)
    clock = Clock()
    delivery = await deliver(
        broker.send, MESSAGES, video_id="v", patience_s=60, sleep=clock.sleep, clock=clock
    )
    assert (delivery.form, delivery.tries) == ("inline", 3)
    assert clock.slept == [0.5, 1.0]


async def test_a_broker_down_longer_than_the_patience_finalises_with_a_code() -> None:
    broker = FakeBroker(*[KafkaConnectionError()] * 100)
    clock = Clock()
    delivery = await deliver(
        broker.send, MESSAGES, video_id="v", patience_s=30, sleep=clock.sleep, clock=clock
    )
    assert delivery.form is None
    assert delivery.error is not None and delivery.error.code == "result_not_delivered"
    assert sum(clock.slept) <= 30
    assert broker.sent == []


async def test_no_form_that_fits_finalises_with_a_code_without_sending() -> None:
    broker = FakeBroker()
    delivery = await deliver(broker.send, [], video_id="v", patience_s=30)
    assert delivery.form is None and delivery.tries == 0
    assert delivery.error is not None and delivery.error.code == "result_not_delivered"


async def test_every_form_refused_finalises_with_a_code() -> None:
    broker = FakeBroker(MessageSizeTooLargeError(), MessageSizeTooLargeError())
    delivery = await deliver(broker.send, MESSAGES, video_id="v", patience_s=30)
    assert delivery.form is None and delivery.tries == 2
    assert delivery.error is not None and "MessageSizeTooLarge" in delivery.error.message


async def test_a_worker_shutting_down_does_not_finalise_the_video() -> None:
    broker = FakeBroker(_wrapped(ProducerClosed()))
    with pytest.raises(ProducerSendError):
        await deliver(broker.send, MESSAGES, video_id="v", patience_s=30)


async def test_submit_wait_resolves_a_claim_check_from_the_result_store(tmp_path: Path) -> None:
    from video_analysis.store import create_result_store
    from video_analysis.streams.client import full_result

    settings = Settings(data_dir=tmp_path, upload_root=tmp_path / "uploads")
    result = interview(600, questions=10)
    body = claim_check.body_of(result)
    ref = claim_check.reference(result, body, object_uri=None)
    compact = _forms(result, 50_000)[0]
    notice = AnalysisResult.model_validate_json(compact.value)
    store = create_result_store(settings)
    await store.start()
    try:
        await store.save_result(result)
        assert await full_result(settings, notice) == result
        # The store now holds another run's result: not the one the message names.
        await store.save_result(result.model_copy(update={"run": 1}))
        with pytest.raises(ResultUnavailable, match=ref.sha256[:12]):
            await full_result(settings, notice)
    finally:
        await store.close()
