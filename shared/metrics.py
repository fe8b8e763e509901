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
        # Polled from JetStream (consumer info), each service for the consumers it reads.
        self.consumer_pending = self._gauge("consumer_pending_messages",
                                            "Messages not yet delivered to the consumer (its lag)", ("consumer",))
        self.consumer_ack_pending = self._gauge("consumer_ack_pending_messages",
                                                "Messages delivered and not yet acknowledged (in flight)", ("consumer",))
        # Polled by the scheduler: jobs waiting or running per phase, and dead letters kept.
        self.queue_depth = self._gauge("queue_depth", "Jobs in the work queue (waiting + in flight), by phase",
                                       ("phase",))
        self.dead_letters = self._gauge("dead_letters", "Messages kept in the DEADLETTER stream", ())
        self.dead_lettered = self._counter("dead_lettered_total", "Messages this service sent to dead letters", ())
        # The collector's token pools, by API server, masked token label and rate-limit bucket.
        self.quota_remaining = self._gauge("quota_remaining", "Requests (or GraphQL points) left until the reset",
                                           ("server", "token", "bucket"))
        self.quota_reset = self._gauge("quota_reset_timestamp_seconds", "When the quota of a token and bucket resets",
                                       ("server", "token", "bucket"))
        # The REST API and dashboard, by route template (never the raw path) and status.
        self.http_requests = self._counter("http_requests_total", "HTTP requests served, by route template",
                                           ("route", "method", "status"))
        self.http_seconds = self._histogram("http_request_duration_seconds", "HTTP request time, by route template",
                                            ("route",))

    def _counter(self, name: str, doc: str, labels: tuple[str, ...]) -> Counter:
        return Counter(f"watershed_{name}", doc, ("service", *labels), registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
        return Gauge(f"watershed_{name}", doc, ("service", *labels), registry=self.registry)

    def _histogram(self, name: str, doc: str, labels: tuple[str, ...],
                   buckets: tuple[float, ...] = Histogram.DEFAULT_BUCKETS) -> Histogram:
        return Histogram(f"watershed_{name}", doc, ("service", *labels), registry=self.registry, buckets=buckets)
