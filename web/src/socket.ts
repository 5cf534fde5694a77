/**
 * The WebSocket client: one connection to /v1/ws, requests matched to replies by id, pushed messages
 * handed to one handler, and reconnection with a growing delay (0.5 s doubling to 5 s, with jitter).
 * Whoever owns the socket re-subscribes in `onOpen`, since a new connection starts with nothing.
 */

export type SocketState = "connecting" | "live" | "reconnecting";

export class ReplyError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ReplyError";
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface SocketOptions {
  url: string;
  onState(state: SocketState): void;
  onOpen(): void;
  onPush(message: Record<string, unknown>): void;
  requestTimeoutMs?: number;
}

export class Socket {
  state: SocketState = "connecting";
  /** Connections opened so far (1 after the first). */
  opens = 0;
  private ws: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private retryMs = 500;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly options: SocketOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.ws?.close();
  }

  private connect(): void {
    this.retryTimer = undefined;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.options.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.opens++;
      this.retryMs = 500;
      this.setState("live");
      this.options.onOpen();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(event.data) as Record<string, unknown>;
      } catch {
        return;
      }
      const id = message.id;
      if (typeof id === "number") {
        const pending = this.pending.get(id);
        if (pending !== undefined) {
          this.pending.delete(id);
          clearTimeout(pending.timer);
          const error = message.error as { code?: string; message?: string } | undefined;
          if (error !== undefined) pending.reject(new ReplyError(error.code ?? "ERROR", error.message ?? ""));
          else pending.resolve(message.result);
        }
        return;
      }
      if ("channel" in message) this.options.onPush(message);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new ReplyError("DISCONNECTED", "the connection closed"));
        this.pending.delete(id);
      }
      if (!this.stopped) this.scheduleReconnect();
    };
    // Errors are followed by close, which reconnects; nothing to log (a console error would be noise).
    ws.onerror = () => {};
  }

  private scheduleReconnect(): void {
    this.setState("reconnecting");
    const delay = this.retryMs * (0.75 + Math.random() * 0.5);
    this.retryMs = Math.min(5_000, this.retryMs * 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Drops the connection now (tests and the "reconnect" button); it comes back by itself. */
  reconnect(): void {
    this.retryMs = 500;
    this.ws?.close();
  }

  /** Sends `{ op, id, …fields }` and resolves with the reply's result. */
  request<T = unknown>(op: string, fields: Record<string, unknown> = {}): Promise<T> {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ReplyError("DISCONNECTED", "not connected"));
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ReplyError("TIMEOUT", `${op}: no reply`));
      }, this.options.requestTimeoutMs ?? 15_000);
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
      ws.send(JSON.stringify({ op, id, ...fields }));
    });
  }

  private setState(state: SocketState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onState(state);
  }
}
