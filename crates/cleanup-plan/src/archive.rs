//! Archive objects: NDJSON lines, gzip-compressed the same way every time,
//! named by what they hold and by their digest.

use crate::error::{Error, ErrorKind};
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;

/// The `Content-Type` to store archive objects with: they are gzip files
/// (not `Content-Encoding: gzip`, which clients would silently undo).
pub const ARCHIVE_CONTENT_TYPE: &str = "application/gzip";

/// The gzip level: 3. The planner runs inside the Edge Function's 2 s of
/// CPU, and compressing is most of the cost of an archive: on the benchmark's
/// 37 MiB of run lines, level 3 took 0.67 s and wrote 4.0 MiB, level 6 (zlib's
/// default) 1.02 s for 3.7 MiB, level 1 0.79 s for 4.4 MiB. 8% more bytes in
/// cold storage is cheaper than a third more CPU per invocation. Fixed,
/// because the level changes the bytes and so the digest and the key.
pub const GZIP_LEVEL: u32 = 3;

// The OS field of the gzip header: 255, "unknown", so that the bytes do not
// depend on the machine that planned them.
const GZIP_OS_UNKNOWN: u8 = 255;

/// Which table an archive object holds rows of; also the first part of its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveTable {
    /// One line per run, `{"run":{...},"events":[...]}`.
    Runs,
    /// One line per event, from the monthly partitions being dropped.
    RunEvents,
    /// One line per artifact row.
    Artifacts,
    /// One line per backup row.
    Backups,
    /// One line per `ops.ingest_deliveries` row.
    IngestDeliveries,
}

impl ArchiveTable {
    /// The table's name as used in keys and in `ops`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveTable::Runs => "runs",
            ArchiveTable::RunEvents => "run_events",
            ArchiveTable::Artifacts => "artifacts",
            ArchiveTable::Backups => "backups",
            ArchiveTable::IngestDeliveries => "ingest_deliveries",
        }
    }
}

/// How many rows of each table an archive object holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RowCounts {
    /// `ops.runs` rows.
    pub runs: u64,
    /// `ops.run_events` rows (embedded in run lines, or one per line).
    pub run_events: u64,
    /// `ops.artifacts` rows.
    pub artifacts: u64,
    /// `ops.backups` rows.
    pub backups: u64,
    /// `ops.ingest_deliveries` rows.
    pub ingest_deliveries: u64,
}

/// One object to put into the archive bucket, complete.
///
/// The key is `<table>/<yyyy>/<mm>/<sha256>.ndjson.gz`,
/// the month being that of the rows' `finished_at` (runs), `received_at`
/// (ingest deliveries) or `created_at` (the rest); a plan makes one object per table and month. Not one per
/// project: a batch taken oldest first spans every project active that day,
/// and one object per project would mean a thousand puts for one invocation
/// (7,158 objects for 10,000 runs in the benchmark), each costing the shim
/// CPU it does not have; the lines carry their `project_id`, and
/// [`ArchiveObject::project_ids`] lists them for the archive record.
///
/// Deterministic, so a rerun after a crash plans the same key and bytes and
/// the conditional put (`If-None-Match: *`) finds the object already there;
/// the digest in the key makes it collision-free, so different contents can
/// never compete for one key (rows that changed between a crashed run and its
/// rerun, a new gzip version): the put never has to overwrite anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArchiveObject {
    /// The object key inside the archive bucket.
    pub key: String,
    /// The table the lines are rows of.
    pub table: ArchiveTable,
    /// The projects whose rows the object holds, sorted.
    pub project_ids: Vec<String>,
    /// The runs its rows are or belong to, sorted: the runs of a runs
    /// object, the runs of the events of a run_events object, the runs the
    /// artifacts or backups were linked to. How a restore finds the events
    /// of a run that were archived by month, before the run itself.
    pub run_ids: Vec<String>,
    /// The month of the rows, `YYYY-MM`.
    pub month: String,
    /// The gzip bytes. Not serialized: a dry-run answer carries the
    /// description, and the bindings hand the bytes over as they are.
    #[serde(skip)]
    pub content: Vec<u8>,
    /// SHA-256 of `content`, lowercase hex (S3's `ChecksumSHA256` is the
    /// same digest in base64).
    pub sha256_hex: String,
    /// `content.len()`.
    pub size_bytes: u64,
    /// Length of the NDJSON before compression.
    pub ndjson_bytes: u64,
    /// Rows per table.
    pub rows: RowCounts,
    /// The primary keys of the lines, in line order: run ids, event ids (as
    /// decimal text), artifact ids, backup ids or webhook ids. What the executor records so
    /// that any deleted row can be found again.
    pub ids: Vec<String>,
}

/// Appends `row` as one NDJSON line (compact JSON and `\n`) to `buf`.
pub(crate) fn write_line<T: Serialize>(buf: &mut Vec<u8>, row: &T) -> Result<(), Error> {
    serde_json::to_writer(&mut *buf, row).map_err(|err| {
        Error::new(
            ErrorKind::Archive,
            "",
            format!("cannot encode a row as JSON: {err}"),
        )
    })?;
    buf.push(b'\n');
    Ok(())
}

/// Compresses `chunks` (in order) into one gzip member with a fixed header:
/// no file name, no comment, modification time 0, OS "unknown", level
/// [`GZIP_LEVEL`], the pure-Rust deflate. The same chunks give the same
/// bytes on every machine.
pub fn gzip_deterministic<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, Error> {
    let mut encoder: GzEncoder<Vec<u8>> = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(Vec::new(), Compression::new(GZIP_LEVEL));
    let fail =
        |err: std::io::Error| Error::new(ErrorKind::Archive, "", format!("gzip failed: {err}"));
    for chunk in chunks {
        encoder.write_all(chunk).map_err(fail)?;
    }
    encoder.finish().map_err(fail)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// What one object will hold, before it is encoded.
pub(crate) struct ObjectSpec {
    pub table: ArchiveTable,
    pub project_ids: Vec<String>,
    pub run_ids: Vec<String>,
    pub month_index: i64,
    pub rows: RowCounts,
    pub ids: Vec<String>,
}

/// Builds the object from its lines.
pub(crate) fn build_object<'a>(
    spec: ObjectSpec,
    lines: impl IntoIterator<Item = &'a [u8]> + Clone,
) -> Result<ArchiveObject, Error> {
    let ndjson_bytes: usize = lines.clone().into_iter().map(<[u8]>::len).sum();
    let content = gzip_deterministic(lines)?;
    let sha256_hex = sha256_hex(&content);
    let year = spec.month_index.div_euclid(12);
    let month = spec.month_index.rem_euclid(12) + 1;
    let month_text = format!("{year:04}-{month:02}");
    if spec.ids.is_empty() {
        return Err(Error::new(
            ErrorKind::Archive,
            "",
            "an archive object needs at least one row",
        ));
    }
    // The digest alone names the object: unique for its content, and short.
    // Row ids in the name would push it past the 255 bytes a file name may
    // have on stores backed by a file system (s3s-fs, MinIO on disk); the ids
    // are in the archive record instead.
    let key = format!(
        "{}/{year:04}/{month:02}/{sha256_hex}.ndjson.gz",
        spec.table.as_str()
    );
    Ok(ArchiveObject {
        key,
        table: spec.table,
        project_ids: spec.project_ids,
        run_ids: spec.run_ids,
        month: month_text,
        size_bytes: content.len() as u64,
        content,
        sha256_hex,
        ndjson_bytes: ndjson_bytes as u64,
        rows: spec.rows,
        ids: spec.ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn gzip_header_is_fixed_and_content_round_trips() {
        let lines: [&[u8]; 2] = [b"{\"a\":1}\n", b"{\"b\":2}\n"];
        let bytes = gzip_deterministic(lines).unwrap();
        // ID1 ID2 CM=deflate FLG=0 MTIME=0 (4 bytes) XFL OS=255
        assert_eq!(&bytes[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
        assert_eq!(bytes[9], 255);
        assert_eq!(gzip_deterministic(lines).unwrap(), bytes);
        let mut text = String::new();
        GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":2}\n");
    }

    #[test]
    fn sha256_hex_matches_a_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
