// ops-odoo-nudge: Odoo 19's "Send Webhook Notification" as a hint to
// re-read. The URL carries the token; the payload names a record, which is
// queued and re-read from Odoo through the wrapper, never taken as data.
// Rust decides (the wasm module's machine); the shared executor performs
// each statement, and answers 202 before the re-read.
import { NudgeFunction } from "../../../pkg/ops-odoo-nudge/ops_odoo_nudge.js";
import { execute } from "../_shared/executor.ts";
import { readBounded } from "../_shared/http.ts";

const nudge = new NudgeFunction(
  Deno.env.get("OPS_NUDGE_TOKENS"),
  Deno.env.get("OPS_RECONCILE_LANGUAGE"),
);

async function fetch(request: Request): Promise<Response> {
  const started = performance.now();
  const body = await readBounded(request, nudge.maxBodyBytes);
  const machine = nudge.invocation(
    request.method,
    new URL(request.url).pathname,
    body.bytes,
    body.complete,
    crypto.randomUUID(),
    Date.now(),
  );
  return await execute("ops-odoo-nudge", machine, started);
}

export default { fetch };
