"""AlertService.Subscribe as an iterator that never delivers an event twice and never skips one,
across reconnects and (with a cursor file) across restarts of the subscriber."""

import collections
import os
import random
import tempfile
import threading
import time

from . import errors, v1
from .errors import ConfigurationError

# Stream failures after which the subscription reconnects: vigild restarting or shutting down,
# the connection lost, or a reader cut off after 30 s without accepting anything.
RECONNECT_ON = (errors.Unavailable,)


class CursorFile:
    """The last alert-event sequence a subscriber has finished with, in a file of one decimal
    number. Written atomically (a temporary file, fsync, rename), so a crash leaves the old or
    the new value, never a torn one."""

    def __init__(self, path):
        self.path = os.path.abspath(path)

    def load(self):
        """The stored sequence; None when the file does not exist."""
        try:
            with open(self.path) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        try:
            value = int(text)
            if value < 0:
                raise ValueError
        except ValueError:
            raise ConfigurationError(f"cursor file {self.path}: {text[:40]!r} is not a sequence "
                                     f"number") from None
        return value

    def store(self, sequence):
        directory = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(prefix=".cursor.", dir=directory)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(f"{sequence}\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class AlertSubscription:
    """Iterates over AlertEvents of AlertService.Subscribe.

        with client.subscribe_alerts(cursor_file="alerts.cursor", filters={"team": "north"}) as s:
            for event in s:
                handle(event)

    Where it starts: after the sequence in cursor_file when the file exists; else after
    `resume_after` (default 0: every event from the beginning), or, with start_at_head=True,
    at the next new event.

    Exactly once: each event is delivered once, in sequence order. When the stream fails with
    UNAVAILABLE (vigild restarting, the connection lost) it reconnects with backoff and resumes
    after the last event delivered; an event at or before that is dropped. Other failures
    (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, OUT_OF_RANGE...) are raised, and so
    is TlsHandshakeFailed: a CA or certificate that is wrong stays wrong.

    The cursor file holds the last event the consumer has finished with: asking for the next
    event commits the previous one, as does leaving the `with` block normally, close() and
    commit(). So after a crash while handling event N, the next run starts with N again; after a
    clean stop, with N + 1. Without cursor_file the position lives only in this object
    (last_sequence).

    reconnect_timeout: give up (raise Unavailable) after this many seconds without a stream
    (default None: keep trying). max_backoff: the longest wait between attempts (seconds).
    on_reconnect(error, attempt, delay) is called before each wait. close() may be called from
    another thread: the iteration then ends.

    batches=True reads AlertService.SubscribeBatches instead (several events to a message; for
    a system that takes every event of a force, it costs far less per event in a burst). The
    events, their order, the cursor and the guarantees are the same."""

    def __init__(self, client, *, cursor_file=None, resume_after=None, filters=None,
                 digest_every_hours=0, start_at_head=False, purpose=None, reconnect=True,
                 reconnect_timeout=None, max_backoff=5.0, on_reconnect=None, batches=False):
        self._client = client
        self._batches = bool(batches)
        self._pending = collections.deque()  # events of the batch being delivered
        self._cursor = CursorFile(cursor_file) if cursor_file else None
        stored = self._cursor.load() if self._cursor else None
        if stored is not None:
            self._position, self._at_head = stored, False
        else:
            self._position, self._at_head = int(resume_after or 0), bool(start_at_head)
        self._committed = stored
        self._filters = filters
        self._digest = digest_every_hours
        self._purpose = purpose
        self._reconnect = reconnect
        self._reconnect_timeout = reconnect_timeout
        self._max_backoff = max_backoff
        self._on_reconnect = on_reconnect
        self._stream = None
        self._lock = threading.Lock()
        self._closed = False
        self._delivered = None  # sequence of the event handed out last, not yet committed
        self.reconnects = 0

    @property
    def last_sequence(self):
        """The sequence of the last event delivered (or where the subscription starts)."""
        return self._position

    def __iter__(self):
        return self

    def __next__(self):
        self.commit()
        failing_since, attempt = None, 0
        while True:
            if self._closed:
                raise StopIteration
            try:
                if self._stream is None:
                    self._open()
                event = self._next_event()
            except StopIteration:
                # The server ended the stream without a status error: reconnect and resume.
                self._stream = None
                error = errors.Unavailable("the alert stream ended",
                                           rpc="vigil.v1.AlertService/Subscribe")
            except errors.TlsHandshakeFailed:
                raise  # a wrong CA or certificate: retrying cannot help
            except RECONNECT_ON as e:
                self._stream = None
                error = e
            except errors.Cancelled:
                if self._closed:
                    raise StopIteration from None
                raise
            else:
                if event.type != v1.ALERT_EVENT_TYPE_DIGEST and event.sequence <= self._position:
                    continue  # already delivered before a reconnect
                self._position = max(self._position, event.sequence)
                self._delivered = self._position
                return event
            if self._closed:
                raise StopIteration
            if not self._reconnect:
                raise error
            now = time.monotonic()
            failing_since = failing_since or now
            timeout = self._reconnect_timeout
            if timeout is not None and now - failing_since > timeout:
                raise error
            attempt += 1
            delay = min(self._max_backoff, 0.05 * 2 ** min(attempt, 10)) * random.uniform(0.5, 1.0)
            if self._on_reconnect:
                self._on_reconnect(error, attempt, delay)
            time.sleep(delay)
            self.reconnects += 1

    def _next_event(self):
        if not self._batches:
            return next(self._stream)
        while not self._pending:
            self._pending.extend(next(self._stream).events)
        return self._pending.popleft()

    def _open(self):
        rpc = self._client.alerts.SubscribeBatches if self._batches else self._client.alerts.Subscribe
        request_type = v1.SubscribeBatchesRequest if self._batches else v1.SubscribeRequest
        request = request_type(resume_after_sequence=self._position,
                               start_at_head=self._at_head,
                               digest_every_hours=self._digest)
        if self._filters is not None:
            request.filters.CopyFrom(rpc.request(filters=self._filters).filters)
        # What a stream that failed had not delivered comes again on the next, after _position.
        self._pending.clear()
        stream = rpc(request, purpose=self._purpose)
        with self._lock:
            if self._closed:
                stream.cancel()
                raise StopIteration
            self._stream = stream
        if self._at_head:
            # The server says where "the head" was; resuming from there after a reconnect loses
            # nothing that happened in between.
            for key, value in stream.initial_metadata() or ():
                if key == "x-vigil-cursor":
                    self._position = int(value)
                    self._at_head = False

    def commit(self):
        """Stores the last delivered event's sequence in the cursor file (if any)."""
        if self._cursor and self._delivered is not None and self._delivered != self._committed:
            self._cursor.store(self._delivered)
            self._committed = self._delivered

    def close(self, commit=True):
        """Ends the subscription (from any thread); commits the last delivered event unless
        commit=False."""
        with self._lock:
            self._closed = True
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.cancel()
        if commit:
            self.commit()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # After an exception the event being handled may not be done: leave it uncommitted.
        self.close(commit=exc_type is None)
