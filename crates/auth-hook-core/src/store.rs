//! After the answer: storing the links decided, so that `ops.odoo_users`
//! (what the console reads) follows what the tokens say.
//!
//! When a decided link differs from the stored one, [`crate::Hook`] answers
//! with `respond_then`: the executor sends the claims at once, and only then
//! does the machine write (`ops.identity_store`, which checks that the
//! neighbourhood is still the one decided from). It never writes inside the
//! sign-in: writing a link checks its foreign key to `auth.users`, whose row
//! the sign-in holds until Auth has the hook's answer.

use crate::{LogFields, Neighbourhood, Reading, Response, StoredLink};
use function_io::{Answer, Param};
use identity_map::Mapping;
use serde::Deserialize;

pub(crate) const STORE_SQL: &str = "select ops.identity_store($1::text::uuid, $2::text, $3::text, $4::text::jsonb)::text as result";

#[derive(Deserialize)]
struct Stored {
    result: String,
    #[serde(default)]
    rows: usize,
}

/// The parameters of the store, when a decided link differs from the
/// stored one; `None` when every one is as stored.
pub(crate) fn plan(
    reading: &Reading,
    found: &Neighbourhood,
    mapping: &Mapping,
) -> Option<[Param; 4]> {
    let decided: Vec<StoredLink> = found
        .stored
        .iter()
        .map(|row| {
            let link = mapping.links.iter().find(|link| {
                link.odoo_instance == row.odoo_instance && link.odoo_user_id == row.odoo_user_id
            });
            StoredLink {
                odoo_instance: row.odoo_instance.clone(),
                odoo_user_id: row.odoo_user_id,
                auth_user_id: link.map(|link| link.auth_user_id.clone()),
                link_how: link.map(|link| link.how),
            }
        })
        .collect();
    (decided != found.stored).then(|| {
        [
            Param::Text(reading.user_id.clone()),
            Param::text_or_null(reading.key.clone()),
            Param::Text(found.version.clone()),
            // Plain data always serializes.
            Param::Text(serde_json::to_string(&decided).unwrap_or_default()),
        ]
    })
}

/// The end of the store: nobody is answered, its log line is written.
pub(crate) fn finished(mut log: LogFields, answer: Answer<'_>) -> Response {
    log.outcome = "store_failed".to_owned();
    match answer {
        Answer::Sql(Some(text)) => {
            if let Ok(stored) = serde_json::from_str::<Stored>(text) {
                log.outcome = stored.result;
                log.rows = Some(stored.rows);
            }
        }
        Answer::SqlFailed { sqlstate, .. } => log.sqlstate = sqlstate.map(str::to_owned),
        Answer::Sql(None) | Answer::Stored(_) | Answer::Deleted | Answer::S3Failed => {}
    }
    Response {
        status: 200,
        headers: Vec::new(),
        body: String::new(),
        log,
    }
}
