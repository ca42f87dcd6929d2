// End-to-end cleanup throughput against a running local stack, and the wasm
// planning cost per 1,000 runs. Run with the stack's variables:
//
//   cargo xtask dev                                   # in another terminal
//   set -a; . .dev/stack.env; set +a
//   deno run -A bench/deno/cleanup.ts [runs=20000] [events_per_run=5]
//
// It seeds finished runs 200 days old in a fresh project, times ops-cleanup
// until they are all archived and deleted, then times the planner step alone
// on one batch, in this process, with the same wasm module the function uses.
import postgres from "postgres";
import { cpuMs, functionsServerPid, memoryMiB, resetPeak } from "./proc.ts";
import { Cleanup } from "../../pkg/ops-cleanup/ops_cleanup.js";

const runs = Number(Deno.args[0] ?? 20_000);
const eventsPerRun = Number(Deno.args[1] ?? 5);
const sql = postgres(Deno.env.get("SUPABASE_DB_URL") ?? "", { max: 2, onnotice: () => {} });
const url = `${Deno.env.get("SUPABASE_URL")}/functions/v1/ops-cleanup`;
const secret = Deno.env.get("OPS_CRON_SECRET") ?? "";

const project = `odoo-${Date.now()}`;
await sql`insert into ops.projects (project_id, name, odoo_version) values (${project}, 'Bench', '19.0')`;
await sql`delete from ops.cleanup_checkpoints`;
const seeded = performance.now();
await sql`
  insert into ops.runs (run_id, project_id, kind, status, created_by, created_at, started_at, finished_at)
  select 'run-bench' || ${
  project.slice(5)
} || '-' || g, ${project}, 'build', 'success', 'bench@example.com',
         now() - interval '200 days' - g * interval '1 second', now() - interval '200 days' - g * interval '1 second',
         now() - interval '200 days' - g * interval '1 second' + interval '5 minutes'
    from generate_series(1, ${runs}) g`;
await sql`
  insert into ops.run_events (run_id, project_id, created_at, event_type, message, data)
  select r.run_id, r.project_id, r.created_at + e * interval '1 second', 'build.step', 'step ' || e,
         jsonb_build_object('step', e, 'ok', true)
    from ops.runs r, generate_series(1, ${eventsPerRun}) e
   where r.project_id = ${project}`;
console.log(
  `seeded ${runs} runs x ${eventsPerRun} events in ${
    ((performance.now() - seeded) / 1000).toFixed(1)
  } s`,
);

// The functions server's process (the one listening on SUPABASE_URL's
// port), whose CPU and peak memory per invocation are measured.
const serverPid = functionsServerPid(url);

// 1. End to end: invocations until the project's runs are gone.
const started = performance.now();
let invocations = 0;
let read = "";
for (;;) {
  resetPeak(serverPid);
  const rssBefore = memoryMiB(serverPid, "VmRSS");
  const cpuBefore = cpuMs(serverPid);
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}` },
    body: "{}",
  });
  const answer = await response.json();
  invocations++;
  if (response.status !== 200) throw new Error(JSON.stringify(answer));
  console.log(
    `invocation ${invocations}: ${answer.batches} batches, complete ${answer.complete}, ` +
      `deleted ${JSON.stringify(answer.deleted)}; functions server: ` +
      `${(cpuMs(serverPid) - cpuBefore).toFixed(0)} ms CPU, peak RSS ${
        memoryMiB(serverPid, "VmHWM").toFixed(0)
      } MiB ` +
      `(${rssBefore.toFixed(0)} MiB before)`,
  );
  const [{ left }] =
    await sql`select count(*)::int as left from ops.runs where project_id = ${project}`;
  if (left === 0 || invocations > 200) break;
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `end to end: ${runs} runs (+${runs * eventsPerRun} events) archived and deleted in ${
    seconds.toFixed(2)
  } s ` +
    `over ${invocations} invocations: ${(runs / seconds).toFixed(0)} runs/s`,
);

// 2. The planner step alone, in wasm, on one batch of 2,000 runs.
await sql`
  insert into ops.runs (run_id, project_id, kind, status, created_by, created_at, started_at, finished_at)
  select 'run-plan' || ${
  project.slice(5)
} || '-' || g, ${project}, 'build', 'success', 'bench@example.com',
         now() - interval '300 days', now() - interval '300 days', now() - interval '300 days' + interval '1 minute'
    from generate_series(1, 2000) g`;
await sql`
  insert into ops.run_events (run_id, project_id, created_at, event_type, message, data)
  select r.run_id, r.project_id, r.created_at + e * interval '1 second', 'build.step', 'step ' || e,
         jsonb_build_object('step', e, 'ok', true)
    from ops.runs r, generate_series(1, ${eventsPerRun}) e
   where r.run_id like 'run-plan%'`;
await sql`delete from ops.cleanup_checkpoints`;
// The function's machine, up to its read: the bounds are its own, from the
// policies and one fixed now, so every timed machine asks for this read.
const planner = new Cleanup("bench-secret-long-enough", "bench", String(1 << 30));
const [{ policies }] = await sql`select ops.cleanup_policies() as policies`;
const benchNow = Date.now();
const machineAtRead = () => {
  const machine = planner.invocation(
    "POST",
    "Bearer bench-secret-long-enough",
    new Uint8Array(),
    true,
    "bench",
    benchNow,
  );
  machine.sqlAnswered("true", 0);
  return { machine, io: JSON.parse(machine.sqlAnswered(policies, 0)) };
};
const { machine: first, io: readIo } = machineAtRead();
first.free();
// The planner's budget as before, larger than the function's.
readIo.params[0] = '{"max_rows":100000,"max_bytes":268435456}';
[{ result: read }] = await sql.unsafe(readIo.text, readIo.params);
const rss = Deno.memoryUsage().rss;
const times: number[] = [];
for (let i = 0; i < 10; i++) {
  const { machine } = machineAtRead();
  const t = performance.now();
  machine.sqlAnswered(read, 0);
  times.push(performance.now() - t);
  machine.free();
}
times.sort((a, b) => a - b);
const median = times[5];
console.log(
  `wasm plan step, 2,000 runs with ${eventsPerRun} events each (${
    (read.length / 1048576).toFixed(1)
  } MiB input): ` +
    `median ${median.toFixed(1)} ms = ${(median / 2).toFixed(1)} ms per 1,000 runs; ` +
    `process RSS grew ${((Deno.memoryUsage().rss - rss) / 1048576).toFixed(0)} MiB`,
);
await sql`delete from ops.runs where run_id like 'run-plan%'`;
await sql.end();
