//! Bounds, variants and planted bugs of the `migration` model (two function apps
//! reading one hub while one replaces the other, spec B.7).
//!
//! Bound names are a contract (`--bound name=value`): `partitions`, `events`,
//! `instances_per_app`, `crashes`, `batch_size`.

use lockstep::report::Bounds;

/// Which consumer group the new app reads. Names are a contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The advice: the new app has its own consumer group (own ownership records,
    /// own checkpoints), so it reads every event independently of the old app.
    SeparateGroups,
    /// The mistake: both apps on the same group. They share the ownership records
    /// and the checkpoints, compete for partitions, and displace each other's
    /// receivers (owner level 0 everywhere, spec B.2 step 4).
    SharedGroup,
}

impl Variant {
    pub const NAMES: [&'static str; 2] = ["separate-groups", "shared-group"];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "separate-groups" => Ok(Variant::SeparateGroups),
            "shared-group" => Ok(Variant::SharedGroup),
            other => Err(format!(
                "unknown migration variant `{other}` (expected one of: {})",
                Self::NAMES.join(", ")
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::SeparateGroups => "separate-groups",
            Variant::SharedGroup => "shared-group",
        }
    }

    /// Whether the two apps read through separate consumer groups.
    pub fn separate(self) -> bool {
        self == Variant::SeparateGroups
    }
}

/// Bugs planted on purpose so tests can show the checker finds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PlantedBug {
    #[default]
    None,
    /// The new app (in its own group) starts a partition without a checkpoint at
    /// `Latest` instead of the default `Earliest`: the events already in the hub
    /// when its receiver opens are never delivered to it.
    NewAppStartsAtLatest,
}

/// `(name, min, max, default)` of every bound, in name order.
const BOUND_SPECS: [(&str, i64, i64, i64); 5] = [
    ("batch_size", 1, 4, 1),
    ("crashes", 0, 2, 0),
    ("events", 0, 6, 2),
    ("instances_per_app", 1, 2, 1),
    ("partitions", 1, 3, 2),
];

/// The most of each, so per-partition slots and the ledger are fixed arrays.
pub const MAX_PARTITIONS: usize = 3;
pub const MAX_EVENTS: usize = 6;
pub const MAX_INSTANCES: usize = 4;

/// The validated bounds of one model instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub partitions: u8,
    /// Events in the hub, dealt round-robin over the partitions before the run
    /// (the backlog the old app has been working through).
    pub events: u8,
    /// Processor instances of each app (old app: instances `0..n`, new: `n..2n`).
    pub instances_per_app: u8,
    /// Instance crashes (final: nothing written, ownership left to expire).
    pub crashes: u8,
    /// MaxEventBatchSize: a receive returns 1..=batch_size of the available events.
    pub batch_size: u8,
}

impl Config {
    /// 2 partitions, 2 events, 1 instance per app, no crash, batches of 1.
    pub fn default_bounds() -> Bounds {
        BOUND_SPECS
            .iter()
            .map(|(name, _, _, default)| (name.to_string(), *default))
            .collect()
    }

    /// Validates `bounds` (missing names take their defaults; unknown names and
    /// out-of-range values are errors naming the bound).
    pub fn from_bounds(bounds: &Bounds) -> Result<Config, String> {
        let known: Vec<&str> = BOUND_SPECS.iter().map(|(n, ..)| *n).collect();
        if let Some(name) = bounds.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!(
                "unknown migration bound `{name}` (expected one of: {})",
                known.join(", ")
            ));
        }
        let get = |name: &str| -> Result<u8, String> {
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
            Ok(value as u8)
        };
        Ok(Config {
            partitions: get("partitions")?,
            events: get("events")?,
            instances_per_app: get("instances_per_app")?,
            crashes: get("crashes")?,
            batch_size: get("batch_size")?,
        })
    }

    /// The bounds echoed in reports (every name, defaults filled in).
    pub fn to_bounds(&self) -> Bounds {
        [
            ("batch_size", self.batch_size),
            ("crashes", self.crashes),
            ("events", self.events),
            ("instances_per_app", self.instances_per_app),
            ("partitions", self.partitions),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), i64::from(v)))
        .collect()
    }

    /// Instances of both apps together.
    pub fn instances(&self) -> usize {
        2 * usize::from(self.instances_per_app)
    }

    /// `old0`, `new1`, ...: instance `i`'s app and its number within the app.
    pub fn instance_name(&self, i: usize) -> String {
        let n = usize::from(self.instances_per_app);
        if i < n {
            format!("old{i}")
        } else {
            format!("new{}", i - n)
        }
    }

    /// Events of partition `p` (event k goes to partition k mod partitions).
    pub fn events_in(&self, p: usize) -> u64 {
        let (n, parts) = (usize::from(self.events), usize::from(self.partitions));
        (n / parts + usize::from(p < n % parts)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip() {
        let config = Config::from_bounds(&Config::default_bounds()).unwrap();
        assert_eq!(config.to_bounds(), Config::default_bounds());
        assert_eq!(config.instances(), 2);
        assert_eq!((config.events_in(0), config.events_in(1)), (1, 1));
    }

    #[test]
    fn bad_bounds_and_variants_are_clear_errors() {
        let mut bounds = Bounds::new();
        bounds.insert("instances".into(), 2);
        assert!(Config::from_bounds(&bounds)
            .unwrap_err()
            .contains("unknown migration bound `instances`"));
        let mut bounds = Bounds::new();
        bounds.insert("partitions".into(), 0);
        assert!(Config::from_bounds(&bounds)
            .unwrap_err()
            .contains("`partitions` = 0 is out of range"));
        assert!(Variant::parse("same-group")
            .unwrap_err()
            .contains("expected one of: separate-groups, shared-group"));
        for name in Variant::NAMES {
            assert_eq!(Variant::parse(name).unwrap().name(), name);
        }
    }
}
