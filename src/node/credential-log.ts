/**
 * WORKAROUND, to remove once the journal persists credentials. The create_account command carries the
 * account's apiKey and sealedSecret so that the engine keeps them as durably as balances, but the
 * journal's command codec (src/journal/command-codec.ts) does not encode those fields yet: after a
 * restart the accounts are back without their keys. Until it does, the node also appends each new
 * account's key and SEALED secret (never the secret itself) to `<data dir>/credentials.jsonl`
 * (mode 0600) and fdatasyncs it before the 201 reply; at start the file fills in keys the recovered
 * engine lacks. The engine stays the first source: a key it knows is never taken from the file.
 */
import { closeSync, existsSync, fdatasync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { KeyOwner } from "../api/auth.js";

export const credentialLogFile = "credentials.jsonl";

interface Entry {
  accountId: number;
  apiKey: string;
  sealedSecret: string;
}

export class CredentialLog {
  private readonly owners = new Map<string, KeyOwner>();
  private readonly fd: number;

  constructor(dataDir: string) {
    const path = join(dataDir, credentialLogFile);
    if (existsSync(path)) {
      for (const line of readFileSync(path, "utf8").split("\n")) {
        if (line.length === 0) continue;
        let entry: Entry;
        try {
          entry = JSON.parse(line) as Entry;
        } catch {
          continue; // a torn last line: its account was never acknowledged
        }
        this.owners.set(entry.apiKey, { accountId: entry.accountId, sealedSecret: entry.sealedSecret });
      }
    }
    this.fd = openSync(path, "a", 0o600);
  }

  get(apiKey: string): KeyOwner | undefined {
    return this.owners.get(apiKey);
  }

  /** Appends and fdatasyncs; resolves once the entry is durable. */
  record(accountId: number, apiKey: string, sealedSecret: string): Promise<void> {
    this.owners.set(apiKey, { accountId, sealedSecret });
    writeSync(this.fd, `${JSON.stringify({ accountId, apiKey, sealedSecret })}\n`);
    return new Promise((resolve, reject) =>
      fdatasync(this.fd, (error) => (error ? reject(error) : resolve())),
    );
  }

  close(): void {
    closeSync(this.fd);
  }
}
