//! How the host protocol model explains itself to lockstep's readability tools:
//! stable step names (semantic schedules, the minimizer), fault kinds and phases
//! (coverage). Who waits on whom in a stuck state is `HostSpec::wait_for` (spec_props).

use super::spec::HostSpec;
use super::spec_action::{Action, RestartKind, Step, WorkerOutcome};
use super::spec_state::HostSt;

impl HostSpec {
    /// The step's name without what it did: [`Action::kind`], plus the choices
    /// that tell apart the actions one actor can have enabled at once.
    pub fn step_name(&self, action: &Action) -> String {
        let bit = |b: bool| u8::from(b);
        match action.step {
            Step::Setup {
                bundle,
                writable,
                offline,
                stop,
                requesters,
            } => format!(
                "setup(bundle={},writable={},offline={},stop={},requesters={requesters})",
                bit(bundle),
                bit(writable),
                bit(offline),
                bit(stop)
            ),
            Step::Request { kind } => format!(
                "restart-request({})",
                match kind {
                    RestartKind::FileWatch => "file-watch",
                    RestartKind::Admin => "admin",
                    RestartKind::Specialization => "specialization",
                    RestartKind::Health => "health",
                }
            ),
            Step::Worker {
                outcome: WorkerOutcome::StartStreamTimeout,
            } => "worker-start-stream-timeout".to_string(),
            Step::Worker {
                outcome: WorkerOutcome::InitTimeout,
            } => "worker-init-timeout".to_string(),
            _ => action.kind().to_string(),
        }
    }

    /// The fault an action injects, named after the bound that limits it.
    pub fn fault_of(&self, action: &Action) -> Option<String> {
        let kind = match action.step {
            Step::HostStart {
                storage_error: true,
            } => "storage-outage",
            Step::Worker {
                outcome: WorkerOutcome::StartStreamTimeout | WorkerOutcome::InitTimeout,
            } => "worker-timeout",
            Step::Enter { config_error: true } => "host-exception (configuration)",
            Step::DispatcherInit { init_error: true } => "host-exception (initialization)",
            _ => return None,
        };
        Some(kind.to_string())
    }

    /// The host's `ScriptHostState`.
    pub fn phase_of(&self, state: &HostSt) -> String {
        format!("{:?}", state.state)
    }
}
