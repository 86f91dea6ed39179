//! Query parameters of API requests.

use crate::resources::Propagation;
use crate::status_error::StatusError;

/// The parameters the server reads; others are ignored.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Query {
    pub watch: bool,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout_seconds: Option<u64>,
    pub field_manager: Option<String>,
    pub force: bool,
    pub dry_run: bool,
    pub propagation: Option<Propagation>,
    /// What Table rows carry (`Metadata`, `Object`, `None`); read only for Tables.
    pub include_object: Option<String>,
}

fn flag(value: &str) -> bool {
    matches!(value, "true" | "1" | "True")
}

impl Query {
    /// Reads a query string; the error is the message of a 400 response.
    pub fn parse(query: Option<&str>) -> Result<Self, StatusError> {
        let mut out = Self::default();
        let Some(query) = query else {
            return Ok(out);
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "watch" => out.watch = flag(&value),
                "labelSelector" => out.label_selector = Some(value),
                "fieldSelector" => out.field_selector = Some(value),
                "limit" => {
                    out.limit = Some(value.parse().map_err(|_| {
                        StatusError::bad_request(format!("invalid limit {value:?}"))
                    })?);
                }
                "continue" if !value.is_empty() => out.continue_token = Some(value),
                "resourceVersion" if !value.is_empty() => out.resource_version = Some(value),
                "allowWatchBookmarks" => out.allow_watch_bookmarks = flag(&value),
                "sendInitialEvents" => out.send_initial_events = flag(&value),
                "timeoutSeconds" => {
                    out.timeout_seconds = Some(value.parse().map_err(|_| {
                        StatusError::bad_request(format!("invalid timeoutSeconds {value:?}"))
                    })?);
                }
                "fieldManager" if !value.is_empty() => out.field_manager = Some(value),
                "force" => out.force = flag(&value),
                "dryRun" => out.dry_run = value == "All",
                "propagationPolicy" => {
                    out.propagation = Some(Propagation::parse(&value).ok_or_else(|| {
                        StatusError::bad_request(format!("unknown propagationPolicy {value:?}"))
                    })?);
                }
                "includeObject" => out.include_object = Some(value),
                _ => {}
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_parameters() {
        let q = Query::parse(Some(
            "watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=12&labelSelector=a%20in%20(b)",
        ))
        .unwrap();
        assert!(q.watch && q.allow_watch_bookmarks);
        assert_eq!(q.timeout_seconds, Some(290));
        assert_eq!(q.resource_version.as_deref(), Some("12"));
        assert_eq!(q.label_selector.as_deref(), Some("a in (b)"));
    }

    #[test]
    fn bad_numbers_are_bad_requests() {
        assert_eq!(Query::parse(Some("limit=x")).unwrap_err().code, 400);
        assert_eq!(
            Query::parse(Some("propagationPolicy=Sideways"))
                .unwrap_err()
                .code,
            400
        );
    }
}
