// Puts runs that ops-cleanup archived and deleted back into the ops tables:
//
//   cargo xtask restore --run <run_id>     the one run, from the object holding it
//   cargo xtask restore --object <key>     every run in a runs archive object
//
// Rust decides (ops-cleanup's restore machine, crates/cleanup-core): which
// archive holds the run and its events, the SHA-256 check of every object,
// decompression, the lines to write, and the one transactional write. This
// is the functions' executor with that machine: their database and S3 code,
// their timeouts. It reads SUPABASE_DB_URL and the S3 settings (S3_ENDPOINT,
// S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).
//
// Exit codes: 0 restored (or already there), 1 refused or failed, 2 usage.
import { restore as restoreMachine } from "../pkg/ops-cleanup/ops_cleanup.js";
import { close, run } from "../supabase/functions/_shared/executor.ts";
import type { Decided } from "../supabase/functions/_shared/http.ts";

/** Runs one restore of what `args` names; the answer is the machine's. */
export async function restore(args: string[]): Promise<Decided> {
  return await run(restoreMachine(args), performance.now());
}

async function main(args: string[]): Promise<number> {
  if (!Deno.env.get("SUPABASE_DB_URL")) {
    console.error("restore: SUPABASE_DB_URL is not set");
    return 2;
  }
  const answer = await restore(args);
  await close();
  if (answer.status < 300) {
    // The counts on stdout, the outcome (`restored`, `already_present`) for the operator.
    console.log(answer.body);
    console.error(`restore: ${answer.log.outcome}`);
    return 0;
  }
  // Every refusal is a problem+json body whose detail says what and why.
  console.error(JSON.parse(answer.body).detail);
  return answer.status === 400 ? 2 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
