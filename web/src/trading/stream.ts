// The replay's Server-Sent Events (GET /sessions/{id}/stream), with the cookie login.
//
// EventSource reconnects by itself after a dropped connection and sends Last-Event-ID, so the
// service resumes after the last bar or fill it sent. What it cannot do is recover from a
// refused reconnect (an expired access token: 401) or stop reconnecting to a finished replay:
// `onLost` is told when the browser gave up, and the stream is closed once the session is
// COMPLETED, ARCHIVED or deleted.

import type { Candle, Fill, StreamState } from "./types";

export interface StreamHandlers {
  state(s: StreamState, first: boolean): void;
  status(s: StreamState): void;
  bar(c: Candle): void;
  fill(f: Fill): void;
  deleted(): void;
  /** The browser stopped reconnecting (or the service said it cannot go on). */
  lost(): void;
}

const FINISHED = new Set(["COMPLETED", "ARCHIVED"]);

export class ReplayStream {
  private source: EventSource | null = null;
  private closed = false;
  private gotFirst = false;

  constructor(
    private readonly sessionId: number,
    private readonly on: StreamHandlers,
  ) {}

  open(): void {
    this.closed = false;
    this.gotFirst = false;
    const source = new EventSource(`/sessions/${this.sessionId}/stream`);
    this.source = source;
    source.addEventListener("state", (e) => {
      const s = JSON.parse((e as MessageEvent).data) as StreamState;
      const first = !this.gotFirst;
      this.gotFirst = true;
      this.on.state(s, first);
      if (FINISHED.has(s.session_status)) this.close();
    });
    source.addEventListener("status", (e) => {
      const s = JSON.parse((e as MessageEvent).data) as StreamState;
      this.on.status(s);
      if (FINISHED.has(s.session_status)) this.close();
    });
    source.addEventListener("bar", (e) => this.on.bar(JSON.parse((e as MessageEvent).data) as Candle));
    source.addEventListener("fill", (e) => this.on.fill(JSON.parse((e as MessageEvent).data) as Fill));
    source.addEventListener("deleted", () => {
      this.close();
      this.on.deleted();
    });
    source.addEventListener("error", (e) => {
      if (this.closed) return;
      if (e instanceof MessageEvent) {
        // The service's own `error` event: it ends the stream; the browser reconnects with
        // Last-Event-ID after the retry delay, which is what we want.
        return;
      }
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        this.on.lost();
      }
    });
  }

  close(): void {
    this.closed = true;
    this.source?.close();
    this.source = null;
  }

  /** A state event arrives after every (re)connect; a finished session's stream stays closed. */
  get isOpen(): boolean {
    return this.source != null;
  }
}
