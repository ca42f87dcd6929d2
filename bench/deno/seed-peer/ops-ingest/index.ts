// The seed's own ops-ingest (the Edge Function in the data-boundaries
// document), as a peer for the ingest load benchmark: what the product would
// be without verification, validation and idempotency.
//
//   deno run --allow-net --allow-env --allow-read --allow-sys \
//     dev/functions-serve.ts --port 54330 --dir bench/deno/seed-peer
//
// It is served as ours is, by the local stand-in for the edge runtime, so the
// router's cost (about 75 us a request here) is paid by both sides, as it
// would be on Supabase. It writes to SUPABASE_DB_URL; every path answers, as
// the seed's `serve` does.
//
// Kept as faithful to the seed as our stack allows, and no more careful:
// - supabase-js over PostgREST becomes postgres.js (PostgREST cannot run
//   here), with the pool settings of supabase/functions/_shared/db.ts, so
//   both sides of the benchmark reach the database the same way.
// - The seed builds a client per request; a postgres.js client per request
//   would open a connection per request, which the seed's HTTP client does
//   not do, so the pool is opened once.
// - The seed also sets `repo_slug` to `insightpulseai/<project_id>`. Our
//   `ops.projects.repo_slug` is the repository a member configures, null
//   until then, and our ingest never writes it; the peer leaves it out too,
//   so both write the same columns and the peer does no extra work.
// - No signature check, no validation, no idempotency. A redelivery fails
//   the insert (the primary key), and with no try/catch the error escapes
//   the handler, so Deno.serve answers 500. (supabase-js would have returned
//   the error in `{ error }` instead, and the seed, which never reads it,
//   would have answered 200; the table would be the same either way.)
import postgres from "postgres";

const sql = postgres(Deno.env.get("SUPABASE_DB_URL") ?? "", {
  prepare: false,
  max: 4,
  connect_timeout: 5,
  idle_timeout: 20,
  onnotice: () => {},
});

async function fetch(req: Request): Promise<Response> {
  const { event_type, project_id, name, odoo_version } = await req.json();

  if (event_type === "project_created") {
    await sql`
      insert into ops.projects (project_id, name, odoo_version)
      values (${project_id}, ${name}, ${odoo_version})`;
  }

  return new Response(JSON.stringify({ ok: true }));
}

export default { fetch };
