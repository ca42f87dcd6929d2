//! Verification of [Standard Webhooks](https://www.standardwebhooks.com/)
//! signatures, the scheme Odoo uses to sign the events it sends to
//! `ops-ingest`.
//!
//! A delivery carries three headers: `webhook-id` (the message id, also our
//! idempotency key), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature` (space-separated `v1,<base64>` entries). The signature
//! is HMAC-SHA256 over `"{id}.{timestamp}.{body}"`, keyed with the bytes of a
//! `whsec_<base64>` secret. Several secrets may be configured at once so that a
//! secret can be rotated without dropping deliveries.
//!
//! The crate is pure: the current time is passed in, nothing is read from the
//! environment, and every comparison of secret-derived bytes is constant-time.
//!
//! ```
//! use webhook_auth::{sign, verify, DeliveryHeaders, SecretSet};
//!
//! let secrets = SecretSet::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let body = br#"{"event_type":"project_created"}"#;
//! let signature = sign(&secrets.keys()[0], "msg_1", 1_700_000_000, body);
//! let headers = DeliveryHeaders {
//!     id: Some("msg_1"),
//!     timestamp: Some("1700000000"),
//!     signature: Some(&signature),
//! };
//! let verified = verify(&secrets, &headers, body, 1_700_000_100).unwrap();
//! assert_eq!(verified.id, "msg_1");
//!
//! // The same delivery ten minutes later is refused: it may be a replay.
//! assert!(verify(&secrets, &headers, body, 1_700_000_600).is_err());
//! ```
#![deny(missing_docs)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// How far a delivery's timestamp may be from `now`, in either direction.
///
/// Five minutes, as the Standard Webhooks reference libraries use: long enough
/// for clock drift and queueing, short enough that a captured delivery cannot
/// be replayed later.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The longest `webhook-id` accepted. It becomes a database key, so it is
/// bounded; real senders use ids of a few dozen characters.
pub const MAX_ID_LEN: usize = 255;

const SECRET_PREFIX: &str = "whsec_";

/// One signing key, decoded from its `whsec_<base64>` form.
#[derive(Clone)]
pub struct SecretKey {
    // The keyed HMAC state is computed once at parse time and cloned for each
    // message: cheaper than re-keying, and it keeps the raw key out of reach.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for SecretKey {
    // A key must never reach a log line, not even through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Parses one `whsec_<base64>` secret.
    pub fn parse(text: &str) -> Result<SecretKey, Error> {
        let encoded =
            text.strip_prefix(SECRET_PREFIX)
                .ok_or(Error::new(ErrorKind::InvalidSecret(
                    "missing the whsec_ prefix",
                )))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| Error::new(ErrorKind::InvalidSecret("not valid base64 after whsec_")))?;
        if bytes.len() < 16 {
            return Err(Error::new(ErrorKind::InvalidSecret(
                "shorter than 16 bytes; generate at least 24 random bytes",
            )));
        }
        let mac = Hmac::<Sha256>::new_from_slice(&bytes)
            .map_err(|_| Error::new(ErrorKind::InvalidSecret("unusable as an HMAC key")))?;
        Ok(SecretKey { mac })
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }
}

/// The secrets a receiver accepts: usually one, two while a secret is rotated.
#[derive(Clone, Debug)]
pub struct SecretSet {
    keys: Vec<SecretKey>,
}

impl SecretSet {
    /// Parses one or more secrets separated by spaces or commas, the form an
    /// operator writes into `OPS_WEBHOOK_SECRET` during a rotation.
    pub fn parse(text: &str) -> Result<SecretSet, Error> {
        let keys = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .map(SecretKey::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(Error::new(ErrorKind::InvalidSecret("no secret configured")));
        }
        Ok(SecretSet { keys })
    }

    /// Parses secrets in Supabase Auth's form, as Auth's hook configuration
    /// holds them: `v1,whsec_<base64>`, several separated by `|`. Only
    /// symmetric (`v1`) secrets are accepted: an asymmetric `v1a,whpk_…`
    /// pair signs with a private key this receiver has no use for.
    pub fn parse_auth_hook(text: &str) -> Result<SecretSet, Error> {
        let keys = text
            .split('|')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| match part.strip_prefix("v1,") {
                Some(secret) => SecretKey::parse(secret),
                None if part.starts_with("v1a,") => Err(Error::new(ErrorKind::InvalidSecret(
                    "an asymmetric v1a secret; configure a symmetric v1,whsec_ secret",
                ))),
                None => Err(Error::new(ErrorKind::InvalidSecret(
                    "missing the v1, prefix of Supabase Auth's secret format",
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(Error::new(ErrorKind::InvalidSecret("no secret configured")));
        }
        Ok(SecretSet { keys })
    }

    /// The keys, in the order they were configured.
    pub fn keys(&self) -> &[SecretKey] {
        &self.keys
    }
}

/// The three Standard Webhooks headers of one delivery, as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeliveryHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// What a successful verification establishes about a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The message id, safe to use as an idempotency key.
    pub id: String,
    /// The sender's timestamp, Unix seconds.
    pub timestamp: i64,
}

/// Computes the `webhook-signature` value for a message: `v1,<base64>`.
///
/// Receivers do not need this; it is here for tools that send sample events
/// and for tests that check the verifier against itself.
pub fn sign(key: &SecretKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = key.mac();
    feed(&mut mac, id, timestamp, body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Checks a delivery's headers and body against the configured secrets.
///
/// `now` is the receiver's clock in Unix seconds. The headers are checked in
/// the order a sender would fix them: presence, form, freshness, signature.
pub fn verify(
    secrets: &SecretSet,
    headers: &DeliveryHeaders<'_>,
    body: &[u8],
    now: i64,
) -> Result<Verified, Error> {
    let id = headers
        .id
        .ok_or(Error::new(ErrorKind::MissingHeader("webhook-id")))?;
    let timestamp_text = headers
        .timestamp
        .ok_or(Error::new(ErrorKind::MissingHeader("webhook-timestamp")))?;
    let signature = headers
        .signature
        .ok_or(Error::new(ErrorKind::MissingHeader("webhook-signature")))?;

    check_id(id)?;
    let timestamp = parse_timestamp(timestamp_text)?;
    if timestamp < now.saturating_sub(TOLERANCE_SECONDS) {
        return Err(Error::new(ErrorKind::TimestampTooOld));
    }
    if timestamp > now.saturating_add(TOLERANCE_SECONDS) {
        return Err(Error::new(ErrorKind::TimestampInFuture));
    }

    let candidates = v1_signatures(signature)?;
    for key in &secrets.keys {
        let mut mac = key.mac();
        feed(&mut mac, id, timestamp, body);
        let expected = mac.finalize().into_bytes();
        // Every candidate is compared, even after a match, so the time taken
        // does not tell which entry or which secret matched.
        let mut matched = subtle::Choice::from(0u8);
        for candidate in &candidates {
            if candidate.len() == expected.len() {
                matched |= candidate.as_slice().ct_eq(expected.as_slice());
            }
        }
        if bool::from(matched) {
            return Ok(Verified {
                id: id.to_owned(),
                timestamp,
            });
        }
    }
    Err(Error::new(ErrorKind::NoMatchingSignature))
}

fn feed(mac: &mut Hmac<Sha256>, id: &str, timestamp: i64, body: &[u8]) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
}

fn check_id(id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::new(ErrorKind::MalformedHeader(
            "webhook-id",
            "is empty",
        )));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::new(ErrorKind::MalformedHeader(
            "webhook-id",
            "is longer than 255 bytes",
        )));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::new(ErrorKind::MalformedHeader(
            "webhook-id",
            "must be printable ASCII without spaces",
        )));
    }
    Ok(())
}

fn parse_timestamp(text: &str) -> Result<i64, Error> {
    // Digits only: a sign, spaces or a fraction would make the signed content
    // differ from what the sender signed.
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(ErrorKind::MalformedHeader(
            "webhook-timestamp",
            "must be Unix seconds as decimal digits",
        )));
    }
    text.parse::<i64>().map_err(|_| {
        Error::new(ErrorKind::MalformedHeader(
            "webhook-timestamp",
            "must be Unix seconds as decimal digits",
        ))
    })
}

fn v1_signatures(header: &str) -> Result<Vec<Vec<u8>>, Error> {
    let mut found_v1 = false;
    let mut decoded = Vec::new();
    for entry in header.split(' ').filter(|e| !e.is_empty()) {
        let Some((version, value)) = entry.split_once(',') else {
            continue;
        };
        // Other versions (for example `v1a`, asymmetric signatures) are
        // skipped, as the specification asks.
        if version != "v1" {
            continue;
        }
        found_v1 = true;
        // Supabase Auth joins its entries with ", ", so every entry but the
        // last ends with a comma, which base64 never contains.
        let value = value.strip_suffix(',').unwrap_or(value);
        if let Ok(bytes) = STANDARD.decode(value) {
            decoded.push(bytes);
        }
    }
    if !found_v1 {
        return Err(Error::new(ErrorKind::MalformedHeader(
            "webhook-signature",
            "has no v1,<base64> entry",
        )));
    }
    Ok(decoded)
}

/// Why a delivery or a secret was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
}

/// The kinds of [`Error`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required header is absent; holds the header name.
    MissingHeader(&'static str),
    /// A header is present but not of the required form: name and rule.
    MalformedHeader(&'static str, &'static str),
    /// The timestamp is more than [`TOLERANCE_SECONDS`] in the past.
    TimestampTooOld,
    /// The timestamp is more than [`TOLERANCE_SECONDS`] in the future.
    TimestampInFuture,
    /// No `v1` signature matches any configured secret.
    NoMatchingSignature,
    /// A configured secret is unusable; this is the operator's error.
    InvalidSecret(&'static str),
}

impl Error {
    fn new(kind: ErrorKind) -> Error {
        Error { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The header the error is about, if it is about one.
    pub fn header(&self) -> Option<&'static str> {
        match self.kind {
            ErrorKind::MissingHeader(name) | ErrorKind::MalformedHeader(name, _) => Some(name),
            ErrorKind::TimestampTooOld | ErrorKind::TimestampInFuture => Some("webhook-timestamp"),
            ErrorKind::NoMatchingSignature => Some("webhook-signature"),
            ErrorKind::InvalidSecret(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::MissingHeader(name) => write!(f, "{name}: header is missing"),
            ErrorKind::MalformedHeader(name, rule) => write!(f, "{name}: {rule}"),
            ErrorKind::TimestampTooOld => write!(
                f,
                "webhook-timestamp: more than {TOLERANCE_SECONDS} seconds in the past; check the sender's clock or resend"
            ),
            ErrorKind::TimestampInFuture => write!(
                f,
                "webhook-timestamp: more than {TOLERANCE_SECONDS} seconds in the future; check the sender's clock"
            ),
            ErrorKind::NoMatchingSignature => {
                write!(f, "webhook-signature: no v1 signature matches a configured secret")
            }
            ErrorKind::InvalidSecret(rule) => write!(f, "webhook secret: {rule}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The example from the Standard Webhooks specification's test vectors.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn auth_hook_secrets_are_v1_entries_separated_by_bars() {
        let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let new = "whsec_dGhpcyBpcyB0aGUgbmV3IHNlY3JldCBrZXk=";
        let set = SecretSet::parse_auth_hook(&format!("v1,{old}|v1,{new}")).unwrap();
        assert_eq!(set.keys().len(), 2);
        // Auth signs with every secret and joins the entries with ", ".
        let header = format!(
            "{}, {}",
            sign(&set.keys()[0], "id", 1_700_000_000, b"{}"),
            sign(&set.keys()[1], "id", 1_700_000_000, b"{}")
        );
        for only in [old, new] {
            let one = SecretSet::parse_auth_hook(&format!("v1,{only}")).unwrap();
            let headers = DeliveryHeaders {
                id: Some("id"),
                timestamp: Some("1700000000"),
                signature: Some(&header),
            };
            verify(&one, &headers, b"{}", 1_700_000_000).unwrap();
        }
        for bad in [
            "",
            "|",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "v1,whsec_!!",
            "v1a,whpk_x:whsk_y",
        ] {
            let err = SecretSet::parse_auth_hook(bad).unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::InvalidSecret(_)), "{bad:?}");
        }
        // A secret in the form OPS_WEBHOOK_SECRET takes is not Auth's form.
        assert!(SecretSet::parse_auth_hook(old).is_err());
    }

    #[test]
    fn an_entry_followed_by_a_comma_still_matches() {
        let set = secrets();
        let header = format!("{SPEC_SIG}, v1,AAAA");
        let headers = DeliveryHeaders {
            id: Some(SPEC_ID),
            timestamp: Some("1614265330"),
            signature: Some(&header),
        };
        verify(&set, &headers, SPEC_BODY, SPEC_TS).unwrap();
    }

    fn secrets() -> SecretSet {
        SecretSet::parse(SPEC_SECRET).unwrap()
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> DeliveryHeaders<'a> {
        DeliveryHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn signs_like_the_specification() {
        assert_eq!(
            sign(&secrets().keys()[0], SPEC_ID, SPEC_TS, SPEC_BODY),
            SPEC_SIG
        );
    }

    #[test]
    fn accepts_the_specification_example() {
        let ts = SPEC_TS.to_string();
        let got = verify(
            &secrets(),
            &headers(SPEC_ID, &ts, SPEC_SIG),
            SPEC_BODY,
            SPEC_TS,
        )
        .unwrap();
        assert_eq!(
            got,
            Verified {
                id: SPEC_ID.into(),
                timestamp: SPEC_TS
            }
        );
    }

    #[test]
    fn refuses_a_tampered_body() {
        let ts = SPEC_TS.to_string();
        let err = verify(
            &secrets(),
            &headers(SPEC_ID, &ts, SPEC_SIG),
            br#"{"test": 2432232315}"#,
            SPEC_TS,
        )
        .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::NoMatchingSignature);
    }

    #[test]
    fn refuses_a_changed_id_or_timestamp() {
        let ts = SPEC_TS.to_string();
        let err = verify(
            &secrets(),
            &headers("msg_other", &ts, SPEC_SIG),
            SPEC_BODY,
            SPEC_TS,
        )
        .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::NoMatchingSignature);
        let ts1 = (SPEC_TS + 1).to_string();
        let err = verify(
            &secrets(),
            &headers(SPEC_ID, &ts1, SPEC_SIG),
            SPEC_BODY,
            SPEC_TS,
        )
        .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::NoMatchingSignature);
    }

    #[test]
    fn tolerance_is_five_minutes_both_ways() {
        let ts = SPEC_TS.to_string();
        let h = headers(SPEC_ID, &ts, SPEC_SIG);
        assert!(verify(&secrets(), &h, SPEC_BODY, SPEC_TS + 300).is_ok());
        assert!(verify(&secrets(), &h, SPEC_BODY, SPEC_TS - 300).is_ok());
        assert_eq!(
            verify(&secrets(), &h, SPEC_BODY, SPEC_TS + 301)
                .unwrap_err()
                .kind(),
            &ErrorKind::TimestampTooOld
        );
        assert_eq!(
            verify(&secrets(), &h, SPEC_BODY, SPEC_TS - 301)
                .unwrap_err()
                .kind(),
            &ErrorKind::TimestampInFuture
        );
    }

    #[test]
    fn accepts_any_of_several_signatures_and_secrets() {
        let rotated = SecretSet::parse(&format!(
            "whsec_{} {SPEC_SECRET}",
            STANDARD.encode([7u8; 32])
        ))
        .unwrap();
        let ts = SPEC_TS.to_string();
        let sig = format!("v1a,whatever v1,{} {SPEC_SIG}", STANDARD.encode([1u8; 32]));
        assert!(verify(&rotated, &headers(SPEC_ID, &ts, &sig), SPEC_BODY, SPEC_TS).is_ok());
        // Comma separation works for the secret list too.
        let commas = SecretSet::parse(&format!(
            "{SPEC_SECRET},whsec_{}",
            STANDARD.encode([7u8; 32])
        ))
        .unwrap();
        assert_eq!(commas.keys().len(), 2);
    }

    #[test]
    fn refuses_a_wrong_secret() {
        let other = SecretSet::parse(&format!("whsec_{}", STANDARD.encode([9u8; 32]))).unwrap();
        let ts = SPEC_TS.to_string();
        let err = verify(&other, &headers(SPEC_ID, &ts, SPEC_SIG), SPEC_BODY, SPEC_TS).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::NoMatchingSignature);
    }

    #[test]
    fn names_missing_and_malformed_headers() {
        let ts = SPEC_TS.to_string();
        let cases: Vec<(DeliveryHeaders<'_>, &str)> = vec![
            (
                DeliveryHeaders {
                    id: None,
                    ..headers(SPEC_ID, &ts, SPEC_SIG)
                },
                "webhook-id",
            ),
            (
                DeliveryHeaders {
                    timestamp: None,
                    ..headers(SPEC_ID, &ts, SPEC_SIG)
                },
                "webhook-timestamp",
            ),
            (
                DeliveryHeaders {
                    signature: None,
                    ..headers(SPEC_ID, &ts, SPEC_SIG)
                },
                "webhook-signature",
            ),
            (headers("", &ts, SPEC_SIG), "webhook-id"),
            (headers("has space", &ts, SPEC_SIG), "webhook-id"),
            (headers(SPEC_ID, "-1", SPEC_SIG), "webhook-timestamp"),
            (headers(SPEC_ID, "1.5", SPEC_SIG), "webhook-timestamp"),
            (headers(SPEC_ID, "", SPEC_SIG), "webhook-timestamp"),
            (headers(SPEC_ID, &ts, "v2,abc"), "webhook-signature"),
            (headers(SPEC_ID, &ts, "garbage"), "webhook-signature"),
        ];
        for (h, name) in cases {
            let err = verify(&secrets(), &h, SPEC_BODY, SPEC_TS).unwrap_err();
            assert_eq!(err.header(), Some(name), "{err}");
            assert!(err.to_string().starts_with(name), "{err}");
        }
        let long = "a".repeat(MAX_ID_LEN + 1);
        let err = verify(
            &secrets(),
            &headers(&long, &ts, SPEC_SIG),
            SPEC_BODY,
            SPEC_TS,
        )
        .unwrap_err();
        assert_eq!(err.header(), Some("webhook-id"));
    }

    #[test]
    fn refuses_unusable_secrets() {
        for bad in [
            "",
            "   ",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
            "whsec_c2hvcnQ=",
        ] {
            let err = SecretSet::parse(bad).unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::InvalidSecret(_)), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_hides_keys() {
        let shown = format!("{:?}", secrets());
        assert!(!shown.contains("MfKQ9r8G"), "{shown}");
    }

    proptest! {
        #[test]
        fn never_panics(
            id in proptest::option::of(".{0,300}"),
            ts in proptest::option::of(".{0,30}"),
            sig in proptest::option::of(".{0,200}"),
            body in proptest::collection::vec(any::<u8>(), 0..256),
            now in any::<i64>(),
        ) {
            let h = DeliveryHeaders { id: id.as_deref(), timestamp: ts.as_deref(), signature: sig.as_deref() };
            let _ = verify(&secrets(), &h, &body, now);
        }

        #[test]
        fn a_signature_verifies_only_its_own_body(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            other in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let key = &secrets().keys()[0].clone();
            let sig = sign(key, "msg_x", SPEC_TS, &body);
            let ts = SPEC_TS.to_string();
            prop_assert!(verify(&secrets(), &headers("msg_x", &ts, &sig), &body, SPEC_TS).is_ok());
            if other != body {
                prop_assert!(verify(&secrets(), &headers("msg_x", &ts, &sig), &other, SPEC_TS).is_err());
            }
        }
    }
}
