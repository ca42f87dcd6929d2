// ops-reconcile at scale against a running local stack (issue 10's
// benchmarks), and the seed's own plpgsql loop on the same data, in one run:
//
//   cargo xtask dev                                   # in another terminal
//   set -a; . .dev/stack.env; set +a
//   deno run -A bench/deno/reconcile.ts [projects=100000] [tasks_per_project=10]
//
// 1. Odoo gets `projects` projects (ids above 1,000,000, written two days
//    ago); a full reconcile mirrors them (timed: the first mirror).
// 2. Three rounds of 1% drift (half renamed, a fifth archived, a tenth
//    deleted, a fifth new): in each, the seed's `ops.reconcile_odoo_projects`
//    runs on a copy of the control plane's projects, in a transaction rolled
//    back, then ours runs as a full pass over HTTP, invoked again while it
//    answers `complete: false` (the local stack has no pg_net for the
//    follow-up). Ours is checked to end in Odoo's state.
// 3. Five incremental passes after 100 projects changed in Odoo, each timed
//    end to end (the HTTP call).
// 4. The cache: `tasks_per_project` tasks a project, then the materialized
//    view built and refreshed concurrently, with the time, the database
//    backend's peak memory and the temporary files it wrote.
//
// For each invocation of ours it reads, from /proc, the CPU time and the peak
// resident memory of the functions server, as bench/deno/cleanup.ts does.
import postgres from "postgres";
import { cpuMs, functionsServerPid, memoryMiB, resetPeak } from "./proc.ts";

const projects = Number(Deno.args[0] ?? 100_000);
const tasksPerProject = Number(Deno.args[1] ?? 10);
const rounds = 3;
const base = 1_000_000;
const sql = postgres(Deno.env.get("SUPABASE_DB_URL") ?? "", { max: 2, onnotice: () => {} });
const odoo = postgres(Deno.env.get("ODOO_DB_URL") ?? "", { max: 2, onnotice: () => {} });
const functions = `${Deno.env.get("SUPABASE_URL")}/functions/v1`;
const secret = Deno.env.get("OPS_RECONCILE_SECRET") ?? "";
const odooNow = "(now() at time zone 'utc')";

// The functions server's process: its CPU and peak memory per invocation.
const serverPid = functionsServerPid(functions);
const fixed = (ms: number) => ms.toFixed(0);

/** Thrown to roll the seed's transaction back. */
class Rollback extends Error {}

type Invocation = { ms: number; cpuMs: number; peakMiB: number; answer: Record<string, unknown> };

async function invoke(mode: "full" | "incremental"): Promise<Invocation> {
  resetPeak(serverPid);
  const cpu = cpuMs(serverPid);
  const t = performance.now();
  const response = await fetch(`${functions}/ops-reconcile`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ mode }),
  });
  const answer = await response.json();
  const ms = performance.now() - t;
  if (response.status !== 200) throw new Error(`${response.status}: ${JSON.stringify(answer)}`);
  return { ms, cpuMs: cpuMs(serverPid) - cpu, peakMiB: memoryMiB(serverPid, "VmHWM"), answer };
}

/** A pass: invocations until one answers complete. */
async function pass(mode: "full" | "incremental", label: string) {
  const invocations: Invocation[] = [];
  for (;;) {
    const invocation = await invoke(mode);
    invocations.push(invocation);
    const phases = (invocation.answer.phases ?? []) as { subject: string; summary?: unknown }[];
    const projectsPhase = phases.find((phase) => phase.subject === "projects");
    console.log(
      `  ${label} invocation ${invocations.length}: ${fixed(invocation.ms)} ms, ` +
        `${invocation.answer.pages} pages, complete ${invocation.answer.complete}; functions server ` +
        `${fixed(invocation.cpuMs)} ms CPU, peak RSS ${fixed(invocation.peakMiB)} MiB; projects ` +
        JSON.stringify(projectsPhase?.summary ?? {}),
    );
    if (invocation.answer.complete === true) break;
    if (invocations.length > 50) throw new Error(`${label}: no end after 50 invocations`);
  }
  const ms = invocations.reduce((sum, i) => sum + i.ms, 0);
  return { ms, invocations };
}

/** Rows where the control plane does not hold Odoo's state (0 when mirrored). */
async function mismatches(): Promise<number> {
  const [odooRows, controlRows] = await Promise.all([
    odoo`select id, name->>'en_US' as name, active from project_project where id > ${base}`,
    sql`select substr(project_id, 6)::bigint as id, name, active, deleted_at is not null as deleted
          from ops.projects where substr(project_id, 6)::bigint > ${base}`,
  ]);
  const control = new Map(controlRows.map((row) => [Number(row.id), row]));
  let wrong = 0;
  for (const row of odooRows) {
    const mine = control.get(Number(row.id));
    control.delete(Number(row.id));
    if (!mine || mine.deleted || mine.name !== row.name || mine.active !== row.active) wrong++;
  }
  for (const mine of control.values()) if (!mine.deleted) wrong++;
  return wrong;
}

// --- 0. A clean slate: earlier bench rows in both databases.
console.log(`load average at start: ${Deno.readTextFileSync("/proc/loadavg").trim()}`);
await odoo`delete from project_task where project_id > ${base}`;
await odoo`delete from project_project where id > ${base}`;
await sql`delete from ops.projects where substr(project_id, 6)::bigint > ${base}`;
await sql`delete from ops_private.reconcile_state`;

// --- 1. Odoo's projects, then the first mirror.
let t = performance.now();
await odoo`
  insert into project_project (id, name, active, alias_id, privacy_visibility, last_update_status,
                               is_template, create_date, write_date)
  select ${base}::bigint + g,
         case when g % 10 = 0
              then jsonb_build_object('en_US', 'Project ' || g, 'fr_FR', 'Projet ' || g)
              else jsonb_build_object('en_US', 'Project ' || g) end,
         true, 1, 'employees', 'to_define', false,
         ${odoo.unsafe(odooNow)} - interval '2 days', ${odoo.unsafe(odooNow)} - interval '2 days'
    from generate_series(1, ${projects}) g`;
await odoo`analyze project_project`;
console.log(`Odoo: ${projects} projects in ${fixed(performance.now() - t)} ms`);
const first = await pass("full", "first mirror");
console.log(
  `first mirror of ${projects} projects: ${
    fixed(first.ms)
  } ms over ${first.invocations.length} invocations`,
);
let wrong = await mismatches();
if (wrong !== 0) throw new Error(`after the first mirror ${wrong} projects differ from Odoo`);

// --- 2. The seed's loop, as the seed writes it, over its own two relations:
// `ops.odoo_projects_fdw (id, name)` (the seed's foreign table has a text
// name; Odoo 19's is jsonb, so it reads a view in Odoo that gives it the
// en_US name) and a projects table with the four columns its INSERT names.
await odoo`create or replace view seed_bench_projects as
             select id, name->>'en_US' as name from project_project`;
await odoo`grant select on seed_bench_projects to odoo_fdw_reader`;
await sql.unsafe(`
  drop schema if exists seed_bench cascade;
  create schema seed_bench;
  create foreign table seed_bench.odoo_projects_fdw (id integer, name text)
    server odoo_prod options (schema_name 'public', table_name 'seed_bench_projects');
  create table seed_bench.projects (project_id text primary key, name text not null,
                                    repo_slug text, odoo_version text);
  CREATE OR REPLACE FUNCTION seed_bench.reconcile_odoo_projects()
  RETURNS void AS $$
  DECLARE
      fdw_project RECORD;
      ops_project RECORD;
  BEGIN
      -- Compare foreign table to ops.projects
      FOR fdw_project IN SELECT id, name FROM seed_bench.odoo_projects_fdw LOOP
          SELECT * INTO ops_project FROM seed_bench.projects WHERE project_id = 'odoo-' || fdw_project.id;

          IF NOT FOUND THEN
              -- Create missing project
              INSERT INTO seed_bench.projects (project_id, name, repo_slug, odoo_version)
              VALUES ('odoo-' || fdw_project.id, fdw_project.name, 'auto-generated', '19.0');
          ELSIF ops_project.name != fdw_project.name THEN
              -- Update name mismatch
              UPDATE seed_bench.projects SET name = fdw_project.name WHERE project_id = ops_project.project_id;
          END IF;
      END LOOP;
  END;
  $$ LANGUAGE plpgsql;`);

const drift = Math.max(10, Math.round(projects / 100));
const results: { seedMs: number; seedCpuMs: number; oursMs: number; invocations: Invocation[] }[] =
  [];
for (let round = 1; round <= rounds; round++) {
  // A different 1% each round: ids spread over the whole range.
  // Each kind spread over the whole id range, a few ids apart per round
  // and per kind so that no project is picked twice.
  const pick = (share: number, shift: number) => {
    const count = Math.round(drift * share);
    const step = Math.floor(projects / count);
    return odoo.unsafe(
      `select ${base} + ((g * ${step} + ${round * 7 + shift}) % ${projects}) + 1 as id
         from generate_series(0, ${count - 1}) g`,
    );
  };
  await odoo`update project_project set name = jsonb_build_object('en_US', 'Renamed ' || id || ' in round ' || ${round}::int),
                                        write_date = ${odoo.unsafe(odooNow)}
              where id in (${pick(0.5, 0)})`;
  await odoo`update project_project set active = not coalesce(active, true), write_date = ${
    odoo.unsafe(odooNow)
  }
              where id in (${pick(0.2, 1)})`;
  await odoo`delete from project_project where id in (${pick(0.1, 2)})`;
  await odoo`
    insert into project_project (id, name, active, alias_id, privacy_visibility, last_update_status,
                                 is_template, create_date, write_date)
    select ${
    base + projects + round * 100_000
  }::bigint + g, jsonb_build_object('en_US', 'New ' || g),
           true, 1, 'employees', 'to_define', false, ${odoo.unsafe(odooNow)}, ${
    odoo.unsafe(odooNow)
  }
      from generate_series(1, ${Math.round(drift * 0.2)}) g`;

  // The seed's loop on a copy of the control plane's state, rolled back.
  await sql`truncate seed_bench.projects`;
  await sql`insert into seed_bench.projects
            select project_id, name, repo_slug, odoo_version from ops.projects where deleted_at is null`;
  await sql`analyze seed_bench.projects`;
  let seedMs = 0;
  let seedCpuMs = 0;
  await sql.begin(async (tx) => {
    const [{ pid }] = await tx`select pg_backend_pid()::text as pid`;
    const cpu = cpuMs(pid);
    const started = performance.now();
    await tx`select seed_bench.reconcile_odoo_projects()`;
    seedMs = performance.now() - started;
    seedCpuMs = cpuMs(pid) - cpu;
    throw new Rollback();
  }).catch((error) => {
    if (!(error instanceof Rollback)) throw error;
  });

  const ours = await pass("full", `round ${round}, ours`);
  wrong = await mismatches();
  if (wrong !== 0) throw new Error(`round ${round}: ${wrong} projects differ from Odoo after ours`);
  console.log(
    `round ${round}: seed's loop ${fixed(seedMs)} ms (its backend ${fixed(seedCpuMs)} ms CPU); ` +
      `ours ${fixed(ours.ms)} ms over ${ours.invocations.length} invocations: ` +
      `${(seedMs / ours.ms).toFixed(2)}x`,
  );
  results.push({ seedMs, seedCpuMs, oursMs: ours.ms, invocations: ours.invocations });
}

// --- 3. Incremental: 100 projects changed in Odoo, then one pass, five
// times. Every incremental pass re-reads the 15-minute overlap, and the
// rounds above wrote 3% of Odoo minutes ago: in the first series each pass
// is dated an hour after the last (what Odoo wrote before is moved an hour
// back), so a pass reads the 100 changed since; in the second the passes
// follow each other at once, and each also re-reads the earlier ones' rows
// in the overlap (they agree, and the read leaves them out), as passes
// minutes apart would.
const backdate = () =>
  odoo`update project_project set write_date = write_date - interval '1 hour'
        where id > ${base} and write_date > ${odoo.unsafe(odooNow)} - interval '1 hour'`;
await backdate();
await pass("full", "before the incremental passes");
const incremental: Record<string, number[]> = { "an hour apart": [], "back to back": [] };
for (const [series, times] of Object.entries(incremental)) {
  for (let round = 1; round <= 5; round++) {
    if (series === "an hour apart") await backdate();
    await odoo`update project_project set name = jsonb_build_object('en_US', 'Incremental ' || id || ' ' || ${series} || ${round}::int),
                                          write_date = ${odoo.unsafe(odooNow)}
                where id in (select ${base + round}::bigint + g * ${Math.floor(projects / 100)}::int
                               from generate_series(0, 99) g)`;
    const step = await pass("incremental", `incremental ${series} ${round}`);
    times.push(step.ms);
  }
  times.sort((a, b) => a - b);
  console.log(
    `incremental, 100 of ${projects} changed, passes ${series}: median ${fixed(times[2])} ms, ` +
      `min ${fixed(times[0])}, max ${fixed(times[4])}`,
  );
}
wrong = await mismatches();
if (wrong !== 0) throw new Error(`after the incremental passes ${wrong} projects differ from Odoo`);

// --- 4. The cache over the projects and their tasks.
t = performance.now();
await odoo`
  insert into project_task (name, active, state, project_id, allocated_hours, is_template,
                            create_date, write_date)
  select 'Task ' || g, g % 20 <> 0, '01_in_progress', p.id, (g % 8)::float8, false,
         ${odoo.unsafe(odooNow)}, ${odoo.unsafe(odooNow)}
    from project_project p, generate_series(1, ${tasksPerProject}) g
   where p.id > ${base}`;
await odoo`analyze project_task`;
console.log(`Odoo: ${tasksPerProject} tasks a project in ${fixed(performance.now() - t)} ms`);
const cache = async (label: string, statement: string) => {
  const reserved = await sql.reserve();
  try {
    const [{ pid }] = await reserved`select pg_backend_pid()::text as pid`;
    const [{ temp: tempBefore }] = await reserved`
      select temp_bytes::bigint as temp from pg_stat_database where datname = current_database()`;
    resetPeak(pid);
    const rss = memoryMiB(pid, "VmRSS");
    const cpu = cpuMs(pid);
    const started = performance.now();
    const [{ rows }] = await reserved.unsafe(`select ${statement} as rows`);
    const ms = performance.now() - started;
    const used = cpuMs(pid) - cpu;
    const peak = memoryMiB(pid, "VmHWM");
    await reserved`select pg_stat_clear_snapshot()`;
    const [{ temp: tempAfter }] = await reserved`
      select temp_bytes::bigint as temp from pg_stat_database where datname = current_database()`;
    console.log(
      `cache ${label}: ${rows} rows in ${fixed(ms)} ms (backend ${fixed(used)} ms CPU); ` +
        `backend resident ${fixed(rss)} -> peak ${fixed(peak)} MiB; temporary files ` +
        `${((Number(tempAfter) - Number(tempBefore)) / 1048576).toFixed(1)} MiB`,
    );
  } finally {
    reserved.release();
  }
};
await cache("built", "ops.create_odoo_project_summary()");
await cache("refreshed concurrently", "ops.refresh_odoo_project_summary()");
await odoo`update project_task set allocated_hours = allocated_hours + 1
            where project_id in (select ${base}::bigint + g * 100 from generate_series(1, ${
  Math.floor(projects / 100)
}) g)`;
await cache("refreshed concurrently after 1% changed", "ops.refresh_odoo_project_summary()");
const [{ size }] = await sql`
  select pg_size_pretty(pg_total_relation_size('ops_private.odoo_project_summary')) as size`;
console.log(`cache size with its index: ${size}`);

// --- Summary.
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ratios = results.map((r) => r.seedMs / r.oursMs);
const perInvocationCpu = results.flatMap((r) => r.invocations.map((i) => i.cpuMs));
console.log(
  `\nfull reconcile of ${projects} projects with 1% drift, ${rounds} rounds: ours ` +
    `${results.map((r) => fixed(r.oursMs)).join(", ")} ms; the seed's loop ` +
    `${results.map((r) => fixed(r.seedMs)).join(", ")} ms; ratio ${
      ratios.map((r) => r.toFixed(2)).join(", ")
    } (median ${median(ratios).toFixed(2)}x)`,
);
console.log(
  `functions server CPU per invocation: max ${fixed(Math.max(...perInvocationCpu))} ms, ` +
    `median ${fixed(median(perInvocationCpu))} ms over ${perInvocationCpu.length} invocations`,
);
await sql`drop schema seed_bench cascade`;
await odoo`drop view seed_bench_projects`;
await odoo`delete from project_task where project_id > ${base}`;
await odoo.end();
await sql.end();
