//! The wait-for graph of a deadlocked run: each blocked task, the resource it
//! waits on, and the task(s) holding that resource; plus cycle detection.

use super::ids::TaskId;
use super::state::{State, TaskStatus, Wait};
use crate::report::WaitEdge;

/// One blocked task's outgoing edges.
struct Blocked {
    task: TaskId,
    resource: String,
    holders: Vec<TaskId>,
}

/// What a deadlock looks like: the edges to report, whether they form a
/// cycle, and the non-daemon tasks that are stuck.
pub(crate) struct DeadlockInfo {
    pub wait_for: Vec<WaitEdge>,
    pub cycle: bool,
    pub blocked: Vec<String>,
}

fn describe(st: &State, task: TaskId) -> String {
    let slot = &st.tasks[task.index()];
    let base = match slot.waiting_on {
        Some(Wait::Obj(o)) => st.obj_name(o).to_string(),
        Some(Wait::Timer(d)) => format!("a timer at {} ms", d.as_millis()),
        Some(Wait::Quiescence) => "quiescence".to_string(),
        None => "a future lockstep does not track".to_string(),
    };
    match slot.thread_blocks.last() {
        Some(what) => format!("{base} [blocks its thread on {what}]"),
        None => base,
    }
}

pub(crate) fn analyse(st: &State) -> DeadlockInfo {
    let mut nodes = Vec::new();
    for (i, slot) in st.tasks.iter().enumerate() {
        if slot.status != TaskStatus::Blocked {
            continue;
        }
        let task = TaskId(i as u32);
        let mut holders = match slot.waiting_on {
            Some(Wait::Obj(o)) => st.objects[o.index()]
                .handle
                .upgrade()
                .map(|h| h.holders())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        holders.sort();
        holders.dedup();
        nodes.push(Blocked {
            task,
            resource: describe(st, task),
            holders,
        });
    }
    let name = |t: TaskId| st.tasks[t.index()].name.clone();
    let blocked = nodes
        .iter()
        .filter(|n| !st.tasks[n.task.index()].daemon)
        .map(|n| name(n.task))
        .collect();
    if let Some(cycle) = find_cycle(&nodes) {
        let wait_for = cycle
            .iter()
            .enumerate()
            .map(|(k, &t)| {
                let next = cycle[(k + 1) % cycle.len()];
                let node = nodes
                    .iter()
                    .find(|n| n.task == t)
                    .expect("cycle node is blocked");
                WaitEdge {
                    task: name(t),
                    resource: node.resource.clone(),
                    holder: Some(name(next)),
                }
            })
            .collect();
        return DeadlockInfo {
            wait_for,
            cycle: true,
            blocked,
        };
    }
    let mut wait_for = Vec::new();
    for n in &nodes {
        if n.holders.is_empty() {
            wait_for.push(WaitEdge {
                task: name(n.task),
                resource: n.resource.clone(),
                holder: None,
            });
        }
        for &h in &n.holders {
            wait_for.push(WaitEdge {
                task: name(n.task),
                resource: n.resource.clone(),
                holder: Some(name(h)),
            });
        }
    }
    DeadlockInfo {
        wait_for,
        cycle: false,
        blocked,
    }
}

/// The first cycle among blocked tasks (task -> holder of what it waits on),
/// searching from the lowest task id; a self-wait is a cycle of one.
fn find_cycle(nodes: &[Blocked]) -> Option<Vec<TaskId>> {
    let succ = |t: TaskId| -> &[TaskId] {
        nodes
            .iter()
            .find(|n| n.task == t)
            .map_or(&[], |n| n.holders.as_slice())
    };
    let is_blocked = |t: TaskId| nodes.iter().any(|n| n.task == t);
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut color: Vec<(TaskId, u8)> = nodes.iter().map(|n| (n.task, 0)).collect();
    let set = |color: &mut Vec<(TaskId, u8)>, t: TaskId, c: u8| {
        if let Some(e) = color.iter_mut().find(|e| e.0 == t) {
            e.1 = c;
        }
    };
    let get =
        |color: &Vec<(TaskId, u8)>, t: TaskId| color.iter().find(|e| e.0 == t).map_or(2, |e| e.1);
    for start in nodes.iter().map(|n| n.task) {
        if get(&color, start) != 0 {
            continue;
        }
        // Iterative DFS keeping the path and the next successor index per frame.
        let mut path: Vec<(TaskId, usize)> = vec![(start, 0)];
        set(&mut color, start, 1);
        while let Some(&mut (t, ref mut next)) = path.last_mut() {
            let succs = succ(t);
            if *next < succs.len() {
                let s = succs[*next];
                *next += 1;
                if !is_blocked(s) {
                    continue;
                }
                match get(&color, s) {
                    0 => {
                        set(&mut color, s, 1);
                        path.push((s, 0));
                    }
                    1 => {
                        let from = path.iter().position(|&(p, _)| p == s).expect("on path");
                        return Some(path[from..].iter().map(|&(p, _)| p).collect());
                    }
                    _ => {}
                }
            } else {
                set(&mut color, t, 2);
                path.pop();
            }
        }
    }
    None
}
