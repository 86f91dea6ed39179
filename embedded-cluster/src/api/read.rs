//! `GET` of one object and of collections: selectors, `limit` and `continue`.

use serde_json::Value;
use std::sync::Arc;

use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status_error::StatusError;
use crate::store::State;

/// What a list asks for.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// One page of a list.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// A continue token: the version of the first page and the last key returned. Pages after
/// the first read the current objects after that key but report the first page's version,
/// so a watch from it replays whatever changed while paging.
#[derive(Debug, PartialEq)]
struct Continue {
    rv: u64,
    namespace: String,
    name: String,
}

impl Continue {
    fn encode(&self) -> String {
        let text = format!("{}\n{}\n{}", self.rv, self.namespace, self.name);
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn decode(token: &str) -> Option<Self> {
        if !token.len().is_multiple_of(2) {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
            .collect();
        let text = String::from_utf8(bytes?).ok()?;
        let mut parts = text.splitn(3, '\n');
        Some(Self {
            rv: parts.next()?.parse().ok()?,
            namespace: parts.next()?.to_owned(),
            name: parts.next()?.to_owned(),
        })
    }
}

/// Lists a kind.
pub(crate) fn list(
    state: &State,
    rt: &ResourceType,
    query: &ListQuery,
) -> Result<ListPage, StatusError> {
    let resource = rt.group_resource();
    let (rv, after) = match &query.continue_token {
        Some(token) => {
            let token = Continue::decode(token)
                .ok_or_else(|| StatusError::bad_request("continue key is not valid"))?;
            if !state.history_covers(&resource, token.rv) {
                return Err(StatusError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            (token.rv, Some((token.namespace, token.name)))
        }
        None => (state.rv(), None),
    };
    let mut matching = state
        .list(&resource, query.namespace.as_deref(), after)
        .filter(|o| query.labels.matches(o) && query.fields.matches(o));
    let mut items = Vec::new();
    let limit = query.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
    for object in matching.by_ref() {
        items.push(object.clone());
        if items.len() == limit {
            break;
        }
    }
    let remaining = matching.count();
    let continue_token = (remaining > 0).then(|| items.last()).flatten().map(|last| {
        Continue {
            rv,
            namespace: crate::meta::namespace(last).to_owned(),
            name: crate::meta::name(last).to_owned(),
        }
        .encode()
    });
    Ok(ListPage {
        items,
        resource_version: rv,
        continue_token,
        remaining: (remaining > 0).then_some(remaining),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = Continue {
            rv: 42,
            namespace: "ns".into(),
            name: "a.b".into(),
        };
        assert_eq!(Continue::decode(&token.encode()), Some(token));
        assert_eq!(Continue::decode("zz"), None);
        assert_eq!(Continue::decode("abc"), None);
    }
}
