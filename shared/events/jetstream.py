"""JetStream plumbing: stream provisioning and a pipelined, deduplicating publisher."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TypeVar

import msgspec
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, NotFoundError

from shared.events import v1
from shared.events.subjects import STREAMS, StreamDef

T = TypeVar("T")

# NATS refuses messages over the server's max_payload (1 MB by default); batches
# are cut well below it so one oversized item cannot stall a stream.
MAX_MESSAGE_BYTES = 512 * 1024
MSG_ID_HEADER = "Nats-Msg-Id"
# Headers of a dead letter: why it failed for good, and after how many deliveries.
ERROR_HEADER = "Watershed-Error"
ATTEMPTS_HEADER = "Watershed-Attempts"


def stream_config(definition: StreamDef) -> js_api.StreamConfig:
    return js_api.StreamConfig(
        name=definition.name,
        description=definition.description,
        subjects=list(definition.subjects),
        retention=js_api.RetentionPolicy(definition.retention),
        storage=js_api.StorageType.FILE,
        max_age=definition.max_age_s or None,
        max_bytes=definition.max_bytes,
        duplicate_window=definition.duplicate_window_s,
        discard=js_api.DiscardPolicy.OLD,
    )


async def ensure_streams(js: JetStreamContext, definitions: Iterable[StreamDef] = STREAMS) -> None:
    """Create every stream, or bring an existing one's settings up to date."""
    for definition in definitions:
        config = stream_config(definition)
        try:
            await js.stream_info(definition.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except BadRequestError as exc:
                # Another service created it between our look and our add.
                if getattr(exc, "err_code", None) != 10058:
                    raise
            continue
        await js.update_stream(config)


class Publisher:
    """Publishes to JetStream with bounded concurrency and waits for every ack.

    Each message carries its deterministic id as ``Nats-Msg-Id``, so a retried
    publish inside the stream's duplicate window is dropped by the server.
    """

    def __init__(self, js: JetStreamContext, *, in_flight: int = 64, timeout: float = 10.0) -> None:
        self._js = js
        self._timeout = timeout
        self._slots = asyncio.Semaphore(in_flight)
        self._pending: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None
        self.published = 0

    async def _send(self, subject: str, payload: bytes, msg_id: str) -> None:
        try:
            for attempt in range(3):
                try:
                    await self._js.publish(subject, payload, timeout=self._timeout, headers={MSG_ID_HEADER: msg_id})
                    break
                except asyncio.TimeoutError:
                    if attempt == 2:
                        raise
            self.published += 1
        except BaseException as exc:  # noqa: BLE001 - surfaced by flush()
            self._error = self._error or exc
        finally:
            self._slots.release()

    async def send(self, subject: str, event: v1.Struct, msg_id: str | None = None) -> None:
        if self._error is not None:
            raise self._error
        payload = v1.encoder.encode(event)
        await self._slots.acquire()
        task = asyncio.create_task(self._send(subject, payload, msg_id or v1.msg_id(event)))  # type: ignore[arg-type]
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


def chunk_by_size(items: Sequence[T], *, max_items: int, max_bytes: int = MAX_MESSAGE_BYTES) -> list[list[T]]:
    """Split items into lists of at most max_items whose JSON stays under max_bytes.

    An item larger than max_bytes on its own goes out alone; the embedded
    server accepts messages up to 8 MB, and the facade trims giant commit
    messages before they get here.
    """
    chunks: list[list[T]] = []
    current: list[T] = []
    size = 0
    for item in items:
        item_size = len(msgspec.json.encode(item))
        if current and (len(current) >= max_items or size + item_size > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        chunks.append(current)
    return chunks
