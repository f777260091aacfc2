"""Gaze, head pose, blinks, posture and gestures: the pose role.

``analyzer`` measures each sampled frame; one module per result section (``gaze``,
``head_pose``, ``blinks``, ``posture``, ``gestures``) builds that section over the video.
"""

from .analyzer import PoseAnalyzer

__all__ = ["PoseAnalyzer"]
