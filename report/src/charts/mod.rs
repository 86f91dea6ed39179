//! Charts: plotters draws the frame (grid, axes, tick labels, axis titles), and each chart
//! writes its data on top as plain SVG in the same pixel coordinates.

mod axis;
pub(crate) mod curves;
mod frame;
mod labels;
mod legend;
pub(crate) mod pareto;
pub(crate) mod serving;
pub(crate) mod svg;

pub(crate) use axis::Axis;
pub(crate) use frame::Frame;
pub(crate) use labels::Labels;
pub(crate) use legend::{Key, Swatch};

use crate::escape::{clip, esc};
use crate::style::{self, FONT};

/// One finished chart: the SVG document and the file name it is written under.
#[derive(Clone, Debug)]
pub(crate) struct Chart {
    /// File name without `.svg`, unique within a report.
    pub(crate) stem: String,
    pub(crate) svg: String,
    /// A sentence for the reader about what the chart leaves out, if anything.
    pub(crate) note: Option<String>,
}

/// A chart that could not be drawn, saying so, so that a page never lacks a promised image.
pub(crate) fn failed(stem: String, title: &str, why: &str) -> Chart {
    let svg = format!(
        "<svg width=\"640\" height=\"120\" viewBox=\"0 0 640 120\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <title>{title}</title>\n<rect width=\"640\" height=\"120\" fill=\"#ffffff\"/>\n\
         <text x=\"320\" y=\"55\" font-family=\"{FONT}\" font-size=\"15\" font-weight=\"600\" fill=\"{ink}\" text-anchor=\"middle\">{title}</text>\n\
         <text x=\"320\" y=\"80\" font-family=\"{FONT}\" font-size=\"13\" fill=\"{muted}\" text-anchor=\"middle\">could not be drawn: {why}</text>\n</svg>\n",
        title = esc(title),
        why = esc(&clip(why, 80)),
        ink = style::INK,
        muted = style::MUTED,
    );
    Chart {
        stem,
        svg,
        note: None,
    }
}

/// About how wide `text` renders: an average sans-serif glyph is a little over half an em.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}
