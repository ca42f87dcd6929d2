// What every end-to-end test needs: the stack's addresses (from the
// environment `cargo xtask test` sets), an independent Standard Webhooks
// signer, and a database connection to look at what was written.
import postgres from "postgres";
import { Webhook } from "standardwebhooks";

function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) {
    throw new Error(`${name} is not set; run the tests with \`cargo xtask test\``);
  }
  return value;
}

export const functionsUrl = `${required("SUPABASE_URL")}/functions/v1`;
export const webhookSecret = required("OPS_WEBHOOK_SECRET");

/** A connection to the stack's database; close it with `sql.end()`. */
export function connect(): postgres.Sql {
  return postgres(required("SUPABASE_DB_URL"), { max: 2, onnotice: () => {} });
}

/**
 * A test with its own database connection, closed when it ends, so Deno's
 * resource sanitizer sees nothing left open.
 */
export function dbTest(name: string, fn: (sql: postgres.Sql) => Promise<void>) {
  Deno.test(name, async () => {
    const sql = connect();
    try {
      await fn(sql);
    } finally {
      await sql.end();
    }
  });
}

/** A project id no other test uses. */
export function freshProjectId(): string {
  return `odoo-${1 + Math.floor(Math.random() * 1e15)}`;
}

export interface Delivery {
  id?: string;
  body: string;
  secret?: string;
  /** When the sender signed, default now. */
  at?: Date;
  headers?: Record<string, string>;
}

/** The three Standard Webhooks headers for a body, made by the npm signer. */
export function signedHeaders(delivery: Delivery): Record<string, string> {
  const id = delivery.id ?? `msg_${crypto.randomUUID()}`;
  const at = delivery.at ?? new Date();
  const signer = new Webhook(delivery.secret ?? webhookSecret);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": Math.floor(at.getTime() / 1000).toString(),
    "webhook-signature": signer.sign(id, at, delivery.body),
  };
}

/** POSTs a signed delivery to a function and reads the whole answer. */
export async function deliver(
  fn: string,
  delivery: Delivery,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(`${functionsUrl}/${fn}`, {
    method: "POST",
    headers: { ...signedHeaders(delivery), ...delivery.headers },
    body: delivery.body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) };
}

export function projectCreated(projectId: string, name = "Alpha"): string {
  return JSON.stringify({
    event_type: "project_created",
    project_id: projectId,
    name,
    odoo_version: "19.0",
  });
}

/** A port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * A second functions server, like the stack's but with other settings: the
 * real router (dev/functions-serve.ts) and the real functions, in a child
 * process whose environment the test chooses.
 */
export async function serveFunctions(
  env: Record<string, string>,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "dev/functions-serve.ts",
      "--port",
      String(port),
    ],
    env: { ...Deno.env.toObject(), ...env },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}/functions/v1`;
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const probe = await fetch(`${url}/none`);
      await probe.body?.cancel();
      return {
        url,
        stop: async () => {
          child.kill("SIGTERM");
          await child.status;
        },
      };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error("the second functions server did not start");
}

/**
 * A TCP relay in front of the stack's PostgreSQL that a test can cut and
 * restore: the real database behind a real network failure.
 */
export class CuttableLink {
  readonly port: number;
  #listener: Deno.Listener | undefined;
  #connections = new Set<Deno.Conn>();
  #target: { hostname: string; port: number };

  constructor(targetUrl: string) {
    const target = new URL(targetUrl);
    this.#target = { hostname: target.hostname, port: Number(target.port || 5432) };
    this.port = freePort();
  }

  /** The database URL through the link. */
  url(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.port = String(this.port);
    return url.toString();
  }

  /** Starts (or restarts) relaying. */
  up() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#listener = listener;
    (async () => {
      for await (const inbound of listener) {
        this.#relay(inbound);
      }
    })().catch(() => {});
  }

  /** Refuses new connections and breaks the open ones. */
  down() {
    this.#listener?.close();
    this.#listener = undefined;
    for (const conn of this.#connections) {
      try {
        conn.close();
      } catch {
        // Already closed by the other side.
      }
    }
    this.#connections.clear();
  }

  async #relay(inbound: Deno.Conn) {
    this.#connections.add(inbound);
    let outbound: Deno.Conn;
    try {
      outbound = await Deno.connect(this.#target);
    } catch {
      inbound.close();
      return;
    }
    this.#connections.add(outbound);
    await Promise.allSettled([
      inbound.readable.pipeTo(outbound.writable),
      outbound.readable.pipeTo(inbound.writable),
    ]);
    this.#connections.delete(inbound);
    this.#connections.delete(outbound);
  }
}
