//! Tests of the blob-backed checkpoint store: names, CAS claims, last-writer-wins
//! checkpoints, consumer-group isolation, and faults from the fault plan.

use std::time::Duration;

use super::*;
use crate::world::fault_spec::FaultSpec;
use crate::world::prng::Prng;

const NOW: Duration = Duration::from_secs(100);
const EXPIRY: Duration = Duration::from_secs(120);
const GROUP: &str = "$Default";

fn store(partitions: u32) -> BlobCheckpointStore {
    BlobCheckpointStore::new("NS.servicebus.windows.net", "Orders", partitions)
}

fn claim(owner: ClientId, partition: PartitionId, expected: Option<u64>) -> ClaimRequest {
    ClaimRequest {
        partition,
        owner: Some(owner),
        expected,
    }
}

fn wins(reply: StorageReply<Vec<ClaimWin>>) -> Vec<ClaimWin> {
    reply.result.expect("no storage error")
}

fn at(seq: u64) -> Checkpoint {
    Checkpoint {
        partition: 0,
        sequence_number: seq,
        offset: seq * 10,
        client: 0,
    }
}

#[test]
fn blob_names_follow_the_sdk_layout() {
    let s = store(2);
    assert_eq!(
        s.ownership_blob(GROUP, 1),
        "ns.servicebus.windows.net/orders/$default/ownership/1"
    );
    assert_eq!(
        s.checkpoint_blob("Audit", 0),
        "ns.servicebus.windows.net/orders/audit/checkpoint/0"
    );
    assert_eq!(s.container, DEFAULT_CONTAINER);
}

#[test]
fn at_most_one_claimer_wins_per_version_and_losers_are_silent() {
    let mut s = store(1);
    let first = wins(s.claim_ownership(NOW, 1, GROUP, &[claim(1, 0, None)]));
    let v1 = first[0].record.version;
    assert_eq!(first[0].previous, None);
    // Create-if-absent loses against the existing blob.
    assert!(wins(s.claim_ownership(NOW, 2, GROUP, &[claim(2, 0, None)])).is_empty());
    // Both saw v1: the first If-Match wins, the second loses its condition.
    let a = wins(s.claim_ownership(NOW, 2, GROUP, &[claim(2, 0, Some(v1))]));
    let b = wins(s.claim_ownership(NOW, 3, GROUP, &[claim(3, 0, Some(v1))]));
    assert_eq!((a.len(), b.len()), (1, 0));
    assert_eq!(
        a[0].previous.map(|p| (p.owner, p.version)),
        Some((Some(1), v1))
    );
    let listed = wins_list(&mut s);
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].owner, listed[0].version, listed[0].last_modified),
        (Some(2), a[0].record.version, NOW)
    );
    assert!(listed[0].is_active(NOW, EXPIRY));
    assert!(!listed[0].is_active(NOW + EXPIRY, EXPIRY));
}

fn wins_list(s: &mut BlobCheckpointStore) -> Vec<OwnershipRecord> {
    s.list_ownership(NOW, 9, GROUP).result.expect("listed")
}

#[test]
fn relinquish_clears_the_owner_and_if_match_on_a_missing_blob_creates() {
    let mut s = store(2);
    let won = wins(s.claim_ownership(NOW, 1, GROUP, &[claim(1, 0, Some(77))]));
    assert_eq!(
        won.len(),
        1,
        "If-Match on a missing blob falls back to create"
    );
    let relinquish = ClaimRequest {
        partition: 0,
        owner: None,
        expected: Some(won[0].record.version),
    };
    assert_eq!(
        wins(s.claim_ownership(NOW, 1, GROUP, &[relinquish])).len(),
        1
    );
    let record = s.ownership(GROUP, 0).expect("still there");
    assert_eq!(record.owner, None);
    assert!(!record.is_active(NOW, EXPIRY));
}

#[test]
fn checkpoints_are_last_writer_wins_and_unreadable_ones_are_absent() {
    let mut s = store(1);
    assert_eq!(s.get_checkpoint(NOW, 1, GROUP, 0).result, Ok(None));
    s.update_checkpoint(NOW, 2, GROUP, at(5)).result.unwrap();
    s.update_checkpoint(NOW, 1, GROUP, at(3)).result.unwrap(); // a stale owner regresses it
    let read = s.get_checkpoint(NOW, 9, GROUP, 0).result.unwrap().unwrap();
    assert_eq!((read.sequence_number, read.offset, read.client), (3, 30, 1));
    // Invalid metadata reads as "no checkpoint" (spec B.5).
    let name = s.checkpoint_blob(GROUP, 0);
    let mut faults = FaultPlan::none();
    let bad = BlobData::metadata([("sequencenumber", "x")]);
    let container = s.container.clone();
    s.storage
        .client(&mut faults, NOW, "tool")
        .put(&container, &name, bad)
        .result
        .unwrap();
    assert_eq!(s.get_checkpoint(NOW, 1, GROUP, 0).result, Ok(None));
    assert_eq!(s.checkpoint(GROUP, 0), None);
}

#[test]
fn consumer_groups_have_independent_ownership_and_checkpoints() {
    let mut s = store(1);
    wins(s.claim_ownership(NOW, 1, "old-app", &[claim(1, 0, None)]));
    assert_eq!(
        wins(s.claim_ownership(NOW, 2, "new-app", &[claim(2, 0, None)])).len(),
        1,
        "same partition, other group: no conflict"
    );
    s.update_checkpoint(NOW, 1, "old-app", at(4))
        .result
        .unwrap();
    assert_eq!(s.checkpoint("new-app", 0), None);
    assert_eq!(
        s.checkpoint("old-app", 0).map(|c| c.sequence_number),
        Some(4)
    );
    let old = s.list_ownership(NOW, 1, "old-app").result.unwrap();
    assert_eq!(old.iter().map(|r| r.owner).collect::<Vec<_>>(), [Some(1)]);
}

fn plan(specs: &[FaultSpec]) -> FaultPlan {
    FaultPlan::from_specs(specs, Prng::from_u64(3)).expect("valid")
}

#[test]
fn faults_come_from_the_plan_per_instance_with_latency() {
    let outage = FaultSpec {
        kind: "storage-outage".into(),
        instance: Some("P1".into()),
        from_ms: Some(0),
        until_ms: Some(200_000),
        ..FaultSpec::default()
    };
    let latency = FaultSpec {
        kind: "latency".into(),
        latency_ms: Some(40),
        from_ms: Some(0),
        ..FaultSpec::default()
    };
    let mut s = store(2).with_faults(plan(&[outage, latency]));
    let failed = s.claim_ownership(NOW, 1, GROUP, &[claim(1, 0, None)]);
    assert_eq!(failed.result, Err(StorageError::Unavailable));
    assert_eq!(failed.latency, Duration::from_millis(40));
    assert_eq!(s.ownership(GROUP, 0), None, "a failed call writes nothing");
    let two = s.claim_ownership(NOW, 2, GROUP, &[claim(2, 0, None), claim(2, 1, None)]);
    assert_eq!(two.result.map(|w| w.len()), Ok(2));
    assert_eq!(
        two.latency,
        Duration::from_millis(80),
        "one call per request"
    );
    assert!(s.get_checkpoint(NOW, 1, GROUP, 0).result.is_err());
    assert!(s.update_checkpoint(NOW, 1, GROUP, at(0)).result.is_err());
    // After the window the instance is healthy again.
    let later = Duration::from_secs(200);
    assert!(s.list_ownership(later, 1, GROUP).result.is_ok());
}

#[test]
fn an_error_aborts_the_claims_not_yet_made() {
    let throttle_second = FaultSpec {
        kind: "throttle".into(),
        at: Some("P1/create_if_absent".into()),
        occurrence: Some(2),
        ..FaultSpec::default()
    };
    let mut s = store(3).with_faults(plan(&[throttle_second]));
    let reply = s.claim_ownership(
        NOW,
        1,
        GROUP,
        &[claim(1, 0, None), claim(1, 1, None), claim(1, 2, None)],
    );
    assert_eq!(reply.result, Err(StorageError::Throttled));
    let owned: Vec<Option<ClientId>> = (0..3)
        .map(|p| s.ownership(GROUP, p).and_then(|r| r.owner))
        .collect();
    assert_eq!(owned, [Some(1), None, None], "the first claim stays made");
    assert_eq!(s.faults.activations().len(), 1);
}

#[test]
fn ignoring_conditions_lets_a_claim_win_over_a_version_it_never_saw() {
    let mut s = store(1);
    let v1 = wins(s.claim_ownership(NOW, 1, GROUP, &[claim(1, 0, None)]))[0]
        .record
        .version;
    wins(s.claim_ownership(NOW, 2, GROUP, &[claim(2, 0, Some(v1))]));
    s.mode = ConditionMode::IgnoreConditions;
    let stale = wins(s.claim_ownership(NOW, 3, GROUP, &[claim(3, 0, Some(v1))]));
    assert_ne!(stale[0].previous.map(|p| p.version), Some(v1));
}

#[test]
fn bad_partitions_are_errors_not_panics() {
    let mut s = store(1);
    assert!(s
        .claim_ownership(NOW, 1, GROUP, &[claim(1, 5, None)])
        .result
        .is_err());
    assert!(s.get_checkpoint(NOW, 1, GROUP, 5).result.is_err());
    let mut far = at(1);
    far.partition = 5;
    assert!(s.update_checkpoint(NOW, 1, GROUP, far).result.is_err());
    assert_eq!(s.ownership(GROUP, 5), None);
}
