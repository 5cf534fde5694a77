/**
 * Credentials: API keys and secrets, the sealing of secrets at rest, request signatures, the admin token.
 *
 * A secret is generated here, shown to its owner once (in the 201 reply), and otherwise exists only
 * sealed: AES-256-GCM under the master key, with the API key as associated data so that a sealed
 * secret cannot be moved to another key. The sealed form travels in the create_account command and so
 * is as durable as the account. Decrypted secrets are kept in a bounded in-memory cache to verify
 * signatures without decrypting on every request; nothing here ever logs a secret.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { LRUCache } from "lru-cache";
import { ApiError } from "./errors.js";
import { apiLimits } from "./limits.js";

const sealedPrefix = "v1.";
const masterKeyBytes = 32;
const ivBytes = 12;
const tagBytes = 16;

export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, "hex")
    : Buffer.from(trimmed, "base64");
  if (key.length !== masterKeyBytes) {
    throw new Error("the master key must be 32 bytes, as 64 hex characters or base64");
  }
  return key;
}

export function generateMasterKey(): Buffer {
  return randomBytes(masterKeyBytes);
}

export function generateApiKey(): string {
  return `bk_${randomBytes(16).toString("hex")}`;
}

export function generateApiSecret(): string {
  return randomBytes(32).toString("hex");
}

export function generateAdminToken(): string {
  return `bat_${randomBytes(32).toString("hex")}`;
}

export function sealSecret(masterKey: Buffer, apiKey: string, secret: string): string {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv("aes-256-gcm", masterKey, iv);
  cipher.setAAD(Buffer.from(apiKey, "utf8"));
  const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return sealedPrefix + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
}

/** The secret, or null when the sealed text is damaged, sealed for another key or under another master key. */
export function openSecret(masterKey: Buffer, apiKey: string, sealed: string): string | null {
  if (!sealed.startsWith(sealedPrefix)) return null;
  const bytes = Buffer.from(sealed.slice(sealedPrefix.length), "base64");
  if (bytes.length < ivBytes + tagBytes) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", masterKey, bytes.subarray(0, ivBytes));
    decipher.setAAD(Buffer.from(apiKey, "utf8"));
    decipher.setAuthTag(bytes.subarray(ivBytes, ivBytes + tagBytes));
    return Buffer.concat([decipher.update(bytes.subarray(ivBytes + tagBytes)), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    return null;
  }
}

export function signRequest(
  secret: string,
  timestamp: string,
  method: string,
  target: string,
  body: string,
): string {
  return createHmac("sha256", secret)
    .update(timestamp + method + target + body)
    .digest("hex");
}

/** Constant-time comparison of two strings of any length. */
export function sameText(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

const signaturePattern = /^[0-9a-f]{64}$/;
const timestampPattern = /^[0-9]{1,16}$/;

export interface KeyOwner {
  readonly accountId: number;
  readonly sealedSecret: string;
}

/** Verifies account signatures. `lookup` finds the owner of an API key (the engine keeps them). */
export class Authenticator {
  private readonly secrets = new LRUCache<string, string>({ max: apiLimits.secretCacheMax });

  constructor(
    private readonly masterKey: Buffer,
    private readonly lookup: (apiKey: string) => KeyOwner | undefined,
    private readonly nowMs: () => number = Date.now,
    private readonly windowMs: number = apiLimits.authWindowMs,
  ) {}

  /** Remembers a secret just created, so that its first use needs no decryption. */
  remember(apiKey: string, secret: string): void {
    this.secrets.set(apiKey, secret);
  }

  /**
   * The account id a signed message belongs to; UNAUTHORIZED otherwise, with one message whatever
   * failed, so that a caller learns nothing about which part was wrong.
   */
  verify(key: unknown, timestamp: unknown, signature: unknown, payload: (ts: string) => string): number {
    if (typeof key !== "string" || typeof timestamp !== "string" || typeof signature !== "string")
      throw unauthorized();
    if (!timestampPattern.test(timestamp) || !signaturePattern.test(signature)) throw unauthorized();
    if (Math.abs(this.nowMs() - Number(timestamp)) > this.windowMs) throw unauthorized();
    const owner = key.length <= 128 ? this.lookup(key) : undefined;
    if (owner === undefined) throw unauthorized();
    const secret = this.secretOf(key, owner);
    if (secret === null) throw unauthorized();
    const expected = createHmac("sha256", secret).update(payload(timestamp)).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) throw unauthorized();
    return owner.accountId;
  }

  private secretOf(apiKey: string, owner: KeyOwner): string | null {
    const cached = this.secrets.get(apiKey);
    if (cached !== undefined) return cached;
    const secret = openSecret(this.masterKey, apiKey, owner.sealedSecret);
    if (secret !== null) this.secrets.set(apiKey, secret);
    return secret;
  }
}

function unauthorized(): ApiError {
  return new ApiError("UNAUTHORIZED");
}
