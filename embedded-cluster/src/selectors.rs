//! Label selectors (`a=b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`) and
//! field selectors (`f=v`, `f==v`, `f!=v`) in the API server's text syntax.

use serde_json::Value;

use crate::meta;

#[derive(Debug, Clone, PartialEq)]
enum LabelOp {
    Exists,
    NotExists,
    In(Vec<String>),
    NotIn(Vec<String>),
    Gt(i64),
    Lt(i64),
}

/// A parsed `labelSelector`; every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabelSelector {
    requirements: Vec<(String, LabelOp)>,
}

impl LabelSelector {
    /// Parses the text form. The error is the message of a 400 response.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(format!(
                    "unable to parse requirement: empty requirement in {text:?}"
                ));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(Self { requirements })
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|(key, op)| {
            let value = meta::label(object, key);
            match op {
                LabelOp::Exists => value.is_some(),
                LabelOp::NotExists => value.is_none(),
                LabelOp::In(values) => value.is_some_and(|v| values.iter().any(|x| x == v)),
                LabelOp::NotIn(values) => value.is_none_or(|v| values.iter().all(|x| x != v)),
                LabelOp::Gt(n) => value
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                LabelOp::Lt(n) => value
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            }
        })
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    format!("unable to parse requirement: unbalanced ')' in {text:?}")
                })?;
            }
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!(
            "unable to parse requirement: unclosed '(' in {text:?}"
        ));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<(String, LabelOp), String> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        check_key(key)?;
        return Ok((key.to_owned(), LabelOp::NotExists));
    }
    for (word, negate) in [("notin", true), ("in", false)] {
        if let Some((at, rest)) = find_set_operator(part, word) {
            let token = word;
            let key = part[..at].trim();
            check_key(key)?;
            let set = part[rest..].trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| {
                    format!(
                        "unable to parse requirement: expected a (set) after {token:?} in {part:?}"
                    )
                })?;
            let values: Vec<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
            for value in &values {
                check_value(value)?;
            }
            let op = if negate {
                LabelOp::NotIn(values)
            } else {
                LabelOp::In(values)
            };
            return Ok((key.to_owned(), op));
        }
    }
    for (token, kind) in [("!=", 0), ("==", 1), ("=", 1), (">", 2), ("<", 3)] {
        if let Some(at) = part.find(token) {
            let key = part[..at].trim();
            let value = part[at + token.len()..].trim();
            check_key(key)?;
            let op = match kind {
                0 => {
                    check_value(value)?;
                    LabelOp::NotIn(vec![value.to_owned()])
                }
                1 => {
                    check_value(value)?;
                    LabelOp::In(vec![value.to_owned()])
                }
                _ => {
                    let n = value.parse::<i64>().map_err(|_| {
                        format!("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {value:?}")
                    })?;
                    if kind == 2 {
                        LabelOp::Gt(n)
                    } else {
                        LabelOp::Lt(n)
                    }
                }
            };
            return Ok((key.to_owned(), op));
        }
    }
    check_key(part)?;
    Ok((part.to_owned(), LabelOp::Exists))
}

/// Where ` in` / ` notin` stands as an operator (followed by a space or `(`): the end of the
/// key and the start of the set.
fn find_set_operator(part: &str, word: &str) -> Option<(usize, usize)> {
    let pattern = format!(" {word}");
    part.match_indices(&pattern).find_map(|(at, _)| {
        let rest = at + pattern.len();
        part[rest..].starts_with([' ', '(']).then_some((at, rest))
    })
}

fn name_part_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(lepton_crds::admission::is_dns_subdomain);
    if prefix_ok && name_part_ok(name) {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label key {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || name_part_ok(value) {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label value {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

/// A parsed `fieldSelector`; every term must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses the text form, accepting only fields `selectable` allows. The error is the
    /// message of a 400 response.
    pub fn parse(text: &str, selectable: impl Fn(&str) -> bool) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in split_unescaped(text, ',') {
            if term.trim().is_empty() {
                continue;
            }
            let (field, equal, value) = if let Some((f, v)) = split_once_unescaped(&term, "!=") {
                (f, false, v)
            } else if let Some((f, v)) = split_once_unescaped(&term, "==") {
                (f, true, v)
            } else if let Some((f, v)) = split_once_unescaped(&term, "=") {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                ));
            };
            let field = field.trim().to_owned();
            if !selectable(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((field, equal, unescape(&value)));
        }
        Ok(Self { terms })
    }

    /// Whether an object satisfies every term; a missing field reads as the empty string.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, equal, value)| {
            let actual = meta::field_string(object, field).unwrap_or_default();
            (actual == *value) == *equal
        })
    }
}

fn split_unescaped(text: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        let last = parts.last_mut().expect("never empty");
        if escaped {
            last.push('\\');
            last.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(String::new());
        } else {
            last.push(c);
        }
    }
    parts
}

fn split_once_unescaped(text: &str, operator: &str) -> Option<(String, String)> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if text[i..].starts_with(operator) {
            return Some((text[..i].to_owned(), text[i + operator.len()..].to_owned()));
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in text.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "n", "labels": labels}, "status": {"phase": "Running"}})
    }

    fn matches(selector: &str, labels: Value) -> bool {
        LabelSelector::parse(selector)
            .unwrap()
            .matches(&obj(labels))
    }

    #[test]
    fn label_selector_operators() {
        let l = json!({"app": "web", "tier": "front", "n": "5"});
        assert!(matches("", l.clone()));
        assert!(matches("app=web", l.clone()));
        assert!(matches("app==web,tier", l.clone()));
        assert!(!matches("app!=web", l.clone()));
        assert!(matches("other!=x", l.clone()));
        assert!(matches("app in (web, api)", l.clone()));
        assert!(!matches("app notin (web,api)", l.clone()));
        assert!(matches("other notin (x)", l.clone()));
        assert!(matches("!other", l.clone()));
        assert!(!matches("!app", l.clone()));
        assert!(matches("n>4,n<6", l.clone()));
        assert!(matches("app in (web),tier notin (back),!gone", l.clone()));
        assert!(matches("app in(web),tier notin(back)", l.clone()));
        assert!(!matches("app notin(web)", l));
    }

    #[test]
    fn label_selector_errors() {
        for bad in [
            "app in web",
            "app in (web",
            "=x",
            "a b=c",
            "app=-x",
            "n>x",
            "a,,b",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selector_terms() {
        let o = obj(json!({}));
        let all = |_: &str| true;
        assert!(
            FieldSelector::parse("metadata.name=a", all)
                .unwrap()
                .matches(&o)
        );
        assert!(
            FieldSelector::parse("metadata.name==a,metadata.namespace!=x", all)
                .unwrap()
                .matches(&o)
        );
        assert!(
            !FieldSelector::parse("status.phase!=Running", all)
                .unwrap()
                .matches(&o)
        );
        assert!(
            FieldSelector::parse("spec.nodeName=", all)
                .unwrap()
                .matches(&o)
        );
        assert_eq!(
            FieldSelector::parse("spec.x=1", |f| f == "metadata.name").unwrap_err(),
            "field label not supported: spec.x"
        );
        assert!(FieldSelector::parse("nonsense", all).is_err());
        let mut named = obj(json!({}));
        named["metadata"]["name"] = json!("a,b");
        let escaped = FieldSelector::parse(r"metadata.name=a\,b", all).unwrap();
        assert!(escaped.matches(&named));
    }
}
