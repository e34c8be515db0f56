//! Stable step paths (docs/language.md, "Step paths"): where a step stands in the program
//! and in which iteration, independent of timing.
//!
//! ```text
//! path    = flow { "/" segment | "." branch }
//! segment = step [ "#" n ] | "for[" index "]" | "loop[" iteration "]" | "try" | "catch"
//! ```
//!
//! The static parts (a block's step names, `#n` for repeats, the names of calls inside a
//! step) are computed by the lowering ([`super::plan`]); iteration indices are appended
//! at run time. A path is a chain of shared nodes: making one costs one allocation, and
//! it is spelled out only when something shows it.

use std::fmt;
use std::rc::Rc;

#[derive(Clone, Debug)]
enum Seg {
    /// A flow (the root), a step, or a call or decision inside a step: `/name`.
    Name(Rc<str>),
    /// A branch of `parallel` or `race`: `.name`.
    Branch(Rc<str>),
    /// The element of a `for` at this index (from 0): `/for[k]`.
    For(usize),
    /// The iteration of a `loop` (from 1, as `iteration`): `/loop[k]`.
    Loop(u64),
}

#[derive(Debug)]
struct Node {
    parent: Option<Rc<Node>>,
    seg: Seg,
}

/// A step path, e.g. `main/out/for[3]/upper`: shared nodes, and the last step
/// name kept aside (a block's statement gets its path without an allocation).
#[derive(Clone, Debug)]
pub struct StepPath {
    base: Rc<Node>,
    last: Option<Rc<str>>,
}

impl StepPath {
    /// The path of a flow run at the top (its name).
    pub fn root(flow: &str) -> StepPath {
        StepPath {
            base: Rc::new(Node {
                parent: None,
                seg: Seg::Name(Rc::from(flow)),
            }),
            last: None,
        }
    }

    /// This path as one node.
    fn node(&self) -> Rc<Node> {
        match &self.last {
            None => self.base.clone(),
            Some(n) => Rc::new(Node {
                parent: Some(self.base.clone()),
                seg: Seg::Name(n.clone()),
            }),
        }
    }

    fn push(&self, seg: Seg) -> StepPath {
        StepPath {
            base: Rc::new(Node {
                parent: Some(self.node()),
                seg,
            }),
            last: None,
        }
    }

    /// A step (or a call inside a step) under this path: `self/name`.
    pub fn step(&self, name: &Rc<str>) -> StepPath {
        match &self.last {
            None => StepPath {
                base: self.base.clone(),
                last: Some(name.clone()),
            },
            Some(_) => StepPath {
                base: self.node(),
                last: Some(name.clone()),
            },
        }
    }

    /// A fixed part under this path (`try`, `catch`): `self/name`.
    pub fn child(&self, name: &str) -> StepPath {
        self.push(Seg::Name(Rc::from(name)))
    }

    /// A branch of `parallel` or `race`: `self.name`.
    pub fn branch(&self, name: &str) -> StepPath {
        self.push(Seg::Branch(Rc::from(name)))
    }

    /// Element `k` of a `for`: `self/for[k]`.
    pub fn for_item(&self, k: usize) -> StepPath {
        self.push(Seg::For(k))
    }

    /// Iteration `k` of a `loop` (from 1): `self/loop[k]`.
    pub fn loop_iteration(&self, k: u64) -> StepPath {
        self.push(Seg::Loop(k))
    }
}

impl StepPath {
    /// The path spelled out (as `to_string`, into a buffer sized once).
    pub fn text(&self) -> String {
        let mut s = String::with_capacity(64);
        self.spell_into(&mut s);
        s
    }

    /// Appends the path spelled out to `s`.
    pub fn spell_into(&self, s: &mut String) {
        // Writing into a string cannot fail.
        let _ = self.spell(s);
    }

    /// Writes the path with `write_str` alone (one call per part, numbers
    /// by `itoa`): a path is spelled for every journaled step.
    fn spell<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        // The segments from the leaf up: the first `SMALL` on the stack, the
        // rest (a deep path) in a vector; written from the root down.
        const SMALL: usize = 32;
        let mut near: [Option<&Seg>; SMALL] = [None; SMALL];
        let mut far = Vec::new();
        let mut depth = 0;
        let mut node = Some(&self.base);
        while let Some(n) = node {
            if depth < SMALL {
                near[depth] = Some(&n.seg);
            } else {
                far.push(&n.seg);
            }
            depth += 1;
            node = n.parent.as_ref();
        }
        let segs = far
            .into_iter()
            .rev()
            .chain(near.into_iter().take(depth.min(SMALL)).rev().flatten());
        let mut digits = itoa::Buffer::new();
        for (i, s) in segs.enumerate() {
            let sep = if i == 0 { "" } else { "/" };
            match s {
                Seg::Name(n) => {
                    w.write_str(sep)?;
                    w.write_str(n)?;
                }
                Seg::Branch(n) => {
                    w.write_str(".")?;
                    w.write_str(n)?;
                }
                Seg::For(k) => {
                    w.write_str(sep)?;
                    w.write_str("for[")?;
                    w.write_str(digits.format(*k))?;
                    w.write_str("]")?;
                }
                Seg::Loop(k) => {
                    w.write_str(sep)?;
                    w.write_str("loop[")?;
                    w.write_str(digits.format(*k))?;
                    w.write_str("]")?;
                }
            }
        }
        match &self.last {
            Some(n) => {
                w.write_str("/")?;
                w.write_str(n)
            }
            None => Ok(()),
        }
    }
}

impl fmt::Display for StepPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spell(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_spell_out_their_segments() {
        let main = StepPath::root("main");
        let out: Rc<str> = Rc::from("out");
        let upper: Rc<str> = Rc::from("upper#2");
        assert_eq!(
            main.step(&out).for_item(3).step(&upper).to_string(),
            "main/out/for[3]/upper#2"
        );
        assert_eq!(main.step(&out).step(&upper).to_string(), "main/out/upper#2");
        assert_eq!(main.step(&out).child("try").to_string(), "main/out/try");
        let m: Rc<str> = Rc::from("m");
        assert_eq!(main.step(&m).branch("cpu").to_string(), "main/m.cpu");
        let r: Rc<str> = Rc::from("refined");
        let s: Rc<str> = Rc::from("step");
        assert_eq!(
            main.step(&r).loop_iteration(2).step(&s).to_string(),
            "main/refined/loop[2]/step"
        );
        // Deeper than the segments kept on the stack.
        let mut deep = main.clone();
        let mut want = String::from("main");
        for k in 0..40 {
            deep = deep.for_item(k);
            want.push_str(&format!("/for[{k}]"));
        }
        assert_eq!(deep.to_string(), want);
        assert_eq!(deep.step(&s).text(), want + "/step");
    }
}
