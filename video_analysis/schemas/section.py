"""What every section of the result has: coverage, confidence, and why it could not judge."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from .reasons import Reason


class Section(BaseModel):
    """Every section says how much of the video it saw and whether it could judge at all."""

    model_config = ConfigDict(extra="allow")

    coverage: float = Field(0.0, ge=0, le=1, description="Share of the input the section saw.")
    confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="How far the section's figures can be trusted, 0..1; 0.0 when it could "
        "not judge (``cannot_assess`` set).",
    )
    cannot_assess: str | None = Field(
        None, description="Null, or a short reason why the section could not be judged."
    )
    cannot_assess_reason: Reason | None = Field(
        None,
        description="The same reason by its stable code and values (null with cannot_assess, "
        "and in results made before codes), for wording it in another language.",
    )

    @classmethod
    def not_assessed(cls, reason: Reason, **fields: Any) -> Self:
        """The section with no figures, and why: coverage and confidence 0."""
        return cls(
            coverage=0.0,
            confidence=0.0,
            cannot_assess=reason.english,
            cannot_assess_reason=reason,
            **fields,
        )

    def cannot(self, reason: Reason | None) -> None:
        """Says why the section cannot be judged (nothing when ``reason`` is None)."""
        if reason is not None:
            self.cannot_assess = reason.english
            self.cannot_assess_reason = reason
