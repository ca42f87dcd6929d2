//! What the tests share: builders, and an in-memory `ops.projects` that
//! applies events by the ordering rule of `ops.apply_project_event` and
//! `ops.ingest_event`, restated from the SQL and written without the
//! planner's code, so that the planner is checked against the rule rather
//! than against itself.

// Test code: a panic is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use ops_events::{parse_event, Event};
use reconcile_plan::{ControlProject, Input, Mode, PageRange, Plan, Timestamp};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The text PostgreSQL prints for a `timestamp without time zone` holding
/// this instant (UTC), as the foreign table gives `write_date`.
pub fn odoo_text(at: Timestamp) -> String {
    let rfc = at.to_string(); // YYYY-MM-DDTHH:MM:SS.ffffffZ
    let (date, time) = rfc.trim_end_matches('Z').split_once('T').unwrap();
    let time = time.trim_end_matches('0').trim_end_matches('.');
    format!("{date} {time}")
}

pub fn odoo_row(id: i64, name: Value, active: bool, write_date: &str) -> Value {
    json!({
        "id": id, "name": name, "active": active,
        "write_date": write_date, "is_template": false,
    })
}

/// An input of one page covering every id, with the given rows.
pub fn input(odoo: Vec<Value>, projects: Vec<ControlProject>) -> Input {
    serde_json::from_value(json!({
        "mode": "full",
        "watermark": null,
        "now": "2026-11-26T12:00:00Z",
        "language": "fr_FR",
        "base_latest_version": "19.0.1.3",
        "range": { "after_id": 0, "through_id": null },
        "pass": null,
        "odoo_projects": odoo,
        "projects": serde_json::to_value(projects).unwrap(),
    }))
    .unwrap()
}

pub fn full_range() -> PageRange {
    PageRange {
        after_id: 0,
        through_id: None,
    }
}

/// What `apply_project_event` answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Archived,
    Unarchived,
    Deleted,
    Stale,
    Deferred,
}

/// One row of `ops.projects`, the columns the rule reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub odoo_version: String,
    pub active: bool,
    pub deleted_at: Option<Timestamp>,
    pub described_at: Option<Timestamp>,
    pub described_by: Option<String>,
    pub activity_at: Option<Timestamp>,
    pub activity_by: Option<String>,
}

/// `(a_at, a_by) <= (b_at, b_by)` in SQL: left to right, stopping at the
/// first pair that differs or holds a null; a null makes the answer null
/// (`None`), which an `if` takes as false.
fn row_le(
    a_at: Timestamp,
    a_by: &str,
    b_at: Option<Timestamp>,
    b_by: Option<&str>,
) -> Option<bool> {
    let b_at = b_at?;
    if a_at != b_at {
        return Some(a_at < b_at);
    }
    let b_by = b_by?;
    // The database's collation is C.UTF-8: text compares by bytes.
    Some(a_by.as_bytes() <= b_by.as_bytes())
}

#[derive(Clone, Debug, Default)]
pub struct Store {
    pub rows: BTreeMap<String, Row>,
    /// The ledger's deferred events, not yet resolved.
    deferred: Vec<(Timestamp, String, Event)>,
}

fn project_of(event: &Event) -> String {
    match event {
        Event::ProjectCreated(e) => e.project_id.as_str().to_owned(),
        Event::ProjectUpdated(e) => e.project_id.as_str().to_owned(),
        Event::ProjectArchived(e) | Event::ProjectUnarchived(e) | Event::ProjectDeleted(e) => {
            e.project_id.as_str().to_owned()
        }
        other => panic!("not a project event: {other:?}"),
    }
}

impl Store {
    pub fn from_rows(rows: &[ControlProject]) -> Store {
        Store {
            rows: rows
                .iter()
                .map(|p| {
                    (
                        p.project_id.clone(),
                        Row {
                            name: p.name.clone(),
                            odoo_version: p.odoo_version.clone(),
                            active: p.active,
                            deleted_at: p.deleted_at,
                            described_at: p.described_at,
                            described_by: p.described_by.clone(),
                            activity_at: p.activity_at,
                            activity_by: p.activity_by.clone(),
                        },
                    )
                })
                .collect(),
            deferred: Vec::new(),
        }
    }

    pub fn control_rows(&self) -> Vec<ControlProject> {
        self.rows
            .iter()
            .map(|(id, r)| ControlProject {
                project_id: id.clone(),
                name: r.name.clone(),
                odoo_version: r.odoo_version.clone(),
                active: r.active,
                deleted_at: r.deleted_at,
                described_at: r.described_at,
                described_by: r.described_by.clone(),
                activity_at: r.activity_at,
                activity_by: r.activity_by.clone(),
            })
            .collect()
    }

    /// `ops.apply_project_event`.
    fn apply(&mut self, id: &str, event: &Event, at: Timestamp) -> Outcome {
        let project = project_of(event);
        let description = match event {
            Event::ProjectCreated(e) => Some((e.name.as_str(), e.odoo_version.as_str())),
            Event::ProjectUpdated(e) => Some((e.name.as_str(), e.odoo_version.as_str())),
            _ => None,
        };
        if let Some((name, version)) = description {
            let Some(row) = self.rows.get_mut(&project) else {
                self.rows.insert(
                    project,
                    Row {
                        name: name.to_owned(),
                        odoo_version: version.to_owned(),
                        active: true,
                        deleted_at: None,
                        described_at: Some(at),
                        described_by: Some(id.to_owned()),
                        activity_at: None,
                        activity_by: None,
                    },
                );
                return Outcome::Created;
            };
            if row.deleted_at.is_some()
                || row_le(at, id, row.described_at, row.described_by.as_deref()) == Some(true)
            {
                return Outcome::Stale;
            }
            row.name = name.to_owned();
            row.odoo_version = version.to_owned();
            row.described_at = Some(at);
            row.described_by = Some(id.to_owned());
            return Outcome::Updated;
        }
        let Some(row) = self.rows.get_mut(&project) else {
            return Outcome::Deferred;
        };
        if row.deleted_at.is_some() {
            return Outcome::Stale;
        }
        if let Event::ProjectDeleted(_) = event {
            row.deleted_at = Some(at);
            return Outcome::Deleted;
        }
        if row.activity_at.is_some()
            && row_le(at, id, row.activity_at, row.activity_by.as_deref()) == Some(true)
        {
            return Outcome::Stale;
        }
        let active = matches!(event, Event::ProjectUnarchived(_));
        row.active = active;
        row.activity_at = Some(at);
        row.activity_by = Some(id.to_owned());
        if active {
            Outcome::Unarchived
        } else {
            Outcome::Archived
        }
    }

    /// `ops.ingest_event` (without the ledger's replay, which the planner's
    /// unique ids never meet): apply, keep a deferred event, and after a
    /// creation apply what waited for it, in (occurred_at, id) order.
    pub fn deliver(&mut self, id: &str, event: &Event, at: Timestamp) -> Outcome {
        let outcome = self.apply(id, event, at);
        if outcome == Outcome::Deferred {
            self.deferred.push((at, id.to_owned(), event.clone()));
        }
        if outcome == Outcome::Created {
            let project = project_of(event);
            let mut waiting: Vec<_> = Vec::new();
            self.deferred.retain(|d| {
                if project_of(&d.2) == project {
                    waiting.push(d.clone());
                    false
                } else {
                    true
                }
            });
            waiting.sort_by(|a, b| (a.0, a.1.as_bytes()).cmp(&(b.0, b.1.as_bytes())));
            for (at, id, event) in waiting {
                self.apply(&id, &event, at);
            }
        }
        outcome
    }

    /// Applies a plan's changes in order; the outcomes, in the same order.
    pub fn apply_plan(&mut self, plan: &Plan) -> Vec<Outcome> {
        plan.changes
            .iter()
            .map(|c| self.deliver(&c.change_id, &c.event, c.occurred_at))
            .collect()
    }

    /// A delivery from Odoo through ops-ingest: the body parsed by its parser.
    pub fn webhook(&mut self, id: &str, body: Value) -> Outcome {
        let event = parse_event(body.to_string().as_bytes(), 1_900_000_000).unwrap();
        let at: Timestamp = event.occurred_at().unwrap().to_rfc3339().parse().unwrap();
        self.deliver(id, &event, at)
    }
}

/// Plans `input` against `store`'s rows, in place of `input.projects`.
pub fn plan_against(input: &Input, store: &Store) -> Plan {
    let mut input = input.clone();
    input.projects = store.control_rows();
    reconcile_plan::plan(&input).unwrap()
}

pub fn incremental(mut input: Input, watermark: &str) -> Input {
    input.mode = Mode::Incremental;
    input.watermark = Some(at(watermark));
    input
}
