"""Analysis: dependency manifests, libyear, code size per language (not implemented yet; see PendingPhaseWorker)."""

from __future__ import annotations

from shared.events import subjects
from shared.metrics import Metrics
from shared.settings import Settings
from shared.worker import PendingPhaseWorker


class Analysis(PendingPhaseWorker):
    name = "analysis"
    phase = subjects.PHASE_ANALYSIS
    source = subjects.SOURCE_ANALYSIS


def create_app(settings: Settings, metrics: Metrics | None = None) -> Analysis:
    return Analysis(settings, metrics or Metrics())
