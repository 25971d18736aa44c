//! Benchmark rows of the protocol checker on `host-abstract` (fixed, F=3,
//! A=4): distinct states, wall time, throughput and visited-set bytes per
//! state, for each requested `R` and thread count. `lockstep bench` prints them.

use lockstep::explore::protocol::{check_with, ProtocolOptions};
use lockstep::explore::CheckOptions;
use lockstep::report::{Bounds, Verdict};
use serde::Serialize;

use crate::host_abstract::HostAbstract;

/// One measured check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchRow {
    pub r: u32,
    pub f: u32,
    pub a: u32,
    pub threads: usize,
    /// Distinct reachable states (a property of the protocol).
    pub states: u64,
    pub elapsed_ms: u64,
    pub states_per_sec: f64,
    /// The one-thread row's time over this row's, for the same `R` (`None`
    /// without a one-thread row, or when either took under a millisecond).
    pub speedup: Option<f64>,
    /// Visited set plus parent records, per stored state (fingerprint mode).
    pub bytes_per_state: f64,
    /// `holds` expected; anything else means the figure is not a full proof.
    pub verdict: Verdict,
    /// Whether the liveness passes ran (the BFS then also counts in-degrees,
    /// 4 more bytes a slot, for Kahn's pass).
    pub liveness: bool,
}

const F: u32 = 3;
const A: u32 = 4;

/// Checks host-abstract fixed (F=3, A=4) exhaustively by BFS, every
/// property (safety, liveness, sometimes), for every `R` in `r_values` and
/// every thread count in `threads`.
pub fn host_abstract_rows(r_values: &[u32], threads: &[usize]) -> Vec<BenchRow> {
    host_abstract_rows_with(r_values, threads, true)
}

/// [`host_abstract_rows`], with the liveness passes on or off (off: the BFS
/// alone, deadlock + `always` + `sometimes` + terminal `eventually-always`;
/// the liveness properties are then reported inconclusive).
pub fn host_abstract_rows_with(
    r_values: &[u32],
    threads: &[usize],
    liveness: bool,
) -> Vec<BenchRow> {
    let mut rows = Vec::new();
    for &r in r_values {
        let bounds = Bounds::from([
            ("R".to_string(), i64::from(r)),
            ("F".to_string(), i64::from(F)),
            ("A".to_string(), i64::from(A)),
        ]);
        let model = match HostAbstract::new("fixed", &bounds) {
            Ok(model) => model,
            Err(_) => continue, // R beyond the packed state's capacity
        };
        for &t in threads {
            let opts = CheckOptions {
                threads: t,
                budget_states: u64::MAX,
                ..Default::default()
            };
            let popts = ProtocolOptions {
                liveness,
                ..Default::default()
            };
            let (report, _) = check_with(&model, &opts, &popts);
            let secs = (report.elapsed_ms as f64 / 1000.0).max(1e-3);
            rows.push(BenchRow {
                r,
                f: F,
                a: A,
                threads: t,
                states: report.states,
                elapsed_ms: report.elapsed_ms,
                states_per_sec: report.states as f64 / secs,
                speedup: None,
                bytes_per_state: bytes_per_state(&report.notes),
                verdict: report.verdict,
                liveness,
            });
        }
    }
    set_speedups(&mut rows);
    rows
}

/// Fills `speedup` for every row that has a one-thread row of the same `R`.
fn set_speedups(rows: &mut [BenchRow]) {
    let one_thread: Vec<(u32, u64)> = rows
        .iter()
        .filter(|row| row.threads == 1)
        .map(|row| (row.r, row.elapsed_ms))
        .collect();
    for row in rows {
        row.speedup = one_thread
            .iter()
            .find(|&&(r, _)| r == row.r)
            .filter(|&&(_, ms)| ms > 0 && row.elapsed_ms > 0)
            .map(|&(_, ms)| ms as f64 / row.elapsed_ms as f64);
    }
}

/// The bytes/state figure the BFS states in its notes.
fn bytes_per_state(notes: &[String]) -> f64 {
    notes
        .iter()
        .find_map(|n| {
            let (_, rest) = n.split_once("parent records ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(r: u32, threads: usize, elapsed_ms: u64) -> BenchRow {
        BenchRow {
            r,
            f: F,
            a: A,
            threads,
            states: 1,
            elapsed_ms,
            states_per_sec: 0.0,
            speedup: None,
            bytes_per_state: 0.0,
            verdict: Verdict::Holds,
            liveness: true,
        }
    }

    /// Speed-ups are against the one-thread row of the same R, and absent
    /// without one or for sub-millisecond times.
    #[test]
    fn speedups_compare_with_the_one_thread_row_of_the_same_r() {
        let mut rows = vec![
            row(6, 1, 800),
            row(6, 2, 500),
            row(7, 1, 3300),
            row(7, 2, 1800),
            row(8, 2, 9000),
            row(1, 1, 0),
            row(1, 2, 4),
        ];
        set_speedups(&mut rows);
        let speedups: Vec<Option<f64>> = rows.iter().map(|r| r.speedup).collect();
        assert_eq!(
            speedups,
            vec![
                Some(1.0),
                Some(1.6),
                Some(1.0),
                Some(3300.0 / 1800.0),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn small_rows_are_consistent_across_threads() {
        let rows = host_abstract_rows(&[1, 2], &[1, 2]);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].states, rows[1].states);
        assert_eq!(rows[2].states, rows[3].states);
        assert!(rows
            .iter()
            .all(|r| r.verdict == Verdict::Holds && r.bytes_per_state > 0.0));
    }

    /// Prints the benchmark table: `cargo test --release -p lockstep-models
    /// bench_table -- --ignored --nocapture` (set BENCH_R=1..8, BENCH_T=1,2,
    /// BENCH_SAFETY_ONLY=1 for the BFS alone).
    #[test]
    #[ignore]
    fn bench_table() {
        let parse = |var: &str, default: &str| -> Vec<u32> {
            let spec = std::env::var(var).unwrap_or_else(|_| default.to_string());
            match spec.split_once("..") {
                Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect(),
                None => spec.split(',').map(|s| s.parse().unwrap()).collect(),
            }
        };
        let rs = parse("BENCH_R", "1..6");
        let ts: Vec<usize> = parse("BENCH_T", "1,2")
            .into_iter()
            .map(|t| t as usize)
            .collect();
        let liveness = std::env::var("BENCH_SAFETY_ONLY").is_err();
        for row in host_abstract_rows_with(&rs, &ts, liveness) {
            println!("{}", serde_json::to_string(&row).unwrap());
        }
    }
}
