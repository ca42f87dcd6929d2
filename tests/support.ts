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
