//! Turns arbitrary bytes into a small network and a domain for the
//! `enumerate` target. Every byte string decodes (missing bytes read as
//! zero), so the fuzzer spends its time in the enumeration, not in parsing.

use cpwl::{Domain, Network, Plane, Window};
use ndarray::{Array1, Array2};

/// Reads bytes in order; past the end, zeros.
pub struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
    last: f64,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes {
            data,
            at: 0,
            last: 0.0,
        }
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// A number from `lo..=hi`.
    pub fn pick(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.byte() as usize % (hi - lo + 1)
    }

    /// A finite number, biased towards the values that break geometry code:
    /// zeros, repeats of the previous value, small integers and halves, huge
    /// and tiny magnitudes, subnormals, and any finite bit pattern.
    pub fn value(&mut self) -> f64 {
        let tag = self.byte();
        let v = match tag {
            0..=127 => (tag as f64 - 64.0) / 16.0,
            128..=159 => 0.0,
            160..=191 => self.last,
            192..=199 => self.sign() * 1e150,
            200..=207 => self.sign() * 1e-150,
            208..=211 => self.sign() * f64::MAX / 4.0,
            212..=215 => self.sign() * 5e-324,
            216..=223 => self.sign() * 1e8,
            _ => {
                let mut raw = [0u8; 8];
                raw.iter_mut().for_each(|b| *b = self.byte());
                let v = f64::from_le_bytes(raw);
                if v.is_finite() {
                    v
                } else {
                    0.0
                }
            }
        };
        self.last = v;
        v
    }

    fn sign(&mut self) -> f64 {
        if self.byte() & 1 == 0 {
            1.0
        } else {
            -1.0
        }
    }

    fn matrix(&mut self, rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || self.value())
    }

    fn vector(&mut self, n: usize) -> Array1<f64> {
        Array1::from_shape_simple_fn(n, || self.value())
    }
}

/// A network (2-3 inputs, 1-3 hidden layers of widths 1-6, outputs 1-2) and a
/// domain in its input space; `None` when the builder rejects the decoded
/// parameters (which, being finite and well shaped, it should not).
pub fn case(data: &[u8]) -> Option<(Network, Domain)> {
    let mut bytes = Bytes::new(data);
    let input = bytes.pick(2, 3);
    let net = network(&mut bytes, input)?;
    let domain = domain(&mut bytes, input);
    Some((net, domain))
}

fn network(bytes: &mut Bytes<'_>, input: usize) -> Option<Network> {
    let mut builder = Network::builder(input);
    let mut width = input;
    for _ in 0..bytes.pick(1, 3) {
        let out = bytes.pick(1, 6);
        let act = bytes.byte() % 4;
        let pieces = if act == 3 { 2 } else { 1 };
        builder = builder
            .dense(bytes.matrix(out * pieces, width), bytes.vector(out * pieces))
            .ok()?;
        builder = match act {
            0 => builder.relu(),
            1 => builder.leaky_relu(bytes.value()),
            2 => builder.abs(),
            _ => builder.maxout(2),
        };
        width = out;
    }
    let out = bytes.pick(1, 2);
    builder
        .dense(bytes.matrix(out, width), bytes.vector(out))
        .ok()?
        .build()
        .ok()
}

/// A box with sides from the bytes (possibly degenerate or huge), or a slice
/// through three decoded points with a square or triangle window.
fn domain(bytes: &mut Bytes<'_>, input: usize) -> Domain {
    if bytes.byte() % 2 == 0 {
        let lo = bytes.vector(input);
        let side = bytes.vector(input).mapv(f64::abs);
        let hi = &lo + &side;
        return Domain::boxed(lo, hi);
    }
    let points: Vec<Array1<f64>> = (0..3).map(|_| bytes.vector(input)).collect();
    let window = match bytes.byte() % 3 {
        0 => Window::Triangle,
        1 => Window::Square(bytes.value()),
        _ => Window::Square(1.0),
    };
    match Plane::through(points[0].view(), points[1].view(), points[2].view()) {
        Ok(plane) => Domain::plane(plane, window),
        // Collinear points: fall back to the unit cube, to keep the case.
        Err(_) => Domain::cube(input, -1.0, 1.0),
    }
}
