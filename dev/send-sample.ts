// Sends the seed's sample event to the local ops-ingest, signed the way Odoo
// signs it (Standard Webhooks, with the npm reference implementation).
// `cargo xtask sample` runs it with the values of .dev/stack.env.
import { Webhook } from "standardwebhooks";

const base = Deno.env.get("SUPABASE_URL");
const secret = Deno.env.get("OPS_WEBHOOK_SECRET");
if (!base || !secret) {
  console.error(
    "SUPABASE_URL and OPS_WEBHOOK_SECRET must be set; start `cargo xtask dev` first",
  );
  Deno.exit(2);
}

const body = JSON.stringify({
  event_type: "project_created",
  project_id: "odoo-42",
  name: "Alpha",
  odoo_version: "19.0",
});
const id = `msg_${crypto.randomUUID()}`;
const now = new Date();
const signature = new Webhook(secret).sign(id, now, body);

const url = `${base}/functions/v1/ops-ingest`;
const response = await fetch(url, {
  method: "POST",
  headers: {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": Math.floor(now.getTime() / 1000).toString(),
    "webhook-signature": signature,
  },
  body,
});
console.log(`POST ${url} -> ${response.status}`);
console.log(await response.text());
Deno.exit(response.ok ? 0 : 1);
