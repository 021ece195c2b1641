//! The same feasibility LPs (20 free variables, 200 random rows around the
//! origin, maximise a fixed objective), solved directly with microlp and
//! through good_lp's microlp backend; the mode is the first argument.
use good_lp::{variable, Expression, ProblemVariables, Solution, SolverModel};

fn rows(seed: u64) -> Vec<(Vec<f64>, f64)> {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    (0..200).map(|_| ((0..20).map(|_| next()).collect(), 1.0 + next().abs())).collect()
}

fn direct(rows: &[(Vec<f64>, f64)]) -> f64 {
    let mut p = microlp::Problem::new(microlp::OptimizationDirection::Maximize);
    let vars: Vec<_> = (0..20).map(|k| p.add_var(1.0 + k as f64 * 0.01, (-1e3, 1e3))).collect();
    for (a, b) in rows {
        let expr: Vec<_> = vars.iter().zip(a).map(|(&v, &c)| (v, c)).collect();
        p.add_constraint(&expr[..], microlp::ComparisonOp::Le, *b);
    }
    p.solve().unwrap().into_solution().ok().unwrap().objective()
}

fn facade(rows: &[(Vec<f64>, f64)]) -> f64 {
    let mut pv = ProblemVariables::new();
    let vars: Vec<_> = (0..20).map(|_| pv.add(variable().min(-1e3).max(1e3))).collect();
    let obj: Expression = vars.iter().enumerate().map(|(k, &v)| (1.0 + k as f64 * 0.01) * v).sum();
    let mut m = pv.maximise(obj.clone()).using(good_lp::microlp);
    for (a, b) in rows {
        let e: Expression = vars.iter().zip(a).map(|(&v, &c)| c * v).sum();
        m = m.with(e.leq(*b));
    }
    let sol = m.solve().unwrap();
    sol.eval(&obj)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut total = 0.0;
    for seed in 0..50 {
        let r = rows(seed);
        total += if mode == "facade" { facade(&r) } else { direct(&r) };
    }
    println!("{mode} {total:.9}");
}
