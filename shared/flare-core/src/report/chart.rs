//! The digest's chart: incidents opened per day, as a PNG bar chart.
//!
//! Drawn by plotters into an RGB buffer and encoded by `png`, with DejaVu Sans compiled into the binary
//! (`fonts/`, through ab_glyph): plotters' `ttf` feature would look fonts up through fontconfig, which a Lambda
//! image does not have. It owns nothing else: the counts come from [`super::digest`].

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// The family the chart's text asks for; the compiled-in font is registered under it.
const FAMILY: &str = "sans-serif";
static FONT: &[u8] = include_bytes!("../../fonts/DejaVuSans-subset.ttf");

/// The chart's size in pixels; the digest's HTML shows it at this size.
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 240;

/// Why the chart could not be drawn. The drawing errors carry no data of ours, so their text is kept.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the compiled-in font cannot be read")]
    Font,
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed")]
    Encode(#[from] png::EncodingError),
}

/// Registers the font once per process; plotters keeps it in a global table.
fn font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    REGISTERED
        .get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok())
        .then_some(())
        .ok_or(ChartError::Font)
}

/// A bar per day, labelled below (`Mon 23`), with the count on the left axis.
pub fn incidents_per_day_png(days: &[(String, u32)]) -> Result<Vec<u8>, ChartError> {
    font()?;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&mut rgb, days)?;
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(png_bytes)
}

fn draw(rgb: &mut [u8], days: &[(String, u32)]) -> Result<(), ChartError> {
    let failed =
        |e: DrawingAreaErrorKind<<BitMapBackend as DrawingBackend>::ErrorType>| ChartError::Draw(e.to_string());
    // A segmented range holds its end value too: `0..n - 1` gives the n slots, one a day.
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let top = days.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    let bar = RGBColor(0x1f, 0x6f, 0xeb);
    let mut chart = ChartBuilder::on(&root)
        .caption("Incidents opened per day", (FAMILY, 18))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(36)
        .build_cartesian_2d((0..days.len().saturating_sub(1)).into_segmented(), 0u32..top + 1)
        .map_err(failed)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .y_labels((top + 2).min(6) as usize)
        .y_label_formatter(&|v| v.to_string())
        .x_labels(days.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => days.get(*i).map(|d| d.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((FAMILY, 13))
        .draw()
        .map_err(failed)?;
    chart
        .draw_series(days.iter().enumerate().map(|(i, (_, n))| {
            let mut rect =
                Rectangle::new([(SegmentValue::Exact(i), 0), (SegmentValue::Exact(i + 1), *n)], bar.filled());
            rect.set_margin(0, 0, 8, 8);
            rect
        }))
        .map_err(failed)?;
    root.present().map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_chart_is_a_png_of_the_advertised_size() {
        let days: Vec<(String, u32)> = (0..7).map(|i| (format!("Day {i}"), i % 3)).collect();
        let png_bytes = incidents_per_day_png(&days).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let info = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    }

    #[test]
    fn a_week_without_incidents_still_draws() {
        let days: Vec<(String, u32)> = (0..7).map(|i| (format!("Day {i}"), 0)).collect();
        assert!(incidents_per_day_png(&days).is_ok());
    }
}
