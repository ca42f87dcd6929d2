//! The value rules of the control-plane records: runs, run events,
//! artifacts, backups, approvals, members and retention policies.
//!
//! Each rule here is also a SQL function in the `ops` schema
//! (`ops.is_valid_<rule>`, used by the tables' CHECK constraints). Both sides
//! are checked against the same test vectors,
//! `supabase/tests/vectors/records.json`, by `cargo test` and by pgTAP, so the
//! two definitions cannot drift apart. Rust is the first line (it can explain
//! itself to the sender); the constraints are the last.
//!
//! A failure is `(rule, message)`: the rule is named as in JSON Schema
//! (`pattern`, `enum`, `maxLength`, `minimum`, `maximum`, `const`,
//! `contains`), the message says what was wrong.
//!
//! ```
//! use ops_events::records::{artifact, created_by, Actor, ArtifactType, RunStatus};
//!
//! let digest = format!("sha256:{}", "ab".repeat(32));
//! let image = artifact("image", "ghcr.io/insightpulseai/odoo-ce:v1.2.3", &digest).unwrap();
//! assert_eq!(image.artifact_type, ArtifactType::Image);
//!
//! // An image belongs in a registry, not in S3.
//! let (rule, _) = artifact("image", "s3://odooops-artifacts/x.tar", &digest).unwrap_err();
//! assert_eq!(rule, "pattern");
//!
//! // created_by is an auth user id or an Odoo login.
//! assert!(matches!(created_by("550e8400-e29b-41d4-a716-446655440000"), Ok(Actor::AuthUser(_))));
//! assert!(matches!(created_by("admin@insightpulseai.com"), Ok(Actor::OdooLogin(_))));
//! assert_eq!(created_by("admin").unwrap_err().0, "pattern");
//!
//! assert!(RunStatus::Queued.can_become(RunStatus::Running));
//! assert!(!RunStatus::Success.can_become(RunStatus::Running));
//! ```

use serde::{Serialize, Serializer};
use std::fmt;

/// A rule failure: the JSON Schema name of the rule and a sentence.
pub type RuleError = (&'static str, String);

/// Defines a closed set of text values: the enum, its `ALL`, `as_str`,
/// `parse` (failing with `enum`), `Display` and `Serialize` as the text.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order the schema lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as the database stores it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Parses the stored text; anything else breaks the `enum` rule.
            pub fn parse(text: &str) -> Result<$name, RuleError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err((
                        "enum",
                        format!(
                            "expected {} ({}), got {}",
                            $what,
                            [$($text),+].join(", "),
                            quoted(text)
                        ),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

/// Defines a text newtype that can only hold a value passing `$check`.
macro_rules! checked_text {
    ($(#[$meta:meta])* $name:ident, $check:path) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `text` against the rule and keeps it.
            pub fn parse(text: &str) -> Result<$name, RuleError> {
                $check(text)?;
                Ok($name(text.to_owned()))
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

// ---------------------------------------------------------------------------
// Who did something.

/// Who created, requested or decided something (`created_by`,
/// `requested_by`, `decided_by`).
///
/// The seed says the column "maps to auth.users.id or odoo.res_users.login";
/// the two are told apart by their shape, since a uuid never contains `@`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A Supabase user: `auth.users.id` as canonical lowercase text, exactly
    /// what `auth.uid()::text` gives.
    AuthUser(String),
    /// An Odoo user: `res_users.login`, lowercase and email-shaped.
    OdooLogin(OdooLogin),
}

impl Actor {
    /// The value as stored.
    pub fn as_str(&self) -> &str {
        match self {
            Actor::AuthUser(id) => id,
            Actor::OdooLogin(login) => login.as_str(),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Longest Odoo login accepted, in characters: the longest email address.
pub const MAX_LOGIN_CHARS: usize = 254;

/// Checks `created_by` (and `requested_by`, `decided_by`): an auth user id or
/// an Odoo login.
pub fn created_by(text: &str) -> Result<Actor, RuleError> {
    if auth_user_id(text).is_ok() {
        return Ok(Actor::AuthUser(text.to_owned()));
    }
    if text.chars().count() > MAX_LOGIN_CHARS {
        return Err((
            "maxLength",
            format!("must be at most {MAX_LOGIN_CHARS} characters"),
        ));
    }
    match OdooLogin::parse(text) {
        Ok(login) => Ok(Actor::OdooLogin(login)),
        Err(_) => Err((
            "pattern",
            format!(
                "expected an auth user id (lowercase uuid) or an Odoo login \
                 (lowercase, like \"jane.doe@example.com\"), got {}",
                quoted(text)
            ),
        )),
    }
}

/// Checks a Supabase user id in its canonical text form: lowercase hex in
/// groups of 8-4-4-4-12.
pub fn auth_user_id(text: &str) -> Result<(), RuleError> {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let valid = groups.len() == lengths.len()
        && groups
            .iter()
            .zip(lengths)
            .all(|(group, len)| group.len() == len && group.bytes().all(is_lower_hex));
    if valid {
        Ok(())
    } else {
        Err((
            "pattern",
            format!("expected a lowercase uuid, got {}", quoted(text)),
        ))
    }
}

fn check_odoo_login(text: &str) -> Result<(), RuleError> {
    if text.chars().count() > MAX_LOGIN_CHARS {
        return Err((
            "maxLength",
            format!("must be at most {MAX_LOGIN_CHARS} characters"),
        ));
    }
    let valid = text.split_once('@').is_some_and(|(local, domain)| {
        local.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_+-".contains(&b))
        }) && domain.split('.').all(|label| dns_label(label, 63))
    });
    if valid {
        Ok(())
    } else {
        Err((
            "pattern",
            format!(
                "expected a lowercase email-shaped Odoo login such as \"jane.doe@example.com\", got {}",
                quoted(text)
            ),
        ))
    }
}

checked_text!(
    /// An Odoo `res_users.login`: lowercase, email-shaped (`local@domain`),
    /// at most 254 characters. The local part allows `.` and `+` besides the
    /// seed's `[a-z0-9_-]`, because real logins have them.
    OdooLogin,
    check_odoo_login
);

// ---------------------------------------------------------------------------
// Digests and storage locations.

fn check_digest(text: &str) -> Result<(), RuleError> {
    if is_sha256_digest(text) {
        Ok(())
    } else {
        Err((
            "pattern",
            format!(
                "expected \"sha256:\" and 64 lowercase hex digits, got {}",
                quoted(text)
            ),
        ))
    }
}

checked_text!(
    /// A content digest in OCI form: `sha256:` and 64 lowercase hex digits.
    /// Only SHA-256 is accepted.
    Digest,
    check_digest
);

/// Checks a digest: `sha256:` and 64 lowercase hex digits.
pub fn digest(text: &str) -> Result<Digest, RuleError> {
    Digest::parse(text)
}

fn is_sha256_digest(text: &str) -> bool {
    text.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(is_lower_hex))
}

closed_set!(
    /// What kind of artifact a run produced.
    ArtifactType, "an artifact type" {
        /// A container image, stored in a registry.
        Image = "image",
        /// A software bill of materials, in S3.
        Sbom = "sbom",
        /// Build or deploy logs, in S3.
        Logs = "logs",
        /// Deployment evidence, in S3.
        Evidence = "evidence",
        /// A build manifest, in S3.
        Manifest = "manifest",
    }
);

/// Longest image reference accepted, in characters.
pub const MAX_IMAGE_REFERENCE_CHARS: usize = 512;

/// A fully qualified container image reference, pinned by a tag, a digest or
/// both: `<host>[:port]/<path>[:tag][@sha256:<hex>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    /// The registry host, with its port if any (`ghcr.io`, `localhost:5000`).
    pub registry: String,
    /// The repository path inside the registry (`insightpulseai/odoo-ce`).
    pub repository: String,
    /// The tag, if any (`v1.2.3`).
    pub tag: Option<String>,
    /// The digest the reference is pinned to, if any.
    pub digest: Option<Digest>,
}

/// Checks a container image reference. The registry host must be explicit (a
/// dotted name, a name with a port, or `localhost`) so that a reference never
/// silently means Docker Hub; path components are lowercase, as the
/// distribution spec requires; a tag or a digest is required.
pub fn image_reference(text: &str) -> Result<ImageReference, RuleError> {
    if text.chars().count() > MAX_IMAGE_REFERENCE_CHARS {
        return Err((
            "maxLength",
            format!("must be at most {MAX_IMAGE_REFERENCE_CHARS} characters"),
        ));
    }
    parse_image_reference(text).ok_or_else(|| {
        (
            "pattern",
            format!(
                "expected a registry image reference such as \"ghcr.io/org/odoo:19.0\" \
                 (registry host, lowercase path, then :tag and/or @sha256:digest), got {}",
                quoted(text)
            ),
        )
    })
}

fn parse_image_reference(text: &str) -> Option<ImageReference> {
    let (name_and_tag, digest) = match text.rsplit_once('@') {
        Some((rest, digest)) => (rest, Some(Digest::parse(digest).ok()?)),
        None => (text, None),
    };
    let (host_port, path_and_tag) = name_and_tag.split_once('/')?;
    let (path, tag) = match path_and_tag.rsplit_once('/') {
        Some((head, last)) => match last.split_once(':') {
            Some((component, tag)) => {
                (&path_and_tag[..head.len() + 1 + component.len()], Some(tag))
            }
            None => (path_and_tag, None),
        },
        None => match path_and_tag.split_once(':') {
            Some((component, tag)) => (component, Some(tag)),
            None => (path_and_tag, None),
        },
    };
    let host_valid = match host_port.split_once(':') {
        Some((host, port)) => {
            (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && host.split('.').all(|label| dns_label(label, usize::MAX))
        }
        None => {
            host_port == "localhost"
                || (host_port.contains('.')
                    && host_port
                        .split('.')
                        .all(|label| dns_label(label, usize::MAX)))
        }
    };
    let valid = host_valid
        && path.split('/').all(path_component)
        && tag.is_none_or(image_tag)
        && (tag.is_some() || digest.is_some());
    valid.then(|| ImageReference {
        registry: host_port.to_owned(),
        repository: path.to_owned(),
        tag: tag.map(str::to_owned),
        digest,
    })
}

/// A repository path component: lowercase alphanumeric runs joined by `.`,
/// `_`, `__` or any number of `-`.
fn path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
        return false;
    }
    let mut separators = Vec::new();
    for &b in bytes {
        if alnum(&b) {
            if !separator_valid(&separators) {
                return false;
            }
            separators.clear();
        } else {
            separators.push(b);
        }
    }
    true
}

fn separator_valid(run: &[u8]) -> bool {
    matches!(run, [] | [b'.'] | [b'_'] | [b'_', b'_']) || run.iter().all(|&b| b == b'-')
}

/// A tag: a word character, then up to 127 word characters, `.` or `-`.
fn image_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    bytes.first().is_some_and(|&b| word(b))
        && bytes.len() <= 128
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// Longest S3 key accepted, in bytes (S3's own limit).
pub const MAX_S3_KEY_BYTES: usize = 1024;

/// An S3 object: `s3://<bucket>/<key>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Uri {
    /// The bucket name.
    pub bucket: String,
    /// The object key.
    pub key: String,
}

/// Checks an S3 URI: a DNS-compatible bucket name of 3 to 63 characters and a
/// key of 1 to 1024 bytes that does not start with `/` and has no control
/// characters.
pub fn s3_uri(text: &str) -> Result<S3Uri, RuleError> {
    let bad = || {
        (
            "pattern",
            format!(
                "expected \"s3://<bucket>/<key>\" with a lowercase bucket name of 3 to 63 characters, got {}",
                quoted(text)
            ),
        )
    };
    let (bucket, key) = text
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(bad)?;
    let bucket_valid = (3..=63).contains(&bucket.len())
        && bucket.split('.').all(|label| dns_label(label, usize::MAX));
    if !bucket_valid || key.is_empty() || key.starts_with('/') || key.chars().any(char::is_control)
    {
        return Err(bad());
    }
    if key.len() > MAX_S3_KEY_BYTES {
        return Err((
            "maxLength",
            format!(
                "the key must be at most {MAX_S3_KEY_BYTES} bytes, got {}",
                key.len()
            ),
        ));
    }
    Ok(S3Uri {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })
}

/// Where an artifact is stored, by its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// In a container registry (images).
    Registry(ImageReference),
    /// In S3 (everything else).
    S3(S3Uri),
}

/// Checks that an artifact of `artifact_type` may live at `storage_path`:
/// images in a container registry, every other type in S3.
pub fn artifact_location(
    artifact_type: ArtifactType,
    storage_path: &str,
) -> Result<Location, RuleError> {
    match artifact_type {
        ArtifactType::Image => image_reference(storage_path).map(Location::Registry),
        _ => s3_uri(storage_path)
            .map(Location::S3)
            .map_err(|(rule, message)| {
                (
                    rule,
                    format!("a {artifact_type} artifact lives in S3: {message}"),
                )
            }),
    }
}

/// An artifact record, checked as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// Its type.
    pub artifact_type: ArtifactType,
    /// Where it is stored.
    pub location: Location,
    /// Its content digest.
    pub digest: Digest,
}

/// Checks an artifact record: its type, its location for that type, its
/// digest, and that a storage path pinned by digest (`…@sha256:<hex>`) is
/// recorded with that same digest.
pub fn artifact(
    artifact_type: &str,
    storage_path: &str,
    digest: &str,
) -> Result<Artifact, RuleError> {
    let artifact_type = ArtifactType::parse(artifact_type)?;
    let location = artifact_location(artifact_type, storage_path)?;
    let digest = Digest::parse(digest)?;
    if let Some((_, hex)) = storage_path.rsplit_once("@sha256:") {
        if hex.len() == 64
            && hex.bytes().all(is_lower_hex)
            && digest.as_str()["sha256:".len()..] != *hex
        {
            return Err((
                "const",
                format!(
                    "the digest must be the one the storage path is pinned to, sha256:{hex}, got {}",
                    quoted(digest.as_str())
                ),
            ));
        }
    }
    Ok(Artifact {
        artifact_type,
        location,
        digest,
    })
}

// ---------------------------------------------------------------------------
// Runs and their events.

fn check_run_id(text: &str) -> Result<(), RuleError> {
    const MAX_SUFFIX: usize = 64;
    let Some(suffix) = text.strip_prefix("run-") else {
        return Err((
            "pattern",
            format!("expected \"run-<id>\", got {}", quoted(text)),
        ));
    };
    if suffix.len() > MAX_SUFFIX {
        return Err((
            "maxLength",
            format!("the id after \"run-\" must be at most {MAX_SUFFIX} characters"),
        ));
    }
    let bytes = suffix.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let valid = bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-');
    if valid {
        Ok(())
    } else {
        Err((
            "pattern",
            format!(
                "expected \"run-\" and lowercase letters, digits and inner hyphens, got {}",
                quoted(text)
            ),
        ))
    }
}

checked_text!(
    /// A run id: `run-` and 1 to 64 lowercase letters, digits and inner
    /// hyphens, such as the seed's `run-abc123`.
    RunId,
    check_run_id
);

closed_set!(
    /// What a run does.
    RunKind, "a run kind" {
        /// Builds the project's image.
        Build = "build",
        /// Runs the project's tests.
        Test = "test",
        /// Deploys to an environment.
        Deploy = "deploy",
        /// Backs up an environment's database.
        Backup = "backup",
        /// Restores a backup into an environment.
        Restore = "restore",
    }
);

closed_set!(
    /// A project environment (the seed's `odoo_instance` values).
    Environment, "an environment" {
        /// Development.
        Dev = "dev",
        /// Staging.
        Staging = "staging",
        /// Production.
        Prod = "prod",
    }
);

closed_set!(
    /// Where a run is. `success`, `failed` and `cancelled` are final.
    RunStatus, "a run status" {
        /// Waiting for a worker.
        Queued = "queued",
        /// A worker is on it.
        Running = "running",
        /// Finished and succeeded.
        Success = "success",
        /// Finished and failed.
        Failed = "failed",
        /// Stopped before finishing.
        Cancelled = "cancelled",
    }
);

impl RunStatus {
    /// Whether the run is over.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    /// Whether a run may move from this status to `to`. A queued run may fail
    /// without starting (no runner, invalid input); nothing leaves a final
    /// status; staying put is not a move.
    pub fn can_become(self, to: RunStatus) -> bool {
        use RunStatus::*;
        matches!(
            (self, to),
            (Queued, Running)
                | (Queued, Cancelled)
                | (Queued, Failed)
                | (Running, Success)
                | (Running, Failed)
                | (Running, Cancelled)
        )
    }
}

/// Checks a run status move.
pub fn run_transition(from: &str, to: &str) -> Result<(RunStatus, RunStatus), RuleError> {
    let from = RunStatus::parse(from)?;
    let to = RunStatus::parse(to)?;
    if from.can_become(to) {
        Ok((from, to))
    } else {
        Err(("enum", format!("a run cannot go from {from} to {to}")))
    }
}

closed_set!(
    /// How much a run event matters.
    EventLevel, "an event level" {
        /// Detail for debugging.
        Debug = "debug",
        /// Progress.
        Info = "info",
        /// Something to look at.
        Warning = "warning",
        /// Something failed.
        Error = "error",
    }
);

fn check_run_event_type(text: &str) -> Result<(), RuleError> {
    const MAX_CHARS: usize = 64;
    if text.chars().count() > MAX_CHARS {
        return Err((
            "maxLength",
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    let valid = text.split('.').all(|word| {
        word.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && word
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    });
    if valid {
        Ok(())
    } else {
        Err((
            "pattern",
            format!(
                "expected dotted lowercase words such as \"step.started\", got {}",
                quoted(text)
            ),
        ))
    }
}

checked_text!(
    /// What happened in a run: dotted lowercase words (`step.started`), at
    /// most 64 characters.
    RunEventType,
    check_run_event_type
);

fn check_commit_sha(text: &str) -> Result<(), RuleError> {
    if matches!(text.len(), 40 | 64) && text.bytes().all(is_lower_hex) {
        Ok(())
    } else {
        Err((
            "pattern",
            format!(
                "expected a git commit id (40 or 64 lowercase hex digits), got {}",
                quoted(text)
            ),
        ))
    }
}

checked_text!(
    /// A git commit id: a SHA-1 (40) or SHA-256 (64) object name, lowercase.
    CommitSha,
    check_commit_sha
);

fn check_repo_slug(text: &str) -> Result<(), RuleError> {
    let valid = text.split_once('/').is_some_and(|(owner, name)| {
        let owner_valid = (1..=39).contains(&owner.len())
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !owner.starts_with('-')
            && !owner.ends_with('-')
            && !owner.contains("--");
        let name_valid = (1..=100).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && name != "."
            && name != "..";
        owner_valid && name_valid
    });
    if valid {
        Ok(())
    } else {
        Err((
            "pattern",
            format!(
                "expected a GitHub repository \"owner/name\", got {}",
                quoted(text)
            ),
        ))
    }
}

checked_text!(
    /// A GitHub repository, `owner/name`: an owner of up to 39 letters,
    /// digits and single inner hyphens, a name of up to 100 letters, digits,
    /// `.`, `_` and `-` that is not `.` or `..`.
    RepoSlug,
    check_repo_slug
);

// ---------------------------------------------------------------------------
// Backups and approvals.

closed_set!(
    /// How often a backup is taken, which decides how long it is kept.
    BackupKind, "a backup kind" {
        /// Kept 30 days by default.
        Daily = "daily",
        /// Kept 90 days by default.
        Weekly = "weekly",
        /// Kept a year by default.
        Monthly = "monthly",
    }
);

closed_set!(
    /// Where an approval is. `approved` and `rejected` are final and the row
    /// never changes again.
    ApprovalStatus, "an approval status" {
        /// Requested, not decided.
        Pending = "pending",
        /// Allowed.
        Approved = "approved",
        /// Refused.
        Rejected = "rejected",
    }
);

// ---------------------------------------------------------------------------
// Roles and permissions.

closed_set!(
    /// Something a project member may do. Policies ask for a permission,
    /// never for a role.
    Permission, "a permission" {
        /// Read everything of the project.
        ProjectRead = "project.read",
        /// Change the project's control-plane settings (its repository).
        ProjectUpdate = "project.update",
        /// Add, change and remove members.
        MemberManage = "member.manage",
        /// Queue runs.
        RunCreate = "run.create",
        /// Cancel runs.
        RunCancel = "run.cancel",
        /// Ask for an approval.
        ApprovalRequest = "approval.request",
        /// Approve or reject.
        ApprovalDecide = "approval.decide",
        /// Change the project's retention overrides.
        RetentionManage = "retention.manage",
    }
);

closed_set!(
    /// A member's role in a project.
    Role, "a member role" {
        /// Reads.
        Viewer = "viewer",
        /// Reads, starts and cancels runs, requests approvals.
        Developer = "developer",
        /// Reads and decides approvals. Not a developer on purpose: who asks
        /// for a deployment and who allows it are kept apart.
        Approver = "approver",
        /// Everything, including members (only admins manage them).
        Admin = "admin",
    }
);

impl Role {
    /// The permissions the role grants (the rows of `ops.roles`).
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Viewer => &[ProjectRead],
            Role::Developer => &[ProjectRead, RunCreate, RunCancel, ApprovalRequest],
            Role::Approver => &[ProjectRead, ApprovalDecide],
            Role::Admin => Permission::ALL,
        }
    }

    /// Whether the role grants `permission`.
    pub fn has(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }
}

/// Checks that `role` grants `permission`.
pub fn role_permission(role: &str, permission: &str) -> Result<(Role, Permission), RuleError> {
    let role = Role::parse(role)?;
    let permission = Permission::parse(permission)?;
    if role.has(permission) {
        Ok((role, permission))
    } else {
        Err((
            "contains",
            format!("the {role} role does not grant {permission}"),
        ))
    }
}

// ---------------------------------------------------------------------------
// Retention.

closed_set!(
    /// What a retention policy applies to.
    RetentionTarget, "a retention target" {
        /// Runs, counted from when they finished.
        Runs = "runs",
        /// Run events; dropped by whole monthly partitions.
        RunEvents = "run_events",
        /// Artifacts, by type.
        Artifacts = "artifacts",
        /// Backups, by kind.
        Backups = "backups",
        /// Approvals: kept forever.
        Approvals = "approvals",
        /// The ingest ledger (`ops.ingest_deliveries`): at least
        /// [`MIN_INGEST_DELIVERIES_RETAIN_DAYS`], so a row outlives every
        /// retry of its delivery.
        IngestDeliveries = "ingest_deliveries",
    }
);

/// The part of a target a policy is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetentionClass {
    /// Artifacts of one type.
    Artifact(ArtifactType),
    /// Backups of one kind.
    Backup(BackupKind),
}

/// Longest retention accepted, in days (ten years).
pub const MAX_RETAIN_DAYS: i64 = 3650;

/// Shortest retention accepted for the ingest ledger, in days (a week): a
/// ledger row that goes while its sender may still retry turns the retry
/// into a second delivery, and Standard Webhooks senders retry for days
/// (Svix's schedule ends about 28 hours after the first attempt, Stripe's
/// after 3 days).
pub const MIN_INGEST_DELIVERIES_RETAIN_DAYS: i64 = 7;

/// A retention policy's rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetentionRule {
    /// What it applies to.
    pub target: RetentionTarget,
    /// Which class of the target, or all of it.
    pub class: Option<RetentionClass>,
    /// Days kept; `None` keeps forever.
    pub retain_days: Option<u16>,
}

/// Checks a retention rule: a class only where the target has classes (an
/// artifact type, a backup kind), 1 to 3650 days or forever, approvals kept
/// forever (an audit requirement), and the ingest ledger at least a week.
pub fn retention(
    target: &str,
    class: Option<&str>,
    retain_days: Option<i64>,
) -> Result<RetentionRule, RuleError> {
    let target = RetentionTarget::parse(target)?;
    let class = match (target, class) {
        (_, None) => None,
        (RetentionTarget::Artifacts, Some(class)) => {
            Some(RetentionClass::Artifact(ArtifactType::parse(class)?))
        }
        (RetentionTarget::Backups, Some(class)) => {
            Some(RetentionClass::Backup(BackupKind::parse(class)?))
        }
        (_, Some(class)) => {
            return Err((
                "enum",
                format!(
                    "{target} have no classes; expected no class, got {}",
                    quoted(class)
                ),
            ))
        }
    };
    if target == RetentionTarget::Approvals && retain_days.is_some() {
        return Err((
            "const",
            "approvals are kept forever; retain_days must be null".to_owned(),
        ));
    }
    let retain_days = match retain_days {
        None => None,
        Some(days) if days < 1 => {
            return Err(("minimum", format!("must be at least 1 day, got {days}")))
        }
        Some(days)
            if target == RetentionTarget::IngestDeliveries
                && days < MIN_INGEST_DELIVERIES_RETAIN_DAYS =>
        {
            return Err((
                "minimum",
                format!(
                    "ingest deliveries must outlast every sender's retries: at least \
                     {MIN_INGEST_DELIVERIES_RETAIN_DAYS} days, got {days}"
                ),
            ))
        }
        Some(days) => match u16::try_from(days) {
            Ok(days) if i64::from(days) <= MAX_RETAIN_DAYS => Some(days),
            _ => {
                return Err((
                    "maximum",
                    format!("must be at most {MAX_RETAIN_DAYS} days, got {days}"),
                ))
            }
        },
    };
    Ok(RetentionRule {
        target,
        class,
        retain_days,
    })
}

// ---------------------------------------------------------------------------
// Helpers.

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// A DNS label as the rules use it: 1 to `max` lowercase letters, digits and
/// hyphens, not starting or ending with a hyphen.
fn dns_label(label: &str, max: usize) -> bool {
    !label.is_empty()
        && label.len() <= max
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// Quotes a sender's value for an error message, cut short so a huge value
/// cannot blow up the response.
fn quoted(text: &str) -> String {
    const SHOWN: usize = 64;
    if text.chars().count() <= SHOWN {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(SHOWN).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;
    use std::collections::BTreeMap;

    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../supabase/tests/vectors/records.json"
    ));

    fn text<'a>(value: &'a Value, field: &str) -> &'a str {
        value[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} must be a string in {value}"))
    }

    /// Checks one vector's value against the rule it names; `None` for a rule
    /// this crate does not know.
    fn check(rule: &str, value: &Value) -> Option<Result<(), RuleError>> {
        let s = || {
            value
                .as_str()
                .unwrap_or_else(|| panic!("{rule}: the value must be a string"))
        };
        let result = match rule {
            "created_by" => created_by(s()).map(drop),
            "auth_user_id" => auth_user_id(s()),
            "odoo_login" => OdooLogin::parse(s()).map(drop),
            "digest" => digest(s()).map(drop),
            "image_reference" => image_reference(s()).map(drop),
            "s3_uri" => s3_uri(s()).map(drop),
            "artifact_type" => ArtifactType::parse(s()).map(drop),
            "artifact" => artifact(
                text(value, "artifact_type"),
                text(value, "storage_path"),
                text(value, "digest"),
            )
            .map(drop),
            "run_id" => RunId::parse(s()).map(drop),
            "run_kind" => RunKind::parse(s()).map(drop),
            "environment" => Environment::parse(s()).map(drop),
            "run_status" => RunStatus::parse(s()).map(drop),
            "run_transition" => run_transition(text(value, "from"), text(value, "to")).map(drop),
            "event_level" => EventLevel::parse(s()).map(drop),
            "run_event_type" => RunEventType::parse(s()).map(drop),
            "backup_kind" => BackupKind::parse(s()).map(drop),
            "approval_status" => ApprovalStatus::parse(s()).map(drop),
            "member_role" => Role::parse(s()).map(drop),
            "commit_sha" => CommitSha::parse(s()).map(drop),
            "repo_slug" => RepoSlug::parse(s()).map(drop),
            "role_permission" => {
                role_permission(text(value, "role"), text(value, "permission")).map(drop)
            }
            "retention" => retention(
                text(value, "target"),
                value["class"].as_str(),
                value["retain_days"].as_i64(),
            )
            .map(drop),
            _ => return None,
        };
        Some(result)
    }

    #[test]
    fn the_shared_vectors_hold() {
        let document: Value = serde_json::from_str(VECTORS).expect("records.json is JSON");
        let vectors = document["vectors"].as_array().expect("a \"vectors\" array");
        let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut failures = Vec::new();
        for vector in vectors {
            let rule = text(vector, "rule");
            let valid = vector["valid"].as_bool().expect("\"valid\" is a boolean");
            let value = &vector["value"];
            let Some(result) = check(rule, value) else {
                failures.push(format!("unknown rule {rule:?}"));
                continue;
            };
            let counts = seen.entry(rule.to_owned()).or_default();
            if valid {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
            match (&result, valid) {
                (Ok(()), true) => {}
                (Err((got, _)), false) => {
                    let expected = vector["error"]
                        .as_str()
                        .expect("an invalid vector names its \"error\"");
                    if *got != expected {
                        failures.push(format!(
                            "{rule} {value}: expected error {expected}, got {got}"
                        ));
                    }
                }
                (Ok(()), false) => {
                    failures.push(format!("{rule} {value}: accepted, expected invalid"))
                }
                (Err(err), true) => failures.push(format!(
                    "{rule} {value}: refused with {err:?}, expected valid"
                )),
            }
        }
        for (rule, (valid, invalid)) in &seen {
            if *valid == 0 || *invalid == 0 {
                failures.push(format!(
                    "{rule}: needs valid and invalid vectors, has {valid} and {invalid}"
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} vector failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert!(seen.len() >= 22, "only {} rules have vectors", seen.len());
    }

    #[test]
    fn every_role_permission_pair_has_a_vector() {
        // The vectors pin the whole role table, so ops.roles and Role cannot
        // drift apart.
        let document: Value = serde_json::from_str(VECTORS).expect("records.json is JSON");
        let pairs: Vec<(String, String)> = document["vectors"]
            .as_array()
            .expect("a \"vectors\" array")
            .iter()
            .filter(|v| v["rule"] == "role_permission")
            .map(|v| {
                (
                    text(&v["value"], "role").to_owned(),
                    text(&v["value"], "permission").to_owned(),
                )
            })
            .collect();
        for role in Role::ALL {
            for permission in Permission::ALL {
                assert!(
                    pairs.contains(&(role.to_string(), permission.to_string())),
                    "no vector for {role} × {permission}"
                );
            }
        }
    }

    #[test]
    fn created_by_tells_the_two_apart() {
        let id = "550e8400-e29b-41d4-a716-446655440000";
        assert_eq!(created_by(id), Ok(Actor::AuthUser(id.to_owned())));
        let Ok(Actor::OdooLogin(login)) = created_by("jane.doe@example.com") else {
            panic!("a login is an Odoo login");
        };
        assert_eq!(login.as_str(), "jane.doe@example.com");
        assert_eq!(
            serde_json::to_value(created_by(id).unwrap()).unwrap(),
            Value::from(id)
        );
    }

    #[test]
    fn image_references_are_taken_apart() {
        let hex = "ab".repeat(32);
        let reference =
            image_reference(&format!("localhost:5000/team/odoo:19.0@sha256:{hex}")).unwrap();
        assert_eq!(reference.registry, "localhost:5000");
        assert_eq!(reference.repository, "team/odoo");
        assert_eq!(reference.tag.as_deref(), Some("19.0"));
        assert_eq!(
            reference.digest.map(|d| d.to_string()),
            Some(format!("sha256:{hex}"))
        );
        let untagged = image_reference(&format!("ghcr.io/odoo@sha256:{hex}")).unwrap();
        assert_eq!((untagged.repository.as_str(), untagged.tag), ("odoo", None));
    }

    #[test]
    fn s3_uris_are_taken_apart() {
        let uri = s3_uri("s3://odooops-artifacts/proj-123/run-abc/sbom.json").unwrap();
        assert_eq!(uri.bucket, "odooops-artifacts");
        assert_eq!(uri.key, "proj-123/run-abc/sbom.json");
    }

    #[test]
    fn artifact_types_have_their_locations() {
        let digest = format!("sha256:{}", "0".repeat(64));
        for ty in ArtifactType::ALL {
            let path = match ty {
                ArtifactType::Image => "ghcr.io/org/odoo:1",
                _ => "s3://bucket/key",
            };
            assert!(artifact(ty.as_str(), path, &digest).is_ok(), "{ty}");
        }
    }

    #[test]
    fn run_status_moves_only_forward() {
        for from in RunStatus::ALL {
            for to in RunStatus::ALL {
                if from.is_finished() || from == to {
                    assert!(!from.can_become(*to), "{from} -> {to}");
                }
            }
        }
        assert_eq!(run_transition("success", "running").unwrap_err().0, "enum");
    }

    #[test]
    fn closed_sets_round_trip() {
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Ok(*status));
        }
        assert_eq!(
            serde_json::to_value(BackupKind::Weekly).unwrap(),
            Value::from("weekly")
        );
        let (rule, message) = RunStatus::parse("canceled").unwrap_err();
        assert_eq!(rule, "enum");
        assert!(message.contains("cancelled"), "{message}");
    }

    #[test]
    fn admin_has_every_permission() {
        for permission in Permission::ALL {
            assert!(Role::Admin.has(*permission), "{permission}");
        }
        assert!(!Role::Approver.has(Permission::RunCreate));
        assert!(!Role::Developer.has(Permission::ApprovalDecide));
    }

    #[test]
    fn messages_are_short_for_long_values() {
        let long = "x".repeat(100_000);
        for (_, message) in [
            image_reference(&long).unwrap_err(),
            s3_uri(&long).unwrap_err(),
            created_by(&long).unwrap_err(),
        ] {
            assert!(message.len() < 300, "{}", message.len());
        }
    }

    proptest! {
        #[test]
        fn rules_never_panic(text in "\\PC{0,80}", other in "\\PC{0,20}", days in any::<i64>()) {
            let _ = created_by(&text);
            let _ = image_reference(&text);
            let _ = s3_uri(&text);
            let _ = artifact(&other, &text, &other);
            let _ = RunId::parse(&text);
            let _ = RepoSlug::parse(&text);
            let _ = RunEventType::parse(&text);
            let _ = retention(&other, Some(&text), Some(days));
        }

        #[test]
        fn generated_image_references_are_accepted(
            host in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){1,3}",
            path in "[a-z0-9]{1,8}((\\.|_|__|-{1,3})[a-z0-9]{1,8}){0,2}(/[a-z0-9]{1,8}){0,3}",
            tag in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
        ) {
            let reference = format!("{host}/{path}:{tag}");
            let parsed = image_reference(&reference);
            prop_assert!(parsed.is_ok(), "{reference}: {parsed:?}");
        }

        #[test]
        fn generated_digests_are_accepted(hex in "[0-9a-f]{64}") {
            let lower = format!("sha256:{hex}");
            let upper = format!("sha256:{}", hex.to_uppercase());
            prop_assert!(digest(&lower).is_ok());
            // Uppercase hex is refused, unless there was no letter to raise.
            prop_assert_eq!(digest(&upper).is_ok(), lower == upper);
        }
    }
}
