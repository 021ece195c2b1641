//! A conformance kit for [`Backend`] implementations (feature `testing`).
//!
//! [`check_backend`] runs a backend's kernels side by side with the
//! reference, [`CpuBackend`](crate::backend::CpuBackend) on the calling
//! thread, and reports every check: forward passes (outputs, patterns,
//! pre-activations), Jacobians, local-complexity sign changes, LES Gram
//! matrices, affine maps, empty batches, and arguments of the wrong
//! shape (which must give [`Error::Shape`], never a panic). The inputs are
//! seeded random networks of every layer kind (dense with ReLU, leaky ReLU,
//! absolute value and maxout; convolution, batch norm, max and average
//! pooling, residual blocks; a decoder) and, when a path is given, the
//! shared test vectors' networks. Patterns, counts and signs must be
//! identical; values must agree within [`KitOptions::rtol`] relative to the
//! largest magnitude of the reference's array, as the [`Backend`] contract
//! asks.
//!
//! # Examples
//!
//! A backend written outside the crate wraps or replaces the CPU kernels;
//! here the CPU backend itself is checked:
//!
//! ```
//! use cpwl::backend::CpuBackend;
//! use cpwl::testing::{check_backend, KitOptions};
//!
//! let report = check_backend(&CpuBackend::default(), &KitOptions::default())?;
//! assert!(report.passed(), "{report}");
//! # Ok::<(), cpwl::Error>(())
//! ```

mod cases;
mod checks;

use std::path::PathBuf;

use crate::backend::Backend;
use crate::{Error, Private, Result};

/// Settings of [`check_backend`].
#[derive(Clone, Debug)]
pub struct KitOptions {
    /// The shared test vectors' root (with `forward/`, `lc/` and `scales/`),
    /// whose networks are checked too; `None`: random networks only.
    pub vectors: Option<PathBuf>,
    /// The seed of the random networks, points and directions.
    pub seed: u64,
    /// Points per random network.
    pub points: usize,
    /// Largest relative difference of values (default `1e-9`).
    pub rtol: f64,
    #[doc(hidden)]
    pub _private: Private,
}

impl Default for KitOptions {
    fn default() -> Self {
        KitOptions {
            vectors: None,
            seed: 0,
            points: 17,
            rtol: 1e-9,
            _private: Private::default(),
        }
    }
}

/// One check of [`check_backend`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Check {
    /// What was checked, and on which network.
    pub name: String,
    /// Whether the backend's answer matched the reference's.
    pub passed: bool,
    /// The largest relative difference of values (0 for integer answers
    /// that match; infinite where the answers differ in shape or integers,
    /// or the backend failed).
    pub worst: f64,
    /// Why the check failed (empty when it passed).
    pub detail: String,
}

/// The result of [`check_backend`]: every check, passed or not.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct KitReport {
    /// The backend's [`Backend::name`].
    pub backend: String,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

impl KitReport {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The checks that failed.
    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    /// The largest relative difference of values over the checks that passed.
    pub fn worst(&self) -> f64 {
        self.checks
            .iter()
            .filter(|c| c.passed)
            .fold(0.0, |m, c| m.max(c.worst))
    }
}

impl std::fmt::Display for KitReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let failed = self.failures();
        writeln!(
            f,
            "backend {}: {} of {} checks passed, worst relative difference {:e}",
            self.backend,
            self.checks.len() - failed.len(),
            self.checks.len(),
            self.worst()
        )?;
        for c in failed {
            writeln!(f, "  FAILED {}: {}", c.name, c.detail)?;
        }
        Ok(())
    }
}

/// Runs the conformance checks of `backend` against the reference.
///
/// A mismatch, a backend error on valid input or a panic is a failed
/// [`Check`] in the report, not an error.
///
/// # Errors
///
/// [`Error::Invalid`] for bad options (no points, a non-positive or
/// non-finite `rtol`); [`Error::File`] when the vectors cannot be read;
/// failures of the reference itself.
pub fn check_backend(backend: &dyn Backend, opts: &KitOptions) -> Result<KitReport> {
    if opts.points == 0 {
        return Err(Error::invalid("points", "must be at least 1"));
    }
    if !(opts.rtol.is_finite() && opts.rtol > 0.0) {
        return Err(Error::invalid(
            "rtol",
            format!("{} must be finite and positive", opts.rtol),
        ));
    }
    let mut rng = cases::Rng::new(opts.seed);
    let mut all = Vec::new();
    for (name, net, les_shape) in cases::random_networks(&mut rng)? {
        all.push(cases::random_case(name, net, les_shape, opts.points, &mut rng));
    }
    if let Some(root) = &opts.vectors {
        all.extend(cases::vector_cases(root, &mut rng)?);
    }
    let mut checker = checks::Checker::new(backend, opts.rtol);
    for case in &all {
        checker.case(case)?;
    }
    checker.affine_maps(&mut rng)?;
    if let Some(first) = all.first() {
        checker.shapes(&first.net)?;
    }
    Ok(KitReport {
        backend: backend.name().to_string(),
        checks: checker.checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{CpuBackend, ForwardBatch, JacobianBatch, Keep, Neighbourhood};
    use crate::test_support::vectors_dir;
    use crate::Network;
    use ndarray::{Array2, ArrayView1, ArrayView2};

    #[test]
    fn the_cpu_backends_pass_on_random_networks_and_the_vectors() {
        let opts = KitOptions {
            vectors: Some(vectors_dir()),
            ..KitOptions::default()
        };
        for backend in [CpuBackend::default(), CpuBackend::serial().with_chunk(3)] {
            let report = check_backend(&backend, &opts).unwrap();
            assert!(report.passed(), "{report}");
            // Every family on the vectors too.
            assert!(report.checks.len() > 60, "{} checks", report.checks.len());
        }
    }

    /// The CPU backend with one pattern unit flipped, one output and one
    /// affine value nudged and a panic on empty Jacobian batches: the kit
    /// must catch all four.
    struct Broken(CpuBackend);

    impl Backend for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
            let mut f = self.0.forward(net, x, keep)?;
            if let Some(p) = f.patterns.as_mut().and_then(|p| p.get_mut([0, 0])) {
                *p ^= 1;
            }
            Ok(f)
        }
        fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
            assert!(x.nrows() > 0, "no points");
            let mut j = self.0.jacobians(net, x)?;
            j.outputs[[0, 0]] *= 1.0 + 1e-6;
            Ok(j)
        }
        fn sign_changes(
            &self,
            net: &Network,
            x: ArrayView2<f64>,
            hood: Neighbourhood<'_>,
        ) -> Result<Array2<u32>> {
            self.0.sign_changes(net, x, hood)
        }
        fn affine_values(
            &self,
            a: ArrayView2<f64>,
            c: ArrayView1<f64>,
            points: ArrayView2<f64>,
        ) -> Result<Array2<f64>> {
            let mut values = self.0.affine_values(a, c, points)?;
            if let Some(v) = values.get_mut([0, 0]) {
                *v *= 1.0 + 1e-6;
            }
            Ok(values)
        }
    }

    #[test]
    fn a_broken_backend_fails_the_checks_it_breaks() {
        let report = check_backend(&Broken(CpuBackend::default()), &KitOptions::default()).unwrap();
        assert!(!report.passed());
        let failed: Vec<&str> = report.failures().iter().map(|c| c.name.as_str()).collect();
        assert!(
            failed.iter().any(|n| n.starts_with("forward Patterns")),
            "{report}"
        );
        assert!(failed.iter().any(|n| n.starts_with("jacobians")), "{report}");
        assert!(failed.contains(&"empty batches"), "{report}");
        assert!(
            !failed.iter().any(|n| n.starts_with("forward Outputs")),
            "{report}"
        );
        assert!(!failed.iter().any(|n| n.starts_with("sign changes")), "{report}");
        assert!(failed.iter().any(|n| n.starts_with("affine map")), "{report}");
        let nudged = report
            .checks
            .iter()
            .find(|c| c.name.starts_with("jacobians"))
            .unwrap();
        assert!(nudged.worst > 1e-9 && nudged.worst.is_finite(), "{nudged:?}");
        assert!(matches!(
            check_backend(
                &CpuBackend::default(),
                &KitOptions {
                    points: 0,
                    ..KitOptions::default()
                }
            ),
            Err(Error::Invalid { .. })
        ));
    }
}
