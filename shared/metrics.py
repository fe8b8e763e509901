"""Prometheus metrics. One registry per process; every series carries a ``service`` label,
so the six services of ``watershed up`` share one ``/metrics`` without clashing."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.jobs = self._counter("jobs_total", "Jobs handled, by phase and outcome", ("phase", "outcome"))
        self.job_seconds = self._histogram("job_duration_seconds", "Job wall time", ("phase",))
        self.events_published = self._counter("events_published_total", "Messages published to JetStream", ("kind",))
        self.forge_requests = self._counter("forge_requests_total", "HTTP requests to forge APIs", ("platform", "host"))
        self.rows_written = self._counter("rows_written_total", "Rows upserted by the processor", ("entity",))
        self.messages_applied = self._counter("messages_applied_total", "Staged messages handled", ("outcome",))
        self.batch_seconds = self._histogram("batch_duration_seconds", "Processor batch commit time", ())
        self.dispatched = self._counter("jobs_dispatched_total", "Jobs dispatched by the scheduler", ("phase",))
        self.up = self._gauge("up", "1 while the service runs and is connected", ())
        # Clones: a total and a distribution, never a series per repository (100k repositories
        # would be 100k series per replica on every scrape).
        self.clone_bytes = self._gauge("facade_clone_bytes", "Disk bytes of the bare clones this replica synced", ())
        self.clone_size = self._histogram("facade_clone_size_bytes", "Disk bytes of a bare clone after a sync", (),
                                          buckets=tuple(float(4**k * 2**18) for k in range(10)))  # 256 KiB..64 GiB

    def _counter(self, name: str, doc: str, labels: tuple[str, ...]) -> Counter:
        return Counter(f"watershed_{name}", doc, ("service", *labels), registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
        return Gauge(f"watershed_{name}", doc, ("service", *labels), registry=self.registry)

    def _histogram(self, name: str, doc: str, labels: tuple[str, ...],
                   buckets: tuple[float, ...] = Histogram.DEFAULT_BUCKETS) -> Histogram:
        return Histogram(f"watershed_{name}", doc, ("service", *labels), registry=self.registry, buckets=buckets)
