// AlertService.Subscribe as an async iterator that never delivers an event twice and never
// skips one, across reconnects and (with a cursor file) across restarts of the subscriber.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Client, DeepPartial } from "./client";
import { ConfigurationError, TlsHandshakeFailed, Unavailable, VigilError } from "./errors";
import { AlertEvent, AlertEventBatch, AlertEventType, AlertFilter } from "./gen/v1";

/** The last alert-event sequence a subscriber has finished with, in a file of one decimal
 * number, written atomically (temporary file, fsync, rename): a crash leaves the old or the
 * new value, never a torn one. */
export class CursorFile {
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
  }

  /** The stored sequence; undefined when the file does not exist. */
  load(): number | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8").trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new ConfigurationError(`cursor file ${this.path}: ${(err as Error).message}`);
    }
    if (!/^\d+$/.test(text)) {
      throw new ConfigurationError(`cursor file ${this.path}: '${text.slice(0, 40)}' is not a sequence number`);
    }
    return Number(text);
  }

  store(sequence: number): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${sequence}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(tmp, this.path);
    } catch (err) {
      try { unlinkSync(tmp); } catch { /* already gone */ }
      throw err;
    }
    const dir = openSync(dirname(this.path), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}

export interface SubscribeOptions {
  /** Where the last finished sequence is kept; the subscription starts after it when it exists. */
  cursorFile?: string;
  /** Without a stored cursor: start after this sequence (default 0: from the beginning)... */
  resumeAfter?: number;
  /** ...or at the next new event. */
  startAtHead?: boolean;
  filters?: DeepPartial<AlertFilter>;
  /** A digest every this many hours instead of each event (1-168). */
  digestEveryHours?: number;
  /** x-vigil-purpose (default: the Client's). */
  purpose?: string;
  /** Reconnect after UNAVAILABLE. Default true. */
  reconnect?: boolean;
  /** Give up (throw Unavailable) after this long without a stream. Default: never. */
  reconnectTimeoutMs?: number;
  /** The longest wait between attempts. Default 5000. */
  maxBackoffMs?: number;
  /** Called before each wait. */
  onReconnect?: (error: VigilError, attempt: number, delayMs: number) => void;
  /**
   * Read AlertService.SubscribeBatches (several events to a message: far cheaper per event when
   * a scan raises thousands at once, for a system taking every event of a force). The events,
   * their order, the cursor and the guarantees are the same. Default false.
   */
  batches?: boolean;
}

/** The events of a SubscribeBatches stream, one by one. */
async function* eventsOf(batches: AsyncIterable<AlertEventBatch>): AsyncGenerator<AlertEvent> {
  for await (const batch of batches) yield* batch.events;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Iterates over AlertEvents:
 *
 *     const alerts = client.subscribeAlerts({ cursorFile: "alerts.cursor" });
 *     for await (const event of alerts) { await handle(event); if (done) break; }
 *     await alerts.close();            // stores the last event handled
 *
 * or `await alerts.run(handle)`, which stores each event's sequence once its handler resolves.
 *
 * Each event is delivered once, in sequence order. When the stream fails with UNAVAILABLE
 * (vigild restarting, the connection lost) it reconnects with backoff and resumes after the last
 * event delivered; an event at or before it is dropped. Other failures are thrown, and so is
 * TlsHandshakeFailed: a CA or certificate that is wrong stays wrong.
 *
 * The cursor file holds the last event the consumer has finished with: asking for the next
 * event commits the previous one, as do close() and commit(). Leaving a for-await loop (break
 * or throw) ends the stream without committing, so an event whose handler failed comes again
 * on the next run; call close() after a normal end.
 */
export class AlertSubscription implements AsyncIterableIterator<AlertEvent> {
  /** Reconnections made so far. */
  reconnects = 0;
  private position: number;
  private atHead: boolean;
  private readonly cursor?: CursorFile;
  private committed?: number;
  private delivered?: number;
  private stream?: { cancel(): void };
  private iterator?: AsyncIterator<AlertEvent>;
  private closed = false;

  constructor(private readonly client: Client, private readonly options: SubscribeOptions = {}) {
    this.cursor = options.cursorFile ? new CursorFile(options.cursorFile) : undefined;
    const stored = this.cursor?.load();
    this.committed = stored;
    this.position = stored ?? options.resumeAfter ?? 0;
    this.atHead = stored === undefined && !!options.startAtHead;
  }

  /** The sequence of the last event delivered (or where the subscription starts). */
  get lastSequence(): number {
    return this.position;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<AlertEvent> {
    return this;
  }

  async next(): Promise<IteratorResult<AlertEvent>> {
    this.commit();
    let failingSince: number | undefined;
    let attempt = 0;
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      let error: VigilError;
      try {
        if (!this.iterator) await this.open();
        const result = await this.iterator!.next();
        if (!result.done) {
          const event = result.value;
          if (event.type !== AlertEventType.ALERT_EVENT_TYPE_DIGEST && event.sequence <= this.position) {
            continue; // delivered before a reconnect
          }
          this.position = Math.max(this.position, event.sequence);
          this.delivered = this.position;
          return { done: false, value: event };
        }
        error = new Unavailable("the alert stream ended", { rpc: "vigil.v1.AlertService/Subscribe" });
      } catch (err) {
        if (this.closed) return { done: true, value: undefined };
        // A wrong CA or certificate stays wrong: TlsHandshakeFailed is thrown, not retried.
        if (!(err instanceof Unavailable) || err instanceof TlsHandshakeFailed ||
            this.options.reconnect === false) {
          throw err;
        }
        error = err;
      }
      this.iterator = undefined;
      this.stream = undefined;
      const now = Date.now();
      failingSince ??= now;
      if (this.options.reconnectTimeoutMs !== undefined && now - failingSince > this.options.reconnectTimeoutMs) {
        throw error;
      }
      attempt += 1;
      const delay = Math.min(this.options.maxBackoffMs ?? 5000, 50 * 2 ** Math.min(attempt, 10)) *
        (0.5 + Math.random() / 2);
      this.options.onReconnect?.(error, attempt, delay);
      await sleep(delay);
      this.reconnects += 1;
    }
  }

  /** Leaving a for-await loop: ends the stream, commits nothing. */
  async return(): Promise<IteratorResult<AlertEvent>> {
    this.close({ commit: false });
    return { done: true, value: undefined };
  }

  /** Calls `handler` for each event in turn and stores its sequence once the handler resolves;
   * a handler that throws ends the subscription without storing that event. */
  async run(handler: (event: AlertEvent) => unknown | Promise<unknown>): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.next();
        if (done) break;
        await handler(value);
        this.commit();
      }
    } finally {
      this.close({ commit: false });
    }
  }

  /** Stores the last delivered event's sequence in the cursor file (if any). */
  commit(): void {
    if (this.cursor && this.delivered !== undefined && this.delivered !== this.committed) {
      this.cursor.store(this.delivered);
      this.committed = this.delivered;
    }
  }

  /** Ends the subscription; commits the last delivered event unless commit is false. */
  close(options: { commit?: boolean } = {}): void {
    this.closed = true;
    this.stream?.cancel();
    this.stream = undefined;
    this.iterator = undefined;
    if (options.commit !== false) this.commit();
  }

  private async open(): Promise<void> {
    const request = {
      resumeAfterSequence: this.position,
      startAtHead: this.atHead,
      digestEveryHours: this.options.digestEveryHours ?? 0,
      filters: this.options.filters,
    };
    const callOptions = { purpose: this.options.purpose, timeoutMs: null };
    let stream;
    if (this.options.batches) {
      const batches = this.client.alerts.subscribeBatches(request, callOptions);
      stream = batches;
      this.iterator = eventsOf(batches);
    } else {
      const events = this.client.alerts.subscribe(request, callOptions);
      stream = events;
      this.iterator = events[Symbol.asyncIterator]();
    }
    this.stream = stream;
    if (this.atHead) {
      // The server says where "the head" was: resuming from there after a reconnect loses
      // nothing that happened in between.
      const cursor = (await stream.metadata)?.get("x-vigil-cursor")?.[0];
      if (cursor !== undefined && /^\d+$/.test(String(cursor))) {
        this.position = Number(cursor);
        this.atHead = false;
      }
    }
  }
}
