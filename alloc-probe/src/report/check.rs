//! What a report read from a file must hold beyond its JSON shape: every index into its tables
//! in range, a call tree without loops, modes this build knows. The writers and the CLI index
//! with these values, so a report that breaks them would fail far from the cause or print
//! wrong figures; the reader refuses it instead, naming the first problem.

use super::model::Report;

/// The modes a report names (`mode`): a merged report lists its processes', comma-separated.
const MODES: [&str; 3] = ["full", "sampled", "counts"];

/// Strings quoted in a message are cut to this many characters, so the message stays a line.
const QUOTED: usize = 40;

/// Checks `r`; the error names the first problem and its field, as
/// `stacks[3].site is 9 but the stack has 4 frames`.
pub(super) fn check(r: &Report) -> Result<(), String> {
    mode(r)?;
    locations(r)?;
    let depths = nodes(r)?;
    stacks(r, &depths)
}

/// Each mode known, and a sample rate exactly when a process sampled.
fn mode(r: &Report) -> Result<(), String> {
    let mut sampled = false;
    for m in r.mode.split(',') {
        if !MODES.contains(&m) {
            let list = if m == r.mode {
                String::new()
            } else {
                format!(" in {}", quoted(&r.mode))
            };
            return Err(format!(
                "mode {}{list} is not full, sampled or counts",
                quoted(m)
            ));
        }
        sampled |= m == "sampled";
    }
    match (sampled, r.sample_rate) {
        (true, None) => Err(format!(
            "mode is {} but sample_rate is null",
            quoted(&r.mode)
        )),
        (false, Some(rate)) => Err(format!(
            "sample_rate is {rate} but mode {} did not sample",
            quoted(&r.mode)
        )),
        _ => Ok(()),
    }
}

/// Each machine frame has at least one logical frame, each in the frame table.
fn locations(r: &Report) -> Result<(), String> {
    for (i, l) in r.locations.iter().enumerate() {
        if l.is_empty() {
            return Err(format!(
                "locations[{i}] is empty: a machine frame has at least one frame"
            ));
        }
        if let Some((j, f)) = l
            .iter()
            .enumerate()
            .find(|&(_, &f)| f as usize >= r.frames.len())
        {
            return Err(format!(
                "locations[{i}][{j}] is {f} but there are {} frames",
                r.frames.len()
            ));
        }
    }
    Ok(())
}

/// Each node's location and parent in range and no node its own caller; returns each node's
/// number of logical frames, its own and its callers'.
fn nodes(r: &Report) -> Result<Vec<usize>, String> {
    let n = r.nodes.len();
    for (i, node) in r.nodes.iter().enumerate() {
        if node.location as usize >= r.locations.len() {
            return Err(format!(
                "nodes[{i}] has location {} but there are {} locations",
                node.location,
                r.locations.len()
            ));
        }
        if node.parent as usize > n {
            return Err(format!(
                "nodes[{i}] has parent {} but there are {n} nodes (a parent is an index plus one)",
                node.parent
            ));
        }
    }
    // From each node up to a node already counted (or a root), then the counts back down.
    const UNCOUNTED: usize = usize::MAX;
    const ON_PATH: usize = usize::MAX - 1;
    let mut depths = vec![UNCOUNTED; n];
    let mut path = Vec::new();
    for i in 0..n {
        let (mut at, mut depth) = (Some(i), 0);
        while let Some(j) = at {
            match depths[j] {
                UNCOUNTED => {}
                ON_PATH => {
                    return Err(format!(
                        "nodes[{j}] is its own caller through its parents: the call tree has a loop"
                    ))
                }
                known => {
                    depth = known;
                    break;
                }
            }
            depths[j] = ON_PATH;
            path.push(j);
            at = (r.nodes[j].parent as usize).checked_sub(1);
        }
        for j in path.drain(..).rev() {
            let own = r.locations[r.nodes[j].location as usize].len();
            depth = depth.saturating_add(own).min(ON_PATH - 1);
            depths[j] = depth;
        }
    }
    Ok(depths)
}

/// Each stack's node in range and its site among its frames (0 for a stack with none).
fn stacks(r: &Report, depths: &[usize]) -> Result<(), String> {
    for (i, s) in r.stacks.iter().enumerate() {
        let frames = match (s.node as usize).checked_sub(1) {
            None => 0,
            Some(k) => *depths.get(k).ok_or_else(|| {
                format!(
                    "stacks[{i}].node is {} but there are {} nodes (a node is an index plus one)",
                    s.node,
                    depths.len()
                )
            })?,
        };
        if frames == 0 && s.site != 0 {
            return Err(format!(
                "stacks[{i}].site is {} but the stack has no frames",
                s.site
            ));
        }
        if frames != 0 && s.site >= frames {
            return Err(format!(
                "stacks[{i}].site is {} but the stack has {frames} frames",
                s.site
            ));
        }
    }
    Ok(())
}

/// `s` in quotes, escaped, cut to [`QUOTED`] characters.
fn quoted(s: &str) -> String {
    match s.char_indices().nth(QUOTED) {
        Some((at, _)) => format!("{:?}...", &s[..at]),
        None => format!("{s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::merge::with_stacks;
    use crate::report::model::{FrameReport, NodeReport, StackReport};

    fn frame(function: &str, inlined: bool) -> FrameReport {
        FrameReport {
            function: function.into(),
            file: "src/lib.rs".into(),
            line: 1,
            inlined,
            line_of_function: false,
        }
    }

    /// Two stacks: three frames (the innermost inlined into its caller), and none.
    fn report() -> Report {
        let frames = vec![frame("a", true), frame("b", false), frame("main", false)];
        let stack = StackReport {
            site: 2,
            allocs: 1,
            ..StackReport::default()
        };
        let empty = StackReport {
            site: 0,
            ..stack.clone()
        };
        with_stacks(vec![(frames, stack), (Vec::new(), empty)])
    }

    fn problem(r: &Report) -> String {
        check(r).unwrap_err()
    }

    #[test]
    fn a_written_report_passes() {
        let r = report();
        assert_eq!(check(&r), Ok(()));
        assert_eq!((r.locations.len(), r.nodes.len()), (2, 2));
    }

    #[test]
    fn each_broken_reference_is_named() {
        let ok = report();
        let mut r = ok.clone();

        r.stacks[0].site = 3;
        assert_eq!(
            problem(&r),
            "stacks[0].site is 3 but the stack has 3 frames"
        );
        r = ok.clone();
        r.stacks[1].site = 1;
        assert_eq!(
            problem(&r),
            "stacks[1].site is 1 but the stack has no frames"
        );
        r = ok.clone();
        r.stacks[0].node = 3;
        assert_eq!(
            problem(&r),
            "stacks[0].node is 3 but there are 2 nodes (a node is an index plus one)"
        );
        r = ok.clone();
        r.locations[1].clear();
        assert_eq!(
            problem(&r),
            "locations[1] is empty: a machine frame has at least one frame"
        );
        r = ok.clone();
        r.locations[1][1] = 3;
        assert_eq!(problem(&r), "locations[1][1] is 3 but there are 3 frames");
        r = ok.clone();
        r.nodes[1].location = 2;
        assert_eq!(
            problem(&r),
            "nodes[1] has location 2 but there are 2 locations"
        );
        r = ok.clone();
        r.nodes[0].parent = 3;
        assert_eq!(
            problem(&r),
            "nodes[0] has parent 3 but there are 2 nodes (a parent is an index plus one)"
        );
        r = ok.clone();
        r.nodes[0] = NodeReport {
            parent: 2,
            location: 0,
        };
        assert_eq!(
            problem(&r),
            "nodes[0] is its own caller through its parents: the call tree has a loop"
        );
    }

    #[test]
    fn modes_and_the_sample_rate_agree() {
        let mut r = report();
        r.stacks.clear();
        for (mode, rate) in [
            ("full", None),
            ("counts", None),
            ("sampled", Some(4096)),
            ("full,sampled", Some(1)),
        ] {
            (r.mode, r.sample_rate) = (mode.into(), rate);
            assert_eq!(check(&r), Ok(()), "{mode}");
        }
        for (mode, rate, want) in [
            ("fast", None, "mode \"fast\" is not full, sampled or counts"),
            (
                "full,",
                None,
                "mode \"\" in \"full,\" is not full, sampled or counts",
            ),
            (
                "sampled",
                None,
                "mode is \"sampled\" but sample_rate is null",
            ),
            (
                "full",
                Some(8),
                "sample_rate is 8 but mode \"full\" did not sample",
            ),
        ] {
            (r.mode, r.sample_rate) = (mode.into(), rate);
            assert_eq!(problem(&r), want);
        }
        r.mode = "x\n".repeat(100);
        let e = problem(&r);
        assert!(!e.contains('\n') && e.len() < 150, "{e}");
    }
}
