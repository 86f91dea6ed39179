//! The legend under a chart, drawn with the data so that its swatches match the lines
//! and marks exactly.

use super::svg::{Anchor, Overlay, Stroke};
use super::text_width;
use crate::escape::clip;
use crate::style;

/// A legend entry's sample drawing.
#[derive(Clone, Copy)]
pub(crate) enum Swatch {
    Line(Stroke),
    Dot(&'static str),
    Ring(&'static str),
    Diamond(&'static str),
}

/// A legend entry.
pub(crate) struct Key {
    pub(crate) swatch: Swatch,
    pub(crate) label: String,
}

impl Key {
    /// An entry.
    pub(crate) fn new(swatch: Swatch, label: impl Into<String>) -> Key {
        Key {
            swatch,
            label: label.into(),
        }
    }
}

/// Height of one row of legend entries.
pub(crate) const LEGEND_ROW: u32 = 22;
const LEGEND_TEXT: f64 = 12.5;

/// Entries laid out left to right, wrapping into rows of at most `width` pixels; each entry
/// comes with its x offset.
pub(crate) fn legend_rows(keys: &[Key], width: f64) -> Vec<Vec<(f64, &Key)>> {
    let mut rows: Vec<Vec<(f64, &Key)>> = Vec::new();
    let mut x = 0.0;
    for key in keys {
        let w = 28.0 + text_width(&clip(&key.label, 40), LEGEND_TEXT) + 18.0;
        if rows.is_empty() || (x + w > width && x > 0.0) {
            rows.push(Vec::new());
            x = 0.0;
        }
        if let Some(row) = rows.last_mut() {
            row.push((x, key));
        }
        x += w;
    }
    rows
}

pub(crate) fn draw_legend(out: &mut Overlay, keys: &[Key], left: f64, top: f64, width: f64) {
    if keys.is_empty() {
        return;
    }
    out.open("legend");
    for (row, entries) in legend_rows(keys, width).iter().enumerate() {
        let y = top + LEGEND_ROW as f64 * (row as f64 + 0.5);
        for (dx, key) in entries {
            let x = left + dx;
            let mid = (x + 11.0, y);
            match key.swatch {
                Swatch::Line(stroke) => out.line(&[(x, y), (x + 22.0, y)], stroke, None),
                Swatch::Dot(color) => {
                    out.circle(mid, 4.5, Some(color), Stroke::solid("#ffffff", 1.0), None);
                }
                Swatch::Ring(color) => out.circle(mid, 6.5, None, Stroke::solid(color, 2.0), None),
                Swatch::Diamond(color) => out.diamond(mid, 7.0, color, None),
            }
            out.text(
                (x + 28.0, y + 4.5),
                &clip(&key.label, 40),
                LEGEND_TEXT,
                style::INK,
                Anchor::Start,
                false,
            );
        }
    }
    out.close();
}
