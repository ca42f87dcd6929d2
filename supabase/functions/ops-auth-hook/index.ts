// ops-auth-hook: Supabase Auth's Custom Access Token hook. Rust decides (the
// wasm module's machine): the signature, the read of who the person is in
// Odoo, the claims to answer and, once they are sent, the links to store.
// The shared executor performs the I/O.
import { AuthHook } from "../../../pkg/ops-auth-hook/ops_auth_hook.js";
import { execute } from "../_shared/executor.ts";
import { readBounded } from "../_shared/http.ts";

const hook = new AuthHook(Deno.env.get("OPS_AUTH_HOOK_SECRET"));

async function fetch(request: Request): Promise<Response> {
  const started = performance.now();
  const body = await readBounded(request, hook.maxBodyBytes);
  const headers = request.headers;
  const machine = hook.request(
    request.method,
    headers.get("webhook-id") ?? undefined,
    headers.get("webhook-timestamp") ?? undefined,
    headers.get("webhook-signature") ?? undefined,
    body.bytes,
    body.complete,
    Date.now(),
  );
  return await execute("ops-auth-hook", machine, started);
}

export default { fetch };
