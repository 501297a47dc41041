//! Charts per container, as SVG (inlined in index.html) and PNG (in `charts/`): CPU usage in
//! CPUs and memory in MiB over time, each step drawn as a labelled vertical line, each
//! expectation window shaded green or red over its expected band. Drawn with plotters and an
//! embedded DejaVu Sans (no system font, no C library). Long runs are reduced to the minimum and
//! maximum per pixel column for drawing only, which keeps their shape; the numbers are never
//! downsampled.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use rayon::prelude::*;

use crate::model::{Scenario, Summary, Verdict};
use crate::ReportError;

/// DejaVu Sans, embedded (its license is in assets/DejaVuSans.LICENSE).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (900, 300);

fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One sample row of samples.csv, as the charts need it.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Seconds from the start.
    pub t: f64,
    /// CPU time, ns.
    pub cpu_ns: Option<f64>,
    /// Memory, bytes.
    pub memory: Option<f64>,
    /// Working set, bytes.
    pub working_set: Option<f64>,
    /// CFS periods so far.
    pub nr_periods: Option<f64>,
    /// Throttled periods so far.
    pub nr_throttled: Option<f64>,
    /// CPU time per CPU, ns (v1).
    pub per_cpu_ns: Vec<Option<f64>>,
}

/// The run's samples as chart rows, per (scenario, container).
pub fn rows(s: &Summary) -> BTreeMap<(String, String), Vec<Row>> {
    let f = |v: Option<u64>| v.map(|x| x as f64);
    let mut out: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for sc in &s.scenarios {
        for x in &sc.sample_rows {
            let Some(container) = sc.containers.get(x.container) else {
                continue;
            };
            out.entry((sc.name.clone(), container.clone()))
                .or_default()
                .push(Row {
                    t: x.t,
                    cpu_ns: f(x.cpu_ns),
                    memory: f(x.memory),
                    working_set: f(x.working_set),
                    nr_periods: f(x.nr_periods),
                    nr_throttled: f(x.nr_throttled),
                    per_cpu_ns: x
                        .per_cpu_ns
                        .iter()
                        .flatten()
                        .map(|&v| Some(v as f64))
                        .collect(),
                });
        }
    }
    out
}

/// The rate of a cumulative counter between consecutive samples, divided by `per`.
fn rate(rows: &[Row], f: impl Fn(&Row) -> Option<f64>, per: f64) -> Vec<(f64, f64)> {
    rows.windows(2)
        .filter_map(|w| match (f(&w[0]), f(&w[1])) {
            (Some(a), Some(b)) if w[1].t > w[0].t => {
                Some((w[1].t, (b - a).max(0.0) / per / (w[1].t - w[0].t)))
            }
            _ => None,
        })
        .collect()
}

/// The share of CFS periods throttled between consecutive samples.
fn throttled_series(rows: &[Row]) -> Vec<(f64, f64)> {
    rows.windows(2)
        .filter_map(|w| {
            let p = w[1].nr_periods? - w[0].nr_periods?;
            let t = w[1].nr_throttled? - w[0].nr_throttled?;
            Some((
                w[1].t,
                if p > 0.0 {
                    (t / p).clamp(0.0, 1.0)
                } else {
                    0.0
                },
            ))
        })
        .collect()
}

/// CPU usage in CPUs between consecutive samples.
fn cpu_series(rows: &[Row]) -> Vec<(f64, f64)> {
    rows.windows(2)
        .filter_map(|w| match (w[0].cpu_ns, w[1].cpu_ns) {
            (Some(a), Some(b)) if w[1].t > w[0].t => {
                Some((w[1].t, (b - a).max(0.0) / 1e9 / (w[1].t - w[0].t)))
            }
            _ => None,
        })
        .collect()
}

/// A point: (seconds, value).
type Point = (f64, f64);

/// A named, coloured line.
type Series = (String, Vec<Point>, RGBColor);

/// Reduces a series to the minimum and maximum of each of `columns` time buckets (for drawing).
pub fn min_max_per_column(points: &[(f64, f64)], columns: usize) -> Vec<(f64, f64)> {
    if points.len() <= columns * 2 || points.is_empty() {
        return points.to_vec();
    }
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let width = ((t1 - t0) / columns as f64).max(f64::MIN_POSITIVE);
    let mut out = Vec::with_capacity(columns * 2);
    let mut i = 0;
    for c in 0..columns {
        let end = t0 + width * (c + 1) as f64;
        let mut lo: Option<Point> = None;
        let mut hi: Option<Point> = None;
        while i < points.len() && (points[i].0 <= end || c + 1 == columns) {
            let p = points[i];
            if lo.is_none_or(|l| p.1 < l.1) {
                lo = Some(p);
            }
            if hi.is_none_or(|h| p.1 > h.1) {
                hi = Some(p);
            }
            i += 1;
        }
        if let (Some(l), Some(h)) = (lo, hi) {
            if l.0 <= h.0 {
                out.extend([l, h]);
            } else {
                out.extend([h, l]);
            }
        }
    }
    out.dedup();
    out
}

struct Chart<'a> {
    title: String,
    unit: &'a str,
    series: Vec<Series>,
    /// The limit over time, as a step line (in the chart's unit).
    limit: Vec<Point>,
    /// Which expectations are shaded: `cpu.usage`, or `memory.` for every byte metric.
    metric: &'a str,
    scale: f64,
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    sc: &Scenario,
    container: &str,
    c: &Chart,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let t_max = sc.duration_s.max(0.1);
    let mut y_max = c
        .series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let shaded = |e: &&crate::model::Expectation| {
        e.container == container
            && (e.metric == c.metric
                || (c.metric == "memory." && e.is_bytes())
                || (c.metric == "cpu.usage.cpu" && e.metric.starts_with(c.metric)))
    };
    for e in sc.expectations.iter().filter(shaded) {
        for v in [
            e.expected.map(|x| x + e.band().unwrap_or(0.0)),
            e.max,
            e.min,
        ]
        .into_iter()
        .flatten()
        {
            y_max = y_max.max(v / c.scale);
        }
    }
    for p in &c.limit {
        y_max = y_max.max(p.1);
    }
    let y_max = if y_max > 0.0 { y_max * 1.15 } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .caption(&c.title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(c.unit)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    // Expectation windows: the expected band (or the side of a bound that passes), green or red.
    for e in sc.expectations.iter().filter(shaded) {
        let color = if e.verdict == Verdict::Pass {
            GREEN.mix(0.3)
        } else if e.verdict == Verdict::Fail {
            RED.mix(0.3)
        } else if e.verdict == Verdict::Inconclusive {
            RGBColor(0x6a, 0x3d, 0x9a).mix(0.25)
        } else {
            BLACK.mix(0.06)
        };
        let (lo, hi) = match (e.expected, e.band(), e.min, e.max) {
            (Some(x), Some(b), _, _) => (x - b, x + b),
            (Some(x), None, _, _) => (x, x),
            (None, _, Some(min), Some(max)) => (min, max),
            (None, _, Some(min), None) => (min, y_max * c.scale),
            (None, _, None, Some(max)) => (0.0, max),
            _ => continue,
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [
                    (e.window[0], lo / c.scale),
                    (e.window[1], (hi / c.scale).max(lo / c.scale + y_max * 0.01)),
                ],
                color.filled(),
            )))
            .map_err(|e| e.to_string())?;
    }
    for (label, pts, color) in &c.series {
        let pts = min_max_per_column(pts, SIZE.0 as usize);
        let color = *color;
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    // The limit: a dashed-looking red step line from each reading to the next.
    if !c.limit.is_empty() {
        let mut stair = Vec::new();
        for (i, p) in c.limit.iter().enumerate() {
            let end = c.limit.get(i + 1).map_or(t_max, |n| n.0);
            stair.push((p.0, p.1));
            stair.push((end, p.1));
        }
        chart
            .draw_series(LineSeries::new(stair, RED.stroke_width(1)))
            .map_err(|e| e.to_string())?
            .label("limit")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(1)));
    }
    // Steps: a vertical line at the real time of the write, labelled with what it wrote.
    for st in sc
        .steps
        .iter()
        .filter(|s| s.container == container && s.actual.is_some())
    {
        let x = st.actual.unwrap_or(st.at);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, y_max)],
                BLACK.mix(0.6).stroke_width(1),
            )))
            .map_err(|e| e.to_string())?;
        let label: String = st.what.chars().take(64).collect();
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (x + t_max * 0.005, y_max * 0.95),
                ("sans-serif", 12),
            )))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// A rendered chart: its SVG text and where its PNG was written.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Scenario.
    pub scenario: String,
    /// Container.
    pub container: String,
    /// `cpu` or `memory`.
    pub kind: &'static str,
    /// The SVG document.
    pub svg: String,
    /// The PNG file, relative to the run directory.
    pub png: String,
}

/// Renders the CPU and memory charts of every container of every scenario, in parallel, writing
/// PNG and SVG files into `run_dir/charts/`.
pub fn render_all(run_dir: &Path, s: &Summary) -> Result<Vec<Rendered>, ReportError> {
    ensure_font();
    let samples = rows(s);
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let dir = run_dir.join("charts");
    std::fs::create_dir_all(&dir).map_err(|source| ReportError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let jobs: Vec<(&Scenario, &String, &'static str)> = s
        .scenarios
        .iter()
        .flat_map(|sc| {
            sc.containers.iter().flat_map(move |c| {
                [
                    (sc, c, "cpu"),
                    (sc, c, "memory"),
                    (sc, c, "throttled"),
                    (sc, c, "per-cpu"),
                ]
            })
        })
        .collect();
    jobs.par_iter()
        .filter_map(|(sc, container, kind)| {
            let rows = samples.get(&(sc.name.clone(), (*container).clone()))?;
            let palette = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
            // No CFS quota, no periods: a throttling chart would be an empty promise.
            let periods = |r: Option<&Row>| r.and_then(|r| r.nr_periods).unwrap_or(0.0);
            if *kind == "throttled" && periods(rows.last()) <= periods(rows.first()) {
                return None;
            }
            let chart = if *kind == "throttled" {
                Chart {
                    title: format!(
                        "{} — {}: throttled share of CFS periods",
                        sc.name, container
                    ),
                    unit: "share",
                    series: vec![("throttled".into(), throttled_series(rows), RED)],
                    limit: Vec::new(),
                    metric: "cpu.throttled",
                    scale: 1.0,
                }
            } else if *kind == "per-cpu" {
                let n = rows.iter().map(|r| r.per_cpu_ns.len()).max().unwrap_or(0);
                Chart {
                    title: format!("{} — {}: CPU usage per CPU", sc.name, container),
                    unit: "CPUs",
                    series: (0..n)
                        .map(|i| {
                            (
                                format!("cpu{i}"),
                                rate(rows, |r| r.per_cpu_ns.get(i).copied().flatten(), 1e9),
                                palette[i % palette.len()],
                            )
                        })
                        .collect(),
                    limit: Vec::new(),
                    metric: "cpu.usage.cpu",
                    scale: 1.0,
                }
            } else if *kind == "cpu" {
                Chart {
                    title: format!("{} — {}: CPU", sc.name, container),
                    unit: "CPUs",
                    series: vec![("cpu usage".into(), cpu_series(rows), BLUE)],
                    limit: sc
                        .limits
                        .iter()
                        .filter(|l| &l.container == *container)
                        .filter_map(|l| l.cpus.map(|c| (l.t, c)))
                        .collect(),
                    metric: "cpu.usage",
                    scale: 1.0,
                }
            } else {
                let mib = |f: fn(&Row) -> Option<f64>| {
                    rows.iter()
                        .filter_map(|r| f(r).map(|v| (r.t, v / 1048576.0)))
                        .collect::<Vec<_>>()
                };
                Chart {
                    title: format!("{} — {}: memory", sc.name, container),
                    unit: "MiB",
                    series: vec![
                        ("usage".into(), mib(|r| r.memory), BLUE),
                        ("working set".into(), mib(|r| r.working_set), MAGENTA),
                    ],
                    limit: sc
                        .limits
                        .iter()
                        .filter(|l| &l.container == *container)
                        .filter_map(|l| l.memory_bytes.map(|b| (l.t, b as f64 / 1048576.0)))
                        .collect(),
                    metric: "memory.",
                    scale: 1048576.0,
                }
            };
            if chart.series.iter().all(|s| s.1.is_empty()) {
                return None;
            }
            let base = format!("{}-{}-{}", sc.name, container, kind);
            let png = dir.join(format!("{base}.png"));
            let mut svg = String::new();
            let r = draw(
                SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(),
                sc,
                container,
                &chart,
            )
            .and_then(|()| {
                draw(
                    BitMapBackend::new(&png, SIZE).into_drawing_area(),
                    sc,
                    container,
                    &chart,
                )
            });
            Some(
                r.map_err(|e| ReportError::Read {
                    path: png.display().to_string(),
                    reason: format!("cannot draw the chart: {e}"),
                })
                .and_then(|()| {
                    let svg_path = dir.join(format!("{base}.svg"));
                    std::fs::write(&svg_path, &svg).map_err(|source| ReportError::Write {
                        path: svg_path.display().to_string(),
                        source,
                    })?;
                    Ok(Rendered {
                        scenario: sc.name.clone(),
                        container: (*container).clone(),
                        kind,
                        svg,
                        png: format!("charts/{base}.png"),
                    })
                }),
            )
        })
        .collect()
}
