//! What a protocol model exposes so traces can be checked against it: which
//! of its actions are observable, as which lifecycle events, and what
//! "nothing happened for a long time" means for it.

use std::collections::BTreeMap;

use super::schema::LifecycleEvent;
use crate::explore::Model;

/// A lifecycle event as the model predicts it: a name, the model actor that
/// performs it (`None`: anyone), and the fields the model is sure of.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObservedEvent {
    pub event: &'static str,
    pub actor: Option<String>,
    pub fields: Vec<(&'static str, String)>,
    /// A trace may leave this event out (some recorders never report it,
    /// e.g. a state the real host never assigns).
    pub optional: bool,
}

impl ObservedEvent {
    pub fn new(event: &'static str) -> Self {
        ObservedEvent {
            event,
            actor: None,
            fields: Vec::new(),
            optional: false,
        }
    }

    /// Marks the event as one a trace may leave out.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn by(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    pub fn with(mut self, key: &'static str, value: impl ToString) -> Self {
        self.fields.push((key, value.to_string()));
        self
    }

    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `event by actor k=v ...`, for the "allowed here" lists.
    pub fn describe(&self) -> String {
        let mut text = self.event.to_string();
        if let Some(actor) = &self.actor {
            text.push_str(" by ");
            text.push_str(actor);
        }
        for (k, v) in &self.fields {
            text.push_str(&format!(" {k}={v}"));
        }
        if self.optional {
            text.push_str(" (optional)");
        }
        text
    }

    /// Whether `trace` can be this event: same name, and every field both
    /// sides name has the same value (a model value `A|B` accepts either) (a trace may omit fields, and fields the
    /// model does not predict are not compared). Actors are compared by the
    /// caller, which keeps the actor binding.
    pub fn fields_match(&self, trace: &LifecycleEvent) -> bool {
        self.event == trace.event
            && self.fields.iter().all(|(k, v)| {
                trace
                    .fields
                    .get(*k)
                    .is_none_or(|t| v.split('|').any(|alt| t.eq_ignore_ascii_case(alt)))
            })
    }
}

/// A protocol model whose actions can be observed in traces.
///
/// The conformance checker runs the model alongside a trace: it keeps every
/// model state consistent with the events seen so far, lets the model take
/// unobservable steps (those whose [`Observable::observe`] is empty) at any
/// time, and requires each trace event to be one the model predicts.
pub trait Observable: Model {
    /// The lifecycle events `action` (taken in `before`, leading to `after`)
    /// shows to an observer, in the order it shows them. Empty = the step is
    /// internal. A trace shows a step's events before the next observable
    /// step's; within a step, one actor's events in order, different actors'
    /// in any order. Unobservable steps may happen in between.
    fn observe(
        &self,
        before: &Self::State,
        action: &Self::Action,
        after: &Self::State,
    ) -> Vec<ObservedEvent>;

    /// Whether the model can show events named `event` at all. Trace events
    /// it never shows (a log's `channel.ready` for a model without worker
    /// channels) are skipped and counted, not rejected. Defaults to all.
    fn observes(&self, _event: &str) -> bool {
        true
    }

    /// Whether `action` happens only if the environment does something that
    /// may never come (an external restart request, a fault). A state whose
    /// only enabled actions are environment actions may rest for ever.
    fn is_environment(&self, _action: &Self::Action) -> bool {
        false
    }

    /// Whether a state in which only environment actions are enabled is a
    /// fine place to stop (everything done or idle). Defaults to
    /// [`Model::at_rest`]; models whose external actors count as not at rest
    /// until they act override it.
    fn settled(&self, state: &Self::State) -> bool {
        self.at_rest(state)
    }

    /// The longest time, in milliseconds, the system can go without an
    /// observable step while it is still making progress (its longest bounded
    /// wait: a backoff, a timeout). A trace that shows nothing for longer
    /// proves the system stuck (or settled).
    fn longest_bounded_wait_ms(&self) -> u64;

    /// Whether a probe event (`health.report`) is consistent with `state`
    /// (e.g. `no-script-host` while a host runs is not). Defaults to yes.
    fn admits_probe(&self, _state: &Self::State, _probe: &LifecycleEvent) -> bool {
        true
    }
}

/// A consistent one-to-one binding of trace actors to model actors, built up
/// as events match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Binding(BTreeMap<String, String>);

impl Binding {
    /// Binds `trace_actor` to `model_actor` if that is consistent; returns the
    /// extended binding, or `None` if either side is bound elsewhere.
    pub fn bind(&self, trace_actor: &str, model_actor: Option<&str>) -> Option<Binding> {
        let (Some(model_actor), false) = (model_actor, trace_actor.is_empty()) else {
            return Some(self.clone());
        };
        match self.0.get(trace_actor) {
            Some(bound) if bound == model_actor => Some(self.clone()),
            Some(_) => None,
            None if self.0.values().any(|v| v == model_actor) => None,
            None => {
                let mut next = self.clone();
                next.0
                    .insert(trace_actor.to_string(), model_actor.to_string());
                Some(next)
            }
        }
    }

    /// The model actor a trace actor is bound to.
    pub fn get(&self, trace_actor: &str) -> Option<&str> {
        self.0.get(trace_actor).map(String::as_str)
    }

    /// The trace actor bound to `model_actor`, if any.
    pub fn trace_actor_of(&self, model_actor: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, m)| m.as_str() == model_actor)
            .map(|(t, _)| t.as_str())
    }

    /// `trace=model` pairs, for reports.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(t, m)| format!("{t}={m}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_is_one_to_one() {
        let b = Binding::default();
        let b = b.bind("t1", Some("Starter[0]")).unwrap();
        assert!(b.bind("t1", Some("Starter[1]")).is_none());
        assert!(b.bind("t2", Some("Starter[0]")).is_none());
        assert_eq!(b.bind("t1", Some("Starter[0]")).unwrap(), b);
        assert_eq!(b.bind("", Some("Starter[1]")).unwrap(), b);
        assert_eq!(b.bind("t3", None).unwrap(), b);
        assert_eq!(b.describe(), "t1=Starter[0]");
    }

    #[test]
    fn fields_match_is_lenient_on_missing_fields_only() {
        let model = ObservedEvent::new("host.state").with("to", "Running");
        let trace = LifecycleEvent::new(1, 0, "", "host.state");
        assert!(model.fields_match(&trace));
        assert!(model.fields_match(&trace.clone().with("to", "running")));
        assert!(!model.fields_match(&trace.clone().with("to", "Error")));
        assert!(model.fields_match(&trace.clone().with("from", "Default")));
        let either = ObservedEvent::new("host.state").with("to", "Starting|Default");
        assert!(either.fields_match(&trace.clone().with("to", "Default")));
        assert!(!either.fields_match(&trace.clone().with("to", "Error")));
        assert!(!model.fields_match(&LifecycleEvent::new(1, 0, "", "sem.acquire")));
    }
}
