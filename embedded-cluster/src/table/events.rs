//! Columns of Events, core/v1 and events.k8s.io/v1 alike: when it was last and first seen,
//! what it is about and who reported it, with the count of a repeated event.

use jiff::Timestamp;
use serde_json::Value;

use super::builtin::{int, text};
use super::{Column, Row, age};

/// The columns of both Event kinds; the name comes last, and only with `-o wide`.
pub(super) fn columns() -> Vec<Column> {
    let s = |name: &str, description: &str| Column::new(name, "string", description);
    vec![
        s(
            "Last Seen",
            "The time at which the most recent occurrence of this event was recorded.",
        ),
        s(
            "Type",
            "Type of this event (Normal, Warning), new types could be added in the future",
        ),
        s(
            "Reason",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        s("Object", "The object that this event is about."),
        s(
            "Subobject",
            "The field of the object that this event is about.",
        )
        .wide(),
        s("Source", "The component reporting this event.").wide(),
        s(
            "Message",
            "A human-readable description of the status of this operation.",
        ),
        s(
            "First Seen",
            "The time at which the event was first recorded.",
        )
        .wide(),
        s("Count", "The number of times this event has occurred.").wide(),
        Column::name().wide(),
    ]
}

/// Where (as JSON pointers) the fields of a core/v1 Event and of an events.k8s.io/v1 Event
/// live.
pub(super) struct Fields {
    object: &'static str,
    message: &'static str,
    source_component: &'static str,
    source_host: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
}

/// core/v1 Events.
pub(super) const CORE: Fields = Fields {
    object: "/involvedObject",
    message: "/message",
    source_component: "/source/component",
    source_host: "/source/host",
    first: "/firstTimestamp",
    last: "/lastTimestamp",
    count: "/count",
};

/// events.k8s.io/v1 Events, whose older fields are `deprecated...`.
pub(super) const EVENTS_V1: Fields = Fields {
    object: "/regarding",
    message: "/note",
    source_component: "/deprecatedSource/component",
    source_host: "/deprecatedSource/host",
    first: "/deprecatedFirstTimestamp",
    last: "/deprecatedLastTimestamp",
    count: "/deprecatedCount",
};

/// An Event's cells. A single event has no count (the newer API leaves it out): it counts
/// once; an event series shows the series' count and last time.
pub(super) fn row(o: &Value, now: Timestamp, f: &Fields) -> Row {
    let set = |pointer: &str| {
        o.pointer(pointer)
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    };
    let first = set(f.first).or_else(|| set("/eventTime"));
    let first_seen = age::since(first, now);
    let mut last_seen = match set(f.last) {
        Some(last) => age::since(Some(last), now),
        None => first_seen.clone(),
    };
    let mut count = int(o, f.count);
    if let Some(series) = o.get("series").filter(|s| s.is_object()) {
        last_seen = age::since(series.get("lastObservedTime"), now);
        count = int(series, "/count");
    } else if count == 0 {
        count = 1;
    }
    let object = o.pointer(f.object).cloned().unwrap_or_default();
    let kind = text(&object, "/kind").to_lowercase();
    let target = match text(&object, "/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = match text(o, f.source_component) {
        "" => text(o, "/reportingController"),
        c => c,
    };
    let source = match text(o, f.source_host) {
        "" if text(o, "/reportingInstance").is_empty() => component.to_owned(),
        "" => format!("{component}, {}", text(o, "/reportingInstance")),
        host => format!("{component}, {host}"),
    };
    Row::plain(vec![
        last_seen.into(),
        text(o, "/type").into(),
        text(o, "/reason").into(),
        target.into(),
        text(&object, "/fieldPath").into(),
        source.into(),
        text(o, f.message).trim().into(),
        first_seen.into(),
        count.into(),
        crate::meta::name(o).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-01-01T01:00:00Z".parse().unwrap()
    }

    fn cells(object: Value, fields: &Fields) -> Vec<Value> {
        let row = row(&object, now(), fields);
        assert_eq!(row.cells.len(), columns().len(), "one cell per column");
        row.cells
    }

    #[test]
    fn events_name_their_object_and_count() {
        let event = json!({
            "metadata": {"name": "credit.17a"},
            "involvedObject": {"kind": "TrainingJob", "name": "credit"},
            "type": "Normal", "reason": "Started", "message": "training started\n",
            "firstTimestamp": "2024-01-01T00:50:00Z", "lastTimestamp": "2024-01-01T00:59:00Z",
            "count": 3, "source": {"component": "lepton-operator"},
        });
        let c = cells(event, &CORE);
        assert_eq!(c[0], "60s");
        assert_eq!(
            (&c[1], &c[2], &c[3]),
            (
                &json!("Normal"),
                &json!("Started"),
                &json!("trainingjob/credit")
            )
        );
        assert_eq!(
            (&c[5], &c[6], &c[7], &c[8], &c[9]),
            (
                &json!("lepton-operator"),
                &json!("training started"),
                &json!("10m"),
                &json!(3),
                &json!("credit.17a")
            )
        );
        let v1 = json!({
            "metadata": {"name": "e"}, "regarding": {"kind": "Pod", "name": "p"},
            "note": "n", "eventTime": "2024-01-01T00:59:50.000000Z", "reportingController": "kubelet",
            "reportingInstance": "node-1",
        });
        let c = cells(v1, &EVENTS_V1);
        assert_eq!(
            (&c[0], &c[3], &c[5], &c[6], &c[8]),
            (
                &json!("10s"),
                &json!("pod/p"),
                &json!("kubelet, node-1"),
                &json!("n"),
                &json!(1)
            )
        );
    }
}
