// ops-ingest: Odoo's events into the control plane. Rust decides (the wasm
// module); this shim reads the request, runs the one SQL call it is given,
// and sends the answer. Decisions cross as JSON text (see BENCHMARKS.md).
import { Ingest } from "../../../pkg/ops-ingest/ops_ingest.js";
import { query, sqlstate } from "../_shared/db.ts";
import { type Decided, readBounded, send } from "../_shared/http.ts";

const ingest = new Ingest(Deno.env.get("OPS_WEBHOOK_SECRET"));

async function fetch(request: Request): Promise<Response> {
  const started = performance.now();
  const body = await readBounded(request, ingest.maxBodyBytes);
  const headers = request.headers;
  const decision = JSON.parse(ingest.decide(
    request.method,
    headers.get("content-type") ?? undefined,
    headers.get("webhook-id") ?? undefined,
    headers.get("webhook-timestamp") ?? undefined,
    headers.get("webhook-signature") ?? undefined,
    body.bytes,
    body.complete,
    Date.now(),
  ));
  if (decision.action === "respond") return send("ops-ingest", decision.response, started);
  const write = JSON.stringify(decision.write);
  let decided: Decided;
  try {
    const [row] = await query((sql) => sql.unsafe(decision.write.sql, decision.write.params));
    decided = JSON.parse(ingest.complete(write, row.outcome));
  } catch (error) {
    decided = JSON.parse(ingest.databaseFailed(write, sqlstate(error)));
  }
  return send("ops-ingest", decided, started);
}

export default { fetch };
