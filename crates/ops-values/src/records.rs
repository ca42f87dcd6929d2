//! The value rules of the control-plane records: runs, run events,
//! artifacts, backups, approvals and members.

use crate::{dns_label, is_lower_hex, quoted, Rule, RuleError};
use serde::{Serialize, Serializer};

// ---------------------------------------------------------------------------
// Who did something.

/// Who created, requested or decided something (`created_by`,
/// `requested_by`, `decided_by`).
///
/// The seed says the column "maps to auth.users.id or odoo.res_users.login".
/// The two are told apart by their shape: a lowercase uuid is an auth user
/// id, and the login rule refuses exactly that shape, so no value is both.
/// Anything else that passes the login rule is a login, including an
/// uppercase uuid (`auth.uid()::text` is never uppercase).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A Supabase user: `auth.users.id` as canonical lowercase text, exactly
    /// what `auth.uid()::text` gives.
    AuthUser(String),
    /// An Odoo user: `res_users.login` exactly as Odoo stores it, which is
    /// how `ops.odoo_users.odoo_login` stores it too.
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

/// Longest Odoo login accepted, in characters (Unicode scalar values, as
/// PostgreSQL's `char_length` counts them): the longest email address, which
/// is what a login usually is. Odoo itself sets no limit.
pub const MAX_LOGIN_CHARS: usize = 254;

/// Checks `created_by` (and `requested_by`, `decided_by`): an auth user id
/// (a lowercase uuid) or an Odoo login (see [`OdooLogin`]).
///
/// A value that is neither is refused with the login rule it breaks
/// (`minLength`, `maxLength` or `pattern`): everything but a lowercase uuid
/// is read as a login.
pub fn created_by(text: &str) -> Result<Actor, RuleError> {
    if auth_user_id(text).is_ok() {
        return Ok(Actor::AuthUser(text.to_owned()));
    }
    OdooLogin::parse(text).map(Actor::OdooLogin).map_err(|err| {
        RuleError::new(
            err.rule,
            format!(
                "expected an auth user id (lowercase uuid) or an Odoo login: {}",
                err.message
            ),
        )
    })
}

/// Checks a Supabase user id in its canonical text form: lowercase hex in
/// groups of 8-4-4-4-12.
pub fn auth_user_id(text: &str) -> Result<(), RuleError> {
    if is_lowercase_uuid(text) {
        Ok(())
    } else {
        Err(RuleError::new(
            Rule::Pattern,
            format!("expected a lowercase uuid, got {}", quoted(text)),
        ))
    }
}

fn is_lowercase_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups
            .iter()
            .zip(lengths)
            .all(|(group, len)| group.len() == len && group.bytes().all(is_lower_hex))
}

fn check_odoo_login(text: &str) -> Result<(), RuleError> {
    let chars = text.chars().count();
    if chars == 0 {
        return Err(RuleError::new(
            Rule::MinLength,
            "an Odoo login must be at least 1 character, got an empty one",
        ));
    }
    if chars > MAX_LOGIN_CHARS {
        return Err(RuleError::new(
            Rule::MaxLength,
            format!("an Odoo login must be at most {MAX_LOGIN_CHARS} characters, got {chars}"),
        ));
    }
    // `char::is_control` is exactly Unicode's Cc, the same two ranges the
    // SQL rule names; U+2028 and U+2029 are not Cc and are kept.
    if let Some(control) = text.chars().find(|c| c.is_control()) {
        return Err(RuleError::new(
            Rule::Pattern,
            format!(
                "an Odoo login must not contain control characters \
                 (U+0000-U+001F, U+007F-U+009F), got U+{:04X} in {}",
                u32::from(control),
                quoted(text)
            ),
        ));
    }
    // Otherwise `created_by` could not tell this login from an auth user id.
    if is_lowercase_uuid(text) {
        return Err(RuleError::new(
            Rule::Pattern,
            format!(
                "an Odoo login must not be a lowercase uuid, which is an auth user id, got {}",
                quoted(text)
            ),
        ));
    }
    Ok(())
}

checked_text!(
    /// An Odoo `res_users.login`, kept exactly as Odoo stores it: 1 to 254
    /// characters ([`MAX_LOGIN_CHARS`]), no control character (Unicode `Cc`:
    /// U+0000-U+001F, U+007F-U+009F), and not a lowercase uuid, so that
    /// `created_by` stays unambiguous.
    ///
    /// Case, spaces (leading and trailing too) and non-ASCII are kept:
    /// Odoo core neither lowercases nor trims a login, looks it up exactly,
    /// and checks no shape (`admin`, every database's first user, has no
    /// `@`). Two logins that differ only by case are two Odoo users.
    ///
    /// ```
    /// use ops_values::{OdooLogin, Rule};
    ///
    /// assert_eq!(OdooLogin::parse("Ana@Example.com").unwrap().as_str(), "Ana@Example.com");
    /// assert!(OdooLogin::parse("admin").is_ok());
    /// assert_eq!(OdooLogin::parse("").unwrap_err().rule, Rule::MinLength);
    /// assert_eq!(OdooLogin::parse("ana\tmaria").unwrap_err().rule, Rule::Pattern);
    /// // A lowercase uuid is an auth user id; an uppercase one is a login.
    /// assert!(OdooLogin::parse("550e8400-e29b-41d4-a716-446655440000").is_err());
    /// assert!(OdooLogin::parse("550E8400-E29B-41D4-A716-446655440000").is_ok());
    /// ```
    OdooLogin,
    check_odoo_login
);

// ---------------------------------------------------------------------------
// Digests and storage locations.

fn check_digest(text: &str) -> Result<(), RuleError> {
    if is_sha256_digest(text) {
        Ok(())
    } else {
        Err(RuleError::new(
            Rule::Pattern,
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
        return Err(RuleError::new(
            Rule::MaxLength,
            format!("must be at most {MAX_IMAGE_REFERENCE_CHARS} characters"),
        ));
    }
    parse_image_reference(text).ok_or_else(|| {
        RuleError::new(
            Rule::Pattern,
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
        RuleError::new(
            Rule::Pattern,
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
        return Err(RuleError::new(
            Rule::MaxLength,
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
        _ => s3_uri(storage_path).map(Location::S3).map_err(|err| {
            RuleError::new(
                err.rule,
                format!("a {artifact_type} artifact lives in S3: {}", err.message),
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
            return Err(RuleError::new(
                Rule::Const,
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
        return Err(RuleError::new(
            Rule::Pattern,
            format!("expected \"run-<id>\", got {}", quoted(text)),
        ));
    };
    if suffix.len() > MAX_SUFFIX {
        return Err(RuleError::new(
            Rule::MaxLength,
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
        Err(RuleError::new(
            Rule::Pattern,
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
    /// Whether the run is over (`ops.is_finished_run_status`): only a
    /// finished run has a `finished_at`, and only a finished run can ever be
    /// archived.
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
        Err(RuleError::new(
            Rule::Enum,
            format!("a run cannot go from {from} to {to}"),
        ))
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
        return Err(RuleError::new(
            Rule::MaxLength,
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
        Err(RuleError::new(
            Rule::Pattern,
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
        Err(RuleError::new(
            Rule::Pattern,
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
        Err(RuleError::new(
            Rule::Pattern,
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
        Err(RuleError::new(
            Rule::Contains,
            format!("the {role} role does not grant {permission}"),
        ))
    }
}
