//! Node numbering and parent records of the BFS: one `u32` parent and one
//! `u8` action index per stored state, kept only by the re-run that recovers
//! a counterexample's path (wider action indices spill to a map).

use std::collections::BTreeMap;

use super::Counterexample;

/// Parent of an initial state.
pub(crate) const ROOT: u32 = u32::MAX;

/// An append-only vector in fixed-size chunks: no doubling, so it never
/// holds more than one chunk of slack and never copies on growth.
struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy> Chunked<T> {
    const CHUNK: usize = 1 << 16;
    pub fn push(&mut self, value: T) {
        if self.len & (Self::CHUNK - 1) == 0 {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        self.chunks[self.len / Self::CHUNK].push(value);
        self.len += 1;
    }
    fn get(&self, index: usize) -> T {
        self.chunks[index / Self::CHUNK][index % Self::CHUNK]
    }
    pub fn bytes(&self) -> u64 {
        (self.chunks.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<T>()) as u64
    }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

/// Node numbering, and (when `record`) parent records, one per stored
/// state, in node-id order (level by level).
#[derive(Default)]
pub(crate) struct Nodes {
    pub record: bool,
    count: u64,
    parents: Chunked<u32>,
    actions: Chunked<u8>,
    /// Action (or initial-state) indices >= 255, by node.
    wide: BTreeMap<u32, u32>,
}

impl Nodes {
    pub fn recording() -> Self {
        Nodes {
            record: true,
            ..Nodes::default()
        }
    }
    pub fn len(&self) -> u64 {
        self.count
    }
    /// Numbers `n` states without recording their parents.
    pub fn skip(&mut self, n: usize) {
        debug_assert!(!self.record);
        self.count += n as u64;
    }
    pub fn push(&mut self, parent: u32, action: u32) {
        self.count += 1;
        if !self.record {
            return;
        }
        let node = self.parents.len as u32;
        self.parents.push(parent);
        if action < 255 {
            self.actions.push(action as u8);
        } else {
            self.actions.push(255);
            self.wide.insert(node, action);
        }
    }
    fn action(&self, node: u32) -> u32 {
        match self.actions.get(node as usize) {
            255 => self.wide[&node],
            a => u32::from(a),
        }
    }
    /// The path from an initial state to `node`.
    pub fn path(&self, mut node: u32) -> Counterexample {
        let mut actions = Vec::new();
        loop {
            let parent = self.parents.get(node as usize);
            let action = self.action(node);
            if parent == ROOT {
                actions.reverse();
                return Counterexample {
                    init: action as usize,
                    actions,
                    loop_to: None,
                };
            }
            actions.push(action);
            node = parent;
        }
    }
    pub fn bytes(&self) -> u64 {
        self.parents.bytes() + self.actions.bytes() + (self.wide.len() * 16) as u64
    }
}
