//! Scenario files: TOML descriptions of a check (model, variants, bounds,
//! faults, expectations, budget), loaded with `file:line:column` errors.
//!
//! ```toml
//! name = "host: storage outage on first start, worker timeout on retry"
//! model = "host"
//! variant = "fix-11825"          # or variants = ["pre-10766", "fix-11142"]
//! level = "impl"                 # "spec" | "impl" (optional)
//! seed = 42                      # optional
//! strategy = "dfs"               # optional: bfs | dfs | random | pct
//! keep_going = true              # optional: judge every property (impl level)
//! [bounds]
//! restarts = 2
//! [[faults]]                     # see world::FaultSpec for every key
//! at = "start#1/build"
//! kind = "storage-outage"
//! [expect]                       # default for every variant
//! verdict = "holds"              # holds | violated | inconclusive
//! property = "deadlock"          # optional
//! [expect.pre-10766]             # per-variant expectation
//! verdict = "violated"
//! holds = ["deadlock"]           # optional: properties that must each hold
//! [budget]                       # optional: states, schedules, max_depth, max_seconds
//! states = 1000000
//! [params]                       # optional model knobs that are not bounds
//! offline = true
//! ```
//!
//! Every variant must end up with an expectation: the scenario says what it
//! should find, so a run can pass or fail on its own.

mod spans;

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::explore::Strategy;
use crate::report::{Bounds, Verdict};
use crate::world::{FaultPlan, FaultRule, FaultSpec, SeedTree};
use spans::{friendly, line_col, Document};

/// A scenario file that cannot be used, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// Bad content: `path:line:column: message`.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The file could not be read.
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
}

/// Protocol model or implementation model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Spec,
    Impl,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Spec => "spec",
            Level::Impl => "impl",
        }
    }
}

/// What a run of one variant should conclude.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectation {
    pub verdict: Verdict,
    /// The property expected to be violated (or the one the check is about).
    pub property: Option<String>,
    /// Properties that must each be judged `holds` (`holds = [...]`), e.g. the
    /// deadlock freedom a `--keep-going` check proves while it reports another
    /// property violated.
    pub holds: Vec<String>,
}

/// An expectation table being read (`[expect]` or `[expect.<variant>]`).
#[derive(Default)]
struct PartialExpectation {
    verdict: Option<Verdict>,
    property: Option<String>,
    holds: Vec<String>,
}

/// Optional count budgets (and the wall-clock safety stop) from `[budget]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub states: Option<u64>,
    pub schedules: Option<u64>,
    pub max_depth: Option<u64>,
    pub max_seconds: Option<u64>,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The path used in messages (as given to [`Scenario::parse`]).
    pub path: String,
    /// `name`, or the file name without extension.
    pub name: String,
    pub description: Option<String>,
    pub model: String,
    variants: Vec<String>,
    pub level: Option<Level>,
    pub seed: Option<u64>,
    pub strategy: Option<Strategy>,
    /// `keep_going = true`: explore on after failures (see `CheckOptions`).
    pub keep_going: bool,
    pub bounds: Bounds,
    /// Where each bound's value is written (line, column), so a model that
    /// rejects a bound can be pointed at it (see [`Scenario::locate`]).
    bound_positions: BTreeMap<String, (usize, usize)>,
    /// The `[[faults]]` tables as written.
    pub fault_specs: Vec<FaultSpec>,
    /// The same, validated.
    pub faults: Vec<FaultRule>,
    default_expectation: Option<Expectation>,
    variant_expectations: BTreeMap<String, Expectation>,
    pub budget: Budget,
    /// `[params]`: model knobs that are not bounds (`offline = true`), stringified.
    pub params: BTreeMap<String, String>,
}

/// The file as serde sees it; spans kept where validation needs them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    model: String,
    variant: Option<Spanned<String>>,
    variants: Option<Spanned<Vec<Spanned<String>>>>,
    level: Option<Spanned<String>>,
    seed: Option<u64>,
    strategy: Option<Spanned<String>>,
    #[serde(default)]
    keep_going: bool,
    #[serde(default)]
    bounds: BTreeMap<String, Spanned<i64>>,
    #[serde(default)]
    faults: Vec<Spanned<FaultSpec>>,
    expect: Option<toml::Table>,
    #[serde(default)]
    budget: Budget,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
}

impl Scenario {
    /// Reads and parses a scenario file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Unreadable {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Scenario::parse(&shown, &text)
    }

    /// Parses and validates scenario text; `path_for_messages` prefixes errors.
    pub fn parse(path_for_messages: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let ctx = Ctx {
            path: path_for_messages,
            text,
            doc: Document::parse(text),
        };
        let raw: RawScenario = toml::from_str(text).map_err(|e| ctx.serde_error(&e))?;
        ctx.validate(raw)
    }

    /// The variants this scenario runs, in file order.
    pub fn variants(&self) -> Vec<String> {
        self.variants.clone()
    }

    /// The expectation for `variant`: its `[expect.<variant>]` table, else the
    /// `[expect]` default. Every variant of the scenario has one (validated);
    /// for a variant the scenario does not list and no default, `holds`.
    pub fn expected_for(&self, variant: &str) -> Expectation {
        self.try_expected_for(variant).unwrap_or_default()
    }

    /// Like [`Scenario::expected_for`], `None` when nothing is stated.
    pub fn try_expected_for(&self, variant: &str) -> Option<Expectation> {
        self.variant_expectations
            .get(variant)
            .or(self.default_expectation.as_ref())
            .cloned()
    }

    /// Where the value of bound `name` is written (1-based line and column).
    pub fn bound_position(&self, name: &str) -> Option<(usize, usize)> {
        self.bound_positions.get(name).copied()
    }

    /// Places a model's (or the runner's) error message in this file: when it
    /// names one of the scenario's bounds (`` bound `x` ``, `` `x` ``, or `x=`),
    /// `path:line:column: message` at that bound's value; otherwise
    /// `path: message`. Models reject out-of-range bounds themselves, so this is
    /// how their errors keep a position.
    pub fn locate(&self, message: &str) -> String {
        let named_at = |name: &str| -> Option<usize> {
            let quoted = format!("`{name}`");
            let assigned = format!("{name}=");
            let word_start = |i: usize| {
                message[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            };
            let quoted_at = message.find(&quoted);
            let assigned_at = message
                .match_indices(&assigned)
                .map(|(i, _)| i)
                .find(|&i| word_start(i));
            quoted_at.into_iter().chain(assigned_at).min()
        };
        let first = self
            .bound_positions
            .iter()
            .filter_map(|(name, pos)| named_at(name).map(|at| (at, *pos)))
            .min();
        match first {
            Some((_, (line, column))) => format!("{}:{line}:{column}: {message}", self.path),
            None => format!("{}: {message}", self.path),
        }
    }

    /// The fault plan of this scenario, drawing from `seeds.stream("faults")`.
    pub fn fault_plan(&self, seeds: &SeedTree) -> FaultPlan {
        FaultPlan::new(self.faults.clone(), seeds.stream("faults"))
    }
}

/// What every error needs: the file name, its text, and the spanned tree.
struct Ctx<'a> {
    path: &'a str,
    text: &'a str,
    doc: Document,
}

impl Ctx<'_> {
    fn error_at(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        let (line, column) = line_col(self.text, offset);
        ScenarioError::Invalid {
            path: self.path.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn error_span(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        self.error_at(span.start, message)
    }

    /// A toml/serde error with a position, a readable message and the key path.
    fn serde_error(&self, e: &toml::de::Error) -> ScenarioError {
        let offset = e.span().map_or(0, |s| s.start);
        let mut message = friendly(e.message());
        // toml hands datetimes to serde as a one-key map; say what was written.
        if message.starts_with("invalid type: map,") {
            let written = self.text.get(offset..).unwrap_or_default();
            let what = if written.starts_with('{') || written.starts_with('[') {
                "table"
            } else {
                "datetime"
            };
            message = message.replacen("map", what, 1);
        }
        let is_type_error =
            message.starts_with("invalid type") || message.starts_with("invalid value");
        if let (true, Some(key)) = (is_type_error, self.doc.path_at(offset)) {
            message = format!("{message} for {key}");
        }
        if message.starts_with("missing required key") {
            let table = e.span().and_then(|s| self.doc.path_of_span(&s));
            if let Some(table) = table.filter(|t| !t.is_empty()) {
                message = format!("{message} in {table}");
            }
        }
        self.error_at(offset, message)
    }

    fn validate(&self, raw: RawScenario) -> Result<Scenario, ScenarioError> {
        let variants = self.variants(&raw)?;
        let level = match &raw.level {
            None => None,
            Some(l) => Some(match l.get_ref().as_str() {
                "spec" => Level::Spec,
                "impl" => Level::Impl,
                other => {
                    let msg = format!("invalid level \"{other}\", expected \"spec\" or \"impl\"");
                    return Err(self.error_span(l.span(), msg));
                }
            }),
        };
        let strategy = match &raw.strategy {
            None => None,
            Some(s) => Some(
                s.get_ref()
                    .parse::<Strategy>()
                    .map_err(|e| self.error_span(s.span(), e))?,
            ),
        };
        // Any integer is syntactically a bound (`max_retries = -1` means unbounded
        // retries); each model validates its own ranges, and [`Scenario::locate`]
        // points its error at the value written here.
        let mut bounds = Bounds::new();
        let mut bound_positions = BTreeMap::new();
        for (name, value) in &raw.bounds {
            bounds.insert(name.clone(), *value.get_ref());
            bound_positions.insert(name.clone(), line_col(self.text, value.span().start));
        }
        let mut faults = Vec::new();
        for (i, spec) in raw.faults.iter().enumerate() {
            let rule = spec.get_ref().to_rule().map_err(|e| {
                let field = format!("faults[{i}].{}", e.field);
                let span = self.doc.value_span(&field).unwrap_or(spec.span());
                self.error_span(span, format!("faults[{i}]: {}", e.message))
            })?;
            faults.push(rule);
        }
        let (default_expectation, variant_expectations) = self.expectations(&raw, &variants)?;
        let name = raw.name.clone().unwrap_or_else(|| file_stem(self.path));
        Ok(Scenario {
            path: self.path.to_string(),
            name,
            description: raw.description,
            model: raw.model,
            variants,
            level,
            seed: raw.seed,
            strategy,
            keep_going: raw.keep_going,
            bounds,
            bound_positions,
            fault_specs: raw.faults.into_iter().map(Spanned::into_inner).collect(),
            faults,
            default_expectation,
            variant_expectations,
            budget: raw.budget,
            params: raw
                .params
                .into_iter()
                .map(|(k, v)| match v {
                    toml::Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect(),
        })
    }

    fn variants(&self, raw: &RawScenario) -> Result<Vec<String>, ScenarioError> {
        match (&raw.variant, &raw.variants) {
            (Some(_), Some(list)) => {
                Err(self.error_span(list.span(), "give either `variant` or `variants`, not both"))
            }
            (None, None) => Err(self.error_at(0, "missing required key `variant` (or `variants`)")),
            (Some(v), None) => {
                if v.get_ref().is_empty() {
                    return Err(self.error_span(v.span(), "expected a non-empty variant name"));
                }
                Ok(vec![v.get_ref().clone()])
            }
            (None, Some(list)) => {
                if list.get_ref().is_empty() {
                    return Err(self.error_span(list.span(), "expected at least one variant"));
                }
                let mut names: Vec<String> = Vec::new();
                for v in list.get_ref() {
                    if v.get_ref().is_empty() {
                        return Err(self.error_span(v.span(), "expected a non-empty variant name"));
                    }
                    if names.contains(v.get_ref()) {
                        let msg = format!("variant `{}` is listed twice", v.get_ref());
                        return Err(self.error_span(v.span(), msg));
                    }
                    names.push(v.get_ref().clone());
                }
                Ok(names)
            }
        }
    }

    /// Span of the key (`key_only`) or value at `expect.<keys...>`.
    fn expect_span(&self, keys: &[&str], key_only: bool, fallback: &Range<usize>) -> Range<usize> {
        let path = std::iter::once("expect")
            .chain(keys.iter().copied())
            .collect::<Vec<_>>()
            .join(".");
        let span = if key_only {
            self.doc.key_span(&path)
        } else {
            self.doc.value_span(&path)
        };
        span.unwrap_or_else(|| fallback.clone())
    }

    #[allow(clippy::type_complexity)]
    fn expectations(
        &self,
        raw: &RawScenario,
        variants: &[String],
    ) -> Result<(Option<Expectation>, BTreeMap<String, Expectation>), ScenarioError> {
        let Some(expect) = &raw.expect else {
            return Err(self.error_at(
                0,
                "missing required table [expect] (what the run should conclude)",
            ));
        };
        let whole = self.doc.value_span("expect").unwrap_or(0..0);
        let mut default = PartialExpectation::default();
        let mut per_variant = BTreeMap::new();
        for (key, value) in expect {
            let value_span = self.expect_span(&[key], false, &whole);
            let key_span = self.expect_span(&[key], true, &whole);
            if self.expectation_key(&mut default, key, value, "expect", value_span.clone())? {
                continue;
            }
            match (key.as_str(), value) {
                (name, toml::Value::Table(table)) => {
                    if !variants.iter().any(|v| v == name) {
                        let msg = format!(
                            "expectation for unknown variant `{name}`; this scenario's variants are {}",
                            quoted_list(variants)
                        );
                        return Err(self.error_span(key_span, msg));
                    }
                    let exp = self.variant_expectation(name, table, value_span)?;
                    per_variant.insert(name.to_string(), exp);
                }
                (name, _) => {
                    let msg = format!(
                        "unknown key `{name}` in [expect], expected `verdict`, `property`, \
                         `holds` or an [expect.<variant>] table"
                    );
                    return Err(self.error_span(key_span, msg));
                }
            }
        }
        if (default.property.is_some() || !default.holds.is_empty()) && default.verdict.is_none() {
            return Err(self.error_span(whole, "missing required key `verdict` in [expect]"));
        }
        let PartialExpectation {
            verdict,
            property,
            holds,
        } = default;
        let default = verdict.map(|verdict| Expectation {
            verdict,
            property,
            holds,
        });
        if default.is_none() {
            if let Some(v) = variants.iter().find(|v| !per_variant.contains_key(*v)) {
                let msg = format!(
                    "no expectation for variant `{v}`: add `verdict` to [expect] or an [expect.{v}] table"
                );
                return Err(self.error_span(whole, msg));
            }
        }
        Ok((default, per_variant))
    }

    fn variant_expectation(
        &self,
        variant: &str,
        table: &toml::Table,
        table_span: Range<usize>,
    ) -> Result<Expectation, ScenarioError> {
        let mut exp = PartialExpectation::default();
        let table_name = format!("expect.{variant}");
        for (key, value) in table {
            let value_span = self.expect_span(&[variant, key], false, &table_span);
            if !self.expectation_key(&mut exp, key, value, &table_name, value_span)? {
                let key_span = self.expect_span(&[variant, key], true, &table_span);
                let msg = format!(
                    "unknown key `{key}` in [expect.{variant}], expected `verdict`, `property` \
                     or `holds`"
                );
                return Err(self.error_span(key_span, msg));
            }
        }
        let Some(verdict) = exp.verdict else {
            let msg = format!("missing required key `verdict` in [expect.{variant}]");
            return Err(self.error_span(table_span, msg));
        };
        Ok(Expectation {
            verdict,
            property: exp.property,
            holds: exp.holds,
        })
    }

    /// Reads `verdict`, `property` or `holds` of an expectation table into
    /// `exp`; false if `key` is none of them.
    fn expectation_key(
        &self,
        exp: &mut PartialExpectation,
        key: &str,
        value: &toml::Value,
        table: &str,
        span: Range<usize>,
    ) -> Result<bool, ScenarioError> {
        match (key, value) {
            ("verdict", toml::Value::String(v)) => exp.verdict = Some(self.verdict(v, span)?),
            ("property", toml::Value::String(p)) => exp.property = Some(p.clone()),
            ("holds", toml::Value::Array(items)) => {
                for item in items {
                    let toml::Value::String(name) = item else {
                        let msg = format!(
                            "invalid type: {}, expected a property name (string) in {table}.holds",
                            item.type_str()
                        );
                        return Err(self.error_span(span, msg));
                    };
                    exp.holds.push(name.clone());
                }
            }
            ("verdict" | "property", other) => {
                let msg = format!(
                    "invalid type: {}, expected a string for {table}.{key}",
                    other.type_str()
                );
                return Err(self.error_span(span, msg));
            }
            ("holds", other) => {
                let msg = format!(
                    "invalid type: {}, expected an array of property names for {table}.holds",
                    other.type_str()
                );
                return Err(self.error_span(span, msg));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn verdict(&self, text: &str, span: Range<usize>) -> Result<Verdict, ScenarioError> {
        match text {
            "holds" => Ok(Verdict::Holds),
            "violated" => Ok(Verdict::Violated),
            "inconclusive" => Ok(Verdict::Inconclusive),
            other => Err(self.error_span(
                span,
                format!("invalid verdict \"{other}\", expected \"holds\", \"violated\" or \"inconclusive\""),
            )),
        }
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn file_stem(path: &str) -> String {
    std::path::Path::new(path)
        .file_stem()
        .map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests;
