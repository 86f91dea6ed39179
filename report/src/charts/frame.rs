//! The frame plotters draws (title, grid, axes, tick labels, axis titles) and the mapping
//! from data to its pixels that the data layer uses.

use plotters::prelude::*;

use super::Chart;
use super::axis::Axis;
use super::legend::{Key, LEGEND_ROW, draw_legend, legend_rows};
use super::svg::Overlay;
use crate::escape::{clip, esc};
use crate::format::tick;
use crate::style::{self, FONT};

/// Plotters writes `font-size` as the requested size divided by 1.24; this asks for `px`.
fn font_px(px: f64) -> f64 {
    px * 1.24
}

fn rgb(hex: &str) -> RGBColor {
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    RGBColor(byte(1), byte(3), byte(5))
}

/// A chart's frame, drawn, and the mapping from data to its pixels.
pub(crate) struct Frame {
    svg: String,
    /// Pixel position of (x.lo, y.lo) and of (x.hi, y.hi).
    origin: (f64, f64),
    corner: (f64, f64),
    x: (f64, f64),
    y: (f64, f64),
    legend_top: f64,
    width: f64,
    title: String,
    stem: String,
}

impl Frame {
    /// Draws title, grid and axes on a `width` × `height` canvas, leaving room under it
    /// for `legend`.
    pub(crate) fn draw(
        stem: String,
        (width, height): (u32, u32),
        title: &str,
        x: &Axis,
        y: &Axis,
        legend: &[Key],
    ) -> Result<Frame, String> {
        let rows = legend_rows(legend, f64::from(width) - 80.0).len() as u32;
        let full_height = height + rows * LEGEND_ROW + if rows > 0 { 8 } else { 0 };
        let mut svg = String::new();
        let (origin, corner);
        {
            let root = SVGBackend::with_string(&mut svg, (width, full_height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let (top, _) = root.split_vertically(height);
            let mut chart = ChartBuilder::on(&top)
                .caption(
                    clip(title, 90),
                    (FONT, font_px(15.0))
                        .into_font()
                        .style(FontStyle::Bold)
                        .color(&rgb(style::INK)),
                )
                .margin(12)
                .margin_right(26)
                .x_label_area_size(46)
                .y_label_area_size(66)
                .build_cartesian_2d(x.lo..x.hi, y.lo..y.hi)
                .map_err(|e| e.to_string())?;
            let (x_ticks, y_ticks) = (x.ticks(8), y.ticks(6));
            let (x_decimals, y_decimals) = (x.decimals(x_ticks), y.decimals(y_ticks));
            let x_label = |v: &f64| tick(*v, x_decimals);
            let y_label = |v: &f64| tick(*v, y_decimals);
            chart
                .configure_mesh()
                .max_light_lines(0)
                .bold_line_style(rgb(style::GRID).stroke_width(1))
                .axis_style(rgb("#9ca3af").stroke_width(1))
                .label_style((FONT, font_px(11.5)).into_font().color(&rgb(style::MUTED)))
                .axis_desc_style((FONT, font_px(12.5)).into_font().color(&rgb(style::INK)))
                .x_desc(clip(&x.title, 80))
                .y_desc(clip(&y.title, 50))
                .x_labels(x_ticks)
                .y_labels(y_ticks)
                .x_label_formatter(&x_label)
                .y_label_formatter(&y_label)
                .draw()
                .map_err(|e| e.to_string())?;
            let to_f = |(a, b): (i32, i32)| (f64::from(a), f64::from(b));
            origin = to_f(chart.backend_coord(&(x.lo, y.lo)));
            corner = to_f(chart.backend_coord(&(x.hi, y.hi)));
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(Frame {
            svg,
            origin,
            corner,
            x: (x.lo, x.hi),
            y: (y.lo, y.hi),
            legend_top: f64::from(height) + 4.0,
            width: f64::from(width),
            title: title.to_owned(),
            stem,
        })
    }

    /// The pixel of data point (`x`, `y`).
    pub(crate) fn at(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0);
        (
            self.origin.0 + fx * (self.corner.0 - self.origin.0),
            self.origin.1 + fy * (self.corner.1 - self.origin.1),
        )
    }

    /// The plot area's left, top, right and bottom pixels.
    pub(crate) fn plot_box(&self) -> (f64, f64, f64, f64) {
        (self.origin.0, self.corner.1, self.corner.0, self.origin.1)
    }

    /// The finished chart: the frame, `data` on top of it, the legend under it.
    pub(crate) fn finish(self, data: Overlay, legend: &[Key], note: Option<String>) -> Chart {
        let mut layer = Overlay::default();
        draw_legend(
            &mut layer,
            legend,
            self.origin.0,
            self.legend_top,
            self.width - 80.0,
        );
        let mut svg = round_font_sizes(&self.svg);
        let body = format!(
            "<g font-family=\"{FONT}\" class=\"data\">\n{}{}</g>\n",
            data.into_string(),
            layer.into_string()
        );
        match svg.rfind("</svg>") {
            Some(end) => svg.insert_str(end, &body),
            None => svg.push_str(&body),
        }
        // A title element makes the chart's subject known to screen readers and file viewers.
        if let Some(open_end) = svg.find('>') {
            svg.insert_str(
                open_end + 1,
                &format!("\n<title>{}</title>", esc(&self.title)),
            );
        }
        Chart {
            stem: self.stem,
            svg,
            note,
        }
    }
}

/// `svg` with plotters' font sizes rounded: it divides the requested size by a constant and
/// writes the float as it comes out, for example `15.000000000000002`.
fn round_font_sizes(svg: &str) -> String {
    const ATTRIBUTE: &str = "font-size=\"";
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(at) = rest.find(ATTRIBUTE) {
        let start = at + ATTRIBUTE.len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(0);
        match rest[..end].parse::<f64>() {
            Ok(size) => out.push_str(&format!("{}", (size * 100.0).round() / 100.0)),
            Err(_) => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_sizes_are_rounded() {
        assert_eq!(
            round_font_sizes(
                r#"<text font-size="15.000000000000002">a</text><text font-size="x">"#
            ),
            r#"<text font-size="15">a</text><text font-size="x">"#
        );
    }
}
