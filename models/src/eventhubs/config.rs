//! Bounds, version profiles and derived limits of the `eventhubs` protocol model.
//!
//! Bound names are a contract (`--bound name=value`): `instances`, `partitions`,
//! `events`, `crashes`, `outages`, `max_retries`, `batch_size`, plus `stops`
//! (graceful listener stops, the source of the fnToken cancellation) and `poison`
//! (how many events, from e0 on, are poison: every execution of them fails).

use lockstep::report::Bounds;

/// A version profile of the extension (spec B.10). Names are a contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Current extension: sequential single dispatch, each token checked
    /// explicitly before the checkpoint, checkpoint = last invoked event.
    V6,
    /// Old extension: single-event invocations of a batch started concurrently,
    /// checkpoint at the batch's last event even when the loop was cancelled.
    V5,
}

impl Variant {
    pub const NAMES: [&'static str; 2] = ["v6", "v5"];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "v6" => Ok(Variant::V6),
            "v5" => Ok(Variant::V5),
            other => Err(format!(
                "unknown eventhubs variant `{other}` (expected one of: v6, v5)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::V6 => "v6",
            Variant::V5 => "v5",
        }
    }
}

/// Bugs planted on purpose so tests can show the checker finds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PlantedBug {
    #[default]
    None,
    /// The store ignores ETag conditions: two claimers can win one version (S6).
    ClaimsIgnoreEtag,
    /// The pump checkpoints a batch as soon as it is received, before invoking (S7, S1).
    CheckpointOnReceive,
    /// The load balancer counts expired records as still owned, so it never claims
    /// the partitions of a crashed instance (L3).
    IgnoresExpiry,
    /// The load balancer never restarts an owned partition whose task faulted
    /// (cycle step 5 missing), so a storage failure stalls it for good (L5).
    NoRestartOfFaulted,
    /// Implementation level, MinEventBatchSize cache: the pump checkpoints at the
    /// last event it *received*, covering events still cached, not invoked (S7).
    CheckpointAtReceived,
}

/// `(name, min, max, default)` of every bound, in name order.
const BOUND_SPECS: [(&str, i64, i64, i64); 9] = [
    ("batch_size", 1, 8, 2),
    ("crashes", 0, 4, 1),
    ("events", 0, 8, 3),
    ("instances", 1, 4, 2),
    ("max_retries", -1, 5, 0),
    ("outages", 0, 4, 0),
    ("partitions", 1, 4, 2),
    ("poison", 0, 8, 0),
    ("stops", 0, 4, 0),
];

/// The validated bounds of one model instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Processor instances (each starts once; a crash or a stop is final).
    pub instances: u8,
    pub partitions: u8,
    /// Events in total, dealt round-robin over the partitions before the run.
    pub events: u8,
    /// Instance crashes (nothing written, ownership left to expire).
    pub crashes: u8,
    /// Graceful listener stops (fnToken cancelled, handlers awaited, ownership relinquished).
    pub stops: u8,
    /// Failed checkpoint-store calls (each one call of one instance).
    pub outages: u8,
    /// Function retry policy: retries after the first execution; -1 = unbounded.
    pub max_retries: i8,
    /// MaxEventBatchSize: a receive returns 1..=batch_size of the available events.
    pub batch_size: u8,
    /// Poison events: global events `0..poison` fail on every execution.
    pub poison: u8,
}

impl Config {
    /// The smallest interesting setting: 2 instances, 2 partitions, 3 events, 1 crash,
    /// batches of up to 2; no graceful stop, no retry, no storage failure.
    pub fn default_bounds() -> Bounds {
        BOUND_SPECS
            .iter()
            .map(|(name, _, _, default)| (name.to_string(), *default))
            .collect()
    }

    /// Validates `bounds` (missing names take their defaults; unknown names and
    /// out-of-range values are errors naming the bound).
    pub fn from_bounds(bounds: &Bounds) -> Result<Config, String> {
        for name in bounds.keys() {
            if !BOUND_SPECS.iter().any(|(known, ..)| known == name) {
                let known: Vec<&str> = BOUND_SPECS.iter().map(|(n, ..)| *n).collect();
                return Err(format!(
                    "unknown eventhubs bound `{name}` (expected one of: {})",
                    known.join(", ")
                ));
            }
        }
        let get = |name: &str| -> Result<i64, String> {
            let (_, min, max, default) = BOUND_SPECS
                .iter()
                .find(|(n, ..)| *n == name)
                .copied()
                .unwrap_or_default();
            let value = bounds.get(name).copied().unwrap_or(default);
            if value < min || value > max {
                return Err(format!(
                    "bound `{name}` = {value} is out of range ({min}..={max})"
                ));
            }
            Ok(value)
        };
        let config = Config {
            instances: get("instances")? as u8,
            partitions: get("partitions")? as u8,
            events: get("events")? as u8,
            crashes: get("crashes")? as u8,
            stops: get("stops")? as u8,
            outages: get("outages")? as u8,
            max_retries: get("max_retries")? as i8,
            batch_size: get("batch_size")? as u8,
            poison: get("poison")? as u8,
        };
        if config.poison > config.events {
            return Err(format!(
                "bound `poison` = {} exceeds events = {} (poison events are e0..e{})",
                config.poison,
                config.events,
                config.poison.saturating_sub(1)
            ));
        }
        if config.crashes + config.stops > config.instances {
            return Err(format!(
                "crashes + stops = {} exceeds instances = {} (each instance crashes or stops at most once)",
                config.crashes + config.stops,
                config.instances
            ));
        }
        Ok(config)
    }

    /// The bounds echoed in reports (every name, defaults filled in).
    pub fn to_bounds(&self) -> Bounds {
        [
            ("batch_size", i64::from(self.batch_size)),
            ("crashes", i64::from(self.crashes)),
            ("events", i64::from(self.events)),
            ("instances", i64::from(self.instances)),
            ("max_retries", i64::from(self.max_retries)),
            ("outages", i64::from(self.outages)),
            ("partitions", i64::from(self.partitions)),
            ("poison", i64::from(self.poison)),
            ("stops", i64::from(self.stops)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Events of partition `p` (event k goes to partition k mod partitions).
    pub fn events_in(&self, p: usize) -> u64 {
        let (n, parts) = (usize::from(self.events), usize::from(self.partitions));
        (n / parts + usize::from(p < n % parts)) as u64
    }

    /// Whether event `sequence` of partition `p` is a poison event (always fails).
    pub fn is_poison(&self, p: usize, sequence: u64) -> bool {
        sequence * u64::from(self.partitions) + (p as u64) < u64::from(self.poison)
    }

    /// Whether the retry policy is unbounded (`max_retries = -1`).
    pub fn infinite_retries(&self) -> bool {
        self.max_retries < 0
    }

    /// The most deliveries (pump generations that hand an event to the function)
    /// one event can get. Within one pump generation an event is delivered at most
    /// once, so this counts generations that can start at or below it:
    /// * the first;
    /// * 2 per later joiner (its steal starts a generation; the old owner's pump,
    ///   if still starting, opens its receiver late and displaces the new one, whose
    ///   owner restarts it);
    /// * 1 per crash and 1 per graceful stop (a takeover; the old pumps are gone or
    ///   exit without opening a receiver);
    /// * 4 per failed store call (a failed renew lets the records expire: a takeover
    ///   with a late displacement, then a steal back when the old owner recovers,
    ///   again with one; a failed checkpoint write costs only a restart).
    pub fn deliveries_bound(&self) -> u32 {
        1 + 2 * u32::from(self.instances - 1)
            + u32::from(self.crashes)
            + u32::from(self.stops)
            + 4 * u32::from(self.outages)
    }

    /// S5: the most executions (attempts) one event can get, `None` when unbounded.
    pub fn executions_bound(&self) -> Option<u32> {
        (!self.infinite_retries()).then(|| (1 + self.max_retries as u32) * self.deliveries_bound())
    }

    /// Ledger counters saturate here so the state space stays finite: one past the
    /// S5 bound (enough to see a violation), or 3 with unbounded retries.
    pub fn ledger_cap(&self) -> u8 {
        self.executions_bound()
            .map_or(3, |b| (b + 1).min(250) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip() {
        let config = Config::from_bounds(&Config::default_bounds()).unwrap();
        assert_eq!(config.to_bounds(), Config::default_bounds());
        assert_eq!(
            (
                config.instances,
                config.partitions,
                config.events,
                config.crashes
            ),
            (2, 2, 3, 1)
        );
    }

    #[test]
    fn bad_bounds_are_clear_errors() {
        let mut bounds = Bounds::new();
        bounds.insert("instancez".into(), 2);
        assert!(Config::from_bounds(&bounds)
            .unwrap_err()
            .contains("unknown eventhubs bound `instancez`"));
        let mut bounds = Bounds::new();
        bounds.insert("max_retries".into(), -2);
        assert!(Config::from_bounds(&bounds)
            .unwrap_err()
            .contains("out of range"));
        let mut bounds = Bounds::new();
        bounds.insert("crashes".into(), 2);
        bounds.insert("stops".into(), 1);
        assert!(Config::from_bounds(&bounds)
            .unwrap_err()
            .contains("exceeds instances"));
        assert!(Variant::parse("v7")
            .unwrap_err()
            .contains("expected one of"));
    }

    #[test]
    fn events_are_dealt_round_robin() {
        let config = Config::from_bounds(&Config::default_bounds()).unwrap();
        assert_eq!((config.events_in(0), config.events_in(1)), (2, 1));
    }

    #[test]
    fn duplicate_bound_follows_the_formula() {
        let config = Config::from_bounds(&Config::default_bounds()).unwrap();
        // 1 + 2 x (2 - 1) joiner + 1 crash = 4 deliveries, x (1 + 0 retries).
        assert_eq!(config.deliveries_bound(), 4);
        assert_eq!(config.executions_bound(), Some(4));
        let mut bounds = Config::default_bounds();
        bounds.insert("max_retries".into(), 2);
        bounds.insert("outages".into(), 1);
        bounds.insert("stops".into(), 1);
        assert_eq!(
            Config::from_bounds(&bounds).unwrap().executions_bound(),
            Some(3 * 9)
        );
        let mut bounds = Config::default_bounds();
        bounds.insert("max_retries".into(), -1);
        assert_eq!(
            Config::from_bounds(&bounds).unwrap().executions_bound(),
            None
        );
    }
}
