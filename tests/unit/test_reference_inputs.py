"""The inputs of the conversion checks are made twice: by the scripts that ran PyTorch once to
write the references (``scripts/*_reference.py``, which need PyTorch and are never imported
here) and by the package at install time. Their functions are taken out of the scripts' source
and run side by side with the package's, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from video_analysis.models import campplus, segmentation_check

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def script_functions(name: str, functions: set[str]) -> dict[str, Callable[..., Any]]:
    """``functions`` and the module-level constants of ``scripts/name``, defined with numpy
    alone (the script's other imports are not run)."""
    tree = ast.parse((SCRIPTS / name).read_text())
    keep = [
        node
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name in functions)
        or (
            isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)
        )
    ]
    assert {n.name for n in keep if isinstance(n, ast.FunctionDef)} == functions
    namespace: dict[str, Any] = {"np": np, "__name__": "reference_script"}
    exec(compile(ast.Module(body=keep, type_ignores=[]), name, "exec"), namespace)
    return {name: namespace[name] for name in functions}


@pytest.mark.parametrize("case", [0, 1])
def test_segmentation_reference_signal_is_the_scripts(case: int) -> None:
    script = script_functions("segmentation_reference.py", {"_gate", "_voice", "reference_signal"})
    np.testing.assert_array_equal(
        script["reference_signal"](case), segmentation_check.reference_signal(case)
    )


@pytest.mark.parametrize("frames", [148, 350])
def test_campplus_reference_features_are_the_scripts(frames: int) -> None:
    script = script_functions("campplus_reference.py", {"reference_features", "reference_signal"})
    np.testing.assert_array_equal(
        script["reference_features"](frames), campplus.reference_features(frames)
    )
    np.testing.assert_array_equal(script["reference_signal"](2.5), campplus.reference_signal(2.5))
