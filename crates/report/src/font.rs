//! The embedded chart font: DejaVu Sans from the `dejavu` crate, registered once with plotters.

use crate::ReportError;
use std::sync::OnceLock;

/// The font family every chart uses (plotters' `sans-serif`; in SVG the browser's own sans-serif).
pub(crate) const FAMILY: &str = "sans-serif";

static REGISTERED: OnceLock<bool> = OnceLock::new();

/// Registers DejaVu Sans (regular and bold) as plotters' `sans-serif`; idempotent.
pub(crate) fn ensure_fonts() -> Result<(), ReportError> {
    let ok = *REGISTERED.get_or_init(|| {
        use plotters::style::{FontStyle, register_font};
        register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Font {
            name: "DejaVu Sans",
        })
    }
}
