"""Speech: transcript with word timestamps, fluency, filler words, voice and speakers.

Recognition is faster-whisper (CTranslate2) on the shipped base model, int8 on CPU and float16
on a GPU, with its bundled Silero VAD so that silence is skipped, not transcribed. One module
per job: ``analyzer`` (the Analyzer the agents run), ``transcript`` (segments, hallucinations,
stitching), ``fluency``, ``fillers``, ``praat`` (pitch, jitter, shimmer and harmonics-to-noise
ratio of a chunk, with Praat), ``voice`` (level, and the voice figures per speaker and video)
and ``speakers``.
"""

from .analyzer import SpeechAnalyzer

__all__ = ["SpeechAnalyzer"]
