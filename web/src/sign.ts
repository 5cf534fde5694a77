/**
 * Request signing with WebCrypto, exactly as the API contract says:
 *
 *   REST:      hex(HMAC-SHA256(apiSecret, timestamp + METHOD + pathWithQuery + body))
 *   WebSocket: hex(HMAC-SHA256(apiSecret, timestamp + "WS" + "/v1/ws"))
 *
 * The secret is imported once as a non-extractable CryptoKey; the text of the secret is only kept
 * (in sessionStorage) when the user asks the tab to remember it.
 */

const encoder = new TextEncoder();

export class SigningUnavailable extends Error {
  constructor() {
    super(
      "This page is not a secure context, so the browser offers no WebCrypto to sign requests. " +
        "Open it over HTTPS (bourse start --tls-cert … --tls-key …) or on localhost / 127.0.0.1.",
    );
    this.name = "SigningUnavailable";
  }
}

export function signingAvailable(): boolean {
  return globalThis.isSecureContext !== false && globalThis.crypto?.subtle !== undefined;
}

export async function importSecret(secret: string): Promise<CryptoKey> {
  if (!signingAvailable()) throw new SigningUnavailable();
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
}

const hexDigits = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export async function hmacHex(key: CryptoKey, message: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  let hex = "";
  for (let i = 0; i < mac.length; i++) hex += hexDigits[mac[i]!];
  return hex;
}

/** The three headers of a signed REST request. `target` is the path with its query, as sent. */
export async function restHeaders(
  apiKey: string,
  key: CryptoKey,
  timestamp: number,
  method: string,
  target: string,
  body: string,
): Promise<Record<string, string>> {
  const ts = String(timestamp);
  return {
    "X-Bourse-Key": apiKey,
    "X-Bourse-Timestamp": ts,
    "X-Bourse-Signature": await hmacHex(key, ts + method.toUpperCase() + target + body),
  };
}

/** The `auth` op of the WebSocket. */
export async function wsAuthMessage(
  apiKey: string,
  key: CryptoKey,
  timestamp: number,
): Promise<{ op: "auth"; key: string; timestamp: string; signature: string }> {
  const ts = String(timestamp);
  return { op: "auth", key: apiKey, timestamp: ts, signature: await hmacHex(key, `${ts}WS/v1/ws`) };
}
