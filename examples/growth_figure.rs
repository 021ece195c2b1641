//! Draws the growth figure of `docs/PERFORMANCE.md` (issue #12 item 4) from
//! the CSVs of `scripts/growth.sh`: one SVG (or PNG) with two log-log panels, time per
//! region and peak RSS per region against the region count, one line per
//! (method, input dimension). A run that hit the time limit has no region
//! count of its own: it is marked with a cross at the region count the other
//! methods found for the same case, at `limit / regions` seconds per region
//! (a lower bound) and at the peak RSS it had reached when it was stopped.
//!
//! Run with
//! `cargo run --release --example growth_figure --features plot -- target/growth.csv [more.csv ...] [--out docs/growth.svg] [--timeout 900]`.
//! A later CSV's row for the same (space, dimension, half-width, method)
//! replaces an earlier one, so a partial rerun can be listed after a full one.
//! The text is drawn with the crate's embedded font: no system font is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cpwl::Error;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The columns `scripts/growth.sh` writes, in its order.
const HEADER: [&str; 8] = [
    "space",
    "dim",
    "half_width",
    "method",
    "regions",
    "seconds",
    "peak_rss_kb",
    "status",
];

/// `scripts/growth.sh`'s default per-run limit (`TIMEOUT`), in seconds.
const DEFAULT_TIMEOUT_S: f64 = 900.0;

/// How one (case, method) run ended.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    /// Finished: its region count and the method's own seconds.
    Ok { regions: u64, seconds: f64 },
    /// Stopped by the time limit.
    Timeout,
    /// Failed; the reason `growth.sh` recorded.
    Failed(String),
}

/// One CSV row.
#[derive(Clone, Debug, PartialEq)]
struct Run {
    space: String,
    dim: u32,
    half_width: String,
    method: String,
    /// Peak RSS of the process in KiB (`None` where `time` recorded nothing).
    peak_kb: Option<f64>,
    status: Status,
}

impl Run {
    /// The case this run belongs to: the same network and domain.
    fn case(&self) -> (String, u32, String) {
        (self.space.clone(), self.dim, self.half_width.clone())
    }
}

/// An error naming the file, the line and what is wrong there.
fn bad(path: &Path, line: usize, reason: impl std::fmt::Display) -> Error {
    Error::File {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
        source: None,
    }
}

/// The number in column `name` of line `line`: finite and not negative
/// (counts, seconds and kilobytes are drawn on log axes).
fn number<T: std::str::FromStr>(path: &Path, line: usize, name: &str, text: &str) -> cpwl::Result<T> {
    let not_a = |what: &str| bad(path, line, format!("column {name}: {text:?} is not {what}"));
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => {
            text.parse().map_err(|_| not_a("a number of this column's kind"))
        }
        Ok(_) => Err(not_a("a finite count or size")),
        Err(_) => Err(not_a("a number")),
    }
}

/// Parses one data line (`line` counts from 1, the header included).
fn parse_row(path: &Path, line: usize, text: &str) -> cpwl::Result<Run> {
    let fields: Vec<&str> = text.split(',').collect();
    if fields.len() != HEADER.len() {
        return Err(bad(
            path,
            line,
            format!("{} fields, expected {}", fields.len(), HEADER.len()),
        ));
    }
    let peak_kb = match fields[6] {
        "" => None,
        kb => Some(number(path, line, HEADER[6], kb)?),
    };
    let status = match fields[7] {
        "ok" => Status::Ok {
            regions: number(path, line, HEADER[4], fields[4])?,
            seconds: number(path, line, HEADER[5], fields[5])?,
        },
        "timeout" => Status::Timeout,
        other if other.starts_with("failed") => Status::Failed(other.to_string()),
        other => return Err(bad(path, line, format!("unknown status {other:?}"))),
    };
    Ok(Run {
        space: fields[0].to_string(),
        dim: number(path, line, HEADER[1], fields[1])?,
        half_width: fields[2].to_string(),
        method: fields[3].to_string(),
        peak_kb,
        status,
    })
}

/// Parses a whole CSV (`path` only names it in errors).
fn parse_csv(path: &Path, text: &str) -> cpwl::Result<Vec<Run>> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.split(',').eq(HEADER) => {}
        _ => return Err(bad(path, 1, format!("the header is not {}", HEADER.join(",")))),
    }
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_row(path, i + 1, l))
        .collect()
}

/// Reads every CSV in order; a later row of the same case and method
/// replaces an earlier one.
fn read_runs(paths: &[PathBuf]) -> cpwl::Result<Vec<Run>> {
    let mut runs: BTreeMap<((String, u32, String), String), Run> = BTreeMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| Error::File {
            path: path.clone(),
            reason: "cannot read".into(),
            source: Some(Box::new(e)),
        })?;
        for run in parse_csv(path, &text)? {
            runs.insert((run.case(), run.method.clone()), run);
        }
    }
    Ok(runs.into_values().collect())
}

/// A point of the figure: regions, seconds per region, bytes of peak RSS per
/// region (`None` without a recorded peak).
type Point = (f64, f64, Option<f64>);

/// One line of the figure: a method in one input dimension.
#[derive(Default)]
struct Line {
    finished: Vec<Point>,
    timed_out: Vec<Point>,
}

/// Groups the runs into lines keyed by (method, dimension). A timed-out run
/// takes its case's region count from a finished run of the same case;
/// failed runs, and timeouts whose case no method finished, are left out
/// (and listed on stderr).
fn lines(runs: &[Run], timeout_s: f64) -> BTreeMap<(String, u32), Line> {
    let mut case_regions = BTreeMap::new();
    for run in runs {
        if let Status::Ok { regions, .. } = run.status {
            case_regions.insert(run.case(), regions as f64);
        }
    }
    let mut out: BTreeMap<(String, u32), Line> = BTreeMap::new();
    for run in runs {
        let per_region = |regions: f64, seconds: f64| {
            (
                regions,
                seconds / regions,
                run.peak_kb.map(|kb| 1024.0 * kb / regions),
            )
        };
        let line = out.entry((run.method.clone(), run.dim)).or_default();
        match (&run.status, case_regions.get(&run.case())) {
            (Status::Ok { regions, seconds }, _) if *regions > 0 => {
                line.finished.push(per_region(*regions as f64, *seconds));
            }
            (Status::Timeout, Some(&regions)) => line.timed_out.push(per_region(regions, timeout_s)),
            _ => eprintln!("left out: {run:?}"),
        }
    }
    for line in out.values_mut() {
        line.finished.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// The colour of a method (methods this list lacks share the last one).
fn colour(method: &str) -> RGBColor {
    const METHODS: [(&str, RGBColor); 4] = [
        ("plane_split", RGBColor(31, 119, 180)),
        ("skeleton", RGBColor(44, 160, 44)),
        ("lp", RGBColor(214, 39, 40)),
        ("es", RGBColor(148, 103, 189)),
    ];
    METHODS
        .iter()
        .find(|(m, _)| *m == method)
        .map_or(RGBColor(90, 90, 90), |(_, c)| *c)
}

/// What a panel plots: its title, its axis text, which value of a point, and
/// whether it holds the legend.
struct Panel {
    title: &'static str,
    y_desc: &'static str,
    value: fn(&Point) -> Option<f64>,
    legend: bool,
}

/// The smallest and largest positive value, widened to whole decades.
fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi == 0.0 {
        return (1.0, 10.0);
    }
    let (lo, hi) = (10f64.powf(lo.log10().floor()), 10f64.powf(hi.log10().ceil()));
    // Values all on one power of ten would give a log axis of zero width.
    (lo, if hi > lo { hi } else { lo * 10.0 })
}

/// Draws one panel: a line with marks (see [`mark_offsets`]) per (method,
/// dimension), crosses for timeouts.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &BTreeMap<(String, u32), Line>,
    what: &Panel,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let all = || lines.values().flat_map(|l| l.finished.iter().chain(&l.timed_out));
    let x = decades(all().map(|p| p.0));
    let y = decades(all().filter_map(what.value));
    let mut chart = ChartBuilder::on(area)
        .caption(what.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x.0..x.1).log_scale(), (y.0..y.1).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("regions")
        .y_desc(what.y_desc)
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    for ((method, dim), line) in lines {
        let style = colour(method).stroke_width(2);
        let points: Vec<(f64, f64)> = line
            .finished
            .iter()
            .filter_map(|p| (what.value)(p).map(|v| (p.0, v)))
            .collect();
        let dim = *dim;
        let drawn = chart.draw_series(LineSeries::new(points.clone(), style))?;
        if what.legend {
            drawn
                .label(format!("{method}, d = {dim}"))
                .legend(move |(x, y)| mark((x + 10, y), dim, colour(method)));
        }
        // The chart's marks are the legend's: one `mark` for both.
        chart.draw_series(
            points
                .into_iter()
                .map(|p| EmptyElement::at(p) + mark((0, 0), dim, colour(method))),
        )?;
        chart.draw_series(line.timed_out.iter().filter_map(|p| {
            (what.value)(p).map(|v| Cross::new((p.0, v), 6, colour(method).stroke_width(2)))
        }))?;
    }
    if what.legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()?;
    }
    Ok(())
}

/// The mark of a line by its input dimension (methods have colours), as the
/// corners of a polygon around the point, in pixels: every dimension the
/// growth runs use has a shape of its own, and any other dimension shares a
/// plus sign (timeouts are crosses). One polygon type throughout, because
/// plotters' legend takes one element type.
fn mark_offsets(dim: u32) -> Vec<(i32, i32)> {
    match dim {
        2 => (0..12)
            .map(|k| {
                let t = std::f64::consts::TAU * f64::from(k) / 12.0;
                ((4.5 * t.cos()).round() as i32, (4.5 * t.sin()).round() as i32)
            })
            .collect(),
        3 => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        4 => vec![(-5, 4), (5, 4), (0, -5)],
        6 => vec![(0, -6), (5, 0), (0, 6), (-5, 0)],
        8 => vec![(-5, -4), (5, -4), (0, 5)],
        _ => vec![
            (-1, -5),
            (1, -5),
            (1, -1),
            (5, -1),
            (5, 1),
            (1, 1),
            (1, 5),
            (-1, 5),
            (-1, 1),
            (-5, 1),
            (-5, -1),
            (-1, -1),
        ],
    }
}

/// The mark of a `dim`-D line of `colour` centred at `at` (pixels), in the
/// chart (relative to each point) and in the legend.
fn mark(at: (i32, i32), dim: u32, colour: RGBColor) -> Polygon<(i32, i32)> {
    let (x, y) = at;
    let corners = mark_offsets(dim).into_iter().map(|(dx, dy)| (x + dx, y + dy));
    Polygon::new(corners.collect::<Vec<_>>(), colour.filled())
}

/// Registers the crate's embedded font (DejaVu Sans Mono, see
/// `src/plot/DejaVuSansMono.LICENSE`) under the family the panels ask for.
fn register_font() -> Result<(), Box<dyn std::error::Error>> {
    static FONT: &[u8] = include_bytes!("../src/plot/DejaVuSansMono.ttf");
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| "cannot parse the embedded font".into())
}

/// Draws the figure to `out`: a PNG where its name ends in `.png`, else an SVG.
fn draw(lines: &BTreeMap<(String, u32), Line>, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    register_font()?;
    const SIZE: (u32, u32) = (1200, 560);
    if out.extension().is_some_and(|e| e == "png") {
        draw_on(BitMapBackend::new(out, SIZE).into_drawing_area(), lines)
    } else {
        draw_on(SVGBackend::new(out, SIZE).into_drawing_area(), lines)
    }
}

/// Both panels, side by side under one title.
fn draw_on<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    lines: &BTreeMap<(String, u32), Line>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(
        "Growth: cost per region against region count (crosses: stopped at the time limit)",
        ("sans-serif", 20),
    )?;
    let areas = root.split_evenly((1, 2));
    let time = Panel {
        title: "time per region",
        y_desc: "seconds per region",
        value: |p| Some(p.1),
        legend: false,
    };
    let memory = Panel {
        title: "peak RSS per region (whole process)",
        y_desc: "bytes per region",
        value: |p| p.2,
        legend: true,
    };
    panel(&areas[0], lines, &time)?;
    panel(&areas[1], lines, &memory)?;
    root.present()?;
    Ok(())
}

/// The command line: CSV paths, `--out PATH`, `--timeout SECONDS`.
struct Args {
    csvs: Vec<PathBuf>,
    out: PathBuf,
    timeout_s: f64,
}

fn args() -> Result<Args, Box<dyn std::error::Error>> {
    let mut args = Args {
        csvs: Vec::new(),
        out: PathBuf::from("target/growth.svg"),
        timeout_s: DEFAULT_TIMEOUT_S,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => args.out = it.next().ok_or("--out needs a path")?.into(),
            "--timeout" => {
                let seconds: f64 = it.next().ok_or("--timeout needs seconds")?.parse()?;
                if !(seconds.is_finite() && seconds > 0.0) {
                    return Err(
                        format!("--timeout must be a positive number of seconds, not {seconds}").into(),
                    );
                }
                args.timeout_s = seconds;
            }
            _ => args.csvs.push(arg.into()),
        }
    }
    if args.csvs.is_empty() {
        args.csvs.push("target/growth.csv".into());
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let runs = read_runs(&args.csvs)?;
    draw(&lines(&runs, args.timeout_s), &args.out)?;
    println!("wrote {} from {} runs", args.out.display(), runs.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::element::PointCollection;

    const GOOD: &str = "space,dim,half_width,method,regions,seconds,peak_rss_kb,status\n\
                        w1,2,2,lp,777,0.5,15256,ok\n\
                        w1,2,40,lp,,,56948,timeout\n\
                        w1,2,40,es,111990,5.5,1496172,ok\n\
                        w2,4,0.4,es,,,,failed: no module; named torch\n";

    fn parse(text: &str) -> cpwl::Result<Vec<Run>> {
        parse_csv(Path::new("growth.csv"), text)
    }

    /// The reason of a file error, or a panic for anything else.
    fn reason(result: cpwl::Result<Vec<Run>>) -> String {
        match result {
            Err(Error::File { reason, .. }) => reason,
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    #[test]
    fn reads_finished_timed_out_and_failed_rows() {
        let runs = parse(GOOD).unwrap();
        assert_eq!(runs.len(), 4);
        assert_eq!(
            runs[0].status,
            Status::Ok {
                regions: 777,
                seconds: 0.5
            }
        );
        assert_eq!((runs[0].dim, runs[0].peak_kb), (2, Some(15256.0)));
        assert_eq!(runs[1].status, Status::Timeout);
        assert!(matches!(runs[3].status, Status::Failed(_)));
        assert_eq!(runs[3].peak_kb, None);
    }

    #[test]
    fn a_timeout_takes_its_case_region_count_and_the_limit() {
        let lines = lines(&parse(GOOD).unwrap(), 900.0);
        let lp = &lines[&("lp".to_string(), 2)];
        assert_eq!(
            lp.finished,
            vec![(777.0, 0.5 / 777.0, Some(1024.0 * 15256.0 / 777.0))]
        );
        assert_eq!(
            lp.timed_out,
            vec![(111990.0, 900.0 / 111990.0, Some(1024.0 * 56948.0 / 111990.0))]
        );
        // The failed run draws nothing.
        let es4 = &lines[&("es".to_string(), 4)];
        assert!(es4.finished.is_empty() && es4.timed_out.is_empty());
    }

    #[test]
    fn malformed_rows_name_their_line() {
        let header = HEADER.join(",");
        let short = format!("{header}\nw1,2,2,lp,777,0.5,ok\n");
        assert_eq!(reason(parse(&short)), "line 2: 7 fields, expected 8");
        let word = format!("{header}\nw1,2,2,lp,777,0.5,1,ok\nw1,2,7,lp,many,0.5,1,ok\n");
        assert_eq!(
            reason(parse(&word)),
            r#"line 3: column regions: "many" is not a number"#
        );
        let dim = format!("{header}\nw1,two,2,lp,777,0.5,1,ok\n");
        assert_eq!(
            reason(parse(&dim)),
            r#"line 2: column dim: "two" is not a number"#
        );
        let missing = format!("{header}\nw1,2,2,lp,777,,1,ok\n");
        assert_eq!(
            reason(parse(&missing)),
            r#"line 2: column seconds: "" is not a number"#
        );
        for (seconds, peak) in [("inf", "1"), ("-0.5", "1"), ("0.5", "NaN")] {
            let odd = format!("{header}\nw1,2,2,lp,777,{seconds},{peak},ok\n");
            assert!(
                reason(parse(&odd)).ends_with("is not a finite count or size"),
                "{seconds} {peak}"
            );
        }
        let status = format!("{header}\nw1,2,2,lp,777,0.5,1,done\n");
        assert_eq!(reason(parse(&status)), r#"line 2: unknown status "done""#);
        assert!(reason(parse("space,dim\nw1,2\n")).starts_with("line 1: the header is not space,dim,"));
        assert!(reason(parse("")).starts_with("line 1:"));
    }

    #[test]
    fn a_later_file_replaces_the_same_run() {
        let dir = std::env::temp_dir().join(format!("cpwl-growth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = dir.join("a.csv");
        let second = dir.join("b.csv");
        std::fs::write(&first, GOOD).unwrap();
        let header = HEADER.join(",");
        std::fs::write(&second, format!("{header}\nw1,2,2,lp,777,0.25,15000,ok\n")).unwrap();
        let runs = read_runs(&[first, second]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(runs.len(), 4);
        let lp = runs
            .iter()
            .find(|r| r.method == "lp" && r.half_width == "2")
            .unwrap();
        assert_eq!(
            lp.status,
            Status::Ok {
                regions: 777,
                seconds: 0.25
            }
        );
    }

    #[test]
    fn every_dimension_of_the_runs_has_its_own_mark_in_chart_and_legend() {
        let dims = [2, 3, 4, 6, 8];
        let other = mark_offsets(5);
        for (i, &d) in dims.iter().enumerate() {
            let shape = mark_offsets(d);
            assert!(shape.len() >= 3, "d = {d}");
            assert_ne!(shape, other, "d = {d} shares the fallback mark");
            for &e in &dims[i + 1..] {
                assert_ne!(shape, mark_offsets(e), "d = {d} and d = {e} share a mark");
            }
            // The legend draws the chart's shape, moved to its spot.
            let legend = mark((100, 50), d, colour("lp"));
            let corners = PointCollection::point_iter(&legend).to_vec();
            let moved: Vec<(i32, i32)> = shape.iter().map(|&(x, y)| (x + 100, y + 50)).collect();
            assert_eq!(corners, moved, "d = {d}");
        }
        // Dimensions the runs do not use share one mark.
        assert_eq!(mark_offsets(10), other);
    }

    #[test]
    fn decades_cover_the_values() {
        let (lo, hi) = decades([0.002, 30.0, 0.0, f64::NAN].into_iter());
        assert!((lo / 1e-3 - 1.0).abs() < 1e-12 && (hi / 1e2 - 1.0).abs() < 1e-12);
        assert_eq!(decades(std::iter::empty()), (1.0, 10.0));
        // One power of ten alone still spans a decade.
        let (lo, hi) = decades([1000.0].into_iter());
        assert!((lo / 1e3 - 1.0).abs() < 1e-12 && (hi / 1e4 - 1.0).abs() < 1e-12);
    }
}
