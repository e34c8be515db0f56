//! Slot-indexed bindings: the lowering resolves every name a program reads to
//! where its value lives at run time, so the interpreter never looks a variable
//! up by its name.
//!
//! At run time every scope that binds names is a frame, a `Vec` of values
//! chained to the frame around it: a flow's parameters; a block's `let`s (slot
//! = the statement's index); a `loop` body's state variable and `iteration`; an
//! `until`'s state variable (the previous state's frame has the same shape:
//! `stable()` reads its argument in the same chain of frames with the previous
//! state's frame in place of the `until`'s); a `for`'s variable; a `catch e`. Constants, tool parameter
//! defaults and tests start from an empty frame. The lowering pushes the same
//! frames in the same places (`Frames`), so a name resolves to `Local { up,
//! index }`: `up` frames out, slot `index`.

use std::collections::HashMap;

use smol_str::SmolStr;

/// Where the value a name reads lives at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Slot `index` of the frame `up` frames out from the current one.
    Local { up: u32, index: u32 },
    /// Constant number `index` (in source order) of module `module`.
    Const { module: u32, index: u32 },
    /// The run's `context`.
    Context,
}

/// The frames around the expression being lowered, innermost last; each holds
/// the names of its slots (`None`: a slot that binds nothing, such as a
/// statement without `let`).
#[derive(Default)]
pub struct Frames {
    stack: Vec<Frame>,
}

/// A frame's names, and for a large frame (a block of many `let`s) an index
/// by name, so resolving stays linear in the program's size.
struct Frame {
    names: Vec<Option<SmolStr>>,
    index: Option<HashMap<SmolStr, u32, rustc_hash::FxBuildHasher>>,
    /// The slot of each name's position, when they differ (a block's frame
    /// keeps only the `let`s that are read).
    slot_of: Option<Vec<u32>>,
}

/// Frames up to this many slots are searched; larger ones get an index.
const SCAN: usize = 8;

impl Frame {
    fn slot(&self, name: &str) -> Option<u32> {
        let at = match &self.index {
            Some(ix) => ix.get(name).copied(),
            None => self
                .names
                .iter()
                .rposition(|n| n.as_deref() == Some(name))
                .map(|i| i as u32),
        }?;
        Some(self.at(at as usize))
    }

    /// The slot of position `i`.
    fn at(&self, i: usize) -> u32 {
        match &self.slot_of {
            Some(s) => s[i],
            None => i as u32,
        }
    }
}

impl Frames {
    pub fn push(&mut self, names: Vec<Option<SmolStr>>) {
        self.push_frame(names, None);
    }

    /// A frame whose position `i` holds its value in slot `slot_of[i]`.
    pub fn push_mapped(&mut self, names: Vec<Option<SmolStr>>, slot_of: Vec<u32>) {
        debug_assert_eq!(names.len(), slot_of.len());
        self.push_frame(names, Some(slot_of));
    }

    fn push_frame(&mut self, names: Vec<Option<SmolStr>>, slot_of: Option<Vec<u32>>) {
        // Later slots of a name win, as in the scan.
        let index = (names.len() > SCAN).then(|| {
            names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| Some((n.clone()?, i as u32)))
                .collect()
        });
        self.stack.push(Frame {
            names,
            index,
            slot_of,
        });
    }

    pub fn pop(&mut self) {
        self.stack.pop();
    }

    /// Does the innermost frame have a name `name` (a `let` of the block
    /// being lowered, read or not)?
    pub fn binds_here(&self, name: &str) -> bool {
        self.stack.last().is_some_and(|f| f.slot(name).is_some())
    }

    /// The innermost frame binding `name`, and its slot there. Within a frame the
    /// last slot of a name wins (as a later value of the same name did).
    pub fn local(&self, name: &str) -> Option<Slot> {
        for (up, frame) in self.stack.iter().rev().enumerate() {
            if let Some(index) = frame.slot(name) {
                return Some(Slot::Local {
                    up: up as u32,
                    index,
                });
            }
        }
        None
    }

    /// Every name bound in the frames, innermost first, each with its slot
    /// (a shadowed name once, where it resolves).
    pub fn visible(&self) -> Vec<(SmolStr, Slot)> {
        let mut out: Vec<(SmolStr, Slot)> = Vec::new();
        for (up, frame) in self.stack.iter().rev().enumerate() {
            for (index, n) in frame.names.iter().enumerate().rev() {
                if let Some(n) = n
                    && !out.iter().any(|(m, _)| m == n)
                {
                    let slot = Slot::Local {
                        up: up as u32,
                        index: frame.at(index),
                    };
                    out.push((n.clone(), slot));
                }
            }
        }
        out
    }

    /// What a name reads in module `module` (whose constants, by name, are
    /// `consts`): a variable, else a constant of the module, else `context`.
    pub fn resolve(
        &self,
        name: &str,
        module: usize,
        consts: &rustc_hash::FxHashMap<&str, usize>,
    ) -> Option<Slot> {
        if let Some(s) = self.local(name) {
            return Some(s);
        }
        if let Some(&index) = consts.get(name) {
            return Some(Slot::Const {
                module: module as u32,
                index: index as u32,
            });
        }
        (name == "context").then_some(Slot::Context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_resolves_to_its_innermost_frame_then_constants_then_context() {
        let mut f = Frames::default();
        let consts: rustc_hash::FxHashMap<&str, usize> =
            [("LIMIT", 0), ("x", 1)].into_iter().collect();
        f.push(vec![Some("n".into()), Some("x".into())]);
        f.push(vec![None, Some("a".into()), Some("n".into())]);
        assert_eq!(
            f.resolve("n", 2, &consts),
            Some(Slot::Local { up: 0, index: 2 })
        );
        assert_eq!(
            f.resolve("x", 2, &consts),
            Some(Slot::Local { up: 1, index: 1 })
        );
        assert_eq!(
            f.resolve("LIMIT", 2, &consts),
            Some(Slot::Const {
                module: 2,
                index: 0
            })
        );
        assert_eq!(f.resolve("context", 2, &consts), Some(Slot::Context));
        assert_eq!(f.resolve("nope", 2, &consts), None);
        f.pop();
        assert_eq!(
            f.resolve("n", 2, &consts),
            Some(Slot::Local { up: 0, index: 0 })
        );
        // A large frame is indexed, with the same answers.
        let many: Vec<Option<SmolStr>> = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    Some("even".into())
                } else {
                    None
                }
            })
            .collect();
        f.push(many);
        assert_eq!(f.local("even"), Some(Slot::Local { up: 0, index: 18 }));
        assert_eq!(f.local("n"), Some(Slot::Local { up: 1, index: 0 }));
        f.pop();
        // A loop variable named `iteration` is shadowed by the counter, as before.
        f.push(vec![Some("iteration".into()), Some("iteration".into())]);
        assert_eq!(
            f.resolve("iteration", 2, &consts),
            Some(Slot::Local { up: 0, index: 1 })
        );
    }
}
