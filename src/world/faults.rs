//! Fault plans: which faults fire where and when, with every activation recorded.
//!
//! A [`FaultPlan`] is a list of [`FaultRule`]s plus the (hashable) counters
//! that make firing deterministic. Faults are asked for at *points*:
//!
//! * model points: the model calls [`FaultPlan::fires`] with a name such as
//!   `start#1/build`; the plan counts occurrences per point name and fires the
//!   rules whose `at` pattern matches;
//! * storage calls: [`crate::world::BlobStore`] asks
//!   [`FaultPlan::storage_call`] before every operation; the point name is
//!   `"{instance}/{op}"` (`host-1/put_if_match`), so `at` can target one call.
//!
//! A rule's conditions are AND-ed: `at` pattern (`*` matches any text) and
//! `occurrence` (1-based count of that point), a virtual-time window
//! `[from, until)`, and a `probability` drawn from the plan's own PRNG stream
//! (drawn only when every other condition holds, so the draws are as
//! deterministic as the calls). `times` caps how often a rule fires.
//!
//! Storage kinds (`storage-outage`, `throttle`, `latency`) without `at` apply
//! to every matching storage call while their window holds. Fired at a model
//! point with `duration_ms`, they open a window `[now, now + duration)` for
//! storage calls of their target. Any other kind is a named fault (for
//! example `worker-timeout`) that only the model interprets. Scenario-file
//! rules and their validation live in [`super::fault_spec`].

use std::collections::BTreeMap;
use std::time::Duration;

use super::fault_spec::{FaultSpec, FaultSpecError};
use super::history::History;
use super::prng::Prng;
use super::storage::{StorageError, StorageOp};
use crate::trace::TraceEvent;

/// What a fault does when it fires.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// `storage-outage`: storage calls fail with [`StorageError::Unavailable`].
    StorageOutage,
    /// `throttle`: storage calls fail with [`StorageError::Throttled`].
    Throttle,
    /// `latency`: storage calls take this much longer.
    Latency(Duration),
    /// Any other name (`worker-timeout`, ...): the model decides what it means.
    Named(String),
}

impl FaultKind {
    /// The kind's name as written in scenario files.
    pub fn name(&self) -> &str {
        match self {
            FaultKind::StorageOutage => "storage-outage",
            FaultKind::Throttle => "throttle",
            FaultKind::Latency(_) => "latency",
            FaultKind::Named(name) => name,
        }
    }
    /// Whether the kind acts on storage calls.
    pub fn is_storage(&self) -> bool {
        !matches!(self, FaultKind::Named(_))
    }
}

/// Which instances a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    All,
    Instance(String),
}

impl Target {
    fn matches(&self, instance: &str) -> bool {
        match self {
            Target::All => true,
            Target::Instance(name) => name == instance,
        }
    }
}

/// One validated fault rule (see the module docs for the semantics).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FaultRule {
    pub kind: FaultKind,
    pub target: Target,
    /// Only this storage operation (storage kinds only).
    pub op: Option<StorageOp>,
    /// Point-name pattern; `*` matches any text.
    pub at: Option<String>,
    /// Fire only on this occurrence (1-based) of the point.
    pub occurrence: Option<u32>,
    pub from: Option<Duration>,
    pub until: Option<Duration>,
    /// Probability in parts per million (integers keep the state hashable).
    pub probability_ppm: Option<u32>,
    /// At most this many activations.
    pub times: Option<u32>,
    /// How long a storage kind fired at a model point stays active.
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Activation {
    pub time: Duration,
    pub point: String,
    pub kind: FaultKind,
    /// Index of the rule in the plan.
    pub rule: usize,
}

impl Activation {
    /// The activation as a trace event of kind `fault` (fields `point`,
    /// `value` = the fault kind, `rule`), attributed to `task`.
    pub fn to_trace_event(&self, step: u64, task: &str) -> TraceEvent {
        let time_ms = u64::try_from(self.time.as_millis()).unwrap_or(u64::MAX);
        TraceEvent::new(step, time_ms, task, "fault")
            .with("point", &self.point)
            .with("value", self.kind.name())
            .with("rule", self.rule)
    }
}

/// The faults that fired at one point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fired {
    pub kinds: Vec<FaultKind>,
}

impl Fired {
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
    /// Whether a fault of kind `name` (`worker-timeout`, `storage-outage`) fired.
    pub fn has(&self, name: &str) -> bool {
        self.kinds.iter().any(|k| k.name() == name)
    }
    /// The storage error these faults cause, if any (outage wins over throttle).
    pub fn storage_error(&self) -> Option<StorageError> {
        if self.kinds.contains(&FaultKind::StorageOutage) {
            Some(StorageError::Unavailable)
        } else if self.kinds.contains(&FaultKind::Throttle) {
            Some(StorageError::Throttled)
        } else {
            None
        }
    }
    /// Extra latency from `latency` faults.
    pub fn extra_latency(&self) -> Duration {
        self.kinds
            .iter()
            .map(|k| {
                if let FaultKind::Latency(d) = k {
                    *d
                } else {
                    Duration::ZERO
                }
            })
            .sum()
    }
}

/// What the plan decided for one storage call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StorageFault {
    /// Fail the call with this error instead of performing it.
    pub error: Option<StorageError>,
    /// How long the call takes (base latency plus `latency` faults).
    pub latency: Duration,
}

/// A storage fault opened by a point trigger for a while.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ArmedFault {
    rule: usize,
    until: Duration,
}

/// Fault rules plus the deterministic state that decides their firing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
    prng: Prng,
    base_latency: Duration,
    /// Occurrences so far, per exact point name.
    occurrences: BTreeMap<String, u32>,
    /// Activations so far, per rule (for `times`).
    fired: Vec<u32>,
    armed: Vec<ArmedFault>,
    activations: History<Activation>,
}

impl FaultPlan {
    /// A plan with these rules; `prng` decides probabilistic rules (give it
    /// its own stream, e.g. `SeedTree::stream("faults")`).
    pub fn new(rules: Vec<FaultRule>, prng: Prng) -> Self {
        let fired = vec![0; rules.len()];
        FaultPlan {
            rules,
            prng,
            base_latency: Duration::ZERO,
            occurrences: BTreeMap::new(),
            fired,
            armed: Vec::new(),
            activations: History::new(),
        }
    }

    /// A plan in which nothing ever fails.
    pub fn none() -> Self {
        FaultPlan::new(Vec::new(), Prng::from_u64(0))
    }

    /// Validates scenario `[[faults]]` tables; the error carries the index of
    /// the offending table.
    pub fn from_specs(specs: &[FaultSpec], prng: Prng) -> Result<Self, (usize, FaultSpecError)> {
        let rules = specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.to_rule().map_err(|e| (i, e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FaultPlan::new(rules, prng))
    }

    /// Every storage call takes at least this long.
    pub fn with_base_latency(mut self, latency: Duration) -> Self {
        self.base_latency = latency;
        self
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Every fault that fired so far, in order.
    pub fn activations(&self) -> &[Activation] {
        self.activations.as_slice()
    }

    /// How often `point` has been reached so far.
    pub fn occurrences(&self, point: &str) -> u32 {
        self.occurrences.get(point).copied().unwrap_or(0)
    }

    /// The model reached `point` (`start#1/build`): counts the occurrence and
    /// returns the faults that fire there. Rules fire whatever their
    /// `instance` (the point name is expected to say whose point it is); use
    /// [`FaultPlan::fires_on`] to have named faults respect `instance`.
    pub fn fires(&mut self, now: Duration, point: &str) -> Fired {
        self.fire_point(now, None, point)
    }

    /// Like [`FaultPlan::fires`], for a point reached by `instance`: a named
    /// fault with an `instance` fires only for that instance. (A storage
    /// fault's `instance` always means whose storage calls it hits.)
    pub fn fires_on(&mut self, now: Duration, instance: &str, point: &str) -> Fired {
        self.fire_point(now, Some(instance), point)
    }

    fn fire_point(&mut self, now: Duration, instance: Option<&str>, point: &str) -> Fired {
        let occurrence = self.count(point);
        let mut fired = Fired::default();
        for i in 0..self.rules.len() {
            let rule = &self.rules[i];
            let for_instance =
                rule.kind.is_storage() || instance.is_none_or(|n| rule.target.matches(n));
            let matches = for_instance
                && rule.at.as_deref().is_some_and(|p| glob_match(p, point))
                && rule.occurrence.is_none_or(|n| n == occurrence);
            if matches && self.try_activate(i, now, point) {
                let rule = &self.rules[i];
                if let (true, Some(d)) = (rule.kind.is_storage(), rule.duration) {
                    self.armed.push(ArmedFault {
                        rule: i,
                        until: now + d,
                    });
                }
                fired.kinds.push(rule.kind.clone());
            }
        }
        fired
    }

    /// Instance `instance` is about to perform storage operation `op`.
    pub fn storage_call(&mut self, now: Duration, instance: &str, op: StorageOp) -> StorageFault {
        let point = format!("{instance}/{}", op.name());
        let occurrence = self.count(&point);
        self.armed.retain(|a| a.until > now);
        let mut fired = Fired::default();
        for i in 0..self.rules.len() {
            let rule = &self.rules[i];
            let applies = rule.kind.is_storage()
                && rule.target.matches(instance)
                && rule.op.is_none_or(|o| o == op);
            if !applies {
                continue;
            }
            // A point-fired window counts as already activated; it is not recorded again.
            if self.armed.iter().any(|a| a.rule == i) {
                fired.kinds.push(rule.kind.clone());
                continue;
            }
            let matches = match rule.at.as_deref() {
                Some(pattern) => {
                    glob_match(pattern, &point) && rule.occurrence.is_none_or(|n| n == occurrence)
                }
                None => true,
            };
            if matches && self.try_activate(i, now, &point) {
                fired.kinds.push(self.rules[i].kind.clone());
            }
        }
        StorageFault {
            error: fired.storage_error(),
            latency: self.base_latency + fired.extra_latency(),
        }
    }

    fn count(&mut self, point: &str) -> u32 {
        let n = self.occurrences.entry(point.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// Checks the window, `times` and probability of rule `i` (in that order,
    /// so the PRNG is only drawn when everything else holds) and records the
    /// activation.
    fn try_activate(&mut self, i: usize, now: Duration, point: &str) -> bool {
        let rule = &self.rules[i];
        let in_window = rule.from.is_none_or(|f| now >= f) && rule.until.is_none_or(|u| now < u);
        let under_cap = rule.times.is_none_or(|t| self.fired[i] < t);
        if !in_window || !under_cap {
            return false;
        }
        if let Some(ppm) = rule.probability_ppm {
            if !self.prng.chance(u64::from(ppm), 1_000_000) {
                return false;
            }
        }
        self.fired[i] += 1;
        let kind = rule.kind.clone();
        self.activations.push(Activation {
            time: now,
            point: point.to_string(),
            kind,
            rule: i,
        });
        true
    }
}

/// Glob match where `*` matches any (possibly empty) text; everything else is literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` and the text index it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn spec(kind: &str) -> FaultSpec {
        FaultSpec {
            kind: kind.to_string(),
            ..FaultSpec::default()
        }
    }

    fn plan(specs: &[FaultSpec]) -> FaultPlan {
        FaultPlan::from_specs(specs, Prng::from_u64(1)).expect("valid specs")
    }

    #[test]
    fn glob_patterns() {
        assert!(glob_match("start#1/build", "start#1/build"));
        assert!(!glob_match("start#1/build", "start#2/build"));
        assert!(glob_match("start#*/build", "start#12/build"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYbZc"));
        assert!(!glob_match("a*b", "aXXc"));
    }

    #[test]
    fn point_rule_fires_on_its_occurrence_only() {
        let mut p = plan(&[FaultSpec {
            at: Some("start#*/build".into()),
            occurrence: Some(2),
            ..spec("worker-timeout")
        }]);
        assert!(p.fires(ms(0), "start#1/build").is_empty());
        assert!(p.fires(ms(5), "start#2/build").is_empty()); // first occurrence of this point
        assert!(p.fires(ms(9), "start#1/build").has("worker-timeout"));
        assert!(p.fires(ms(9), "start#1/build").is_empty());
        assert_eq!(p.occurrences("start#1/build"), 3);
        let acts = p.activations();
        assert_eq!(acts.len(), 1);
        assert_eq!(
            (acts[0].time, acts[0].point.as_str()),
            (ms(9), "start#1/build")
        );
    }

    #[test]
    fn named_faults_respect_instance_only_through_fires_on() {
        let rule = FaultSpec {
            at: Some("*/worker".into()),
            instance: Some("h2".into()),
            ..spec("worker-timeout")
        };
        let mut p = plan(&[rule]);
        assert!(p.fires_on(ms(0), "h1", "h1/worker").is_empty());
        assert!(p.fires_on(ms(1), "h2", "h2/worker").has("worker-timeout"));
        assert!(p.fires(ms(2), "h1/worker").has("worker-timeout"));
        let event = p.activations()[0].to_trace_event(7, "h2");
        assert_eq!(
            crate::trace::event_text(&event),
            "fault value=worker-timeout point=h2/worker rule=0"
        );
        assert_eq!(
            (event.step, event.time_ms, event.task.as_str()),
            (7, 1, "h2")
        );
    }

    #[test]
    fn window_outage_hits_only_its_target_and_op() {
        let mut p = plan(&[FaultSpec {
            instance: Some("host-1".into()),
            op: Some("put_if_match".into()),
            from_ms: Some(100),
            until_ms: Some(200),
            ..spec("storage-outage")
        }]);
        let outage = Some(StorageError::Unavailable);
        assert_eq!(
            p.storage_call(ms(99), "host-1", StorageOp::PutIfMatch)
                .error,
            None
        );
        assert_eq!(
            p.storage_call(ms(100), "host-1", StorageOp::PutIfMatch)
                .error,
            outage
        );
        assert_eq!(
            p.storage_call(ms(150), "host-2", StorageOp::PutIfMatch)
                .error,
            None
        );
        assert_eq!(
            p.storage_call(ms(150), "host-1", StorageOp::Get).error,
            None
        );
        assert_eq!(
            p.storage_call(ms(200), "host-1", StorageOp::PutIfMatch)
                .error,
            None
        );
        assert_eq!(p.activations().len(), 1);
        assert_eq!(p.activations()[0].point, "host-1/put_if_match");
    }

    #[test]
    fn point_fired_outage_opens_a_window_and_latency_adds_up() {
        let mut p = plan(&[
            FaultSpec {
                at: Some("start#1/build".into()),
                duration_ms: Some(50),
                ..spec("storage-outage")
            },
            FaultSpec {
                latency_ms: Some(7),
                from_ms: Some(0),
                ..spec("latency")
            },
        ])
        .with_base_latency(ms(3));
        assert_eq!(p.storage_call(ms(0), "h", StorageOp::Get).error, None);
        assert!(p.fires(ms(10), "start#1/build").storage_error().is_some());
        let during = p.storage_call(ms(59), "h", StorageOp::Put);
        assert_eq!(
            during,
            StorageFault {
                error: Some(StorageError::Unavailable),
                latency: ms(10)
            }
        );
        assert_eq!(p.storage_call(ms(60), "h", StorageOp::Put).error, None);
    }

    #[test]
    fn storage_call_points_can_be_targeted_by_occurrence_and_times_caps() {
        let mut p = plan(&[
            FaultSpec {
                at: Some("a/get".into()),
                occurrence: Some(2),
                ..spec("throttle")
            },
            FaultSpec {
                from_ms: Some(0),
                times: Some(1),
                instance: Some("b".into()),
                ..spec("throttle")
            },
        ]);
        let errs: Vec<_> = (0..3)
            .map(|_| p.storage_call(ms(0), "a", StorageOp::Get).error)
            .collect();
        assert_eq!(errs, [None, Some(StorageError::Throttled), None]);
        assert!(p.storage_call(ms(0), "b", StorageOp::List).error.is_some());
        assert!(p.storage_call(ms(0), "b", StorageOp::List).error.is_none());
    }

    #[test]
    fn probability_is_deterministic_and_roughly_right() {
        let run = || {
            let mut p = plan(&[FaultSpec {
                probability: Some(0.25),
                ..spec("throttle")
            }]);
            (0..400)
                .map(|i| p.storage_call(ms(i), "h", StorageOp::Get).error.is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let hits = a.iter().filter(|&&x| x).count();
        assert!((60..140).contains(&hits), "{hits} of 400 at p=0.25");
    }
}
