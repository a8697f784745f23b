"""Insights settings (prefix ``JINQIAO_INSIGHTS_``); built in ``server.py``, never at import."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jinqiao.insights.domain import SUPPRESSION_THRESHOLD


class InsightsSettings(BaseSettings):
    """How aggregates for scopes wider than a county are published."""

    model_config = SettingsConfigDict(env_prefix="JINQIAO_INSIGHTS_", extra="ignore")

    # Counts of 1 … threshold − 1 persons are hidden (shown as "<3"); 2 is the least that still hides a person.
    suppression_threshold: int = Field(default=SUPPRESSION_THRESHOLD, ge=2)
