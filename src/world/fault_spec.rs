//! Fault rules as written in scenario files (`[[faults]]` tables) and their validation.
//!
//! [`FaultSpec`] is the serde shape (floats and strings allowed);
//! [`FaultSpec::to_rule`] checks it and produces the integer-only, hashable
//! [`FaultRule`] a [`super::FaultPlan`] runs. Errors name the offending key so
//! the scenario loader can point at its line and column.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::{FaultKind, FaultRule, Target};
use super::storage::StorageOp;

/// A `[[faults]]` table as written in a scenario file (before validation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// Why a [`FaultSpec`] is not a valid rule. `field` names the offending key so
/// a scenario loader can point at it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FaultSpecError {
    pub field: &'static str,
    pub message: String,
}

fn spec_error(field: &'static str, message: impl Into<String>) -> FaultSpecError {
    FaultSpecError {
        field,
        message: message.into(),
    }
}

impl FaultSpec {
    /// Validates and converts to a [`FaultRule`].
    pub fn to_rule(&self) -> Result<FaultRule, FaultSpecError> {
        let kind = match self.kind.as_str() {
            "" => return Err(spec_error("kind", "expected a non-empty fault kind")),
            "storage-outage" => FaultKind::StorageOutage,
            "throttle" => FaultKind::Throttle,
            "latency" => match self.latency_ms {
                Some(ms) => FaultKind::Latency(Duration::from_millis(ms)),
                None => return Err(spec_error("kind", "a `latency` fault needs `latency_ms`")),
            },
            other => FaultKind::Named(other.to_string()),
        };
        if self.latency_ms.is_some() && !matches!(kind, FaultKind::Latency(_)) {
            return Err(spec_error(
                "latency_ms",
                "`latency_ms` only applies to kind = \"latency\"",
            ));
        }
        if let FaultKind::Named(name) = &kind {
            if self.at.is_none() {
                return Err(spec_error(
                    "kind",
                    format!("a `{name}` fault needs `at` (the model point where it fires)"),
                ));
            }
        }
        if self.at.is_none()
            && self.from_ms.is_none()
            && self.until_ms.is_none()
            && self.probability.is_none()
        {
            return Err(spec_error(
                "kind",
                "a fault needs a trigger: `at`, `from_ms`/`until_ms` or `probability`",
            ));
        }
        if self.at.as_deref() == Some("") {
            return Err(spec_error("at", "expected a non-empty fault point"));
        }
        if self.occurrence == Some(0) {
            return Err(spec_error("occurrence", "occurrences count from 1"));
        }
        if self.occurrence.is_some() && self.at.is_none() {
            return Err(spec_error("occurrence", "`occurrence` needs `at`"));
        }
        if let (Some(from), Some(until)) = (self.from_ms, self.until_ms) {
            if from >= until {
                return Err(spec_error(
                    "until_ms",
                    format!("empty window: until_ms ({until}) must be after from_ms ({from})"),
                ));
            }
        }
        let probability_ppm = match self.probability {
            None => None,
            Some(p) if p.is_finite() && (0.0..=1.0).contains(&p) => {
                Some((p * 1_000_000.0).round() as u32)
            }
            Some(p) => {
                return Err(spec_error(
                    "probability",
                    format!("expected a probability between 0 and 1, found {p}"),
                ))
            }
        };
        let op = match &self.op {
            None => None,
            Some(_) if !kind.is_storage() => {
                return Err(spec_error("op", "`op` only applies to storage fault kinds"))
            }
            Some(name) => Some(name.parse::<StorageOp>().map_err(|e| spec_error("op", e))?),
        };
        if self.duration_ms.is_some() && (self.at.is_none() || !kind.is_storage()) {
            return Err(spec_error(
                "duration_ms",
                "`duration_ms` applies to a storage fault fired at a point (`at`)",
            ));
        }
        let target = match self.instance.as_deref() {
            None => Target::All,
            Some("") => return Err(spec_error("instance", "expected a non-empty instance name")),
            Some(name) => Target::Instance(name.to_string()),
        };
        if self.times == Some(0) {
            return Err(spec_error(
                "times",
                "`times = 0` would never fire; remove the rule",
            ));
        }
        Ok(FaultRule {
            kind,
            target,
            op,
            at: self.at.clone(),
            occurrence: self.occurrence,
            from: self.from_ms.map(Duration::from_millis),
            until: self.until_ms.map(Duration::from_millis),
            probability_ppm,
            times: self.times,
            duration: self.duration_ms.map(Duration::from_millis),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str) -> FaultSpec {
        FaultSpec {
            kind: kind.to_string(),
            ..FaultSpec::default()
        }
    }

    #[test]
    fn invalid_specs_are_rejected_with_the_field() {
        let cases = [
            (spec("latency"), "kind"),
            (
                FaultSpec {
                    at: None,
                    ..spec("worker-timeout")
                },
                "kind",
            ),
            (spec("storage-outage"), "kind"),
            (
                FaultSpec {
                    at: Some("p".into()),
                    occurrence: Some(0),
                    ..spec("x")
                },
                "occurrence",
            ),
            (
                FaultSpec {
                    from_ms: Some(5),
                    until_ms: Some(5),
                    ..spec("throttle")
                },
                "until_ms",
            ),
            (
                FaultSpec {
                    probability: Some(1.5),
                    ..spec("throttle")
                },
                "probability",
            ),
            (
                FaultSpec {
                    probability: Some(f64::NAN),
                    ..spec("throttle")
                },
                "probability",
            ),
            (
                FaultSpec {
                    from_ms: Some(0),
                    op: Some("fetch".into()),
                    ..spec("throttle")
                },
                "op",
            ),
            (
                FaultSpec {
                    at: Some("p".into()),
                    op: Some("get".into()),
                    ..spec("x")
                },
                "op",
            ),
            (
                FaultSpec {
                    from_ms: Some(0),
                    duration_ms: Some(1),
                    ..spec("throttle")
                },
                "duration_ms",
            ),
            (
                FaultSpec {
                    from_ms: Some(0),
                    latency_ms: Some(1),
                    ..spec("throttle")
                },
                "latency_ms",
            ),
        ];
        for (s, field) in cases {
            let err = s.to_rule().expect_err(&format!("{s:?} should be invalid"));
            assert_eq!(err.field, field, "{s:?}: {err}");
        }
        let err = spec("latency").to_rule().unwrap_err();
        assert_eq!(err.to_string(), "a `latency` fault needs `latency_ms`");
    }
}
