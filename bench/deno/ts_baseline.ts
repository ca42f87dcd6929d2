// The ingest decision as a TypeScript developer would write it without Rust:
// the npm `standardwebhooks` package verifies, zod validates, node:crypto
// hashes. It is the baseline the wasm is measured against (ingest.bench.ts),
// not code that ships: it follows the same rules as crates/ops-events and
// answers in the same shape as crates/ingest-core, so both do the same work.
import { createHash } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { z } from "zod";

const MAX_BODY_BYTES = 64 * 1024;
const INGEST_SQL =
  "select ops.ingest_event($1, $2, $3::text::jsonb, $4::text::timestamptz)::text as outcome";
const EARLIEST_UNIX = 946_684_800; // 2000-01-01T00:00:00Z
const FUTURE_TOLERANCE_SECONDS = 300;

// zod schemas are built once, at module load, as is usual; the receiver's
// clock reaches the occurred_at rule through this variable.
let nowSeconds = 0;

const projectId = z.string().regex(/^odoo-[1-9][0-9]{0,17}$/, {
  error: 'expected "odoo-<digits>"',
});
const projectName = z.string()
  .min(1, { error: "must not be empty", abort: true })
  // zod counts UTF-16 units where Rust counts characters: the same for every
  // name the benchmarks send.
  .max(255, { abort: true })
  .regex(/^[^\p{Cc}\u2028\u2029]*$/u, {
    error: "must not contain control characters or line breaks",
    abort: true,
  })
  .refine((name) => name.trim().length > 0, {
    error: "must not be only whitespace",
    params: { rule: "pattern" },
  });
const odooVersion = z.string().regex(/^(saas~)?[0-9]{1,3}\.[0-9]{1,2}$/, {
  error: 'expected an Odoo series such as "19.0" or "saas~18.3"',
});
const occurredAt = z.iso.datetime({ offset: true }).refine((text) => {
  const unix = Date.parse(text) / 1000;
  return unix >= EARLIEST_UNIX && unix <= nowSeconds + FUTURE_TOLERANCE_SECONDS;
}, { error: "must be after 2000-01-01 and at most 5 minutes ahead", params: { rule: "maximum" } });

const change = (type: string) =>
  z.strictObject({ event_type: z.literal(type), project_id: projectId, occurred_at: occurredAt });

const eventSchema = z.discriminatedUnion("event_type", [
  z.strictObject({
    event_type: z.literal("project_created"),
    project_id: projectId,
    name: projectName,
    odoo_version: odooVersion,
    occurred_at: occurredAt.nullish(),
  }),
  z.strictObject({
    event_type: z.literal("project_updated"),
    project_id: projectId,
    name: projectName,
    odoo_version: odooVersion,
    occurred_at: occurredAt,
  }),
  change("project_archived"),
  change("project_unarchived"),
  change("project_deleted"),
]);

interface Violation {
  field: string;
  pointer: string;
  rule: string;
  detail: string;
}

/** The same plain objects as the wasm's `Ingest.decide`. */
export type Decision =
  | { action: "apply"; write: Write }
  | { action: "respond"; response: Answer };

export interface Write {
  sql: string;
  params: string[];
  webhook_id: string;
  event_type: string;
  project_id: string;
}

export interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
  log: { webhook_id: string | null; event_type: string | null; outcome: string; status: number };
}

function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  outcome: string,
  webhookId: string | null,
  extra: Record<string, unknown> = {},
): Decision {
  return {
    action: "respond",
    response: {
      status,
      headers: [["content-type", "application/problem+json"]],
      body: JSON.stringify({
        type: `urn:odooops:problem:${slug}`,
        title,
        status,
        detail,
        ...extra,
      }),
      log: { webhook_id: webhookId, event_type: null, outcome, status },
    },
  };
}

function violations(error: z.ZodError, input: unknown): Violation[] {
  const out: Violation[] = [];
  const present = (field: string) => typeof input === "object" && input !== null && field in input;
  const add = (field: string, rule: string, detail: string) =>
    out.push({ field, pointer: `#/${field}`, rule, detail });
  for (const issue of error.issues) {
    const field = issue.path.map(String).join("/");
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) {
          add(key, "additionalProperties", "unknown field; this event does not have it");
        }
        break;
      case "invalid_type":
        add(
          field,
          field && !present(field) ? "required" : "type",
          field && !present(field) ? "the field is missing" : issue.message,
        );
        break;
      case "invalid_union":
      case "invalid_value":
        add(field, "enum", issue.message);
        break;
      case "too_small":
        add(field, "minLength", issue.message);
        break;
      case "too_big":
        add(field, "maxLength", issue.message);
        break;
      case "invalid_format":
        add(field, issue.format === "regex" ? "pattern" : "format", issue.message);
        break;
      case "custom":
        add(field, String(issue.params?.rule ?? "custom"), issue.message);
        break;
      default:
        add(field, issue.code, issue.message);
    }
  }
  return out;
}

function isJsonMediaType(value: string | undefined): boolean {
  return value?.split(";")[0].trim().toLowerCase() === "application/json";
}

/** The receiver, configured once per isolate, like the wasm's `Ingest`. */
export class TsIngest {
  #webhook: Webhook;
  #decoder = new TextDecoder();

  constructor(secret: string) {
    this.#webhook = new Webhook(secret);
  }

  decide(
    method: string,
    headers: Record<string, string>,
    body: Uint8Array,
    bodyComplete: boolean,
    nowMs: number,
  ): Decision {
    if (method !== "POST") {
      return problem(
        405,
        "method-not-allowed",
        "Method not allowed",
        `${method} is not accepted`,
        "method_not_allowed",
        null,
      );
    }
    if (!bodyComplete || body.length > MAX_BODY_BYTES) {
      return problem(
        413,
        "body-too-large",
        "Body too large",
        `the body is longer than ${MAX_BODY_BYTES} bytes`,
        "too_large",
        null,
      );
    }
    const text = this.#decoder.decode(body);
    let payload: unknown;
    let notJson: string | null = null;
    try {
      // Verifies, then JSON.parses the body: the library does both.
      payload = this.#webhook.verify(text, headers);
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        return problem(
          401,
          "invalid-signature",
          "Webhook authentication failed",
          error.message,
          "unauthorized",
          null,
        );
      }
      notJson = String(error);
    }
    const webhookId = headers["webhook-id"];
    if (!isJsonMediaType(headers["content-type"])) {
      return problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        "content-type: expected application/json",
        "unsupported_media_type",
        webhookId,
      );
    }
    if (notJson !== null) {
      return problem(
        400,
        "not-json",
        "Body is not JSON",
        `body is not JSON: ${notJson}`,
        "not_json",
        webhookId,
      );
    }
    nowSeconds = Math.floor(nowMs / 1000);
    const parsed = eventSchema.safeParse(payload);
    if (!parsed.success) {
      const errors = violations(parsed.error, payload);
      const detail = errors.map((v) => `${v.field || "body"}: ${v.detail}`).join("; ");
      return problem(
        422,
        "invalid-event",
        "Event does not match its schema",
        detail,
        "invalid",
        webhookId,
        { errors },
      );
    }
    const event = parsed.data;
    const timestamp = Number(headers["webhook-timestamp"]);
    return {
      action: "apply",
      write: {
        sql: INGEST_SQL,
        params: [
          webhookId,
          createHash("sha256").update(body).digest("hex"),
          JSON.stringify(event),
          event.occurred_at ?? new Date(timestamp * 1000).toISOString(),
        ],
        webhook_id: webhookId,
        event_type: event.event_type,
        project_id: event.project_id,
      },
    };
  }
}
