// The functions' one way to S3: the AWS SDK, configured from the
// environment (S3_ENDPOINT for S3-compatible stores such as s3s-fs).
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";

let client: S3Client | undefined;

// A timeout that is unset or not a positive number would mean none at all.
function positiveOr(value: number, fallback: number): number {
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function s3(): S3Client {
  client ??= new S3Client({
    endpoint: Deno.env.get("S3_ENDPOINT") || undefined,
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
    // Bucket in the path, not the host name: what S3-compatible stores
    // (and loopback addresses) support.
    forcePathStyle: true,
    // A store that does not answer fails the invocation quickly; nothing is
    // deleted before an archive is confirmed anyway.
    maxAttempts: 2,
    // The SDK waits forever by default: a connection that hangs would hold
    // the cleanup lease until the platform kills the function. An archive is
    // at most the planner's byte budget (32 MiB), seconds on any sane link;
    // OPS_S3_TIMEOUT_MS overrides the 30 s. (Without throwOnRequestTimeout
    // the SDK only logs a warning.)
    requestHandler: {
      connectionTimeout: 5_000,
      requestTimeout: positiveOr(Number(Deno.env.get("OPS_S3_TIMEOUT_MS")), 30_000),
      throwOnRequestTimeout: true,
    },
  });
  return client;
}

/**
 * Puts an object unless one already exists under its key (a rerun after a
 * crash finds its own archive there: keys carry the content's digest), with
 * its SHA-256 so the store refuses corrupted bytes and the content type it
 * was given, then reads back what is stored.
 */
export async function putOnce(
  put: {
    bucket: string;
    key: string;
    content: Uint8Array;
    content_type: string;
    sha256_base64: string;
  },
): Promise<Uint8Array> {
  try {
    await s3().send(
      new PutObjectCommand({
        Bucket: put.bucket,
        Key: put.key,
        Body: put.content,
        ContentType: put.content_type,
        ChecksumSHA256: put.sha256_base64,
        IfNoneMatch: "*",
      }),
    );
  } catch (error) {
    // 412: the key exists. Whatever is there is read back and verified.
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 412) {
      throw error;
    }
  }
  const stored = await s3().send(new GetObjectCommand({ Bucket: put.bucket, Key: put.key }));
  return await stored.Body!.transformToByteArray();
}

/**
 * One object's bytes as stored. The SDK does not undo a Content-Encoding,
 * so what a digest was computed over is what comes back.
 */
export async function get(target: { bucket: string; key: string }): Promise<Uint8Array> {
  const object = await s3().send(new GetObjectCommand({ Bucket: target.bucket, Key: target.key }));
  if (!object.Body) throw new Error(`s3://${target.bucket}/${target.key}: empty response body`);
  return await object.Body.transformToByteArray();
}

/** Closes the client's connections (a command's last step). */
export function close(): void {
  client?.destroy();
  client = undefined;
}

/** Deletes one object; deleting a missing object succeeds, as in S3. */
export async function remove(target: { bucket: string; key: string }): Promise<void> {
  await s3().send(new DeleteObjectCommand({ Bucket: target.bucket, Key: target.key }));
}
