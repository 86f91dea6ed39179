//! The data layer of a chart, written as SVG directly: plotters' backend has no dashes, no
//! hover titles and no classes, and those are what make a static chart explorable.

use std::fmt::Write;

use crate::escape::esc;

/// SVG elements in drawing order; every piece of text is escaped on the way in.
#[derive(Default)]
pub(crate) struct Overlay {
    out: String,
}

/// How a line is stroked.
#[derive(Clone, Copy)]
pub(crate) struct Stroke {
    pub(crate) color: &'static str,
    pub(crate) width: f64,
    pub(crate) dashed: bool,
    pub(crate) opacity: f64,
}

impl Stroke {
    /// A solid, opaque line.
    pub(crate) fn solid(color: &'static str, width: f64) -> Stroke {
        Stroke {
            color,
            width,
            dashed: false,
            opacity: 1.0,
        }
    }

    /// A dashed line.
    pub(crate) fn dashed(color: &'static str, width: f64) -> Stroke {
        Stroke {
            dashed: true,
            ..Stroke::solid(color, width)
        }
    }

    fn attributes(&self, fill: Option<&str>) -> String {
        let mut a = format!(
            r#"fill="{}" stroke="{}" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round""#,
            fill.unwrap_or("none"),
            self.color,
            self.width
        );
        if self.dashed {
            a.push_str(r#" stroke-dasharray="5 4""#);
        }
        if self.opacity < 1.0 {
            let _ = write!(a, r#" stroke-opacity="{}""#, self.opacity);
        }
        a
    }
}

/// Where a label's text sits relative to its point.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    End,
}

impl Overlay {
    /// The elements written so far.
    pub(crate) fn into_string(self) -> String {
        self.out
    }

    /// Opens a group that tests and style sheets can find by `class`.
    pub(crate) fn open(&mut self, class: &str) {
        let _ = writeln!(self.out, r#"<g class="{}">"#, esc(class));
    }

    /// Closes the group [`Overlay::open`] opened.
    pub(crate) fn close(&mut self) {
        self.out.push_str("</g>\n");
    }

    /// A polyline through `points`, with `title` shown on hover.
    pub(crate) fn line(&mut self, points: &[(f64, f64)], stroke: Stroke, title: Option<&str>) {
        if points.is_empty() {
            return;
        }
        let mut coords = String::with_capacity(points.len() * 12);
        for (i, (x, y)) in points.iter().enumerate() {
            if i > 0 {
                coords.push(' ');
            }
            let _ = write!(coords, "{x:.1},{y:.1}");
        }
        let _ = write!(
            self.out,
            r#"<polyline points="{coords}" {}>"#,
            stroke.attributes(None)
        );
        self.title_and_close(title, "polyline");
    }

    /// A circle; `fill` of `None` draws a ring.
    pub(crate) fn circle(
        &mut self,
        (x, y): (f64, f64),
        r: f64,
        fill: Option<&str>,
        stroke: Stroke,
        title: Option<&str>,
    ) {
        let _ = write!(
            self.out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" {}>"#,
            stroke.attributes(fill)
        );
        self.title_and_close(title, "circle");
    }

    /// A diamond (a square on its corner) of half-diagonal `r`, the deployed model's mark.
    pub(crate) fn diamond(&mut self, (x, y): (f64, f64), r: f64, fill: &str, title: Option<&str>) {
        let _ = write!(
            self.out,
            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{fill}" stroke="white" stroke-width="1.5">"#,
            x,
            y - r,
            x + r,
            y,
            x,
            y + r,
            x - r,
            y
        );
        self.title_and_close(title, "polygon");
    }

    /// A small ×, where a stopped trial's curve ends.
    pub(crate) fn cross(&mut self, (x, y): (f64, f64), r: f64, color: &'static str) {
        let stroke = Stroke::solid(color, 1.6);
        self.line(&[(x - r, y - r), (x + r, y + r)], stroke, None);
        self.line(&[(x - r, y + r), (x + r, y - r)], stroke, None);
    }

    /// A filled rectangle between two corners.
    pub(crate) fn rect(
        &mut self,
        (x0, y0): (f64, f64),
        (x1, y1): (f64, f64),
        fill: &str,
        opacity: f64,
    ) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}" fill-opacity="{opacity}"/>"#,
            x0.min(x1),
            y0.min(y1),
            (x1 - x0).abs(),
            (y1 - y0).abs()
        );
    }

    /// Text of `size` pixels; a white halo keeps it legible over lines and points.
    pub(crate) fn text(
        &mut self,
        (x, y): (f64, f64),
        text: &str,
        size: f64,
        color: &str,
        anchor: Anchor,
        bold: bool,
    ) {
        let anchor = match anchor {
            Anchor::Start => "start",
            Anchor::End => "end",
        };
        let weight = if bold { r#" font-weight="600""# } else { "" };
        let _ = writeln!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" fill="{color}" text-anchor="{anchor}"{weight} stroke="white" stroke-width="3" stroke-opacity="0.85" paint-order="stroke">{}</text>"#,
            esc(text)
        );
    }

    fn title_and_close(&mut self, title: Option<&str>, tag: &str) {
        match title {
            Some(t) => {
                let _ = writeln!(self.out, "<title>{}</title></{tag}>", esc(t));
            }
            None => {
                let _ = writeln!(self.out, "</{tag}>");
            }
        }
    }
}
