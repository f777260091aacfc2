"""Small generated media for tests: ffmpeg lavfi sources and espeak-ng speech.

Everything is a few seconds at most 320x240 so the suite stays fast. Encoders run
single-threaded with bit-exact flags so that the same call gives the same file.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Literal

AudioKind = Literal["sine", "speech", "silence", "noise"]

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
ESPEAK = shutil.which("espeak-ng") or "/usr/bin/espeak-ng"

SPEECH_TEXT = (
    "Thank you for the question. In my last role I led a small team that rebuilt our "
    "billing system. We shipped it in three months and cut support tickets by half."
)

# (default video codec, default audio codec) per container extension.
CODECS: dict[str, tuple[str, str]] = {
    ".mp4": ("libx264", "aac"),
    ".mov": ("libx264", "aac"),
    ".mkv": ("libx264", "libopus"),
    ".webm": ("libvpx-vp9", "libopus"),
    ".m4a": ("", "aac"),
    ".mp3": ("", "libmp3lame"),
    ".wav": ("", "pcm_s16le"),
    ".flac": ("", "flac"),
    ".ogg": ("", "libopus"),
}

VIDEO_OPTIONS: dict[str, list[str]] = {
    "libx264": ["-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x264-params", "threads=1"],
    "libvpx-vp9": ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-threads", "1"],
    "libvpx": ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-threads", "1"],
    "mpeg4": ["-q:v", "4"],
}


def run_ffmpeg(args: list[str]) -> None:
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")


def make_speech_wav(path: Path, text: str = SPEECH_TEXT, voice: str = "en") -> Path:
    """A mono WAV of ``text`` spoken by espeak-ng (22.05 kHz, about 3 words per second)."""
    path = Path(path)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(
        [ESPEAK, "-v", voice, "-s", "160", "-w", str(path), text],
        check=True,
        capture_output=True,
        env=env,
    )
    return path


def make_clip(
    path: Path,
    *,
    duration: float = 3.0,
    size: tuple[int, int] = (320, 240),
    fps: float = 25,
    video: bool = True,
    audio: AudioKind | None = "sine",
    vcodec: str | None = None,
    acodec: str | None = None,
    face: bool = False,
    pattern: str = "testsrc",
    brightness: float = 1.0,
    blur: int = 0,
    audio_gain_db: float = 0.0,
    sine_freq: float = 440.0,
    rotate: int | None = None,
    sample_rate: int = 48_000,
    channels: int = 1,
) -> Path:
    """Generate a clip with ffmpeg; the container follows the extension of ``path``.

    - ``pattern``: an ffmpeg lavfi video source (``testsrc`` moves; ``smptebars`` is static,
      so it reads as a frozen video). ``face=True`` uses skimage's astronaut photo when
      scikit-image is installed, else falls back to ``pattern``.
    - ``brightness``: gain on luma (0.15 gives a dark clip, 1.0 leaves it as is).
    - ``blur``: box blur radius in pixels (0 = sharp).
    - ``audio``: a 440 Hz tone (about -21 dBFS), espeak-ng speech padded with silence,
      digital silence, white noise, or None for no audio track.
    - ``audio_gain_db``: gain applied to the audio (+20 dB on the tone clips it).
    - ``rotate``: written as the display matrix (``rotate`` tag), so players turn the picture.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    default_v, default_a = CODECS.get(ext, ("libx264", "aac"))
    width, height = size
    inputs: list[str] = []
    maps: list[str] = []
    n_inputs = 0

    if video:
        source = _video_source(path, pattern, face, width, height, fps, duration)
        inputs += source
        # Fit and pad, never stretch: a camera keeps a face's proportions, and a face squeezed
        # to 16:9 is missed by MediaPipe's full-range detector.
        filters = [
            f"scale={width}:{height}:force_original_aspect_ratio=decrease",
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2",
        ]
        if brightness != 1.0:
            filters.append(f"lutyuv=y='clip(val*{brightness:.4f},0,255)'")
        if blur > 0:
            filters.append(f"boxblur={int(blur)}:2")
        filters.append("format=yuv420p")
        maps += ["-map", f"{n_inputs}:v", "-vf", ",".join(filters)]
        codec = vcodec or default_v or "libx264"
        maps += ["-c:v", codec, *VIDEO_OPTIONS.get(codec, []), "-r", f"{fps}"]
        n_inputs += 1

    if audio is not None:
        inputs += _audio_source(path, audio, duration, sample_rate, sine_freq)
        afilters = [
            f"aformat=sample_rates={sample_rate}:channel_layouts="
            f"{'mono' if channels == 1 else 'stereo'}"
        ]
        if audio == "speech":
            afilters.append("apad")
        if audio_gain_db:
            # In 16-bit the gain saturates at full scale, as an overdriven microphone
            # input does; in float it would just pass values above 1.0 to the encoder.
            afilters += ["aformat=sample_fmts=s16", f"volume={audio_gain_db}dB:precision=fixed"]
        codec = acodec or default_a
        maps += ["-map", f"{n_inputs}:a", "-af", ",".join(afilters), "-c:a", codec]
        if codec in ("aac", "libopus", "libmp3lame"):
            maps += ["-b:a", "96k"]
        n_inputs += 1

    if ext in (".mp4", ".mov", ".m4a"):
        maps += ["-movflags", "+faststart"]
    target = path.with_name(path.stem + ".unrotated" + path.suffix) if rotate else path
    run_ffmpeg(
        [
            *inputs,
            *maps,
            "-t",
            f"{duration}",
            "-fflags",
            "+bitexact",
            "-flags",
            "+bitexact",
            str(target),
        ]
    )
    if rotate:
        # ffmpeg 5 only turns the ``rotate`` tag into a display matrix when stream-copying.
        run_ffmpeg(
            [
                "-i",
                str(target),
                "-map",
                "0",
                "-c",
                "copy",
                "-metadata:s:v:0",
                f"rotate={int(rotate)}",
                str(path),
            ]
        )
        target.unlink()
    return path


def _video_source(
    path: Path, pattern: str, face: bool, width: int, height: int, fps: float, duration: float
) -> list[str]:
    if face:
        image = _astronaut_png(path.parent)
        if image is not None:
            return ["-loop", "1", "-framerate", f"{fps}", "-t", f"{duration}", "-i", str(image)]
    return ["-f", "lavfi", "-i", f"{pattern}=size={width}x{height}:rate={fps}:duration={duration}"]


def _astronaut_png(folder: Path) -> Path | None:
    try:
        import cv2
        from skimage import data  # type: ignore[import-not-found]
    except ImportError:
        return None
    out = folder / "astronaut.png"
    if not out.exists():
        cv2.imwrite(str(out), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return out


def _audio_source(
    path: Path, audio: AudioKind, duration: float, sample_rate: int, sine_freq: float
) -> list[str]:
    if audio == "sine":
        spec = f"sine=frequency={sine_freq}:sample_rate={sample_rate}:duration={duration}"
    elif audio == "silence":
        spec = f"anullsrc=channel_layout=mono:sample_rate={sample_rate}"
    elif audio == "noise":
        spec = (
            f"anoisesrc=color=white:amplitude=0.3:seed=42:sample_rate={sample_rate}"
            f":duration={duration}"
        )
    elif audio == "speech":
        wav = make_speech_wav(path.with_name(path.stem + ".speech.wav"))
        return ["-i", str(wav)]
    else:
        raise ValueError(f"unknown audio kind {audio!r}")
    return ["-f", "lavfi", "-i", spec]


def make_corrupt(path: Path, size: int = 64_000, seed: int = 7) -> Path:
    """A file that starts like an MP4 (an ``ftyp`` box) and continues with random bytes."""
    rng = random.Random(seed)
    header = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    Path(path).write_bytes(header + rng.randbytes(size - len(header)))
    return Path(path)


def make_truncated(source: Path, path: Path, keep: float = 0.5) -> Path:
    """A copy of ``source`` cut after ``keep`` of its bytes, as an interrupted upload is."""
    data = Path(source).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep)])
    return Path(path)


def make_text_as_mp4(path: Path) -> Path:
    """A plain text file with a video extension."""
    Path(path).write_text("This is not a video, just a note someone renamed to .mp4.\n" * 20)
    return Path(path)


def make_crop(
    source: Path, path: Path, *, box: tuple[int, int, int, int], size: tuple[int, int]
) -> Path:
    """The video of ``source`` cut to ``box`` (x, y, w, h in its pixels) and scaled to ``size``
    (w, h), without audio: a closer shot of the same recording."""
    x, y, w, h = box
    return _refilter(source, path, f"crop={w}:{h}:{x}:{y},scale={size[0]}:{size[1]}")


def make_inset(
    source: Path, path: Path, *, scale: float, size: tuple[int, int], at: tuple[int, int]
) -> Path:
    """The video of ``source`` shrunk by ``scale`` on a grey frame of ``size`` (w, h), its
    corner at ``at`` (x, y), without audio: the same recording seen from farther away."""
    pad = f"pad={size[0]}:{size[1]}:{at[0]}:{at[1]}:color=gray"
    return _refilter(source, path, f"scale=iw*{scale}:-2,{pad}")


def _refilter(source: Path, path: Path, video_filter: str) -> Path:
    """``source``'s video through an ffmpeg filter, re-encoded bit-exactly, without audio."""
    codec = CODECS.get(Path(path).suffix.lower(), ("libx264", ""))[0] or "libx264"
    run_ffmpeg(
        [
            "-i",
            str(source),
            "-vf",
            f"{video_filter},format=yuv420p",
            "-an",
            "-c:v",
            codec,
            *VIDEO_OPTIONS.get(codec, []),
            "-fflags",
            "+bitexact",
            "-flags",
            "+bitexact",
            str(path),
        ]
    )
    return Path(path)


def make_glance(
    source: Path, path: Path, *, aside: tuple[float, float], share: float, there_and_back: bool
) -> Path:
    """``source``'s video (a face looking at the camera, hardly moving), played forward and,
    with ``there_and_back``, backward again, its irises moved sideways by ``share`` of the
    eye's width from ``aside[0]`` to ``aside[1]`` seconds; without audio. The same face
    looking away for a known span: moving the irises inside the eye openings is what looking
    aside does to a frontal face. The eyes are found once, on the first frame, with
    MediaPipe Face Mesh."""
    import cv2
    import mediapipe as mp
    import numpy as np

    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if there_and_back:
        frames += frames[::-1]
    height, width = frames[0].shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        found = mesh.process(cv2.cvtColor(frames[0], cv2.COLOR_BGR2RGB)).multi_face_landmarks
    if not found:
        raise ValueError(f"{source}: no face to move the eyes of")
    points = np.array([(p.x * width, p.y * height) for p in found[0].landmark])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    mask = np.zeros((height, width), dtype=bool)
    map_x = xs.copy()
    for outer, inner in ((33, 133), (362, 263)):  # the eyes' corners
        a, b = points[outer], points[inner]
        eye_width = float(np.linalg.norm(b - a))
        cx, cy = (a + b) / 2
        inside = ((xs - cx) / (0.5 * eye_width)) ** 2 + ((ys - cy) / (0.3 * eye_width)) ** 2 <= 1
        mask |= inside
        map_x[inside] -= share * eye_width
    out = Path(path)
    encoder = subprocess.Popen(
        [FFMPEG, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24"]
        + ["-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-", "-an", "-c:v", "libx264"]
        + [*VIDEO_OPTIONS["libx264"], "-fflags", "+bitexact", "-flags", "+bitexact", str(out)],
        stdin=subprocess.PIPE,
    )
    assert encoder.stdin is not None
    for k, frame in enumerate(frames):
        if aside[0] <= k / fps < aside[1]:
            moved = cv2.remap(frame, map_x, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            frame = np.where(mask[..., None], moved, frame)
        encoder.stdin.write(np.ascontiguousarray(frame).tobytes())
    encoder.stdin.close()
    if encoder.wait() != 0:
        raise RuntimeError(f"ffmpeg could not write {out}")
    return out
