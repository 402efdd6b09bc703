//! Arena placement of builder values by liveness, and the no-overlap check the backend relies on.

use super::builder::{ALIGN, Value};
use super::{Buf, Op, Role};

/// First-fit placement of values by liveness: two values alive at the same op never overlap.
pub(super) fn place(values: &[Value], rows: usize) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].first != usize::MAX)
        .collect();
    order.sort_by_key(|&i| (values[i].first, i));
    let size = |v: &Value| {
        let n = v.width * if v.per_token { rows } else { 1 };
        n.div_ceil(ALIGN) * ALIGN
    };
    let mut offsets = vec![0; values.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut arena_len = 0;
    for &i in &order {
        let v = &values[i];
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| values[j].first <= v.last && v.first <= values[j].last)
            .map(|&j| (offsets[j], offsets[j] + size(&values[j])))
            .collect();
        busy.sort_unstable();
        let need = size(v);
        let mut at = 0;
        for (start, stop) in busy {
            if start >= at + need {
                break;
            }
            at = at.max(stop);
        }
        offsets[i] = at;
        arena_len = arena_len.max(at + need);
        placed.push(i);
    }
    (offsets, arena_len)
}

/// The backend borrows an op's output mutably and its inputs immutably from one arena; the
/// placement guarantees they never overlap. A violation is a bug in a lowering, caught here.
pub(super) fn check_disjoint(op: &Op<Buf>, rows: usize) {
    let mut out = None;
    op.for_each(|role, b| {
        if role == Role::Write {
            out = Some(b.span(rows));
        }
    });
    let out = out.expect("every op writes one buffer");
    op.for_each(|role, b| {
        if role == Role::Read {
            let r = b.span(rows);
            assert!(
                r.end <= out.start || out.end <= r.start,
                "op {op:?} reads a buffer overlapping its output"
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::weights::Mat;
    use crate::program::{ProgramBuilder, WeightId};

    fn mat(id: u32, rows: usize, cols: usize) -> Mat {
        Mat {
            id: WeightId(id),
            rows,
            cols,
            experts: 1,
        }
    }

    #[test]
    fn values_that_are_not_alive_together_share_memory() {
        let mut p = ProgramBuilder::new(4, 8);
        let x = p.input();
        let a = p.matmul(&mat(0, 64, 8), x); // a dies at the next op
        let b = p.matmul(&mat(1, 8, 64), a);
        let c = p.matmul(&mat(2, 64, 8), b); // may reuse a's memory
        let out = p.matmul(&mat(3, 8, 64), c);
        let prog = p.finish(out);
        let offs: Vec<usize> = prog
            .ops
            .iter()
            .map(|op| match op {
                Op::MatMul { y, .. } => y.off,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(offs[0], offs[2], "a and c are never alive together");
        // Peak: one 4×64 value plus one 4×8 value alive together; nothing more.
        assert_eq!(prog.arena_len, 256 + 32);
    }

    #[test]
    fn output_and_inputs_of_one_op_never_overlap() {
        let mut p = ProgramBuilder::new(3, 16);
        let x = p.input();
        let n = p.rms_norm(x, None, 1e-5);
        let y = p.add(n, x);
        let z = p.add(y, n);
        let prog = p.finish(z);
        for op in &prog.ops {
            check_disjoint(op, 3);
        }
        assert_eq!(prog.output.width, 16);
    }
}
