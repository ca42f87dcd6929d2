// ops-ingest: Odoo's events into the control plane. Rust decides (the wasm
// module's machine); the shared executor runs the one SQL call it asks for
// and sends the answer. Decisions cross as JSON text (see BENCHMARKS.md).
import { Ingest } from "../../../pkg/ops-ingest/ops_ingest.js";
import { execute } from "../_shared/executor.ts";
import { readBounded } from "../_shared/http.ts";

const ingest = new Ingest(Deno.env.get("OPS_WEBHOOK_SECRET"));

async function fetch(request: Request): Promise<Response> {
  const started = performance.now();
  const body = await readBounded(request, ingest.maxBodyBytes);
  const headers = request.headers;
  const machine = ingest.request(
    request.method,
    headers.get("content-type") ?? undefined,
    headers.get("webhook-id") ?? undefined,
    headers.get("webhook-timestamp") ?? undefined,
    headers.get("webhook-signature") ?? undefined,
    body.bytes,
    body.complete,
    Date.now(),
  );
  return await execute("ops-ingest", machine, started);
}

export default { fetch };
