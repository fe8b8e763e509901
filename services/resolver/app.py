"""Resolver: maps commit emails to platform accounts (not implemented yet; see PendingPhaseWorker)."""

from __future__ import annotations

from shared.events import subjects
from shared.metrics import Metrics
from shared.settings import Settings
from shared.worker import PendingPhaseWorker


class Resolver(PendingPhaseWorker):
    name = "resolver"
    phase = subjects.PHASE_RESOLVER
    source = subjects.SOURCE_IDENTITY


def create_app(settings: Settings, metrics: Metrics | None = None) -> Resolver:
    return Resolver(settings, metrics or Metrics())
