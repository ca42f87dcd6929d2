// ops-cleanup: the retention table, archive first. Rust decides (the wasm
// module's machine): every statement, archive put, S3 delete and their
// order. The shared executor performs them; this shim only hands the
// machine the request, the clock and a random lease holder.
import { Cleanup } from "../../../pkg/ops-cleanup/ops_cleanup.js";
import { execute } from "../_shared/executor.ts";
import { readBounded } from "../_shared/http.ts";

const cleanup = new Cleanup(
  Deno.env.get("OPS_CRON_SECRET"),
  Deno.env.get("S3_BUCKET"),
  Deno.env.get("OPS_CLEANUP_READ_BUDGET_BYTES"),
);

async function fetch(request: Request): Promise<Response> {
  const started = performance.now();
  const body = await readBounded(request, cleanup.maxBodyBytes);
  const machine = cleanup.invocation(
    request.method,
    request.headers.get("authorization") ?? undefined,
    body.bytes,
    body.complete,
    crypto.randomUUID(),
    Date.now(),
  );
  return await execute("ops-cleanup", machine, started);
}

export default { fetch };
