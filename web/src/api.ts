/**
 * The REST client: public market data, and account requests signed in the browser (src/sign.ts).
 * Same origin as the page, so the request target that is signed is exactly the one sent.
 */
import { importSecret, restHeaders } from "./sign.js";

export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/** An API key and its secret, imported for signing. The secret text itself is not kept here. */
export interface Credentials {
  apiKey: string;
  key: CryptoKey;
}

export async function credentialsOf(apiKey: string, apiSecret: string): Promise<Credentials> {
  return { apiKey, key: await importSecret(apiSecret) };
}

/**
 * Server time minus client time, in ms. Requests are refused when their timestamp is more than 5 s
 * from server time; a browser with a badly set clock is corrected from the HTTP Date header (whole
 * seconds, so only offsets beyond 1.5 s are applied).
 */
let clockOffsetMs = 0;

export function serverNow(): number {
  return Date.now() + clockOffsetMs;
}

function learnClock(response: Response, sentAt: number): void {
  const header = response.headers.get("date");
  if (header === null) return;
  const server = Date.parse(header);
  if (Number.isNaN(server)) return;
  // Date is truncated to the second: its middle is the best guess.
  const offset = server + 500 - (sentAt + Date.now()) / 2;
  clockOffsetMs = Math.abs(offset) > 1_500 ? Math.round(offset) : 0;
}

async function parseReply<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new RequestError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? `${response.status} ${response.statusText}`,
    );
  }
  return body as T;
}

export class Api {
  credentials: Credentials | null = null;

  /** GET of a public path such as "/v1/markets". */
  async get<T>(target: string): Promise<T> {
    const sentAt = Date.now();
    const response = await fetch(target, { headers: { accept: "application/json" }, cache: "no-store" });
    learnClock(response, sentAt);
    return parseReply<T>(response);
  }

  /** A signed account request. `body` is serialized once, and those exact bytes are signed and sent. */
  async signed<T>(method: string, target: string, body?: unknown): Promise<T> {
    const credentials = this.credentials;
    if (credentials === null) throw new RequestError(401, "UNAUTHORIZED", "log in first");
    const text = body === undefined ? "" : JSON.stringify(body);
    const send = async (): Promise<Response> => {
      const headers = await restHeaders(
        credentials.apiKey,
        credentials.key,
        serverNow(),
        method,
        target,
        text,
      );
      if (text !== "") headers["content-type"] = "application/json";
      return fetch(target, {
        method,
        headers: { accept: "application/json", ...headers },
        cache: "no-store",
        ...(text === "" ? {} : { body: text }),
      });
    };
    const sentAt = Date.now();
    const response = await send();
    const before = clockOffsetMs;
    learnClock(response, sentAt);
    if (response.status === 401 && clockOffsetMs !== before) {
      // The clock was off: sign again with the corrected time. A 401 is decided before anything else,
      // so the first attempt did nothing and repeating it is safe for every method.
      return parseReply<T>(await send());
    }
    return parseReply<T>(response);
  }
}
