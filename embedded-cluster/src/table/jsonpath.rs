//! The JSONPath subset that CRD printer columns use, as the API server reads
//! `additionalPrinterColumns[].jsonPath`: fields (`.status.phase`, `['a.b']`), indexes and
//! slices (`[0]`, `[-1]`, `[1:3]`), wildcards (`[*]`, `.*`), recursive descent (`..name`) and
//! filters (`[?(@.type=="Ready")]`, `[?(@.ready)]`, with `== != < <= > >=`). Missing fields
//! give no result rather than an error, as the API server evaluates columns with missing keys
//! allowed. Anything else fails to parse, and its column stays empty.

use serde_json::Value;

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Descend(Box<Step>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: JsonPath,
    test: Option<(Op, Literal)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl JsonPath {
    /// Parses a path such as `.status.conditions[?(@.type=="Ready")].status`; `None` when it
    /// uses anything outside the subset.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let text = text.strip_prefix('$').unwrap_or(text);
        let mut parser = Parser {
            chars: text.chars().collect(),
            at: 0,
        };
        let path = parser.path(false)?;
        (parser.at == parser.chars.len()).then_some(path)
    }

    /// Every value the path reaches, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for value in current {
                apply(step, value, &mut next);
            }
            current = next;
        }
        current
    }

    /// The first value the path reaches, as a printer column shows it.
    pub fn first<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        self.find(root).into_iter().next()
    }
}

fn apply<'a>(step: &Step, value: &'a Value, out: &mut Vec<&'a Value>) {
    match step {
        Step::Field(name) => out.extend(value.get(name.as_str())),
        Step::Wildcard => match value {
            Value::Array(items) => out.extend(items),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Step::Index(i) => {
            if let Value::Array(items) = value {
                let len = items.len() as i64;
                let i = if *i < 0 { len + i } else { *i };
                if (0..len).contains(&i) {
                    out.push(&items[i as usize]);
                }
            }
        }
        Step::Slice(start, end) => {
            if let Value::Array(items) = value {
                let len = items.len() as i64;
                let clamp = |i: i64| (if i < 0 { len + i } else { i }).clamp(0, len) as usize;
                let from = clamp(start.unwrap_or(0));
                let to = clamp(end.unwrap_or(len));
                if from < to {
                    out.extend(&items[from..to]);
                }
            }
        }
        Step::Descend(inner) => descend(inner, value, out),
        Step::Filter(filter) => {
            if let Value::Array(items) = value {
                out.extend(items.iter().filter(|item| filter.passes(item)));
            }
        }
    }
}

/// `..step`: the step applied to the value and to everything below it.
fn descend<'a>(step: &Step, value: &'a Value, out: &mut Vec<&'a Value>) {
    apply(step, value, out);
    match value {
        Value::Array(items) => items.iter().for_each(|v| descend(step, v, out)),
        Value::Object(map) => map.values().for_each(|v| descend(step, v, out)),
        _ => {}
    }
}

impl Filter {
    fn passes(&self, item: &Value) -> bool {
        let found = self.left.find(item);
        let Some(left) = found.first() else {
            return false;
        };
        let Some((op, right)) = &self.test else {
            return true;
        };
        let ordering = match (left, right) {
            (Value::String(a), Literal::Str(b)) => a.as_str().partial_cmp(b.as_str()),
            (Value::Number(a), Literal::Num(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
            (Value::Bool(a), Literal::Bool(b)) => a.partial_cmp(b),
            // Values of different types are never equal, and have no order.
            _ => return *op == Op::Ne,
        };
        let Some(ordering) = ordering else {
            return false;
        };
        match op {
            Op::Eq => ordering.is_eq(),
            Op::Ne => ordering.is_ne(),
            Op::Lt => ordering.is_lt(),
            Op::Le => ordering.is_le(),
            Op::Gt => ordering.is_gt(),
            Op::Ge => ordering.is_ge(),
        }
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// Steps until the end, or (inside a filter) until a character that ends the operand.
    fn path(&mut self, in_filter: bool) -> Option<JsonPath> {
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' if self.chars.get(self.at + 1) == Some(&'.') => {
                    self.at += 2;
                    let step = if self.peek() == Some('[') {
                        self.bracket()?
                    } else {
                        self.member()?
                    };
                    steps.push(Step::Descend(Box::new(step)));
                }
                '.' => {
                    self.at += 1;
                    steps.push(self.member()?);
                }
                '[' => steps.push(self.bracket()?),
                _ if in_filter => break,
                _ => return None,
            }
        }
        Some(JsonPath { steps })
    }

    fn member(&mut self) -> Option<Step> {
        if self.eat('*') {
            return Some(Step::Wildcard);
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '$'))
        {
            self.at += 1;
        }
        (self.at > start).then(|| Step::Field(self.chars[start..self.at].iter().collect()))
    }

    fn bracket(&mut self) -> Option<Step> {
        self.at += 1;
        self.skip_spaces();
        let step = match self.peek()? {
            '*' => {
                self.at += 1;
                Step::Wildcard
            }
            '\'' | '"' => Step::Field(self.quoted()?),
            '?' => {
                self.at += 1;
                self.filter()?
            }
            _ => self.index_or_slice()?,
        };
        self.skip_spaces();
        self.eat(']').then_some(step)
    }

    fn index_or_slice(&mut self) -> Option<Step> {
        let start = self.integer();
        self.skip_spaces();
        if !self.eat(':') {
            return start.map(Step::Index);
        }
        self.skip_spaces();
        let end = self.integer();
        self.skip_spaces();
        // A step (`[::2]`) is not in the subset.
        (self.peek() != Some(':')).then_some(Step::Slice(start, end))
    }

    fn integer(&mut self) -> Option<i64> {
        let start = self.at;
        if self.peek() == Some('-') {
            self.at += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        text.parse().ok()
    }

    fn quoted(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek()? {
                c if c == quote => {
                    self.at += 1;
                    return Some(out);
                }
                '\\' => {
                    self.at += 1;
                    out.push(self.peek()?);
                    self.at += 1;
                }
                c => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn filter(&mut self) -> Option<Step> {
        self.skip_spaces();
        if !self.eat('(') {
            return None;
        }
        self.skip_spaces();
        if !self.eat('@') {
            return None;
        }
        let left = self.path(true)?;
        self.skip_spaces();
        let test = if self.peek() == Some(')') {
            None
        } else {
            let op = self.op()?;
            self.skip_spaces();
            Some((op, self.literal()?))
        };
        self.skip_spaces();
        self.eat(')').then_some(Step::Filter(Filter { left, test }))
    }

    fn op(&mut self) -> Option<Op> {
        let two: String = self.chars.iter().skip(self.at).take(2).collect();
        let (op, len) = match two.as_str() {
            "==" => (Op::Eq, 2),
            "!=" => (Op::Ne, 2),
            "<=" => (Op::Le, 2),
            ">=" => (Op::Ge, 2),
            _ if two.starts_with('<') => (Op::Lt, 1),
            _ if two.starts_with('>') => (Op::Gt, 1),
            _ => return None,
        };
        self.at += len;
        Some(op)
    }

    fn literal(&mut self) -> Option<Literal> {
        match self.peek()? {
            '\'' | '"' => self.quoted().map(Literal::Str),
            _ => {
                let start = self.at;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
                {
                    self.at += 1;
                }
                let word: String = self.chars[start..self.at].iter().collect();
                match word.as_str() {
                    "true" => Some(Literal::Bool(true)),
                    "false" => Some(Literal::Bool(false)),
                    _ => word.parse().ok().map(Literal::Num),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object() -> Value {
        json!({
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"},
                         "creationTimestamp": "2024-01-02T03:04:05Z"},
            "status": {
                "phase": "Running",
                "readyReplicas": 2,
                "objective": {"value": 0.93},
                "conditions": [
                    {"type": "Ready", "status": "True", "observedGeneration": 3},
                    {"type": "Progressing", "status": "False", "observedGeneration": 1},
                ],
            },
        })
    }

    fn first(path: &str) -> Option<Value> {
        JsonPath::parse(path)
            .unwrap_or_else(|| panic!("{path} parses"))
            .first(&object())
            .cloned()
    }

    #[test]
    fn fields_of_the_lepton_printer_columns() {
        assert_eq!(first(".status.phase"), Some(json!("Running")));
        assert_eq!(first(".status.readyReplicas"), Some(json!(2)));
        assert_eq!(first(".status.objective.value"), Some(json!(0.93)));
        assert_eq!(
            first(".metadata.creationTimestamp"),
            Some(json!("2024-01-02T03:04:05Z"))
        );
        assert_eq!(
            first(r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(json!("True"))
        );
    }

    #[test]
    fn missing_fields_give_nothing() {
        assert_eq!(first(".status.url"), None);
        assert_eq!(first(".spec.model.family"), None);
        assert_eq!(first(".status.phase.deeper"), None);
        assert_eq!(
            first(r#".status.conditions[?(@.type=="Degraded")].status"#),
            None
        );
    }

    #[test]
    fn brackets_indexes_slices_and_wildcards() {
        assert_eq!(
            first(".metadata.labels['app.kubernetes.io/name']"),
            Some(json!("x"))
        );
        assert_eq!(
            first(r#"$.metadata["labels"]["app.kubernetes.io/name"]"#),
            Some(json!("x"))
        );
        assert_eq!(
            first(".status.conditions[1].type"),
            Some(json!("Progressing"))
        );
        assert_eq!(
            first(".status.conditions[-1].type"),
            Some(json!("Progressing"))
        );
        assert_eq!(first(".status.conditions[5].type"), None);
        let path = JsonPath::parse(".status.conditions[*].type").unwrap();
        assert_eq!(path.find(&object()), vec!["Ready", "Progressing"]);
        let path = JsonPath::parse(".status.conditions[0:1].type").unwrap();
        assert_eq!(path.find(&object()), vec!["Ready"]);
        let path = JsonPath::parse("{.status.conditions[:].status}").unwrap();
        assert_eq!(path.find(&object()).len(), 2);
        let path = JsonPath::parse("..observedGeneration").unwrap();
        assert_eq!(path.find(&object()), vec![3, 1]);
        assert_eq!(
            JsonPath::parse(".metadata.*")
                .unwrap()
                .find(&object())
                .len(),
            3
        );
    }

    #[test]
    fn filters_compare_strings_numbers_and_presence() {
        assert_eq!(
            first(".status.conditions[?(@.observedGeneration > 2)].type"),
            Some(json!("Ready"))
        );
        assert_eq!(
            first(".status.conditions[?(@.observedGeneration<=1)].type"),
            Some(json!("Progressing"))
        );
        assert_eq!(
            first(".status.conditions[?(@.status != 'True')].type"),
            Some(json!("Progressing"))
        );
        assert_eq!(
            first(".status.conditions[?(@.observedGeneration)].type"),
            Some(json!("Ready"))
        );
        assert_eq!(first(".status.conditions[?(@.missing)].type"), None);
        // A number never equals a string.
        assert_eq!(
            first(".status.conditions[?(@.observedGeneration == '3')].type"),
            None
        );
    }

    #[test]
    fn unsupported_or_malformed_paths_do_not_parse() {
        for path in [
            "status.phase",
            ".status[",
            ".status.conditions[?(@.type==\"Ready\"",
            ".status.conditions[?(@.type=~/R.*/)]",
            ".status.conditions[0:2:1]",
            ".status.conditions[a]",
            ".status..",
            "{.a}{.b}",
            ".a b",
            "",
            "[?(",
            "['unterminated",
        ] {
            let parsed = JsonPath::parse(path);
            // The empty path is the whole object; everything else is refused.
            assert!(parsed.is_none() || path.is_empty(), "{path:?}: {parsed:?}");
        }
    }

    #[test]
    fn odd_values_never_panic() {
        let path = JsonPath::parse(".a[-9][3:1][?(@.b < 1)]..c").unwrap();
        for value in [
            json!(null),
            json!([]),
            json!({"a": [[1, 2]]}),
            json!("text"),
        ] {
            assert!(path.find(&value).is_empty());
        }
    }
}
