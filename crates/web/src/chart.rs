//! A server-rendered SVG line chart for the dashboards: no JavaScript, readable by
//! screen readers (`<title>`, `<desc>`, `aria-labelledby`), series told apart by
//! dash pattern and marker as well as colour. The caller also renders the values
//! as a table (RGAA: a chart never carries information alone).

use std::fmt::Write;

use crate::i18n::{fill, Lang, Msg};

#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    pub name: String,
    /// One value per label; `None` = no data that week (a gap in the line).
    pub values: Vec<Option<f64>>,
}

/// High-contrast colours (≥ 4.5:1 on white) paired with distinct dash patterns.
const STYLES: &[(&str, &str)] = &[
    ("#000091", ""),
    ("#b34000", "6 3"),
    ("#18753c", "2 3"),
    ("#6e445a", "8 3 2 3"),
    ("#3a3a3a", "1 2"),
];

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => o.push(c),
        }
    }
    o
}

/// A value with the page's decimal mark, to as many places as its size needs.
fn fmt_num(lang: Lang, v: f64) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    match lang {
        Lang::Fr => s.replace('.', ","),
        Lang::En => s,
    }
}

/// Render the chart. Ids are derived from the title so several charts on one
/// page do not clash (callers give distinct titles).
pub fn svg_chart(
    lang: Lang,
    series: &[ChartSeries],
    threshold: Option<f64>,
    labels: &[String],
    title: &str,
) -> String {
    const W: f64 = 640.0;
    const H: f64 = 280.0;
    const L: f64 = 56.0;
    const R: f64 = 16.0;
    const T: f64 = 36.0;
    const B: f64 = 48.0;
    // A stable id from the title, so two charts on one page do not share it
    // (the web app has no classifier to borrow its feature hash from).
    let id: String = {
        use sha2::Digest;
        let h = sha2::Sha256::digest(title.as_bytes());
        format!("chart-{}", hex::encode(&h[..8]))
    };
    let finite = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .filter(|v| v.is_finite());
    let mut max = finite.clone().fold(f64::MIN, f64::max);
    let mut min = finite.fold(f64::MAX, f64::min).min(0.0);
    if let Some(t) = threshold.filter(|t| t.is_finite()) {
        max = max.max(t);
        min = min.min(t);
    }
    if max == f64::MIN || max <= min {
        max = min + 1.0;
    }
    max += (max - min) * 0.1;
    let n = labels
        .len()
        .max(series.iter().map(|s| s.values.len()).max().unwrap_or(0));
    let x = |i: usize| -> f64 {
        if n <= 1 {
            L + (W - L - R) / 2.0
        } else {
            L + (W - L - R) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| -> f64 { T + (H - T - B) * (1.0 - (v - min) / (max - min)) };

    // Said as the page says it, in the page's language: no "1 séries sur 2
    // périodes".
    let mut desc = fill(lang, Msg::ChartWeeks, &[&n.to_string()]);
    for s in series {
        let vals: Vec<f64> = s
            .values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if let (Some(first), Some(last)) = (vals.first(), vals.last()) {
            let peak = vals.iter().copied().fold(f64::MIN, f64::max);
            desc.push(' ');
            desc.push_str(&fill(
                lang,
                Msg::ChartRange,
                &[
                    &s.name,
                    &fmt_num(lang, *first),
                    &fmt_num(lang, *last),
                    &fmt_num(lang, peak),
                ],
            ));
        }
    }
    if let Some(t) = threshold {
        desc.push(' ');
        desc.push_str(&fill(lang, Msg::ChartThreshold, &[&fmt_num(lang, t)]));
    }

    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-labelledby="{id}-title {id}-desc" class="facteur-chart">"#
    );
    let _ = write!(o, r#"<title id="{id}-title">{}</title>"#, esc(title));
    let _ = write!(o, r#"<desc id="{id}-desc">{}</desc>"#, esc(&desc));
    let _ = write!(
        o,
        r##"<text x="{L}" y="20" font-size="14" font-weight="bold" fill="#161616">{}</text>"##,
        esc(title)
    );
    // Axes and gridlines with 5 ticks.
    for k in 0..=4 {
        let v = min + (max - min) * k as f64 / 4.0;
        let yy = y(v);
        let _ = write!(
            o,
            r##"<line x1="{L}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#dddddd" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#3a3a3a">{}</text>"##,
            W - R,
            L - 6.0,
            yy + 4.0,
            fmt_num(lang, v)
        );
    }
    let _ = write!(
        o,
        r##"<line x1="{L}" y1="{T}" x2="{L}" y2="{:.1}" stroke="#3a3a3a"/><line x1="{L}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#3a3a3a"/>"##,
        H - B,
        H - B,
        W - R,
        H - B
    );
    // X labels, thinned so they do not overlap.
    let step = n.div_ceil(12).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i % step == 0 || i + 1 == labels.len() {
            let _ = write!(
                o,
                r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#3a3a3a">{}</text>"##,
                x(i),
                H - B + 16.0,
                esc(l)
            );
        }
    }
    if let Some(t) = threshold.filter(|t| t.is_finite()) {
        let yy = y(t);
        let _ = write!(
            o,
            r##"<line x1="{L}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ce0500" stroke-width="2" stroke-dasharray="4 4"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#ce0500">{}</text>"##,
            W - R,
            W - R,
            yy - 4.0,
            esc(&fill(lang, Msg::ChartThresholdMark, &[&fmt_num(lang, t)]))
        );
    }
    for (si, s) in series.iter().enumerate() {
        let (color, dash) = STYLES[si % STYLES.len()];
        // Split into runs at gaps.
        let mut runs: Vec<Vec<(usize, f64)>> = vec![Vec::new()];
        for (i, v) in s.values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => runs.last_mut().map(|r| r.push((i, v))).unwrap_or(()),
                None => runs.push(Vec::new()),
            }
        }
        let _ = write!(o, r#"<g class="series" data-name="{}">"#, esc(&s.name));
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let pts: Vec<String> = run
                .iter()
                .map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v)))
                .collect();
            let _ = write!(
                o,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}" points="{}"/>"#,
                pts.join(" ")
            );
            for (i, v) in run {
                let label = labels.get(*i).map(String::as_str).unwrap_or("");
                let _ = write!(
                    o,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} {}{}{}</title></circle>"#,
                    x(*i),
                    y(*v),
                    esc(&s.name),
                    esc(label),
                    if lang == Lang::Fr { " : " } else { ": " },
                    fmt_num(lang, *v)
                );
            }
        }
        // Legend entry.
        let ly = H - 12.0;
        let lx = L + 150.0 * si as f64;
        let _ = write!(
            o,
            r##"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{ly:.1}" font-size="11" fill="#161616">{}</text></g>"##,
            ly - 4.0,
            lx + 24.0,
            ly - 4.0,
            lx + 28.0,
            esc(&s.name)
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessible_escaped_and_gapped() {
        let s = vec![ChartSeries {
            name: "PSI <boîte 1>".into(),
            values: vec![Some(0.05), Some(0.08), None, Some(0.31)],
        }];
        let labels: Vec<String> = ["W1", "W2", "W3", "W4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let svg = svg_chart(Lang::Fr, &s, Some(0.2), &labels, "Dérive & co");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"chart-"));
        assert!(svg.contains("<title id=\"chart-") && svg.contains("Dérive &amp; co"));
        assert!(svg.contains("<desc id=\"chart-") && svg.contains("Seuil d&#39;alerte : 0,20"));
        assert!(svg.contains("PSI &lt;boîte 1&gt;"));
        assert!(!svg.contains("<boîte"));
        assert!(!svg.contains("<script"));
        // The gap splits the line in two polylines; every point has a circle.
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("W4 : 0,31"), "{svg}");
        let en = svg_chart(Lang::En, &s, Some(0.2), &labels, "Drift");
        assert!(
            en.contains("Alert threshold: 0.20") && en.contains("4 weeks."),
            "{en}"
        );
    }

    #[test]
    fn empty_and_nan_input_still_renders() {
        let svg = svg_chart(
            Lang::Fr,
            &[ChartSeries {
                name: "x".into(),
                values: vec![Some(f64::NAN)],
            }],
            None,
            &[],
            "vide",
        );
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("NaN"));
        let svg = svg_chart(Lang::Fr, &[], Some(1.0), &["a".into()], "vide2");
        assert!(svg.contains("seuil"));
    }

    #[test]
    fn two_series_of_twelve_weeks_draw_every_point_and_label_the_last_week() {
        // Moved from learn's drift test when the chart moved to web.
        let weeks: Vec<String> = (1..=12).map(|w| format!("2025-W{w:02}")).collect();
        let psi1: Vec<f64> = (0..12).map(|i| 0.01 * i as f64).collect();
        let psi2: Vec<f64> = (0..12).map(|i| 0.3 - 0.01 * i as f64).collect();
        let svg = svg_chart(
            Lang::Fr,
            &[
                ChartSeries {
                    name: "Boîte 1".into(),
                    values: psi1.iter().map(|v| Some(*v)).collect(),
                },
                ChartSeries {
                    name: "Boîte 2".into(),
                    values: psi2.iter().map(|v| Some(*v)).collect(),
                },
            ],
            Some(0.2),
            &weeks,
            "Dérive des types de demande (PSI)",
        );
        assert_eq!(svg.matches("<circle").count(), 24);
        assert!(svg.contains(&weeks[11]));
    }
}
