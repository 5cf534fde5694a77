/**
 * What the server benchmarks (bench/api.ts, bench/cache.ts) do to a running Bourse node besides
 * measuring it: admin calls (accounts, deposits) and the CPU time of its process.
 */
import { readFileSync } from "node:fs";

export interface Account {
  accountId: string;
  apiKey: string;
  apiSecret: string;
}

/** POST an admin request (Bearer `adminToken`); the JSON reply, or an error with the status and text. */
export async function adminPost(
  url: string,
  adminToken: string,
  path: string,
  body: unknown,
): Promise<unknown> {
  const response = await fetch(url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Creates an account named `name` and deposits `funds` (decimal strings per asset) into it. */
export async function fundedAccount(
  url: string,
  adminToken: string,
  name: string,
  funds: Record<string, string>,
): Promise<Account> {
  const account = (await adminPost(url, adminToken, "/v1/admin/accounts", { name })) as Account;
  for (const [asset, amount] of Object.entries(funds)) {
    await adminPost(url, adminToken, `/v1/admin/accounts/${account.accountId}/deposits`, {
      asset,
      amount,
      transferId: `bench-${asset.toLowerCase()}-${account.accountId}`,
    });
  }
  return account;
}

/** Flags of a benchmarked node (`bourse start` or `bourse api`): a free port, `dataDir`, no rate limits. */
export function nodeFlags(dataDir: string): string[] {
  return ["--port", "0", "--data-dir", dataDir, "--rate-limit-ip", "0", "--rate-limit-key", "0"];
}

/** CPU seconds (user + system) of a process so far, from /proc. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}
