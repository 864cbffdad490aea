//! Scores over time as an SVG chart, built as text by a pure function ([`svg`]) so the server
//! renders it into the page (readable without scripts: every series and point has a `<title>`,
//! and the legend is a plain list) and the hydrated page builds the very same text from the
//! same data (the page sets it with `inner_html`, so hydration has nothing to reconcile).
//!
//! Two styles: [`Style::Steps`] for a best score that holds until it improves (the
//! leaderboard's top lines), [`Style::Dots`] for every score (a participant's submissions).
//! Values that are not finite are never drawn; a chart with nothing to draw is `None`.

use chrono::{DateTime, Utc};

use crate::format;

/// One value at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// A named line of points, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Each value holds until the next one, and the last to the chart's right edge.
    Steps,
    /// Each value a dot, joined by a faint line.
    Dots,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// What the chart shows, in words (its accessible name).
    pub title: String,
    /// The metric on the vertical axis.
    pub metric: String,
    /// Decimals the values are printed with (the phase's, in `rounded` feedback).
    pub decimals: Option<u32>,
    pub style: Style,
    pub series: Vec<Series>,
    /// A point marked as the current best.
    pub best: Option<Point>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// Ten colours told apart by most people (Tableau 10), one per series in order.
pub const COLOURS: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#79706e"];

/// Text safe inside an element or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Maps times and values to the drawing area. The value range ends on round ticks.
struct Scale {
    t0: f64,
    t1: f64,
    v0: f64,
    v1: f64,
    /// The distance between two ticks of the value axis (1, 2 or 5 × a power of ten).
    step: f64,
}

/// A round step (1, 2 or 5 × a power of ten) that cuts `range` into at most about five, never
/// finer than the phase's printed decimals (two ticks would otherwise print alike).
fn tick_step(range: f64, decimals: Option<u32>) -> f64 {
    let rough = range / 4.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= rough).unwrap_or(10.0 * power);
    match decimals {
        Some(d) => step.max(10f64.powi(-(d.min(12) as i32))),
        None => step,
    }
}

/// The decimals a tick of `step` needs: 0.05 → 2, 0.2 → 1, 5 → 0.
fn step_decimals(step: f64) -> u32 {
    // The nudge keeps 0.1, whose logarithm reads as a hair under −1, at one decimal.
    (-(step.log10() + 1e-9).floor()).max(0.0) as u32
}

impl Scale {
    fn of(points: &[&Point], decimals: Option<u32>) -> Option<Self> {
        let ts = points.iter().map(|p| p.at.timestamp_millis() as f64);
        let (mut t0, mut t1) = ts.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| (a.min(t), b.max(t)));
        let vs = points.iter().map(|p| p.value);
        let (mut v0, mut v1) = vs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        if !(t0.is_finite() && v0.is_finite()) {
            return None;
        }
        if t1 - t0 < 1.0 {
            // One moment: half an hour either side.
            (t0, t1) = (t0 - 1_800_000.0, t1 + 1_800_000.0);
        }
        let pad = if v1 > v0 {
            (v1 - v0) * 0.08
        } else if v0 == 0.0 {
            1.0
        } else {
            v0.abs() * 0.1
        };
        (v0, v1) = (v0 - pad, v1 + pad);
        // Out to the ticks around the range, so the axis starts and ends on a round value.
        let step = tick_step(v1 - v0, decimals);
        if !(step.is_finite() && step > 0.0) {
            return None;
        }
        (v0, v1) = ((v0 / step).floor() * step, (v1 / step).ceil() * step);
        Some(Self { t0, t1, v0, v1, step })
    }

    /// The round values of the value axis, bottom to top.
    fn ticks(&self) -> Vec<f64> {
        let (first, last) = ((self.v0 / self.step).round() as i64, (self.v1 / self.step).round() as i64);
        // Multiples of the step, so zero is exactly 0 (never "-0.00").
        // At most about six by the step's choice; the cap only guards against float surprises.
        (first..=last).take(12).map(|k| k as f64 * self.step).collect()
    }

    fn x(&self, at: DateTime<Utc>) -> f64 {
        LEFT + (at.timestamp_millis() as f64 - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, value: f64) -> f64 {
        TOP + (self.v1 - value) / (self.v1 - self.v0) * (HEIGHT - TOP - BOTTOM)
    }
}

/// The chart as SVG followed by its legend (a list), or `None` when no series has a finite
/// value to draw.
pub fn svg(chart: &Chart) -> Option<String> {
    let series: Vec<(usize, &Series, Vec<&Point>)> = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s, s.points.iter().filter(|p| p.value.is_finite()).collect::<Vec<_>>()))
        .filter(|(_, _, points)| !points.is_empty())
        .collect();
    let mut all: Vec<&Point> = series.iter().flat_map(|(_, _, p)| p.iter().copied()).collect();
    if let Some(best) = chart.best.as_ref().filter(|b| b.value.is_finite()) {
        all.push(best);
    }
    let scale = Scale::of(&all, chart.decimals)?;
    let value = |v: f64| format::metric_to(v, chart.decimals);
    let tick_decimals = chart.decimals.unwrap_or_else(|| step_decimals(scale.step));
    let title = escape(&chart.title);
    let mut out = format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>"#
    );
    // Horizontal grid at round values, so no tick reads like a score.
    for v in scale.ticks() {
        let y = scale.y(v);
        out.push_str(&format!(
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            format::metric_to(v, Some(tick_decimals))
        ));
    }
    // The times at both ends.
    let (first, last) = (scale.t0 as i64, scale.t1 as i64);
    for (ms, anchor, x) in [(first, "start", LEFT), (last, "end", WIDTH - RIGHT)] {
        let at = DateTime::from_timestamp_millis(ms).unwrap_or_default();
        out.push_str(&format!(
            r#"<text class="tick" x="{x:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            HEIGHT - 14.0,
            format::time(at)
        ));
    }
    out.push_str(&format!(r#"<text class="axis" x="{LEFT}" y="{:.1}">{}</text>"#, HEIGHT - 2.0, escape(&chart.metric)));
    for (i, s, points) in &series {
        let colour = COLOURS[i % COLOURS.len()];
        let name = escape(&s.name);
        let last = points.last().map(|p| value(p.value)).unwrap_or_default();
        out.push_str(&format!(
            r#"<g class="series" data-series="{name}" stroke="{colour}" fill="{colour}"><title>{name}: {} {last}</title>"#,
            escape(&chart.metric)
        ));
        let mut d = String::new();
        for (k, p) in points.iter().enumerate() {
            let (x, y) = (scale.x(p.at), scale.y(p.value));
            match (k, chart.style) {
                (0, _) => d.push_str(&format!("M{x:.1} {y:.1}")),
                (_, Style::Steps) => d.push_str(&format!("H{x:.1}V{y:.1}")),
                (_, Style::Dots) => d.push_str(&format!("L{x:.1} {y:.1}")),
            }
        }
        if chart.style == Style::Steps {
            d.push_str(&format!("H{:.1}", WIDTH - RIGHT));
        }
        out.push_str(&format!(r#"<path class="line" fill="none" d="{d}"/>"#));
        for p in points {
            out.push_str(&format!(
                r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="3.5"><title>{}: {}</title></circle>"#,
                scale.x(p.at),
                scale.y(p.value),
                format::time(p.at),
                value(p.value)
            ));
        }
        out.push_str("</g>");
    }
    if let Some(best) = chart.best.as_ref().filter(|b| b.value.is_finite()) {
        let (x, y) = (scale.x(best.at), scale.y(best.value));
        out.push_str(&format!(
            r#"<g class="best"><title>Current best: {} ({})</title><line class="best-line" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><circle class="best-marker" cx="{x:.1}" cy="{y:.1}" r="7" fill="none"/></g>"#,
            value(best.value),
            format::time(best.at),
            WIDTH - RIGHT
        ));
    }
    out.push_str("</svg><ol class=\"chart-legend\">");
    for (i, s, points) in &series {
        let colour = COLOURS[i % COLOURS.len()];
        let last = points.last().map(|p| value(p.value)).unwrap_or_default();
        out.push_str(&format!(
            r#"<li><span class="swatch" style="background:{colour}"></span>{} <span class="value">{last}</span></li>"#,
            escape(&s.name)
        ));
    }
    out.push_str("</ol>");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap()
    }

    fn series(name: &str, values: &[(i64, f64)]) -> Series {
        Series { name: name.into(), points: values.iter().map(|&(m, value)| Point { at: at(m), value }).collect() }
    }

    fn chart(series: Vec<Series>) -> Chart {
        Chart {
            title: "Best accuracy over time".into(),
            metric: "accuracy".into(),
            decimals: None,
            style: Style::Steps,
            series,
            best: None,
        }
    }

    /// The `d` of each series' path, as numbers.
    fn paths(svg: &str) -> Vec<Vec<f64>> {
        svg.split("class=\"line\" fill=\"none\" d=\"")
            .skip(1)
            .map(|rest| {
                let d = &rest[..rest.find('"').unwrap()];
                d.split(|c: char| c.is_ascii_alphabetic() || c == ' ').filter_map(|n| n.parse().ok()).collect()
            })
            .collect()
    }

    #[test]
    fn one_group_per_series_with_a_title_each() {
        let svg = svg(&chart(vec![
            series("Ada", &[(0, 0.5), (10, 0.7)]),
            series("Bob", &[(5, 0.6)]),
            series("Cy <script>", &[(7, 0.55)]),
        ]))
        .unwrap();
        assert_eq!(svg.matches("<g class=\"series\"").count(), 3, "{svg}");
        assert!(svg.contains("<title>Ada: accuracy 0.7000</title>"), "{svg}");
        assert!(svg.contains("Cy &lt;script&gt;") && !svg.contains("<script"), "{svg}");
        assert!(svg.contains("<title>Best accuracy over time</title>"));
        assert_eq!(svg.matches("<li>").count(), 3, "a legend line per series");
    }

    #[test]
    fn values_scale_into_the_drawing_area_higher_values_higher_up() {
        let svg = svg(&chart(vec![series("Ada", &[(0, 0.5), (10, 0.9)])])).unwrap();
        // Steps: M x0 y0 H x1 V y1 H right.
        let d = &paths(&svg)[0];
        let (x0, y0, x1, y1, right) = (d[0], d[1], d[2], d[3], d[4]);
        assert_eq!((x0, x1, right), (LEFT, WIDTH - RIGHT, WIDTH - RIGHT));
        assert!(y1 < y0, "0.9 is drawn above 0.5: {d:?}");
        for y in [y0, y1] {
            assert!((TOP..=HEIGHT - BOTTOM).contains(&y), "{y} outside the plot");
        }
    }

    #[test]
    fn nothing_to_draw_is_none_and_nan_is_never_drawn() {
        assert_eq!(svg(&chart(vec![])), None);
        assert_eq!(svg(&chart(vec![series("Ada", &[(0, f64::NAN)])])), None);
        let svg = svg(&chart(vec![series("Ada", &[(0, f64::NAN), (1, 0.5), (2, f64::INFINITY)])])).unwrap();
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(svg.matches("class=\"point\"").count(), 1);
        assert_eq!(svg.matches("<g class=\"series\"").count(), 1);
    }

    #[test]
    fn one_point_is_drawn_in_the_middle_of_a_padded_range() {
        let svg = svg(&chart(vec![series("Ada", &[(0, 0.0)])])).unwrap();
        let d = &paths(&svg)[0];
        assert!((d[0] - (LEFT + (WIDTH - LEFT - RIGHT) / 2.0)).abs() < 0.1, "{d:?}");
        assert!((d[1] - (TOP + (HEIGHT - TOP - BOTTOM) / 2.0)).abs() < 0.1, "{d:?}");
    }

    /// The value axis's labels, bottom to top.
    fn tick_labels(svg: &str) -> Vec<String> {
        svg.split("class=\"tick\" x=\"")
            .skip(1)
            .filter(|t| t.contains("text-anchor=\"end\">"))
            .map(|t| {
                let t = &t[t.find('>').unwrap() + 1..];
                t[..t.find('<').unwrap()].to_owned()
            })
            .filter(|t| !t.contains("UTC"))
            .collect()
    }

    #[test]
    fn the_value_axis_has_round_ticks_around_the_scores() {
        // The leaderboard's case: bests of 0.6, 0.75, 0.82 and 0.9.
        let svg =
            svg(&chart(vec![series("Ada", &[(0, 0.6), (3, 0.82)]), series("Bob", &[(1, 0.75), (5, 0.9)])])).unwrap();
        assert_eq!(tick_labels(&svg), ["0.5", "0.6", "0.7", "0.8", "0.9", "1.0"], "{svg}");
        // Large, negative and tiny values alike; zero prints as 0, never -0.
        let labels = |values: &[(i64, f64)]| tick_labels(&svg_of(values));
        assert_eq!(labels(&[(0, 1200.0), (1, 1900.0)]), ["1000", "1500", "2000"]);
        assert_eq!(labels(&[(0, -0.3), (1, 0.25)]), ["-0.4", "-0.2", "0.0", "0.2", "0.4"]);
        assert_eq!(labels(&[(0, 0.00012), (1, 0.00019)]), ["0.00010", "0.00015", "0.00020"]);
        assert_eq!(labels(&[(0, 0.0)]), ["-1.0", "-0.5", "0.0", "0.5", "1.0"]);
    }

    fn svg_of(values: &[(i64, f64)]) -> String {
        svg(&chart(vec![series("Ada", values)])).unwrap()
    }

    #[test]
    fn ticks_are_never_finer_than_the_phases_decimals() {
        let mut c = chart(vec![series("Mine", &[(0, 0.71), (5, 0.72)])]);
        c.decimals = Some(2);
        let labels = tick_labels(&svg(&c).unwrap());
        assert!(labels.len() >= 2, "{labels:?}");
        let distinct: std::collections::HashSet<&String> = labels.iter().collect();
        assert_eq!(distinct.len(), labels.len(), "two ticks print alike: {labels:?}");
        assert!(labels.iter().all(|l| l.len() == 4), "two decimals each: {labels:?}");
    }

    #[test]
    fn dots_mark_the_current_best_and_print_the_phases_decimals() {
        let mut c = chart(vec![series("Mine", &[(0, 0.61), (5, 0.73), (9, 0.7)])]);
        c.style = Style::Dots;
        c.decimals = Some(2);
        c.best = Some(Point { at: at(5), value: 0.73 });
        let svg = svg(&c).unwrap();
        assert_eq!(svg.matches("class=\"point\"").count(), 3);
        assert_eq!(svg.matches("class=\"best-marker\"").count(), 1);
        assert!(svg.contains("<title>Current best: 0.73 ("), "{svg}");
        assert!(!svg.contains("0.730"), "more digits than the phase shows: {svg}");
    }
}
