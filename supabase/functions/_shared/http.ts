// HTTP plumbing shared by the shims: reading a bounded body and sending what
// the wasm decided. No decisions live here.

/** A response as the wasm modules describe it. */
export interface Decided {
  status: number;
  headers: [string, string][];
  body: string;
  log: Record<string, unknown>;
}

/**
 * Reads at most `limit + 1` bytes of the body, so an oversized body is known
 * to be oversized without ever being held whole in memory.
 */
export async function readBounded(
  request: Request,
  limit: number,
): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (request.body === null) {
    return { bytes: new Uint8Array(0), complete: true };
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return { bytes: new Uint8Array(0), complete: false };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes, complete: true };
}

/** Writes a request's one log line, with its duration. */
export function log(fn: string, decided: Decided, started: number): void {
  console.log(JSON.stringify({
    fn,
    ...decided.log,
    duration_ms: Math.round((performance.now() - started) * 100) / 100,
  }));
}

/** Sends a decided response and writes its one log line. */
export function send(fn: string, decided: Decided, started: number): Response {
  log(fn, decided, started);
  return new Response(decided.body, {
    status: decided.status,
    headers: decided.headers,
  });
}
