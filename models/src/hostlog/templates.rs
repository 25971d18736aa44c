//! The Azure Functions host log messages `hostlog` understands: each a
//! message template from the host source (`{name}` marks a hole), the file
//! it comes from, and what it means as a lifecycle event.
//!
//! Matching is literal text around the holes, after the timestamp and an
//! optional `[Level]` / category prefix. A hole matches anything up to the
//! next literal (the last hole matches the rest of the line).

/// What a recognised message says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    OpCreated,
    OpStarting,
    OpCompleted,
    Building,
    Initializing,
    StartingHostInstance,
    HostError,
    HostErrorInactive,
    OpCanceled,
    CancellationRequested,
    StateChanged,
    RestartRequested,
    CancelingForRestart,
    Restarting,
    Restarted,
    SkipRestart,
    RestartBeforeStart,
    UnhealthyRestart,
    Stopping,
    ShutdownCompleted,
    ShutdownTimedOut,
    RetryAfterDelay,
    StartingAfterDelay,
    ActiveHostChanging,
    WorkerStartFailed,
    WorkerReady,
    JobHostStarted,
    HostStarted,
    NoJobFunctions,
    InitCanceledByRuntime,
    NoScriptHost,
}

/// One understood template.
pub struct Template {
    pub meaning: Meaning,
    pub text: &'static str,
    pub source: &'static str,
}

const SVC_LOG: &str =
    "src/WebJobs.Script.WebHost/Diagnostics/Extensions/ScriptHostServiceLoggerExtension.cs";
const SVC: &str = "src/WebJobs.Script.WebHost/WebJobsScriptHostService.cs";
const OP: &str = "src/WebJobs.Script.WebHost/ScriptHostStartupOperation.cs";
const CHANNEL: &str = "src/WebJobs.Script.Grpc/Channel/GrpcWorkerChannel.cs";

/// Every understood template, most specific first (the first match wins).
pub const TEMPLATES: &[Template] = &[
    Template { meaning: Meaning::OpCreated, text: "Startup operation '{operationId}' with parent id '{parentOperationId}' created.", source: OP },
    Template { meaning: Meaning::OpStarting, text: "Startup operation '{operationId}' starting.", source: SVC_LOG },
    Template { meaning: Meaning::OpCompleted, text: "Startup operation '{operationId}' completed.", source: OP },
    Template { meaning: Meaning::StartingHostInstance, text: "Startup operation '{operationId}' is starting host instance '{hostInstanceId}'.", source: SVC_LOG },
    Template { meaning: Meaning::Building, text: "Building host: {details}", source: SVC_LOG },
    Template { meaning: Meaning::Initializing, text: "Initializing Host. OperationId: '{operationId}'.", source: SVC_LOG },
    Template { meaning: Meaning::Initializing, text: "Host initialization: ConsecutiveErrors={attemptCount}, StartupCount={startCount}, OperationId={operationId}", source: SVC_LOG },
    Template { meaning: Meaning::Initializing, text: "Host created with operation id '{operationId}' is offline.", source: SVC_LOG },
    Template { meaning: Meaning::HostErrorInactive, text: "A host error has occurred on an inactive host during startup operation '{operationId}'.", source: SVC_LOG },
    Template { meaning: Meaning::HostError, text: "A host error has occurred during startup operation '{operationId}'.", source: SVC_LOG },
    Template { meaning: Meaning::OpCanceled, text: "Host startup operation '{operationId}' was canceled.", source: SVC_LOG },
    Template { meaning: Meaning::CancellationRequested, text: "Cancellation requested for startup operation '{operationId}'. A new host will not be started.", source: SVC_LOG },
    Template { meaning: Meaning::StateChanged, text: "Host state changed from {previousState} to {newState}.", source: SVC_LOG },
    Template { meaning: Meaning::RestartRequested, text: "Restart requested. Reason '{restartReason}'", source: SVC_LOG },
    Template { meaning: Meaning::CancelingForRestart, text: "Canceling startup operation '{operationId}' to unblock restart.", source: SVC_LOG },
    Template { meaning: Meaning::Restarting, text: "Restarting host.", source: SVC_LOG },
    Template { meaning: Meaning::Restarted, text: "Host restarted.", source: SVC_LOG },
    Template { meaning: Meaning::SkipRestart, text: "Host restart was requested, but current host state is '{state}'. Skipping restart.", source: SVC_LOG },
    Template { meaning: Meaning::RestartBeforeStart, text: "RestartAsync was called before StartAsync. Delaying restart until StartAsync has been called.", source: SVC_LOG },
    Template { meaning: Meaning::UnhealthyRestart, text: "Host is unhealthy. Initiating a restart.", source: SVC_LOG },
    Template { meaning: Meaning::Stopping, text: "Stopping host...", source: SVC_LOG },
    Template { meaning: Meaning::ShutdownCompleted, text: "Host shutdown completed.", source: SVC_LOG },
    Template { meaning: Meaning::ShutdownTimedOut, text: "Host did not shutdown within its allotted time.", source: SVC_LOG },
    Template { meaning: Meaning::RetryAfterDelay, text: "Will start a new host after delay.", source: SVC },
    Template { meaning: Meaning::StartingAfterDelay, text: "Starting new host after delay.", source: SVC },
    Template { meaning: Meaning::ActiveHostChanging, text: "Active host changing from '{oldHostInstanceId}' to '{newHostInstanceId}'.", source: SVC_LOG },
    Template { meaning: Meaning::InitCanceledByRuntime, text: "Initialization cancellation requested by runtime.", source: SVC_LOG },
    Template { meaning: Meaning::WorkerStartFailed, text: "Starting worker process failed{rest}", source: CHANNEL },
    Template { meaning: Meaning::WorkerReady, text: "Worker process started and initialized.", source: CHANNEL },
    Template { meaning: Meaning::JobHostStarted, text: "Job host started", source: "WebJobs SDK: src/Microsoft.Azure.WebJobs.Host/Hosting/JobHostService.cs (azure-webjobs-sdk)" },
    Template { meaning: Meaning::HostStarted, text: "Host started ({elapsed})", source: "src/WebJobs.Script/Host/ScriptHost.cs" },
    Template { meaning: Meaning::NoJobFunctions, text: "No job functions found.{rest}", source: "WebJobs SDK: src/Microsoft.Azure.WebJobs.Host/Executors/JobHostConfigurationExtensions / FunctionIndexer (azure-webjobs-sdk)" },
    Template { meaning: Meaning::NoScriptHost, text: "{prefix}NoScriptHost{rest}", source: "App Service platform health log (\"Process reporting unhealthy: ... NoScriptHost\"), as quoted in #11824" },
];

/// Matches `message` against `template`; returns the holes' values in order.
pub fn match_template(template: &str, message: &str) -> Option<Vec<String>> {
    let mut holes = Vec::new();
    let mut rest = message;
    let mut tpl = template;
    loop {
        match tpl.find('{') {
            None => {
                return (rest == tpl).then_some(holes);
            }
            Some(open) => {
                let literal = &tpl[..open];
                rest = rest.strip_prefix(literal)?;
                let close = tpl[open..].find('}')? + open;
                tpl = &tpl[close + 1..];
                let next_literal_end = tpl.find('{').unwrap_or(tpl.len());
                let next_literal = &tpl[..next_literal_end];
                if next_literal.is_empty() {
                    holes.push(rest.to_string());
                    rest = "";
                } else if tpl.len() == next_literal.len() {
                    // The last literal must end the message.
                    let value = rest.strip_suffix(next_literal)?;
                    holes.push(value.to_string());
                    rest = next_literal;
                } else {
                    let at = rest.find(next_literal)?;
                    holes.push(rest[..at].to_string());
                    rest = &rest[at..];
                }
            }
        }
    }
}

/// The first template `message` matches, with its holes.
pub fn recognise(message: &str) -> Option<(&'static Template, Vec<String>)> {
    TEMPLATES
        .iter()
        .find_map(|t| match_template(t.text, message).map(|holes| (t, holes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_with_holes() {
        let (t, holes) = recognise("Startup operation 'a1' with parent id 'b2' created.").unwrap();
        assert_eq!(t.meaning, Meaning::OpCreated);
        assert_eq!(holes, ["a1", "b2"]);
        let (t, holes) = recognise("Host state changed from Default to Error.").unwrap();
        assert_eq!(t.meaning, Meaning::StateChanged);
        assert_eq!(holes, ["Default", "Error"]);
        let (t, holes) =
            recognise("Restart requested. Reason 'No initialized worker channels available.'")
                .unwrap();
        assert_eq!(t.meaning, Meaning::RestartRequested);
        assert_eq!(holes, ["No initialized worker channels available."]);
        let (t, _) = recognise(
            "A host error has occurred on an inactive host during startup operation 'x'.",
        )
        .unwrap();
        assert_eq!(t.meaning, Meaning::HostErrorInactive);
        let (t, _) =
            recognise("Process reporting unhealthy: Unhealthy. errorCode NoScriptHost").unwrap();
        assert_eq!(t.meaning, Meaning::NoScriptHost);
        assert!(recognise("Host lock lease acquired by instance ID '0001'.").is_none());
        assert!(recognise("Startup operation 'x' starting. extra").is_none());
    }
}
