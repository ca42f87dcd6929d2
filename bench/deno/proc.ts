// What the end-to-end benchmarks read from /proc about a process: the
// functions server's pid, its CPU time and its resident memory. The
// platform's limits (2 s CPU, 256 MB) apply to one function's isolate; the
// functions server's process holds more (every function, V8, the HTTP
// server), so these figures are upper bounds.

/** The pid of `dev/functions-serve.ts` listening on `url`'s port, if any. */
export function functionsServerPid(url: string): string | undefined {
  const port = new URL(url).port;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (args.some((arg) => arg.endsWith("functions-serve.ts")) && args.includes(port)) {
        return entry.name;
      }
    } catch {
      // A process that ended while we looked.
    }
  }
  return undefined;
}

/** utime + stime of a process in ms (100 clock ticks a second), NaN without one. */
export function cpuMs(pid: string | undefined): number {
  if (pid === undefined) return NaN;
  // The fields after the command name, which may itself hold spaces.
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, 13)
    .reduce((sum, ticks) => sum + Number(ticks) * 10, 0);
}

/** The process's peak (`VmHWM`) or current (`VmRSS`) resident size in MiB. */
export function memoryMiB(pid: string | undefined, field: "VmHWM" | "VmRSS"): number {
  if (pid === undefined) return NaN;
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
}

/** Resets `VmHWM` to the current resident size (writing 5 to clear_refs). */
export function resetPeak(pid: string | undefined): void {
  if (pid !== undefined) Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
}
