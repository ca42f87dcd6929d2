//! Putting archived runs back: the restore command as a machine.
//!
//! An operator runs `cargo xtask restore --run <run_id>` (or `--object <key>`
//! for every run of one runs archive). The command is the functions'
//! executor with this machine; the order of its steps is:
//!
//! 1. read what there is to choose from (`ops.cleanup_restore_sources`): the
//!    runs archives that list the run, or the record of the object, and the
//!    run_events archives with events of the runs concerned;
//! 2. choose the runs archive ([`choose`]): for a run, the archive its
//!    deletion was recorded against, else the newest that lists it (a run
//!    restored already is found again, so restoring twice answers "already
//!    present" rather than "unknown");
//! 3. get each object as stored, refuse it unless its SHA-256 is the one
//!    cleanup recorded, decompress it, and for one run keep only its line;
//! 4. write everything in one call (`ops.cleanup_restore`), one transaction:
//!    the restore happens whole or not at all, and running it twice is
//!    harmless;
//! 5. answer the counts, or a problem that says what was refused and why.
//!
//! Restore is a command, not an Edge Function: it is an operator's action,
//! rare and deliberate, with no caller to authenticate over HTTP; and one
//! run's archive may be 32 MiB compressed, which inflating and checking
//! would take beyond a function's 2 s of CPU and its memory.

use crate::{problem, LogFields, Response};
use cleanup_plan::sha256_hex;
use flate2::read::GzDecoder;
use function_io::{Answer, Io, Machine, Param};
use serde::Deserialize;
use std::io::Read;

/// The command line's usage, as the problem's detail when it is wrong.
pub const USAGE: &str = "usage: cargo xtask restore (--run <run_id> | --object <archive key>)";

/// What the archives hold for the target.
pub(crate) const SOURCES: &str = "select ops.cleanup_restore_sources($1::text, $2::text) as result";
/// The one write: runs, then their month-archived events, in one transaction.
pub(crate) const RESTORE: &str = "select ops.cleanup_restore($1::text, $2::text, $3::text[], \
     $4::text[], $5::text[])::text as result";

/// What to restore: one run, or every run of one archive object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `--run <run_id>`.
    Run(String),
    /// `--object <key>`.
    Object(String),
}

impl Target {
    /// Reads the command line: exactly one of `--run <id>` or `--object <key>`.
    pub fn parse(args: &[String]) -> Option<Target> {
        match args {
            [flag, value] if !value.is_empty() && !value.starts_with("--") => match flag.as_str() {
                "--run" => Some(Target::Run(value.clone())),
                "--object" => Some(Target::Object(value.clone())),
                _ => None,
            },
            _ => None,
        }
    }
}

/// One archive record, as `ops.cleanup_restore_sources` answers it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Source {
    /// The object's key.
    pub object_key: String,
    /// The bucket cleanup wrote it to (not whatever `S3_BUCKET` says now).
    pub bucket: String,
    /// The SHA-256 of its bytes, hex, as recorded when it was verified.
    pub sha256: String,
    /// The table its rows are of (absent for event archives: always
    /// `run_events`).
    #[serde(default)]
    pub table: String,
    /// The ids of its rows (runs archives).
    #[serde(default)]
    pub ids: Vec<String>,
    /// Whether `ops.cleanup_archived_runs` records the run as deleted from it.
    #[serde(default)]
    pub deleted_from: bool,
}

/// The answer of `ops.cleanup_restore_sources`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Sources {
    /// Runs archives listing the run (newest first), or the object's record.
    pub archives: Vec<Source>,
    /// run_events archives with events of the runs concerned.
    pub event_archives: Vec<Source>,
}

/// A restore refused before anything was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    status: u16,
    slug: &'static str,
    detail: String,
}

impl Refusal {
    fn new(status: u16, slug: &'static str, detail: String) -> Refusal {
        Refusal {
            status,
            slug,
            detail,
        }
    }

    /// The problem's status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// What was refused and why.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    fn response(&self) -> Response {
        problem(self.status, self.slug, "Restore refused", &self.detail)
    }
}

/// The runs archive to restore `target` from (see the module's step 2).
pub fn choose(target: &Target, archives: &[Source]) -> Result<Source, Refusal> {
    match target {
        Target::Object(key) => {
            let Some(archive) = archives.iter().find(|a| &a.object_key == key) else {
                return Err(Refusal::new(
                    404,
                    "not-archived",
                    format!(
                        "{key}: not an archive object ops-cleanup recorded (ops.cleanup_archives)"
                    ),
                ));
            };
            if archive.table != "runs" {
                return Err(Refusal::new(
                    422,
                    "not-a-runs-archive",
                    format!(
                        "{key}: holds {} rows; only runs archives can be restored",
                        archive.table
                    ),
                ));
            }
            Ok(archive.clone())
        }
        Target::Run(run) => {
            let runs = archives
                .iter()
                .filter(|a| a.table == "runs" && a.ids.iter().any(|id| id == run));
            // Sources come newest first: the first recorded deletion, else the newest.
            let mut newest = None;
            for archive in runs {
                if archive.deleted_from {
                    return Ok(archive.clone());
                }
                newest = newest.or(Some(archive));
            }
            newest.cloned().ok_or_else(|| {
                Refusal::new(
                    404,
                    "not-archived",
                    format!("run {run}: no runs archive holds it (ops.cleanup_archives)"),
                )
            })
        }
    }
}

/// The NDJSON text of an object got from S3, refused unless its bytes have
/// the SHA-256 cleanup recorded. The bytes are taken as stored: archives
/// written with `Content-Encoding: gzip` (before they were stored as
/// `application/gzip`) verify like the newer ones, and a client that had
/// decompressed them would fail the digest.
pub fn verified_text(source: &Source, stored: &[u8]) -> Result<String, Refusal> {
    let actual = sha256_hex(stored);
    if actual != source.sha256 {
        return Err(Refusal::new(
            409,
            "changed-object",
            format!(
                "s3://{}/{}: SHA-256 is {actual}, but cleanup recorded {}; refusing to restore from a changed object",
                source.bucket, source.object_key, source.sha256
            ),
        ));
    }
    let mut text = String::new();
    GzDecoder::new(stored)
        .read_to_string(&mut text)
        .map_err(|err| {
            Refusal::new(
                422,
                "unreadable-archive",
                format!(
                    "{}: not gzip-compressed UTF-8 text ({err})",
                    source.object_key
                ),
            )
        })?;
    Ok(text)
}

/// The line of `run_id` in a runs archive's text, found by its
/// `run.run_id`; the line itself is passed on unchanged.
pub fn line_of<'a>(ndjson: &'a str, run_id: &str, key: &str) -> Result<&'a str, Refusal> {
    #[derive(Deserialize)]
    struct Line {
        run: Option<LineRun>,
    }
    #[derive(Deserialize)]
    struct LineRun {
        run_id: Option<String>,
    }
    for (index, line) in ndjson.split('\n').enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(line).map_err(|_| {
            Refusal::new(
                422,
                "unreadable-archive",
                format!("{key}: line {} is not JSON", index + 1),
            )
        })?;
        if parsed.run.and_then(|run| run.run_id).as_deref() == Some(run_id) {
            return Ok(line);
        }
    }
    Err(Refusal::new(
        422,
        "unreadable-archive",
        format!("{key}: no line for run {run_id}, although the archive record lists it"),
    ))
}

/// One restore, from the command line to the answer.
#[derive(Debug)]
pub struct Restore {
    next: Next,
    target: Option<Target>,
    archive: Option<Source>,
    /// The objects still to get: the runs archive first, then the events'.
    pending: std::vec::IntoIter<Source>,
    lines: String,
    event_keys: Vec<String>,
    event_lines: Vec<String>,
}

#[derive(Debug)]
enum Next {
    Sql {
        text: &'static str,
        params: Vec<Param>,
    },
    Get(Source),
    Respond(Response),
    /// Only while an answer is handled.
    Handling,
}

impl Restore {
    /// A restore of what `args` (the command line after `restore`) names.
    pub fn new(args: &[String]) -> Restore {
        let target = Target::parse(args);
        let next = match &target {
            None => Next::Respond(problem(400, "usage", "Usage", USAGE)),
            Some(target) => {
                let (run, object) = match target {
                    Target::Run(run) => (Param::Text(run.clone()), Param::Null),
                    Target::Object(key) => (Param::Null, Param::Text(key.clone())),
                };
                Next::Sql {
                    text: SOURCES,
                    params: vec![run, object],
                }
            }
        };
        Restore {
            next,
            target,
            archive: None,
            pending: Vec::new().into_iter(),
            lines: String::new(),
            event_keys: Vec::new(),
            event_lines: Vec::new(),
        }
    }

    fn refuse(&mut self, refusal: Refusal) {
        self.next = Next::Respond(refusal.response());
    }

    fn on_sources(&mut self, answer: &str) {
        let Some(target) = &self.target else { return };
        let sources: Sources = match serde_json::from_str(answer) {
            Ok(sources) => sources,
            Err(err) => return self.refuse(unexpected(&err.to_string())),
        };
        match choose(target, &sources.archives) {
            Ok(archive) => {
                let mut objects = vec![archive.clone()];
                objects.extend(sources.event_archives);
                self.archive = Some(archive);
                self.pending = objects.into_iter();
                self.get_next();
            }
            Err(refusal) => self.refuse(refusal),
        }
    }

    fn get_next(&mut self) {
        match self.pending.next() {
            Some(source) => self.next = Next::Get(source),
            None => self.write(),
        }
    }

    fn on_object(&mut self, source: &Source, stored: &[u8]) {
        let text = match verified_text(source, stored) {
            Ok(text) => text,
            Err(refusal) => return self.refuse(refusal),
        };
        // The runs archive is got first; every other object holds events.
        let is_runs = self
            .archive
            .as_ref()
            .is_some_and(|archive| archive.object_key == source.object_key);
        if is_runs {
            self.lines = match &self.target {
                Some(Target::Run(run)) => match line_of(&text, run, &source.object_key) {
                    Ok(line) => line.to_owned(),
                    Err(refusal) => return self.refuse(refusal),
                },
                _ => text,
            };
        } else {
            self.event_keys.push(source.object_key.clone());
            self.event_lines.push(text);
        }
        self.get_next();
    }

    fn write(&mut self) {
        let (Some(archive), Some(target)) = (&self.archive, &self.target) else {
            return;
        };
        let run_ids = match target {
            Target::Run(run) => vec![run.clone()],
            Target::Object(_) => archive.ids.clone(),
        };
        self.next = Next::Sql {
            text: RESTORE,
            params: vec![
                Param::Text(archive.object_key.clone()),
                Param::Text(std::mem::take(&mut self.lines)),
                Param::TextArray(run_ids),
                Param::TextArray(std::mem::take(&mut self.event_keys)),
                Param::TextArray(std::mem::take(&mut self.event_lines)),
            ],
        };
    }
}

impl Machine for Restore {
    type Response = Response;

    fn poll(&self) -> Io<'_, Response> {
        match &self.next {
            Next::Sql { text, params } => Io::Sql { text, params },
            Next::Get(source) => Io::S3Get {
                bucket: &source.bucket,
                key: &source.object_key,
            },
            Next::Respond(response) => Io::Respond { response },
            Next::Handling => Io::Respond { response: &LOST },
        }
    }

    fn handle(&mut self, answer: Answer<'_>, _elapsed_ms: f64) {
        let next = std::mem::replace(&mut self.next, Next::Handling);
        match (next, answer) {
            (Next::Sql { text: SOURCES, .. }, Answer::Sql(sources)) => {
                self.on_sources(sources.unwrap_or(""))
            }
            (Next::Sql { text: RESTORE, .. }, Answer::Sql(Some(result))) => {
                let counts: serde_json::Value = serde_json::from_str(result).unwrap_or_default();
                let count = |name: &str| counts.get(name).and_then(serde_json::Value::as_u64);
                let outcome = match (count("runs_restored"), count("runs_already_present")) {
                    (Some(0), Some(present)) if present > 0 => "already_present",
                    _ => "restored",
                };
                self.next = Next::Respond(Response {
                    status: 200,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: result.to_owned(),
                    log: LogFields {
                        outcome: outcome.into(),
                        status: 200,
                        ..LogFields::default()
                    },
                });
            }
            (Next::Sql { .. }, Answer::SqlFailed { sqlstate, message }) => {
                self.next = Next::Respond(database_failed(sqlstate, message).response());
            }
            (Next::Get(source), Answer::Stored(stored)) => self.on_object(&source, stored),
            (Next::Get(source), _) => self.refuse(Refusal::new(
                503,
                "s3-unavailable",
                format!(
                    "s3://{}/{}: cannot download; nothing was restored",
                    source.bucket, source.object_key
                ),
            )),
            // The answer was sent: nothing changes it.
            (Next::Respond(response), _) => self.next = Next::Respond(response),
            (_, _) => self.refuse(unexpected("an answer the restore did not ask for")),
        }
    }
}

/// A failed statement. The restore's own refusals (a bad line, a run that
/// is not in the object, an unknown archive: raised by the functions with
/// class 22 or 23) are the operator's to read; anything else means the
/// database is away or broken, and nothing was written.
fn database_failed(sqlstate: Option<&str>, message: Option<&str>) -> Refusal {
    match (sqlstate, message) {
        (Some(code), Some(message)) if code.starts_with("22") || code.starts_with("23") => {
            Refusal::new(422, "refused", message.to_owned())
        }
        (code, message) => Refusal::new(
            503,
            "database-unavailable",
            format!(
                "the database failed ({}{}); nothing was restored",
                code.unwrap_or("not reached"),
                message.map(|m| format!(": {m}")).unwrap_or_default()
            ),
        ),
    }
}

fn unexpected(what: &str) -> Refusal {
    Refusal::new(
        503,
        "unexpected-input",
        format!("the database answered in an unexpected form ({what}); nothing was restored"),
    )
}

/// What `poll` shows in the one state no poll sees (`Next::Handling`).
static LOST: std::sync::LazyLock<Response> = std::sync::LazyLock::new(|| {
    problem(
        503,
        "unavailable",
        "Temporarily unavailable",
        "the restore lost its place; nothing was restored",
    )
});

#[cfg(test)]
mod tests {
    use super::*;
    use cleanup_plan::gzip_deterministic;
    use serde_json::{json, Value};

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    fn source(key: &str, table: &str, ids: &[&str], deleted_from: bool) -> Source {
        Source {
            object_key: key.into(),
            bucket: "odooops-archives".into(),
            sha256: "0".repeat(64),
            table: table.into(),
            ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            deleted_from,
        }
    }

    fn stored(text: &str) -> (Vec<u8>, String) {
        let bytes = gzip_deterministic([text.as_bytes()]).unwrap();
        let digest = sha256_hex(&bytes);
        (bytes, digest)
    }

    fn respond(machine: &Restore) -> (u16, Value) {
        let Io::Respond { response } = machine.poll() else {
            panic!("expected a response, got {:?}", machine.poll_json())
        };
        (
            response.status,
            serde_json::from_str(&response.body).unwrap(),
        )
    }

    #[test]
    fn the_command_line_names_exactly_one_run_or_object() {
        assert_eq!(
            Target::parse(&args(&["--run", "run-1"])),
            Some(Target::Run("run-1".into()))
        );
        assert_eq!(
            Target::parse(&args(&["--object", "runs/k.ndjson.gz"])),
            Some(Target::Object("runs/k.ndjson.gz".into()))
        );
        for wrong in [
            &[][..],
            &["--run"][..],
            &["--run", ""][..],
            &["--run", "--object"][..],
            &["--id", "x"][..],
            &["--run", "a", "--object", "b"][..],
        ] {
            assert_eq!(Target::parse(&args(wrong)), None, "{wrong:?}");
        }
        let machine = Restore::new(&args(&["--run"]));
        let (status, body) = respond(&machine);
        assert_eq!(status, 400);
        assert_eq!(body["detail"], USAGE);
    }

    #[test]
    fn a_run_comes_from_the_archive_its_deletion_was_recorded_against() {
        let run = Target::Run("run-a".into());
        let newer = source("runs/new", "runs", &["run-a"], false);
        let recorded = source("runs/old", "runs", &["run-a", "run-b"], true);
        let chosen = choose(&run, &[newer.clone(), recorded.clone()]).unwrap();
        assert_eq!(chosen, recorded);
        // Restored already (no deletion recorded): the newest that lists it.
        let older = source("runs/old", "runs", &["run-a"], false);
        assert_eq!(choose(&run, &[newer.clone(), older]).unwrap(), newer);
        // Listed by none.
        let refused = choose(&Target::Run("run-z".into()), &[newer]).unwrap_err();
        assert_eq!(refused.status(), 404);
        assert_eq!(
            refused.detail(),
            "run run-z: no runs archive holds it (ops.cleanup_archives)"
        );
    }

    #[test]
    fn an_object_must_be_a_recorded_runs_archive() {
        let events = source("run_events/2025/01/m", "run_events", &[], false);
        let refused = choose(&Target::Object(events.object_key.clone()), &[events]).unwrap_err();
        assert_eq!(refused.status(), 422);
        assert_eq!(
            refused.detail(),
            "run_events/2025/01/m: holds run_events rows; only runs archives can be restored"
        );
        let unknown = choose(&Target::Object("runs/nope".into()), &[]).unwrap_err();
        assert_eq!(unknown.status(), 404);
        assert!(unknown
            .detail()
            .contains("not an archive object ops-cleanup recorded"));
    }

    #[test]
    fn bytes_are_refused_unless_they_are_the_ones_recorded() {
        let (bytes, digest) = stored("{\"run\":{\"run_id\":\"run-a\"},\"events\":[]}\n");
        let mut archive = source("runs/k", "runs", &["run-a"], true);
        let refused = verified_text(&archive, &bytes).unwrap_err();
        assert_eq!(refused.status(), 409);
        assert!(refused
            .detail()
            .ends_with("refusing to restore from a changed object"));
        archive.sha256 = digest;
        assert!(verified_text(&archive, &bytes).unwrap().contains("run-a"));
        // Recorded bytes that are not gzip (written by something else).
        archive.sha256 = sha256_hex(b"plain text");
        let refused = verified_text(&archive, b"plain text").unwrap_err();
        assert_eq!(refused.status(), 422);
        assert!(refused
            .detail()
            .starts_with("runs/k: not gzip-compressed UTF-8 text"));
    }

    #[test]
    fn one_run_is_its_line_unchanged() {
        let text = "{\"run\":{\"run_id\":\"run-a\"},\"events\":[]}\n\
                    {\"run\":{\"run_id\":\"run-b\",\"n\":1.50},\"events\":[]}\n";
        assert_eq!(
            line_of(text, "run-b", "k").unwrap(),
            "{\"run\":{\"run_id\":\"run-b\",\"n\":1.50},\"events\":[]}"
        );
        assert_eq!(
            line_of(text, "run-c", "k").unwrap_err().detail(),
            "k: no line for run run-c, although the archive record lists it"
        );
        assert_eq!(
            line_of("{\"run\":{\"run_id\":\"run-a\"}}\nnot json\n", "run-b", "k")
                .unwrap_err()
                .detail(),
            "k: line 2 is not JSON"
        );
    }

    #[test]
    fn a_restore_reads_gets_verifies_and_writes_once() {
        let runs_text = "{\"run\":{\"run_id\":\"run-a\"},\"events\":[]}\n\
                         {\"run\":{\"run_id\":\"run-b\"},\"events\":[]}\n";
        let (runs_bytes, runs_digest) = stored(runs_text);
        let events_text = "{\"event_id\":7,\"run_id\":\"run-a\"}\n";
        let (events_bytes, events_digest) = stored(events_text);
        let mut machine = Restore::new(&args(&["--run", "run-a"]));
        let Io::Sql { text, params } = machine.poll() else {
            panic!()
        };
        assert_eq!(text, SOURCES);
        assert_eq!(params, [Param::Text("run-a".into()), Param::Null]);
        let sources = json!({
            "archives": [{"object_key": "runs/k", "bucket": "b", "sha256": runs_digest,
                          "table": "runs", "ids": ["run-a", "run-b"], "deleted_from": true,
                          "archived_at": "2026-01-01T00:00:00Z"}],
            "event_archives": [{"object_key": "run_events/m", "bucket": "b", "sha256": events_digest}],
        })
        .to_string();
        machine.handle(Answer::Sql(Some(&sources)), 1.0);
        assert_eq!(
            machine.poll(),
            Io::S3Get {
                bucket: "b",
                key: "runs/k"
            }
        );
        machine.handle(Answer::Stored(&runs_bytes), 2.0);
        assert_eq!(
            machine.poll(),
            Io::S3Get {
                bucket: "b",
                key: "run_events/m"
            }
        );
        machine.handle(Answer::Stored(&events_bytes), 3.0);
        let Io::Sql { text, params } = machine.poll() else {
            panic!()
        };
        assert_eq!(text, RESTORE);
        assert_eq!(
            params,
            [
                Param::Text("runs/k".into()),
                Param::Text("{\"run\":{\"run_id\":\"run-a\"},\"events\":[]}".into()),
                Param::TextArray(vec!["run-a".into()]),
                Param::TextArray(vec!["run_events/m".into()]),
                Param::TextArray(vec![events_text.into()]),
            ]
        );
        machine.handle(Answer::Sql(Some("{\"runs_restored\":1}")), 4.0);
        assert_eq!(respond(&machine), (200, json!({"runs_restored": 1})));
        let Io::Respond { response } = machine.poll() else {
            panic!()
        };
        assert_eq!(response.log.outcome, "restored");
    }

    #[test]
    fn a_refusal_of_the_database_is_shown_and_a_failure_is_retryable() {
        let drive = |answer: Answer<'_>| {
            let (bytes, digest) = stored("{\"run\":{\"run_id\":\"r\"},\"events\":[]}\n");
            let mut machine = Restore::new(&args(&["--object", "runs/k"]));
            let sources = json!({
                "archives": [{"object_key": "runs/k", "bucket": "b", "sha256": digest,
                              "table": "runs", "ids": ["r"]}],
                "event_archives": [],
            })
            .to_string();
            machine.handle(Answer::Sql(Some(&sources)), 1.0);
            machine.handle(Answer::Stored(&bytes), 2.0);
            let Io::Sql { text, params } = machine.poll() else {
                panic!()
            };
            assert_eq!(text, RESTORE);
            // The whole object, and every run it lists.
            assert_eq!(params[2], Param::TextArray(vec!["r".into()]));
            machine.handle(answer, 3.0);
            respond(&machine)
        };
        let message = "ops.cleanup_restore_runs: line 1 of runs/k: ops.runs has no column x";
        let (status, body) = drive(Answer::SqlFailed {
            sqlstate: Some("22023"),
            message: Some(message),
        });
        assert_eq!((status, body["detail"].as_str()), (422, Some(message)));
        let (status, body) = drive(Answer::SqlFailed {
            sqlstate: None,
            message: None,
        });
        assert_eq!(status, 503);
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .ends_with("nothing was restored"));
    }

    #[test]
    fn an_object_that_cannot_be_got_restores_nothing() {
        let mut machine = Restore::new(&args(&["--run", "r"]));
        let sources = json!({
            "archives": [{"object_key": "runs/k", "bucket": "b", "sha256": "0".repeat(64),
                          "table": "runs", "ids": ["r"], "deleted_from": true}],
            "event_archives": [],
        })
        .to_string();
        machine.handle(Answer::Sql(Some(&sources)), 1.0);
        machine.handle(Answer::S3Failed, 2.0);
        let (status, body) = respond(&machine);
        assert_eq!(status, 503);
        assert_eq!(
            body["detail"],
            "s3://b/runs/k: cannot download; nothing was restored"
        );
        // Nothing after the answer changes it.
        machine.handle(Answer::Sql(Some("{}")), 3.0);
        assert_eq!(respond(&machine).0, 503);
    }
}
