"""The published event schema is the server's contract, checked from outside.

Events are generated from the committed JSON Schema
(schemas/ops-ingest-events.schema.json) by an independent generator,
hypothesis-jsonschema, signed by an independent Standard Webhooks signer (the
PyPI `standardwebhooks` package) and sent to the running `ops-ingest`:

- every event the schema accepts must be accepted (2xx), except for the one
  rule JSON Schema cannot state (an `occurred_at` at most 5 minutes ahead of
  the receiver's clock): a generated date beyond it is moved into the past by
  changing its year, which keeps it valid for the schema;
- events the schema rejects (valid ones with one thing broken, judged by the
  `jsonschema` package) must be refused with 422;
- a fixed list of edge cases, each first judged by `jsonschema` against the
  committed schema and then sent, must get the answer its rule says.

The runs are derandomized: the same schema and pins give the same events.
Every failure is printed with its event and the answer. The last line is
`schema result: N passed; M failed (T s)`, one test per event sent.

Run by `cargo xtask test --layer schema`, which sets SUPABASE_URL and
OPS_WEBHOOK_SECRET to the local stack's.
"""

import http.client
import json
import os
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from standardwebhooks import Webhook

ACCEPTED_EXAMPLES = 300
REFUSED_EXAMPLES = 100
FUTURE_TOLERANCE = timedelta(minutes=5)
# A date this close to the tolerance is moved too: the receiver's clock reads
# a little later than ours did when the event was made.
CLOCK_MARGIN = timedelta(minutes=1)
SHOWN_FAILURES = 20

SCHEMA_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "..",
    "schemas",
    "ops-ingest-events.schema.json",
)

DATE_TIME = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(\.[0-9]+)?([Zz]|([+-])([0-9]{2}):([0-9]{2}))$"
)


def settings_for(examples):
    # No example database, no shrinking: a fixed set of examples, every one
    # sent and counted.
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def instant(text):
    """The Unix seconds of a date-time the schema accepts, or None."""
    match = DATE_TIME.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    offset = 0
    if match.group(9):
        sign = -1 if match.group(9) == "-" else 1
        offset = sign * (int(match.group(10)) * 3600 + int(match.group(11)) * 60)
    try:
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    # In seconds rather than as a datetime: 9999-12-31 west of UTC is past
    # what a datetime holds.
    return (local - datetime(1970, 1, 1)).total_seconds() - offset


def into_the_past(event, now):
    """Moves an `occurred_at` beyond the clock rule into the past.

    The year becomes one of 2000-2023 with the same remainder by 4, so a 29
    February stays a date and the string stays valid for the schema.
    """
    at = event.get("occurred_at") if isinstance(event, dict) else None
    if not isinstance(at, str):
        return event
    moment = instant(at)
    limit = (now + FUTURE_TOLERANCE - CLOCK_MARGIN).timestamp()
    if moment is None or moment <= limit:
        return event
    year = int(at[:4])
    moved = dict(event)
    moved["occurred_at"] = f"{2000 + (year - 2000) % 24:04d}{at[4:]}"
    return moved


class Receiver:
    """Signs and posts events to `ops-ingest` over one kept-alive connection."""

    def __init__(self, functions_url, secret):
        url = urlsplit(f"{functions_url}/ops-ingest")
        self.host = url.hostname
        self.port = url.port or 80
        self.path = url.path
        self.signer = Webhook(secret)
        self.run = uuid.uuid4().hex[:12]
        self.sent = 0
        self.connection = None

    def send(self, event):
        self.sent += 1
        # Half the bodies escape non-ASCII characters, half send them as
        # UTF-8: both are the same JSON.
        body = json.dumps(event, ensure_ascii=self.sent % 2 == 0)
        webhook_id = f"msg_schema_{self.run}_{self.sent}"
        now = datetime.now(timezone.utc)
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.signer.sign(webhook_id, now, body),
        }
        data = body.encode("utf-8")
        for attempt in (1, 2):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.connection.request("POST", self.path, body=data, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode("utf-8", "replace")
                return response.status, text
            except (http.client.HTTPException, OSError):
                # The server closed the kept-alive connection: once more on
                # a new one (the same id and body are idempotent anyway).
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.shown = 0

    def record(self, ok, group, event, status, answer, why=""):
        if ok:
            self.passed += 1
            return
        self.failed += 1
        if self.shown < SHOWN_FAILURES:
            self.shown += 1
            print(f"FAILED {group}: {why}")
            print(f"  event:  {json.dumps(event)}")
            print(f"  answer: {status} {answer[:400]}")


def refused_with_422(status, answer):
    if status != 422:
        return False
    try:
        return bool(json.loads(answer).get("errors"))
    except ValueError:
        return False


def check_accepted(schema, validator, receiver, tally):
    moved = 0

    @settings_for(ACCEPTED_EXAMPLES)
    @given(from_schema(schema))
    def accepted(generated):
        nonlocal moved
        event = into_the_past(generated, datetime.now(timezone.utc))
        moved += event is not generated
        if not validator.is_valid(event):
            # The mapping above or the generator made something the schema
            # refuses: a fault of this test, never of the receiver.
            tally.record(False, "generated", event, 0, "", "the schema refuses a generated event")
            return
        status, answer = receiver.send(event)
        tally.record(200 <= status < 300, "accepted", event, status, answer,
                     "the schema accepts this event, the receiver did not")

    accepted()
    print(f"schema: accepted: {moved} generated dates were past the clock rule, "
          "moved into the past")


TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

BROKEN_TEXT = {
    "name": st.sampled_from(["", " ", "\u00a0", "\u3000", "a\u0001", "a\u2028b", "b\u2029",
                             "a\u0085", "tab\there", "x" * 256]),
    "occurred_at": st.sampled_from([
        "1999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2016-12-31T23:59:60Z",
        "2025-01-01 00:00:00Z", "2025-01-01T00:00:00", "2025-02-29T00:00:00Z",
        "2025-01-01T00:00:00.1234567890Z", "2025-01-01T24:00:00Z", "2025-01-01",
    ]),
    "project_id": st.sampled_from(["odoo-0", "odoo-042", "ODOO-1", "odoo-1234567890123456789",
                                   "42", "odoo-"]),
    "odoo_version": st.sampled_from(["19", "19.0.1", "v19.0", "1000.0", "saas-18.3"]),
    "event_type": st.sampled_from(["project_exploded", "PROJECT_CREATED", "created", ""]),
}


@st.composite
def broken(draw, valid_events):
    """A valid event with one thing broken, as a sender might break it."""
    event = dict(draw(valid_events))
    how = draw(st.sampled_from(["drop", "add", "type", "text", "rule", "root"]))
    if how == "root":
        return draw(st.one_of(TYPES, st.lists(st.just(event), min_size=1, max_size=1)))
    field = draw(st.sampled_from(sorted(event)))
    if how == "drop":
        del event[field]
    elif how == "add":
        extra = draw(st.one_of(st.sampled_from(["name", "odoo_version", "occurred_at", "extra",
                                                "Event_Type", "project_id "]),
                               st.text(min_size=1, max_size=8)))
        event[extra] = draw(st.one_of(st.just("odoo-42"), TYPES))
    elif how == "type":
        # A number where a string belongs: odoo_version 19.0, project_id 42.
        event[field] = draw(TYPES)
    elif how == "text":
        event[field] = draw(st.text(max_size=30))
    else:
        event[field] = draw(BROKEN_TEXT.get(field, st.just("")))
    return event


def check_refused(schema, validator, receiver, tally):
    @settings_for(REFUSED_EXAMPLES)
    @given(broken(from_schema(schema)))
    def refused(event):
        if validator.is_valid(event):
            reject()
        status, answer = receiver.send(event)
        tally.record(refused_with_422(status, answer), "refused", event, status, answer,
                     "the schema refuses this event, the receiver did not answer 422")

    refused()


PAST = "2025-06-30T12:00:00Z"


def created(**fields):
    return {"event_type": "project_created", "project_id": "odoo-42", "name": "Alpha",
            "odoo_version": "19.0", **fields}


def deleted(occurred_at):
    return {"event_type": "project_deleted", "project_id": "odoo-43", "occurred_at": occurred_at}


# (event, what the schema says, what the receiver answers): 2xx, 422, or
# "late" — valid for the schema, refused for the clock rule with "maximum".
EDGES = [
    # Dates: RFC 3339 as the pattern states it.
    (deleted("2025-06-30t12:00:00z"), True, "2xx"),
    (deleted("2024-02-29T23:59:59.999999999Z"), True, "2xx"),
    (deleted("2000-02-29T00:00:00Z"), True, "2xx"),
    (deleted("2000-01-01T00:00:00+23:59"), True, "2xx"),
    (deleted("2025-01-01T00:00:00-00:00"), True, "2xx"),
    (deleted("2025-01-01T00:00:00.1-23:59"), True, "2xx"),
    (deleted("1999-12-31T23:59:59Z"), False, "422"),
    (deleted("0000-01-01T00:00:00Z"), False, "422"),
    (deleted("2016-12-31T23:59:60Z"), False, "422"),
    (deleted("2025-01-01T00:00:00.1234567890Z"), False, "422"),
    (deleted("2025-01-01 00:00:00Z"), False, "422"),
    (deleted("2025-01-01T00:00:00"), False, "422"),
    (deleted("2025-02-29T00:00:00Z"), False, "422"),
    (deleted("2100-02-29T00:00:00Z"), False, "422"),
    (deleted("2025-04-31T00:00:00Z"), False, "422"),
    (deleted("2025-01-01T24:00:00Z"), False, "422"),
    (deleted("2025-01-01T00:00:00+24:00"), False, "422"),
    (deleted("2025-01-01T00:00:00+0100"), False, "422"),
    (deleted("２０２５-01-01T00:00:00Z"), False, "422"),
    (deleted(1751284800), False, "422"),
    (deleted(None), False, "422"),
    (deleted("9999-12-31T23:59:59Z"), True, "late"),
    # Names: the characters the database would refuse are refused first.
    (created(name="a\u0001"), False, "422"),
    (created(name="a\u2028b"), False, "422"),
    (created(name="b\u2029"), False, "422"),
    (created(name="a\u0085"), False, "422"),
    (created(name="\u00a0\u3000"), False, "422"),
    (created(name=""), False, "422"),
    (created(name="é" * 256), False, "422"),
    (created(name="é" * 255), True, "2xx"),
    (created(name="🚀" * 255), True, "2xx"),
    (created(name="\ufeff"), True, "2xx"),
    (created(name="\u200b"), True, "2xx"),
    (created(name="  padded  "), True, "2xx"),
    (created(name="\uffff\U0010ffff"), True, "2xx"),
    # The rest of the event.
    (created(occurred_at=None), True, "2xx"),
    (created(occurred_at=PAST), True, "2xx"),
    (created(project_id="odoo-999999999999999999"), True, "2xx"),
    (created(odoo_version="saas~999.99"), True, "2xx"),
    (created(project_id="odoo-1234567890123456789"), False, "422"),
    (created(project_id=42), False, "422"),
    (created(odoo_version=19.0), False, "422"),
    (created(name=1), False, "422"),
    (created(extra=1), False, "422"),
    (created(event_type="PROJECT_CREATED"), False, "422"),
    ({"event_type": "project_updated", "project_id": "odoo-42", "name": "A",
      "odoo_version": "19.0"}, False, "422"),
]


def check_edges(validator, receiver, tally):
    for event, valid, expected in EDGES:
        if validator.is_valid(event) != valid:
            verdict = "refuses" if valid else "accepts"
            tally.record(False, "edge", event, 0, "",
                         f"the schema {verdict} it; its rule says otherwise")
            continue
        status, answer = receiver.send(event)
        if expected == "2xx":
            ok = 200 <= status < 300
        elif expected == "late":
            ok = refused_with_422(status, answer) and '"maximum"' in answer
        else:
            ok = refused_with_422(status, answer)
        tally.record(ok, "edge", event, status, answer, f"expected {expected}")


def main():
    functions_url = os.environ.get("SUPABASE_URL", "").rstrip("/")
    secret = os.environ.get("OPS_WEBHOOK_SECRET", "")
    if not functions_url or not secret:
        print("SUPABASE_URL and OPS_WEBHOOK_SECRET must be set; "
              "run `cargo xtask test --layer schema`")
        return 2
    with open(SCHEMA_PATH, encoding="utf-8") as file:
        schema = json.load(file)
    Draft202012Validator.check_schema(schema)
    # No format checker: the schema's patterns carry every rule, as they must
    # for a validator that treats `format` as an annotation (the default in
    # JSON Schema 2020-12).
    validator = Draft202012Validator(schema)
    receiver = Receiver(f"{functions_url}/functions/v1", secret)

    groups = [
        ("accepted", lambda tally: check_accepted(schema, validator, receiver, tally)),
        ("refused", lambda tally: check_refused(schema, validator, receiver, tally)),
        ("edge cases", lambda tally: check_edges(validator, receiver, tally)),
    ]
    started = time.monotonic()
    passed = failed = 0
    for name, run in groups:
        tally = Tally()
        run(tally)
        print(f"schema: {name}: {tally.passed} passed, {tally.failed} failed")
        passed += tally.passed
        failed += tally.failed
    elapsed = time.monotonic() - started
    print(f"schema result: {passed} passed; {failed} failed ({elapsed:.1f} s)")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
