//! The `schema` test layer: the published event schema is the server's
//! contract.
//!
//! `tests/schema/ingest_events.py` generates events from the committed
//! `schemas/ops-ingest-events.schema.json` with hypothesis-jsonschema (an
//! independent generator, derandomized, a fixed number of examples), signs
//! them with the PyPI `standardwebhooks` package and sends them to the local
//! stack's `ops-ingest`: every event the schema accepts must get a 2xx, every
//! one it rejects a 422. It runs in the pinned virtual environment that
//! `install` sets up (`tests/schema/requirements.txt`).

use std::path::Path;
use std::process::{Command, ExitStatus};

use anyhow::Result;

use crate::install::{self, Tools};
use crate::stack::Stack;
use crate::test::{self, Counts};

/// The script, relative to the repository root.
const SCRIPT: &str = "tests/schema/ingest_events.py";

/// The line the script ends with: `schema result: N passed; M failed (T s)`.
const RESULT_PREFIX: &str = "schema result:";

/// The command that runs the layer against `stack`; `None` without the
/// script.
pub fn command(root: &Path, tools: &Tools, stack: &Stack) -> Result<Option<Command>> {
    let script = root.join(SCRIPT);
    if !script.is_file() {
        return Ok(None);
    }
    // Hypothesis keeps nothing with `database=None`, but it still makes its
    // `.hypothesis` directory in the working directory: the tools
    // directory's, not the repository's.
    let workdir = tools.dir.join("python");
    let mut command = Command::new(install::schema_python(tools));
    command
        .current_dir(workdir)
        .arg(script)
        .envs(stack.env.iter().map(|(key, value)| (key, value)))
        // No __pycache__ next to the script in the working tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONUNBUFFERED", "1");
    Ok(Some(command))
}

/// The counts of the script's last result line; `None` when it did not get
/// that far (a crash, a broken environment).
pub fn parse(output: &str, _status: ExitStatus) -> Option<Counts> {
    let line = output
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix(RESULT_PREFIX))?;
    let (Some(passed), Some(failed)) = test::labelled_counts(line.split(';')) else {
        return None;
    };
    Some(Counts { passed, failed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn the_result_line_gives_the_counts() {
        let output = "schema: accepted: 300 passed, 0 failed\n\
            FAILED refused: the schema refuses this event, the receiver did not answer 422\n\
            schema: refused: 99 passed, 1 failed\n\
            schema result: 399 passed; 1 failed (12.3 s)\n";
        assert_eq!(
            parse(output, exit(1)),
            Some(Counts {
                passed: 399,
                failed: 1
            })
        );
        assert_eq!(
            parse("schema result: 0 passed; 0 failed\n", exit(1)),
            Some(Counts::default())
        );
    }

    #[test]
    fn no_result_line_is_no_counts() {
        assert_eq!(
            parse(
                "schema: accepted: 3 passed, 0 failed\nTraceback (most recent call last):\n",
                exit(1)
            ),
            None
        );
        assert_eq!(parse("schema result: 3 passed\n", exit(1)), None);
        assert_eq!(parse("", exit(0)), None);
    }
}
