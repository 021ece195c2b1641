//! The embedded font, so that pictures need no system fonts.
//!
//! DejaVu Sans Mono (version 2.37), unmodified, under the Bitstream Vera
//! licence (with DejaVu's changes in the public domain): the licence text is
//! `src/plot/DejaVuSansMono.LICENSE`, shipped beside the font file.

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

use crate::{Error, Result};

/// The font family name the pictures use.
pub(crate) const FAMILY: &str = "sans-serif";

static FONT: &[u8] = include_bytes!("DejaVuSansMono.ttf");

/// Registers the embedded font with plotters once per process.
///
/// # Errors
///
/// [`Error::Invalid`] when the font cannot be parsed (never for the shipped file).
pub(crate) fn ensure_registered() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "cannot parse the embedded font".to_string())
        })
        .clone()
        .map_err(|reason| Error::invalid("font", reason))
}
