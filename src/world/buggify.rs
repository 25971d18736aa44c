//! FoundationDB-style `buggify`: rarely-taken bad paths, switched on per call site per run.
//!
//! Each call site is enabled or not once per run (default p = 1/4), from a
//! stream derived from the run seed and the site name, so whether a site is
//! enabled does not depend on which other sites ran first. An enabled site
//! then fires on each call with its own probability (default 1/20). Every
//! activation is recorded so a trace can say which bad paths were taken.

use std::collections::BTreeMap;
use std::time::Duration;

use super::history::History;
use super::prng::{Prng, SeedTree};

/// A probability as a fraction, so state stays free of floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Odds {
    pub num: u64,
    pub den: u64,
}

impl Odds {
    pub const fn new(num: u64, den: u64) -> Self {
        Odds { num, den }
    }
}

/// One buggify site that fired.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BuggifyActivation {
    pub time: Duration,
    pub site: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Site {
    enabled: bool,
    prng: Prng,
}

/// Per-run buggify decisions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Buggify {
    seeds: SeedTree,
    /// Off: no site ever fires (and no PRNG is drawn).
    active: bool,
    enable: Odds,
    fire: Odds,
    sites: BTreeMap<String, Site>,
    activations: History<BuggifyActivation>,
}

impl Buggify {
    /// Buggify for a run with root seed tree `seeds`: sites enabled with
    /// p = 1/4, enabled sites firing with p = 1/20.
    pub fn new(seeds: SeedTree) -> Self {
        Buggify {
            seeds: seeds.child("buggify"),
            active: true,
            enable: Odds::new(1, 4),
            fire: Odds::new(1, 20),
            sites: BTreeMap::new(),
            activations: History::new(),
        }
    }

    /// Buggify that never fires (the default for proofs: bad paths belong in
    /// the model's explicit choices there, not in a random draw).
    pub fn disabled() -> Self {
        Buggify {
            active: false,
            ..Buggify::new(SeedTree::new(0))
        }
    }

    /// Changes the per-site enable and per-call fire probabilities.
    pub fn with_odds(mut self, enable: Odds, fire: Odds) -> Self {
        self.enable = enable;
        self.fire = fire;
        self
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Whether the bad path at `site` is taken on this call.
    pub fn fires(&mut self, now: Duration, site: &str) -> bool {
        if !self.active {
            return false;
        }
        let (seeds, enable, fire) = (self.seeds, self.enable, self.fire);
        let entry = self.sites.entry(site.to_string()).or_insert_with(|| {
            let mut prng = seeds.stream(site);
            let enabled = prng.chance(enable.num, enable.den);
            Site { enabled, prng }
        });
        let fired = entry.enabled && entry.prng.chance(fire.num, fire.den);
        if fired {
            self.activations.push(BuggifyActivation {
                time: now,
                site: site.to_string(),
            });
        }
        fired
    }

    /// Whether `site` was enabled for this run (`None` if it has not been reached yet).
    pub fn site_enabled(&self, site: &str) -> Option<bool> {
        self.sites.get(site).map(|s| s.enabled)
    }

    /// Every activation so far, in order.
    pub fn activations(&self) -> &[BuggifyActivation] {
        self.activations.as_slice()
    }
}

/// `buggify!(b, now)` names the site after the source location;
/// `buggify!(b, now, "site")` names it explicitly. Both return `bool`.
#[macro_export]
macro_rules! buggify {
    ($b:expr, $now:expr) => {
        $b.fires($now, concat!(file!(), ":", line!()))
    };
    ($b:expr, $now:expr, $site:expr) => {
        $b.fires($now, $site)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(b: &mut Buggify, site: &str, n: u64) -> Vec<bool> {
        (0..n)
            .map(|i| b.fires(Duration::from_millis(i), site))
            .collect()
    }

    #[test]
    fn site_decisions_are_per_site_and_independent_of_order() {
        let mut a = Buggify::new(SeedTree::new(9)).with_odds(Odds::new(1, 2), Odds::new(1, 2));
        let mut b = a.clone();
        let x1 = pattern(&mut a, "x", 20);
        let _ = pattern(&mut b, "y", 20);
        let x2 = pattern(&mut b, "x", 20);
        assert_eq!(x1, x2, "site x must not depend on site y having run first");
    }

    #[test]
    fn enabled_sites_fire_and_are_recorded() {
        let mut b = Buggify::new(SeedTree::new(1)).with_odds(Odds::new(1, 1), Odds::new(1, 3));
        let fired = pattern(&mut b, "storage/slow", 300);
        assert_eq!(b.site_enabled("storage/slow"), Some(true));
        let hits = fired.iter().filter(|&&f| f).count();
        assert!((60..140).contains(&hits), "{hits} of 300 at p=1/3");
        assert_eq!(b.activations().len(), hits);
        let _: bool = crate::buggify!(b, Duration::ZERO);
        let _: bool = crate::buggify!(b, Duration::ZERO, "other");
        assert!(b.site_enabled("other").is_some());
        assert!(b.site_enabled(concat!(file!(), ":", line!())).is_none()); // a different line
    }

    #[test]
    fn about_a_quarter_of_sites_are_enabled_by_default() {
        let mut b = Buggify::new(SeedTree::new(3));
        let enabled = (0..400)
            .filter(|i| {
                let site = format!("site{i}");
                b.fires(Duration::ZERO, &site);
                b.site_enabled(&site) == Some(true)
            })
            .count();
        assert!((70..130).contains(&enabled), "{enabled} of 400 at p=1/4");
    }

    #[test]
    fn disabled_never_fires() {
        let mut b = Buggify::disabled();
        assert!(!pattern(&mut b, "x", 100).into_iter().any(|f| f));
        assert!(b.activations().is_empty());
    }
}
