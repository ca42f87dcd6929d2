// ops-ingest: Odoo's events into the control plane. Rust decides (the wasm
// module); this shim reads the request, runs the one SQL call it is given,
// and sends the answer.
import { Ingest } from "../../../pkg/ops-ingest/ops_ingest.js";
import { query, sqlstate } from "../_shared/db.ts";
import { type Decided, readBounded, send } from "../_shared/http.ts";

const ingest = new Ingest(Deno.env.get("OPS_WEBHOOK_SECRET"));

async function fetch(request: Request): Promise<Response> {
  const started = performance.now();
  const body = await readBounded(request, ingest.maxBodyBytes);
  const decision = ingest.decide(
    request.method,
    Object.fromEntries(request.headers),
    body.bytes,
    body.complete,
    Date.now(),
  );
  if (decision.action === "respond") {
    return send("ops-ingest", decision.response as Decided, started);
  }
  let decided: Decided;
  try {
    const [row] = await query((sql) => sql.unsafe(decision.write.sql, decision.write.params));
    decided = ingest.complete(decision.write, row.outcome);
  } catch (error) {
    decided = ingest.databaseFailed(decision.write, sqlstate(error));
  }
  return send("ops-ingest", decided, started);
}

export default { fetch };
