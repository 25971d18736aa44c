//! Bounds, variants, the `claim` parameter and derived limits (T_break) of the
//! `breaker` model, shared by both levels.
//!
//! Bound names are a contract (`--bound name=value`): `instances`, `partitions`,
//! `events`, `threshold`, `window_secs`, `break_latency` (s), `lag` (s),
//! `max_retries`, `batch_size`, `resumes`, `store_outages`. The two levels share
//! names and ranges but not defaults: the protocol level scales time down (one
//! tick is one second, a pump runs at most one function execution per tick, a
//! 3 s window) so BFS stays small; the implementation level runs the guide's 30 s
//! window in virtual time.

use std::time::Duration;

use lockstep::cli::Params;
use lockstep::report::Bounds;

/// The two designs compared (names are a contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The guide's design: every instance records into one shared counter and
    /// checks the rolling count across all instances.
    SharedCounter,
    /// Each instance counts (and checks) only its own failures.
    PerInstanceCounter,
}

impl Variant {
    pub const NAMES: [&'static str; 2] = ["shared-counter", "per-instance-counter"];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "shared-counter" => Ok(Variant::SharedCounter),
            "per-instance-counter" => Ok(Variant::PerInstanceCounter),
            other => Err(format!(
                "unknown breaker variant `{other}` (expected one of: shared-counter, per-instance-counter)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::SharedCounter => "shared-counter",
            Variant::PerInstanceCounter => "per-instance-counter",
        }
    }

    /// The counter key an instance records into and reads.
    pub fn counter_key(self, instance: u32) -> u32 {
        match self {
            Variant::SharedCounter => 0,
            Variant::PerInstanceCounter => instance,
        }
    }
}

/// Which claim of the guide is checked (`--param claim=...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Claim {
    /// The qualified form of spec B.8: no event skipped without an invocation,
    /// per-partition order, L6.
    #[default]
    Qualified,
    /// Also the unqualified "nothing lost": every event that failed before the
    /// break is processed again after the resume (`every-event-succeeds-or-reprocessed`).
    Unqualified,
}

impl Claim {
    /// Reads `--param claim=qualified|unqualified`; any other parameter is an error.
    pub fn from_params(params: &Params) -> Result<Self, String> {
        for key in params.keys() {
            if key != "claim" {
                return Err(format!(
                    "the breaker model takes no parameter `{key}` (only claim=qualified|unqualified)"
                ));
            }
        }
        match params.get("claim").map(String::as_str) {
            None | Some("qualified") => Ok(Claim::Qualified),
            Some("unqualified") => Ok(Claim::Unqualified),
            Some(other) => Err(format!(
                "unknown claim `{other}` (expected qualified or unqualified)"
            )),
        }
    }
}

/// Bugs planted on purpose so tests can show the checker finds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PlantedBug {
    #[default]
    None,
    /// The control plane drops every break event: the app never stops.
    NeverStops,
    /// After a resume a pump starts after the last event it had received before
    /// the stop (its in-memory position), not at the durable checkpoint.
    ResumePastCheckpoint,
    /// The stop checkpoints every received event, invoked or not.
    CheckpointOnStop,
}

/// `(name, min, max, protocol default, implementation default)`, in name order.
const BOUND_SPECS: [(&str, i64, i64, i64, i64); 11] = [
    ("batch_size", 1, 100, 2, 2),
    ("break_latency", 0, 600, 1, 10),
    ("events", 0, 100_000, 4, 12),
    ("instances", 1, 32, 2, 2),
    ("lag", 0, 600, 0, 0),
    ("max_retries", 0, 5, 0, 1),
    ("partitions", 1, 64, 2, 2),
    ("resumes", 0, 3, 1, 1),
    ("store_outages", 0, 2, 0, 0),
    ("threshold", 1, 10_000, 2, 3),
    ("window_secs", 1, 3_600, 3, 30),
];

/// Tighter maxima of the protocol level (fixed-size state arrays, small BFS).
const SPEC_MAXIMA: [(&str, i64); 8] = [
    ("batch_size", 8),
    ("break_latency", 6),
    ("events", 8),
    ("instances", 4),
    ("lag", 6),
    ("partitions", 4),
    ("threshold", 8),
    ("window_secs", 8),
];

/// Which level's defaults and maxima apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Spec,
    Impl,
}

/// The validated bounds of one model instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub instances: u32,
    /// Partition `p` is owned by instance `p mod instances` (static assignment:
    /// the breaker stops and resumes the whole app, so balancing is left out).
    pub partitions: u32,
    /// Events in total, dealt round-robin over the partitions before the run.
    pub events: u32,
    /// The circuit opens when the rolling count exceeds this.
    pub threshold: u32,
    pub window_secs: u32,
    /// Upper bound of the control plane's reaction (break event to app stopped), s.
    pub break_latency: u32,
    /// Largest staleness of a failure-store read, s.
    pub lag: u32,
    /// Function retries after the first execution (in-code retries).
    pub max_retries: u32,
    pub batch_size: u32,
    /// How often the operator resumes the app.
    pub resumes: u32,
    /// Failed failure-store calls.
    pub store_outages: u32,
}

impl Config {
    pub fn default_bounds(level: Level) -> Bounds {
        BOUND_SPECS
            .iter()
            .map(|&(name, _, _, spec, imp)| {
                let value = if level == Level::Spec { spec } else { imp };
                (name.to_string(), value)
            })
            .collect()
    }

    /// Validates `bounds` (missing names take the level's defaults; unknown names
    /// and out-of-range values are errors naming the bound).
    pub fn from_bounds(bounds: &Bounds, level: Level) -> Result<Config, String> {
        for name in bounds.keys() {
            if !BOUND_SPECS.iter().any(|(known, ..)| known == name) {
                let known: Vec<&str> = BOUND_SPECS.iter().map(|(n, ..)| *n).collect();
                return Err(format!(
                    "unknown breaker bound `{name}` (expected one of: {})",
                    known.join(", ")
                ));
            }
        }
        let get = |name: &str| -> Result<u32, String> {
            let (_, min, mut max, spec, imp) = BOUND_SPECS
                .iter()
                .find(|(n, ..)| *n == name)
                .copied()
                .unwrap_or_default();
            if level == Level::Spec {
                if let Some((_, m)) = SPEC_MAXIMA.iter().find(|(n, _)| *n == name) {
                    max = *m;
                }
            }
            let default = if level == Level::Spec { spec } else { imp };
            let value = bounds.get(name).copied().unwrap_or(default);
            if value < min || value > max {
                let at = if level == Level::Spec {
                    " at the protocol level"
                } else {
                    ""
                };
                return Err(format!(
                    "bound `{name}` = {value} is out of range ({min}..={max}{at})"
                ));
            }
            Ok(value as u32)
        };
        Ok(Config {
            instances: get("instances")?,
            partitions: get("partitions")?,
            events: get("events")?,
            threshold: get("threshold")?,
            window_secs: get("window_secs")?,
            break_latency: get("break_latency")?,
            lag: get("lag")?,
            max_retries: get("max_retries")?,
            batch_size: get("batch_size")?,
            resumes: get("resumes")?,
            store_outages: get("store_outages")?,
        })
    }

    /// The bounds echoed in reports (every name).
    pub fn to_bounds(&self) -> Bounds {
        [
            ("batch_size", self.batch_size),
            ("break_latency", self.break_latency),
            ("events", self.events),
            ("instances", self.instances),
            ("lag", self.lag),
            ("max_retries", self.max_retries),
            ("partitions", self.partitions),
            ("resumes", self.resumes),
            ("store_outages", self.store_outages),
            ("threshold", self.threshold),
            ("window_secs", self.window_secs),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), i64::from(v)))
        .collect()
    }

    /// Events of partition `p` (event k goes to partition k mod partitions).
    pub fn events_in(&self, p: u32) -> u64 {
        let (n, parts) = (u64::from(self.events), u64::from(self.partitions));
        n / parts + u64::from(u64::from(p) < n % parts)
    }

    /// The instance owning partition `p`.
    pub fn owner_of(&self, p: u32) -> u32 {
        p % self.instances
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(u64::from(self.window_secs))
    }

    /// T_break in seconds: once the rolling count across all instances exceeds the
    /// threshold, no function execution may start later than this after the
    /// crossing. The check runs on each new failure, so a read up to `lag` stale
    /// can see the crossing that much later (when failures keep coming); the
    /// control plane then needs at most `break_latency`.
    pub fn t_break_secs(&self) -> u32 {
        self.lag + self.break_latency
    }

    /// The most executions that can start after a crossing before the stop, when
    /// one execution takes `execution` (`None`: one per second, the protocol
    /// level's tick): every pump runs sequentially, so at most one execution per
    /// `execution` per partition within `[crossing, crossing + T_break]`.
    pub fn executions_after_crossing_bound(&self, execution: Option<Duration>) -> u64 {
        let t_break = Duration::from_secs(u64::from(self.t_break_secs()));
        let per_pump = match execution {
            Some(d) if !d.is_zero() => (t_break.as_nanos() / d.as_nanos()) as u64 + 1,
            _ => u64::from(self.t_break_secs()) + 1,
        };
        u64::from(self.partitions) * per_pump
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_at_both_levels() {
        for level in [Level::Spec, Level::Impl] {
            let bounds = Config::default_bounds(level);
            let config = Config::from_bounds(&bounds, level).unwrap();
            assert_eq!(config.to_bounds(), bounds);
        }
        let spec = Config::from_bounds(&Bounds::new(), Level::Spec).unwrap();
        assert_eq!(
            (spec.threshold, spec.window_secs, spec.break_latency),
            (2, 3, 1)
        );
        assert_eq!(spec.t_break_secs(), 1);
        assert_eq!(spec.executions_after_crossing_bound(None), 4);
        let imp = Config::from_bounds(&Bounds::new(), Level::Impl).unwrap();
        assert_eq!(
            imp.executions_after_crossing_bound(Some(Duration::from_secs(1))),
            2 * 11
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let mut bounds = Bounds::new();
        bounds.insert("treshold".into(), 2);
        assert!(Config::from_bounds(&bounds, Level::Spec)
            .unwrap_err()
            .contains("unknown breaker bound `treshold`"));
        let mut bounds = Bounds::new();
        bounds.insert("events".into(), 9);
        assert!(Config::from_bounds(&bounds, Level::Spec)
            .unwrap_err()
            .contains("at the protocol level"));
        assert!(Config::from_bounds(&bounds, Level::Impl).is_ok());
        assert!(Variant::parse("shared")
            .unwrap_err()
            .contains("expected one of"));
        let mut params = Params::new();
        params.insert("claim".into(), "strong".into());
        assert!(Claim::from_params(&params)
            .unwrap_err()
            .contains("unknown claim"));
        params.insert("claim".into(), "unqualified".into());
        assert_eq!(Claim::from_params(&params), Ok(Claim::Unqualified));
        params.insert("offline".into(), "true".into());
        assert!(Claim::from_params(&params).is_err());
    }

    #[test]
    fn counters_and_ownership() {
        let config = Config::from_bounds(&Bounds::new(), Level::Spec).unwrap();
        assert_eq!(Variant::SharedCounter.counter_key(1), 0);
        assert_eq!(Variant::PerInstanceCounter.counter_key(1), 1);
        assert_eq!((config.owner_of(0), config.owner_of(1)), (0, 1));
        assert_eq!((config.events_in(0), config.events_in(1)), (2, 2));
    }
}
