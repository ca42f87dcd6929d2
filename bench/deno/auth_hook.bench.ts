// The auth hook's decision in wasm, called as the shim and the executor call
// it: the request in, the database's answer handed to the machine, the
// claims out as JSON text and parsed. The same call as bench/rust/hook.rs,
// on the same fixture (bench/fixtures/auth_hook.json).
//
//   cargo xtask build
//   deno bench --allow-read bench/deno/auth_hook.bench.ts
import { AuthHook } from "../../pkg/ops-auth-hook/ops_auth_hook.js";

const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/auth_hook.json", import.meta.url)),
);
const hook = new AuthHook(fixture.secret);
const body = new TextEncoder().encode(fixture.body);
const nowMs = fixture.now * 1000;

function call(): number {
  const machine = hook.request(
    "POST",
    fixture.webhook_id,
    fixture.webhook_timestamp,
    fixture.webhook_signature,
    body,
    true,
    nowMs,
  );
  try {
    let io = JSON.parse(machine.poll());
    if (io.kind === "sql") io = JSON.parse(machine.sqlAnswered(fixture.neighbourhood, 1));
    return io.response.log.identities;
  } finally {
    machine.free();
  }
}

// A bench of the wrong answer measures nothing.
if (call() !== fixture.identities) throw new Error("the wasm decided another answer");

Deno.bench("auth-hook: signed call to claims (wasm)", () => {
  call();
});
