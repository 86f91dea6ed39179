//! The search space: typed dimensions built from `spec.parameters`, the values a trial gets,
//! and the string form those values take in annotations and status.

use std::collections::{BTreeMap, BTreeSet};

use lepton_crds::v1alpha1::{ConcreteModelFamily, ParameterSpec, ParameterType, Scale};

/// One parameter's value in a trial.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A real number.
    Double(f64),
    /// A whole number.
    Int(i64),
    /// One of a categorical parameter's values.
    Category(String),
}

impl Value {
    /// The string form written to annotations/status: f64 with Rust's shortest round-trip `{}`,
    /// ints as digits, categories verbatim.
    pub fn render(&self) -> String {
        match self {
            Value::Double(x) => format!("{x}"),
            Value::Int(i) => i.to_string(),
            Value::Category(c) => c.clone(),
        }
    }

    /// The numeric value of a double or int; `None` for a category.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            Value::Category(_) => None,
        }
    }
}

/// A trial's parameter values by parameter name. Dimensions that are inactive for the trial's
/// family are absent.
pub type Assignment = BTreeMap<String, Value>;

/// The values one dimension can take.
#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// Real numbers in [min, max]; `log` samples and grids evenly in log space.
    Double {
        /// Lower bound, inclusive.
        min: f64,
        /// Upper bound, inclusive.
        max: f64,
        /// Log scale (min > 0).
        log: bool,
    },
    /// Whole numbers in [min, max]; `log` samples and grids evenly in log space.
    Int {
        /// Lower bound, inclusive.
        min: i64,
        /// Upper bound, inclusive.
        max: i64,
        /// Log scale (min > 0).
        log: bool,
    },
    /// One of the listed values, all distinct.
    Categorical {
        /// The choices, in the order the spec lists them.
        values: Vec<String>,
    },
}

impl Domain {
    /// Number of distinct values when finite.
    pub fn cardinality(&self) -> Option<u64> {
        match self {
            Domain::Double { .. } => None,
            Domain::Int { min, max, .. } => Some(max.abs_diff(*min).saturating_add(1)),
            Domain::Categorical { values } => Some(values.len() as u64),
        }
    }

    /// Whether `v` has this domain's type and lies in it.
    pub fn contains(&self, v: &Value) -> bool {
        match (self, v) {
            (Domain::Double { min, max, .. }, Value::Double(x)) => *min <= *x && *x <= *max,
            (Domain::Int { min, max, .. }, Value::Int(i)) => *min <= *i && *i <= *max,
            (Domain::Categorical { values }, Value::Category(c)) => values.contains(c),
            _ => false,
        }
    }
}

/// One dimension of the search space.
#[derive(Clone, Debug, PartialEq)]
pub struct Dimension {
    /// Parameter name as in manifests (`learningRate`, `family`, ...).
    pub name: String,
    /// Its values.
    pub domain: Domain,
    /// Families whose trials tune it; `None`: all trials.
    pub families: Option<Vec<ConcreteModelFamily>>,
}

/// Name of the dimension that chooses the model family.
pub const FAMILY: &str = "family";

/// The search space of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpace {
    /// The dimensions in spec order.
    pub dimensions: Vec<Dimension>,
    /// The template's family; `None` when the template says `auto`.
    pub template_family: Option<ConcreteModelFamily>,
}

/// A search space that cannot be built, or a value that does not fit it. The message names the
/// parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SpaceError(pub String);

/// The manifest name of a concrete family (`linear`, `mlp`, `gbdt`).
pub fn family_name(f: ConcreteModelFamily) -> &'static str {
    match f {
        ConcreteModelFamily::Linear => "linear",
        ConcreteModelFamily::Mlp => "mlp",
        ConcreteModelFamily::Gbdt => "gbdt",
    }
}

/// The concrete family a manifest name stands for.
pub fn parse_family(s: &str) -> Option<ConcreteModelFamily> {
    [
        ConcreteModelFamily::Linear,
        ConcreteModelFamily::Mlp,
        ConcreteModelFamily::Gbdt,
    ]
    .into_iter()
    .find(|f| family_name(*f) == s)
}

/// The manifest (camelCase) name of any unit enum variant, through its serde form, so that
/// names never drift from what the CRD accepts.
pub(crate) fn manifest_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn families_text(fs: &[ConcreteModelFamily]) -> String {
    fs.iter()
        .map(|f| family_name(*f))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SearchSpace {
    /// From `spec.parameters` (names rendered as in manifests: `learningRate`, `family`, ...;
    /// use serde to get the camelCase name of `TunableParameter`) and the template's family
    /// (`None` for auto). Errors name the parameter (`parameters[2] (dropout): ...`).
    pub fn from_spec(
        params: &[ParameterSpec],
        template_family: Option<ConcreteModelFamily>,
    ) -> Result<Self, SpaceError> {
        if params.is_empty() {
            return Err(SpaceError(
                "parameters: at least one parameter is needed".into(),
            ));
        }
        let mut dimensions: Vec<Dimension> = Vec::with_capacity(params.len());
        for (i, p) in params.iter().enumerate() {
            let name = manifest_name(&p.name);
            let err = |msg: String| SpaceError(format!("parameters[{i}] ({name}): {msg}"));
            if let Some(j) = dimensions.iter().position(|d| d.name == name) {
                return Err(err(format!(
                    "duplicate name, parameters[{j}] tunes it already"
                )));
            }
            let domain = match p.type_ {
                ParameterType::Categorical => {
                    if p.min.is_some() || p.max.is_some() {
                        return Err(err(
                            "min and max are not allowed for a categorical parameter".into(),
                        ));
                    }
                    let values = match &p.values {
                        Some(v) if !v.is_empty() => v.clone(),
                        _ => {
                            return Err(err(
                                "values is required for a categorical parameter".into()
                            ));
                        }
                    };
                    let mut seen = BTreeSet::new();
                    for v in &values {
                        if !seen.insert(v.as_str()) {
                            return Err(err(format!("value {v:?} is listed twice")));
                        }
                        if name == FAMILY && parse_family(v).is_none() {
                            return Err(err(format!(
                                "value {v:?} is not a model family (linear, mlp or gbdt)"
                            )));
                        }
                    }
                    Domain::Categorical { values }
                }
                ParameterType::Double | ParameterType::Int => {
                    if p.values.is_some() {
                        return Err(err(
                            "values is allowed only for a categorical parameter; use min and max"
                                .into(),
                        ));
                    }
                    if name == FAMILY {
                        return Err(err("family must have type categorical".into()));
                    }
                    let (Some(min), Some(max)) = (p.min, p.max) else {
                        return Err(err(
                            "min and max are required for a double or int parameter".into(),
                        ));
                    };
                    if !min.is_finite() || !max.is_finite() {
                        return Err(err(format!("min {min} and max {max} must be finite")));
                    }
                    if min >= max {
                        return Err(err(format!("min {min} must be less than max {max}")));
                    }
                    let log = p.scale == Scale::Log;
                    if log && min <= 0.0 {
                        return Err(err(format!(
                            "scale log needs min greater than 0, got {min}"
                        )));
                    }
                    if p.type_ == ParameterType::Double {
                        Domain::Double { min, max, log }
                    } else {
                        let whole = |x: f64| x.fract() == 0.0 && x.abs() < 9.0e15;
                        if !whole(min) || !whole(max) {
                            return Err(err(format!(
                                "min {min} and max {max} must be whole numbers for an int parameter"
                            )));
                        }
                        Domain::Int {
                            min: min as i64,
                            max: max as i64,
                            log,
                        }
                    }
                }
            };
            let families = match &p.families {
                None => None,
                Some(fs) if fs.is_empty() => {
                    return Err(err("families must list at least one family".into()));
                }
                Some(_) if name == FAMILY => {
                    return Err(err(
                        "families cannot restrict the family parameter itself".into()
                    ));
                }
                Some(fs) => {
                    let mut fs = fs.clone();
                    fs.dedup();
                    Some(fs)
                }
            };
            dimensions.push(Dimension {
                name,
                domain,
                families,
            });
        }
        let space = Self {
            dimensions,
            template_family,
        };
        // A dimension that no trial can ever tune is a spec mistake the user should hear about,
        // not a parameter silently left at the template's value.
        let reachable = space.families();
        for (i, d) in space.dimensions.iter().enumerate() {
            if let Some(fs) = &d.families
                && !reachable.iter().any(|f| f.is_some_and(|f| fs.contains(&f)))
            {
                let why = match (space.family_dimension(), space.template_family) {
                    (Some(_), _) => "none of the tuned family values is among them".to_string(),
                    (None, Some(t)) => format!(
                        "the template's family is {} and family is not tuned",
                        family_name(t)
                    ),
                    (None, None) => {
                        "the template's family is auto and family is not tuned".to_string()
                    }
                };
                return Err(SpaceError(format!(
                    "parameters[{i}] ({}): families [{}] never applies: {why}",
                    d.name,
                    families_text(fs)
                )));
            }
        }
        Ok(space)
    }

    /// Index of the `family` dimension, if family is tuned.
    pub fn family_dimension(&self) -> Option<usize> {
        self.dimensions.iter().position(|d| d.name == FAMILY)
    }

    /// The families trials of this space can train: each tuned family value, or the template's.
    pub fn families(&self) -> Vec<Option<ConcreteModelFamily>> {
        match self.family_dimension() {
            Some(i) => match &self.dimensions[i].domain {
                Domain::Categorical { values } => values.iter().map(|v| parse_family(v)).collect(),
                _ => vec![self.template_family],
            },
            None => vec![self.template_family],
        }
    }

    /// Whether dimension `d` is tuned in trials of `family`.
    pub fn is_active(&self, d: &Dimension, family: Option<ConcreteModelFamily>) -> bool {
        match &d.families {
            None => true,
            Some(fs) => family.is_some_and(|f| fs.contains(&f)),
        }
    }

    /// Parses the string form back (what an annotation holds); error names the parameter.
    /// Keys that are not dimensions, and dimensions inactive for the parsed family, are
    /// ignored (the operator may keep other settings in the same map). Numbers outside the
    /// current bounds are accepted, as they were valid when the trial was created.
    pub fn parse(&self, rendered: &BTreeMap<String, String>) -> Result<Assignment, SpaceError> {
        let mut out = Assignment::new();
        let mut order: Vec<usize> = (0..self.dimensions.len()).collect();
        if let Some(f) = self.family_dimension() {
            order.retain(|&i| i != f);
            order.insert(0, f);
        }
        for i in order {
            let d = &self.dimensions[i];
            if !self.is_active(d, self.family_of(&out)) {
                continue;
            }
            let err = |msg: String| SpaceError(format!("parameters[{i}] ({}): {msg}", d.name));
            let Some(s) = rendered.get(&d.name) else {
                return Err(err("no value".into()));
            };
            let v = match &d.domain {
                Domain::Double { .. } => match s.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => Value::Double(x),
                    _ => return Err(err(format!("{s:?} is not a finite number"))),
                },
                Domain::Int { .. } => match s.trim().parse::<i64>() {
                    Ok(x) => Value::Int(x),
                    Err(_) => return Err(err(format!("{s:?} is not a whole number"))),
                },
                Domain::Categorical { values } => {
                    if !values.contains(s) {
                        return Err(err(format!(
                            "{s:?} is not one of the values [{}]",
                            values.join(", ")
                        )));
                    }
                    Value::Category(s.clone())
                }
            };
            out.insert(d.name.clone(), v);
        }
        Ok(out)
    }

    /// The family a given assignment trains (the `family` dimension, else the template's).
    pub fn family_of(&self, a: &Assignment) -> Option<ConcreteModelFamily> {
        if self.family_dimension().is_some()
            && let Some(Value::Category(s)) = a.get(FAMILY)
        {
            return parse_family(s);
        }
        self.template_family
    }

    /// Number of distinct points when finite (all categorical/int), else None. Saturates at
    /// `u64::MAX`.
    pub fn cardinality(&self) -> Option<u64> {
        let mut total: u64 = 0;
        for fam in self.families() {
            let mut n: u64 = 1;
            for d in &self.dimensions {
                if d.name == FAMILY || !self.is_active(d, fam) {
                    continue;
                }
                n = n.saturating_mul(d.domain.cardinality()?);
            }
            total = total.saturating_add(n);
        }
        Some(total)
    }

    /// Whether `a` is a point of this space: exactly the active dimensions, each in its domain.
    pub fn contains(&self, a: &Assignment) -> bool {
        let fam = self.family_of(a);
        let mut active = 0;
        for d in &self.dimensions {
            if self.is_active(d, fam) {
                match a.get(&d.name) {
                    Some(v) if d.domain.contains(v) => active += 1,
                    _ => return false,
                }
            }
        }
        active == a.len()
    }

    /// Dimension indices with `family` first, so that conditional dimensions can be decided
    /// once the family is drawn.
    pub(crate) fn draw_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dimensions.len()).collect();
        if let Some(f) = self.family_dimension() {
            order.retain(|&i| i != f);
            order.insert(0, f);
        }
        order
    }
}

/// A canonical text key of an assignment, equal exactly when the assignments are equal (the
/// rendering of doubles is round-trip exact), for sets of tried points.
pub(crate) fn key(a: &Assignment) -> String {
    let mut s = String::new();
    for (k, v) in a {
        s.push_str(k);
        s.push('\u{1f}');
        s.push_str(&v.render());
        s.push('\u{1e}');
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lepton_crds::v1alpha1::TunableParameter;

    pub fn double(name: TunableParameter, min: f64, max: f64, log: bool) -> ParameterSpec {
        ParameterSpec {
            name,
            type_: ParameterType::Double,
            min: Some(min),
            max: Some(max),
            scale: if log { Scale::Log } else { Scale::Linear },
            values: None,
            families: None,
        }
    }

    pub fn int(name: TunableParameter, min: i64, max: i64, log: bool) -> ParameterSpec {
        ParameterSpec {
            type_: ParameterType::Int,
            ..double(name, min as f64, max as f64, log)
        }
    }

    pub fn cat(name: TunableParameter, values: &[&str]) -> ParameterSpec {
        ParameterSpec {
            name,
            type_: ParameterType::Categorical,
            min: None,
            max: None,
            scale: Scale::Linear,
            values: Some(values.iter().map(|s| s.to_string()).collect()),
            families: None,
        }
    }

    pub fn only(mut p: ParameterSpec, fs: &[ConcreteModelFamily]) -> ParameterSpec {
        p.families = Some(fs.to_vec());
        p
    }

    /// family {linear, mlp, gbdt}; learningRate log, all; dropout mlp only; maxDepth gbdt only.
    pub fn conditional_space() -> SearchSpace {
        use ConcreteModelFamily::*;
        use TunableParameter as T;
        SearchSpace::from_spec(
            &[
                double(T::LearningRate, 1e-4, 1e-1, true),
                cat(T::Family, &["linear", "mlp", "gbdt"]),
                only(double(T::Dropout, 0.0, 0.5, false), &[Mlp]),
                only(int(T::MaxDepth, 2, 8, false), &[Gbdt]),
            ],
            None,
        )
        .unwrap()
    }

    fn err(params: &[ParameterSpec], fam: Option<ConcreteModelFamily>) -> String {
        SearchSpace::from_spec(params, fam).unwrap_err().0
    }

    #[test]
    fn builds_typed_dimensions_with_manifest_names() {
        use TunableParameter as T;
        let s = SearchSpace::from_spec(
            &[
                double(T::LearningRate, 1e-4, 0.1, true),
                int(T::NumTrees, 10, 500, false),
                cat(T::HiddenLayers, &["64", "64,32"]),
            ],
            Some(ConcreteModelFamily::Mlp),
        )
        .unwrap();
        let names: Vec<&str> = s.dimensions.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["learningRate", "numTrees", "hiddenLayers"]);
        assert_eq!(
            s.dimensions[1].domain,
            Domain::Int {
                min: 10,
                max: 500,
                log: false
            }
        );
        assert_eq!(s.cardinality(), None);
        let finite = SearchSpace::from_spec(
            &[
                int(T::MaxDepth, 2, 8, false),
                cat(T::Optimizer, &["adam", "sgd"]),
            ],
            None,
        )
        .unwrap();
        assert_eq!(finite.cardinality(), Some(14));
    }

    #[test]
    fn errors_name_the_parameter() {
        use TunableParameter as T;
        let lr = double(T::LearningRate, 1e-4, 0.1, true);
        let e = err(&[lr.clone(), double(T::Dropout, 0.5, 0.1, false)], None);
        assert_eq!(
            e,
            "parameters[1] (dropout): min 0.5 must be less than max 0.1"
        );
        let e = err(&[lr.clone(), double(T::WeightDecay, 0.0, 0.1, true)], None);
        assert!(
            e.starts_with("parameters[1] (weightDecay): scale log"),
            "{e}"
        );
        let e = err(&[lr.clone(), lr.clone()], None);
        assert!(
            e.starts_with("parameters[1] (learningRate): duplicate"),
            "{e}"
        );
        let e = err(&[cat(T::Family, &["mlp", "auto"])], None);
        assert!(
            e.starts_with("parameters[0] (family): value \"auto\""),
            "{e}"
        );
        let e = err(&[lr.clone(), int(T::MaxDepth, 1, 1, false)], None);
        assert!(
            e.starts_with("parameters[1] (maxDepth): min 1 must be less"),
            "{e}"
        );
        let mut half = int(T::MaxDepth, 1, 4, false);
        half.max = Some(4.5);
        let e = err(&[half], None);
        assert!(
            e.contains("(maxDepth): min 1 and max 4.5 must be whole"),
            "{e}"
        );
        let e = err(&[cat(T::Optimizer, &["adam", "adam"])], None);
        assert!(
            e.starts_with("parameters[0] (optimizer): value \"adam\" is listed twice"),
            "{e}"
        );
        let mut no_bounds = lr.clone();
        no_bounds.max = None;
        let e = err(&[no_bounds], None);
        assert!(
            e.starts_with("parameters[0] (learningRate): min and max are required"),
            "{e}"
        );
        let e = err(
            &[
                lr.clone(),
                only(
                    double(T::Dropout, 0.0, 0.5, false),
                    &[ConcreteModelFamily::Mlp],
                ),
            ],
            Some(ConcreteModelFamily::Gbdt),
        );
        assert_eq!(
            e,
            "parameters[1] (dropout): families [mlp] never applies: the template's family is gbdt and family is not tuned"
        );
        let e = err(
            &[
                cat(T::Family, &["linear", "gbdt"]),
                only(
                    double(T::Dropout, 0.0, 0.5, false),
                    &[ConcreteModelFamily::Mlp],
                ),
            ],
            None,
        );
        assert!(
            e.starts_with("parameters[1] (dropout): families [mlp] never applies"),
            "{e}"
        );
    }

    #[test]
    fn render_and_parse_round_trip() {
        let s = conditional_space();
        let mut a = Assignment::new();
        a.insert("learningRate".into(), Value::Double(0.000123456789));
        a.insert("family".into(), Value::Category("gbdt".into()));
        a.insert("maxDepth".into(), Value::Int(7));
        assert!(s.contains(&a));
        let rendered: BTreeMap<String, String> =
            a.iter().map(|(k, v)| (k.clone(), v.render())).collect();
        assert_eq!(rendered["learningRate"], "0.000123456789");
        assert_eq!(s.parse(&rendered).unwrap(), a);
        assert_eq!(s.family_of(&a), Some(ConcreteModelFamily::Gbdt));

        let mut bad = rendered.clone();
        bad.insert("maxDepth".into(), "7.5".into());
        assert_eq!(
            s.parse(&bad).unwrap_err().0,
            "parameters[3] (maxDepth): \"7.5\" is not a whole number"
        );
        let mut bad = rendered.clone();
        bad.insert("family".into(), "svm".into());
        assert!(
            s.parse(&bad)
                .unwrap_err()
                .0
                .starts_with("parameters[1] (family): \"svm\" is not one of")
        );
        let mut missing = rendered.clone();
        missing.remove("learningRate");
        assert_eq!(
            s.parse(&missing).unwrap_err().0,
            "parameters[0] (learningRate): no value"
        );
        // Inactive dimensions and unknown keys are ignored.
        let mut extra = rendered.clone();
        extra.insert("dropout".into(), "0.1".into());
        extra.insert("epochs".into(), "9".into());
        assert_eq!(s.parse(&extra).unwrap(), a);
    }

    #[test]
    fn conditional_cardinality_sums_over_families() {
        use ConcreteModelFamily::*;
        use TunableParameter as T;
        let s = SearchSpace::from_spec(
            &[
                cat(T::Family, &["linear", "mlp", "gbdt"]),
                cat(T::Optimizer, &["adam", "sgd"]),
                only(cat(T::Activation, &["relu", "tanh", "gelu"]), &[Mlp]),
                only(int(T::MaxDepth, 2, 5, false), &[Gbdt]),
            ],
            None,
        )
        .unwrap();
        // linear: 2; mlp: 2*3; gbdt: 2*4.
        assert_eq!(s.cardinality(), Some(16));
        let mut a = Assignment::new();
        a.insert("family".into(), Value::Category("linear".into()));
        a.insert("optimizer".into(), Value::Category("sgd".into()));
        assert!(s.contains(&a));
        a.insert("maxDepth".into(), Value::Int(3));
        assert!(!s.contains(&a), "maxDepth is inactive for linear");
    }

    #[test]
    fn value_forms() {
        assert_eq!(Value::Double(0.1).render(), "0.1");
        assert_eq!(Value::Double(1e-7).render(), "0.0000001");
        assert_eq!(Value::Double(3.0).render(), "3");
        assert_eq!(Value::Int(-4).render(), "-4");
        assert_eq!(Value::Category("64,32".into()).render(), "64,32");
        assert_eq!(Value::Int(3).as_f64(), Some(3.0));
        assert_eq!(Value::Category("a".into()).as_f64(), None);
    }
}
