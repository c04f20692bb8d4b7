//! Learning curves as an SVG image (opens in any browser) and a CSV file.

use std::fmt::Write;

/// One row per epoch.
#[derive(Clone, Copy, Debug)]
pub struct Epoch {
    pub iteration: u64,
    pub loss: f64,
    pub train_acc: f64,
    pub test_acc: f64,
}

pub fn csv(epochs: &[Epoch]) -> String {
    let mut s = String::from("epoch,iteration,loss,train_acc,test_acc\n");
    for (i, e) in epochs.iter().enumerate() {
        let _ = writeln!(
            s,
            "{},{},{:.6},{:.4},{:.4}",
            i, e.iteration, e.loss, e.train_acc, e.test_acc
        );
    }
    s
}

/// Two panels side by side: loss per epoch, and train/test accuracy per epoch.
pub fn svg(title: &str, epochs: &[Epoch]) -> String {
    let (w, h) = (960.0, 420.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="16">{}</text>"#,
        w / 2.0,
        escape(title)
    );
    let max_loss = epochs
        .iter()
        .map(|e| e.loss)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let losses: Vec<f64> = epochs.iter().map(|e| e.loss).collect();
    panel(
        &mut s,
        60.0,
        "loss",
        (0.0, nice_ceiling(max_loss)),
        &[("loss", "#d62728", &losses)],
    );
    let train: Vec<f64> = epochs.iter().map(|e| e.train_acc).collect();
    let test: Vec<f64> = epochs.iter().map(|e| e.test_acc).collect();
    let low = train.iter().chain(&test).copied().fold(1.0f64, f64::min);
    let low = ((low * 10.0).floor() / 10.0).clamp(0.0, 0.9);
    panel(
        &mut s,
        540.0,
        "accuracy",
        (low, 1.0),
        &[("train", "#1f77b4", &train), ("test", "#ff7f0e", &test)],
    );
    s.push_str("</svg>\n");
    s
}

fn panel(
    s: &mut String,
    x0: f64,
    label: &str,
    (lo, hi): (f64, f64),
    series: &[(&str, &str, &[f64])],
) {
    let (pw, ph, y0) = (380.0, 300.0, 60.0);
    let n = series.first().map_or(0, |s| s.2.len());
    let px = |i: usize| {
        x0 + if n > 1 {
            i as f64 / (n - 1) as f64 * pw
        } else {
            0.0
        }
    };
    let py = |v: f64| y0 + ph - (v - lo) / (hi - lo).max(1e-12) * ph;
    let _ = writeln!(
        s,
        r##"<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    for k in 0..=5 {
        let v = lo + (hi - lo) * k as f64 / 5.0;
        let y = py(v);
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/>"##,
            x0 + pw
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{v:.2}</text>"#,
            x0 - 6.0,
            y + 4.0
        );
    }
    let last = n.saturating_sub(1);
    for k in 0..=4 {
        let i = last * k / 4;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(i),
            y0 + ph + 18.0,
            i + 1
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#,
        x0 + pw / 2.0,
        y0 + ph + 38.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{label}</text>"#,
        x0 + pw / 2.0,
        y0 - 12.0
    );
    for (k, (name, color, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", px(i), py(*v)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        // Legend in the corner the curves leave free: top for loss, bottom for accuracy.
        let ly = if series.len() > 1 {
            y0 + ph - 46.0
        } else {
            y0 + 18.0
        } + 18.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="3"/>"#,
            x0 + pw - 90.0,
            x0 + pw - 66.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{name}</text>"#,
            x0 + pw - 60.0,
            ly + 4.0
        );
    }
}

fn nice_ceiling(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    (v / mag).ceil() * mag
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
