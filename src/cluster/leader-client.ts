/**
 * How API nodes (and the tests, and the benchmark) reach the engine leader: its address is read from
 * Redis ({ns}:meta address, published by the lease), commands go in JSON batches to its
 * POST /v1/commands. When the leader changes (NOT_LEADER, a refused connection, a dropped request)
 * the client looks the address up again and resends what may safely be resent:
 *
 *   - a command refused with a retryable code was not applied, or its outcome is unknown;
 *   - resending is safe for commands the engine deduplicates: place with a clientOrderId (a repeat
 *     is answered with `duplicate_order` and the original orderId), deposit/withdraw (transferId),
 *     and those that are harmless twice (cancel, cancel_all, amend, tick); a create_account or a
 *     place without clientOrderId whose outcome is unknown is reported as UNKNOWN_OUTCOME instead.
 */
import type { CommandInput } from "../journal/command-codec.js";
import { parseRedisLocation } from "../journal/open-journal.js";
import { RedisLog } from "../journal/redis-log.js";
import { type CommandOutcome, fromJson, toJson } from "./engine-node.js";

export interface LeaderClientOptions {
  /** The cluster's journal URL (redis://…?namespace=…). */
  journal: string;
  /** A submit gives up (UNAVAILABLE for what is left) after this long. */
  deadlineMs?: number;
  /** One HTTP request times out after this long (the leader is then looked up again). */
  requestTimeoutMs?: number;
}

/** Safe to send again when the first attempt's outcome is unknown. */
export function resendable(command: CommandInput): boolean {
  switch (command.type) {
    case "place":
      return command.clientOrderId !== "";
    case "create_account":
      return false;
    default:
      return true;
  }
}

interface ReplyBody {
  results?: CommandOutcome[];
  epoch?: number;
  error?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class LeaderClient {
  private address = "";
  /** Leader changes seen by this client (NOT_LEADER, refused or dropped connections). */
  redirects = 0;

  private constructor(
    private readonly log: RedisLog,
    private readonly options: LeaderClientOptions,
  ) {}

  static async connect(options: LeaderClientOptions): Promise<LeaderClient> {
    const location = parseRedisLocation(options.journal);
    const log = await RedisLog.connect({
      url: location.url,
      namespace: location.namespace,
      clientName: "bourse-leader-client",
    });
    return new LeaderClient(log, options);
  }

  /** The leader's address now (waits for one while there is none, up to the deadline). */
  async leader(deadline = performance.now() + (this.options.deadlineMs ?? 10_000)): Promise<string> {
    for (;;) {
      const address = (await this.log.head()).address;
      if (address !== "" && (await this.log.lease()) !== null) return address;
      if (performance.now() > deadline) throw new Error("no leader");
      await sleep(10);
    }
  }

  /** Submits a batch; resolves with one outcome per command, in order. */
  async submit(commands: CommandInput[]): Promise<CommandOutcome[]> {
    const deadline = performance.now() + (this.options.deadlineMs ?? 10_000);
    const results: (CommandOutcome | undefined)[] = new Array(commands.length);
    let todo = commands.map((_, i) => i);
    while (todo.length > 0) {
      if (performance.now() > deadline) {
        for (const i of todo)
          results[i] = { error: "UNAVAILABLE", retryable: true, message: "no leader answered in time" };
        break;
      }
      if (this.address === "") {
        try {
          this.address = await this.leader(deadline);
        } catch {
          continue;
        }
      }
      // Encoded outside the try: a command that cannot be encoded is a caller's bug, not a lost leader.
      const body = toJson({ commands: todo.map((i) => commands[i]!) });
      let reply: { status: number; body: ReplyBody } | null = null;
      try {
        const response = await fetch(`${this.address}/v1/commands`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5_000),
        });
        reply = { status: response.status, body: fromJson<ReplyBody>(await response.text()) };
      } catch {
        reply = null;
      }
      if (reply === null || reply.status === 503) {
        // The request may or may not have reached a leader: resend only what is safe to resend.
        if (reply === null) {
          const unknown = todo.filter((i) => !resendable(commands[i]!));
          for (const i of unknown)
            results[i] = { error: "UNKNOWN_OUTCOME", retryable: false, message: "the leader went away" };
          todo = todo.filter((i) => resendable(commands[i]!));
        }
        this.address = "";
        this.redirects++;
        await sleep(5);
        continue;
      }
      const outcomes = reply.body.results;
      if (reply.status !== 200 || outcomes === undefined) {
        for (const i of todo)
          results[i] = { error: reply.body.error ?? `HTTP ${reply.status}`, retryable: false };
        break;
      }
      const next: number[] = [];
      for (let k = 0; k < todo.length; k++) {
        const i = todo[k]!;
        const outcome = outcomes[k]!;
        if (
          outcome.error !== undefined &&
          outcome.retryable &&
          (outcome.error === "NOT_LEADER" || resendable(commands[i]!))
        )
          next.push(i);
        else
          results[i] = outcome.error === undefined ? { ...outcome, epoch: reply.body.epoch ?? 0 } : outcome;
      }
      if (next.length > 0) {
        this.address = "";
        this.redirects++;
        await sleep(5);
      }
      todo = next;
    }
    return results as CommandOutcome[];
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}
