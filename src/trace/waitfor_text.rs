//! Deadlock explanations: a wait-for graph ([`WaitEdge`]s: task waits on
//! resource, held by holder) in words and as a Mermaid flowchart.
//!
//! In words, one clause per edge, in cycle order, the first naming what its task
//! holds: `start#2 holds host-start, waits on restart-done held by restart#1;
//! restart#1 waits on host-start held by start#2`. A task waiting on what it
//! holds itself says so (`held by start#2 itself`); a wait nobody can end says
//! `(held by nobody)`. A waiter may carry its context (`start#2 (RestartHost
//! inline)`): it is still task `start#2` ([`task_of`]).

use crate::report::WaitEdge;

/// The task a waiter names: `start#2 (RestartHost inline)` is task `start#2`
/// waiting in a particular context; it holds what `start#2` holds.
pub fn task_of(name: &str) -> &str {
    name.split(" (").next().unwrap_or(name)
}

/// The resources each task holds, as far as the edges tell (a holder of an edge's resource).
pub fn held_by<'a>(edges: &'a [WaitEdge], task: &str) -> Vec<&'a str> {
    let mut held: Vec<&str> = Vec::new();
    for e in edges {
        if e.holder.as_deref().map(task_of) == Some(task_of(task))
            && !held.contains(&e.resource.as_str())
        {
            held.push(&e.resource);
        }
    }
    held
}

/// Whether the edges close a cycle (every task's holder is itself a waiting task).
pub fn is_cycle(edges: &[WaitEdge]) -> bool {
    !edges.is_empty()
        && edges.iter().all(|e| {
            e.holder
                .as_deref()
                .is_some_and(|h| edges.iter().any(|o| task_of(&o.task) == task_of(h)))
        })
}

/// The wait-for graph in one sentence (empty for no edges).
pub fn explain(edges: &[WaitEdge]) -> String {
    let mut clauses = Vec::new();
    for (i, e) in edges.iter().enumerate() {
        let mut clause = e.task.clone();
        // The first clause, and any task not just named as a holder, says what it holds.
        let introduced =
            i > 0 && edges[i - 1].holder.as_deref().map(task_of) == Some(task_of(&e.task));
        let held = held_by(edges, &e.task);
        if !introduced && !held.is_empty() {
            clause.push_str(&format!(" holds {},", held.join(" and ")));
        }
        clause.push_str(&format!(" waits on {}", e.resource));
        match e.holder.as_deref() {
            Some(h) if task_of(h) == task_of(&e.task) => {
                clause.push_str(&format!(" held by {h} itself"))
            }
            Some(h) => clause.push_str(&format!(" held by {h}")),
            None => clause.push_str(" (held by nobody)"),
        }
        clauses.push(clause);
    }
    clauses.join("; ")
}

/// A multi-line explanation: the sentence, then whether it is a cycle.
pub fn explain_deadlock(edges: &[WaitEdge]) -> String {
    if edges.is_empty() {
        return "no wait-for information".to_string();
    }
    let verdict = if is_cycle(edges) {
        "a wait-for cycle: none of these tasks can move until another in the cycle does"
    } else {
        "no cycle: these waits are on things nobody left is going to provide"
    };
    format!("{}\n({verdict})", explain(edges))
}

/// The wait-for graph as a Mermaid flowchart: tasks as boxes, resources as
/// stadiums, `waits on` arrows task -> resource and `held by` arrows resource -> holder.
pub fn to_mermaid(edges: &[WaitEdge]) -> String {
    let (tasks, resources) = nodes(edges);
    let mut out = String::from("flowchart LR\n");
    for (i, (_, label)) in tasks.iter().enumerate() {
        out.push_str(&format!("    t{i}[\"{}\"]\n", quote(label)));
    }
    for (i, r) in resources.iter().enumerate() {
        out.push_str(&format!("    r{i}([\"{}\"])\n", quote(r)));
    }
    let t = |name: &str| {
        tasks
            .iter()
            .position(|(id, _)| *id == task_of(name))
            .unwrap_or(0)
    };
    let r = |name: &str| resources.iter().position(|x| *x == name).unwrap_or(0);
    let mut held: Vec<(usize, usize)> = Vec::new();
    for e in edges {
        out.push_str(&format!(
            "    t{} -- waits on --> r{}\n",
            t(&e.task),
            r(&e.resource)
        ));
        if let Some(h) = &e.holder {
            let pair = (r(&e.resource), t(h));
            if !held.contains(&pair) {
                held.push(pair);
                out.push_str(&format!("    r{} -. held by .-> t{}\n", pair.0, pair.1));
            }
        }
    }
    out
}

/// Tasks (waiters and holders, as (task, label): the label is the longest name
/// the task appears under, context included) and resource names, in order of
/// first appearance.
pub fn nodes(edges: &[WaitEdge]) -> (Vec<(&str, &str)>, Vec<&str>) {
    let mut tasks: Vec<(&str, &str)> = Vec::new();
    let mut resources: Vec<&str> = Vec::new();
    for e in edges {
        for name in std::iter::once(e.task.as_str()).chain(e.holder.as_deref()) {
            match tasks.iter_mut().find(|(id, _)| *id == task_of(name)) {
                Some((_, label)) if name.len() > label.len() => *label = name,
                Some(_) => {}
                None => tasks.push((task_of(name), name)),
            }
        }
        if !resources.contains(&e.resource.as_str()) {
            resources.push(&e.resource);
        }
    }
    (tasks, resources)
}

/// Mermaid label text: `"` becomes `#quot;`, `;` its entity, line breaks spaces.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            ';' => out.push_str("#59;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(task: &str, resource: &str, holder: Option<&str>) -> WaitEdge {
        WaitEdge {
            task: task.into(),
            resource: resource.into(),
            holder: holder.map(str::to_string),
        }
    }

    #[test]
    fn the_issue_example_reads_as_written() {
        let edges = [
            edge("start#2", "restart#1's completion", Some("restart#1")),
            edge("restart#1", "host-start-semaphore", Some("start#2")),
        ];
        assert_eq!(
            explain(&edges),
            "start#2 holds host-start-semaphore, waits on restart#1's completion held by \
             restart#1; restart#1 waits on host-start-semaphore held by start#2"
        );
        assert!(is_cycle(&edges));
        assert!(explain_deadlock(&edges).contains("a wait-for cycle"));
    }

    #[test]
    fn self_waits_and_orphan_waits() {
        let self_wait = [edge("start#2", "host-start", Some("start#2"))];
        assert_eq!(
            explain(&self_wait),
            "start#2 holds host-start, waits on host-start held by start#2 itself"
        );
        assert!(is_cycle(&self_wait));
        // A waiter named with its context is the same task as the holder.
        let inline = [edge("start#2 (RestartHost inline)", "sem", Some("start#2"))];
        assert_eq!(
            explain(&inline),
            "start#2 (RestartHost inline) holds sem, waits on sem held by start#2 itself"
        );
        assert!(is_cycle(&inline));
        assert_eq!(
            to_mermaid(&inline),
            "flowchart LR\n    t0[\"start#2 (RestartHost inline)\"]\n    r0([\"sem\"])\n    \
             t0 -- waits on --> r0\n    r0 -. held by .-> t0\n"
        );
        let orphan = [edge("restart#1", "_hostStarted", None)];
        assert_eq!(
            explain(&orphan),
            "restart#1 waits on _hostStarted (held by nobody)"
        );
        assert!(!is_cycle(&orphan));
        assert_eq!(explain(&[]), "");
    }

    #[test]
    fn mermaid_has_nodes_and_both_arrow_kinds() {
        let edges = [
            edge("a#1", "s2", Some("b#1")),
            edge("b#1", "s1", Some("a#1")),
        ];
        assert_eq!(
            to_mermaid(&edges),
            "flowchart LR\n    t0[\"a#1\"]\n    t1[\"b#1\"]\n    r0([\"s2\"])\n    r1([\"s1\"])\n    \
             t0 -- waits on --> r0\n    r0 -. held by .-> t1\n    t1 -- waits on --> r1\n    \
             r1 -. held by .-> t0\n"
        );
    }
}
