// ops-reconcile: Odoo's projects read through the wrapper, and what drifted
// repaired by the ordering rule of ops-ingest. Rust decides (the wasm
// module's machine): every statement and their order; the shared executor
// performs them. pg_cron calls it hourly with the secret from Vault.
import { ReconcileFunction } from "../../../pkg/ops-reconcile/ops_reconcile.js";
import { execute } from "../_shared/executor.ts";
import { readBounded } from "../_shared/http.ts";

const reconcile = new ReconcileFunction(
  Deno.env.get("OPS_RECONCILE_SECRET"),
  Deno.env.get("OPS_RECONCILE_INSTANCE"),
  Deno.env.get("OPS_RECONCILE_LANGUAGE"),
);

async function fetch(request: Request): Promise<Response> {
  const started = performance.now();
  const body = await readBounded(request, reconcile.maxBodyBytes);
  const machine = reconcile.invocation(
    request.method,
    request.headers.get("authorization") ?? undefined,
    body.bytes,
    body.complete,
    crypto.randomUUID(),
    Date.now(),
  );
  return await execute("ops-reconcile", machine, started);
}

export default { fetch };
