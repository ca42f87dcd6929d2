// Serves every Edge Function on one port with the URL layout of Supabase, so
// the local stack needs neither Docker nor the Supabase edge runtime.
//
//   deno run --allow-net --allow-env --allow-read --allow-sys \
//     dev/functions-serve.ts --port 54321 --dir supabase/functions [name...]
//
// A request to /functions/v1/<name>/<rest>?<query> reaches the default export
// of supabase/functions/<name>/index.ts as /<name>/<rest>?<query>, which is
// the path the Supabase edge runtime gives a function. Without names, every
// folder of --dir that has an index.ts and does not start with "_" is served.

type Handler = { fetch(request: Request): Response | Promise<Response> };

function parseArgs(args: string[]): { port: number; dir: string; names: string[] } {
  let port = 54321;
  let dir = "supabase/functions";
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") {
      port = Number(args[++i]);
    } else if (args[i] === "--dir") {
      dir = args[++i];
    } else {
      names.push(args[i]);
    }
  }
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`--port: expected a port number, got ${port}`);
  }
  return { port, dir, names };
}

function discover(dir: string): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isDirectory || entry.name.startsWith("_")) continue;
    try {
      Deno.statSync(`${dir}/${entry.name}/index.ts`);
      names.push(entry.name);
    } catch {
      // A folder without index.ts is not a function.
    }
  }
  return names.sort();
}

function problem(status: number, title: string, detail: string): Response {
  return new Response(
    JSON.stringify({ type: "about:blank", title, status, detail }),
    { status, headers: { "content-type": "application/problem+json" } },
  );
}

const { port, dir, names: given } = parseArgs(Deno.args);
const names = given.length > 0 ? given : discover(dir);
const base = new URL(`${dir.replace(/\/$/, "")}/`, `file://${Deno.cwd()}/`);

// Every module is imported before the port opens, so a function that fails to
// load stops the stack at start instead of failing its first request.
const handlers = new Map<string, Handler>();
for (const name of names) {
  const module = await import(new URL(`${name}/index.ts`, base).href);
  const handler = module.default;
  if (typeof handler?.fetch !== "function") {
    throw new Error(`${dir}/${name}/index.ts: expected \`export default { fetch }\``);
  }
  handlers.set(name, handler);
}

const route = /^\/functions\/v1\/([^/]+)(\/.*)?$/;

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: () => {
    console.log(`functions-serve: listening on http://127.0.0.1:${port} (${names.join(", ")})`);
  },
}, async (request) => {
  const url = new URL(request.url);
  const match = route.exec(url.pathname);
  const handler = match ? handlers.get(match[1]) : undefined;
  if (!match || !handler) {
    return problem(404, "Not Found", `no function serves ${url.pathname}`);
  }
  const inner = new URL(url);
  inner.pathname = `/${match[1]}${match[2] ?? ""}`;
  // Method, headers and body carry over. The signal does not: reading it
  // opts into Deno's legacy abort-on-completion behaviour (and a warning).
  const forwarded = new Request(inner, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: request.redirect,
  });
  let response: Response;
  try {
    response = await handler.fetch(forwarded);
  } catch (error) {
    console.error(`functions-serve: ${match[1]} threw:`, error);
    response = problem(500, "Internal Server Error", `function ${match[1]} threw`);
  }
  console.log(`${request.method} ${url.pathname} -> ${response.status}`);
  return response;
});
