/**
 * `bourse accounts …`: account administration against a RUNNING server, over the admin API (the
 * server owns the journal; a second process must not write to it). The admin token comes from
 * --admin-token, else BOURSE_ADMIN_TOKEN, else the data directory's admin.token file.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { adminTokenFile } from "../node/secrets.js";

interface ConnectionFlags {
  url?: string;
  adminToken?: string;
  dataDir?: string;
}

function baseUrl(flags: ConnectionFlags): string {
  return (
    flags.url ??
    process.env.BOURSE_URL ??
    `http://127.0.0.1:${process.env.BOURSE_PORT ?? "8080"}`
  ).replace(/\/+$/, "");
}

function adminToken(flags: ConnectionFlags): string {
  if (flags.adminToken !== undefined) return flags.adminToken;
  if (process.env.BOURSE_ADMIN_TOKEN) return process.env.BOURSE_ADMIN_TOKEN;
  const path = join(flags.dataDir ?? process.env.BOURSE_DATA_DIR ?? "./data", adminTokenFile);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  throw new Error(
    `no admin token: pass --admin-token, set BOURSE_ADMIN_TOKEN, or point --data-dir at the server's data`,
  );
}

async function call(flags: ConnectionFlags, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${baseUrl(flags)}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken(flags)}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const reply = (await response.json()) as unknown;
  if (!response.ok) {
    const error = (reply as { error?: { code?: string; message?: string } }).error;
    throw new Error(`${response.status} ${error?.code ?? ""}: ${error?.message ?? "request failed"}`);
  }
  return reply;
}

function withConnection(command: Command): Command {
  return command
    .option("--url <url>", "server URL (env BOURSE_URL; default http://127.0.0.1:$BOURSE_PORT or :8080)")
    .option("--admin-token <token>", "admin token (env BOURSE_ADMIN_TOKEN; default: <data dir>/admin.token)")
    .option(
      "--data-dir <dir>",
      "the server's data directory, to read admin.token from (env BOURSE_DATA_DIR)",
    );
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function transferCommand(accounts: Command, name: "deposit" | "withdraw"): void {
  withConnection(
    accounts
      .command(`${name} <accountId> <asset> <amount>`)
      .description(
        `${name === "deposit" ? "deposit into" : "withdraw from"} an account (amount is a decimal string, e.g. 1.5)`,
      )
      .option(
        "--transfer-id <id>",
        "idempotency key: a repeat with the same id moves nothing (default: random)",
      ),
  ).action(
    async (
      accountId: string,
      asset: string,
      amount: string,
      flags: ConnectionFlags & { transferId?: string },
    ) => {
      const transferId = flags.transferId ?? `cli-${Date.now()}-${randomBytes(4).toString("hex")}`;
      const path = `/v1/admin/accounts/${encodeURIComponent(accountId)}/${name === "deposit" ? "deposits" : "withdrawals"}`;
      print(await call(flags, "POST", path, { asset, amount, transferId }));
    },
  );
}

export function registerAccounts(program: Command): void {
  const accounts = program
    .command("accounts")
    .description("create accounts, move funds and read balances on a running server (admin API)");

  withConnection(
    accounts
      .command("create")
      .description("create an account; prints its id, API key and API secret (the secret is shown only now)")
      .option("--name <name>", "a label for the account"),
  ).action(async (flags: ConnectionFlags & { name?: string }) => {
    print(
      await call(flags, "POST", "/v1/admin/accounts", flags.name === undefined ? {} : { name: flags.name }),
    );
  });

  transferCommand(accounts, "deposit");
  transferCommand(accounts, "withdraw");

  withConnection(
    accounts
      .command("balances <accountId>")
      .description("an account's balances: available and locked per asset"),
  ).action(async (accountId: string, flags: ConnectionFlags) => {
    print(await call(flags, "GET", `/v1/admin/accounts/${encodeURIComponent(accountId)}/balances`));
  });
}
