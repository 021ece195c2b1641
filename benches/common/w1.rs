//! W1: the 784-200-200-200-10 ReLU MLP (He init) and the plane through three
//! seeded points, cut by the 2-D splitter in square windows.

use cpwl::regions::{EnumOptions, Method};
use cpwl::{Domain, Network, Plane, Window};

/// Half-width of the window of about 1e4 regions (10,698).
pub const HALF_WIDTH_1E4: f64 = 6.0;
/// Half-width of the window of about 1e5 regions (99,856).
pub const HALF_WIDTH_1E5: f64 = 36.0;

/// The W1 network and slice.
pub struct W1 {
    pub net: Network,
    pub plane: Plane,
}

impl W1 {
    pub fn new() -> W1 {
        let net = super::he_mlp(&[784, 200, 200, 200, 10], 0);
        let points = super::uniform_points(3, 784, 1);
        let plane = Plane::through(points.row(0), points.row(1), points.row(2))
            .expect("three points in general position");
        W1 { net, plane }
    }

    /// The square window of half-width `h` on the slice.
    pub fn window(&self, h: f64) -> Domain {
        Domain::plane(self.plane.clone(), Window::square(h))
    }

    /// The splitter's options.
    pub fn options() -> EnumOptions {
        EnumOptions {
            method: Method::PlaneSplit,
            ..Default::default()
        }
    }
}
