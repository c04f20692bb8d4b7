//! Learning curves as an SVG image (opens in any browser) and a CSV file.

use std::fmt::Write;

/// One row per epoch.
#[derive(Clone, Copy, Debug)]
pub struct Epoch {
    /// The epoch, counted from 1 across resumed runs (as printed).
    pub number: u64,
    pub iteration: u64,
    /// The mean training loss over the epoch's batches.
    pub loss: f64,
    pub train_acc: f64,
    pub test_acc: f64,
}

pub fn csv(epochs: &[Epoch]) -> String {
    let mut s = String::from("epoch,iteration,mean_train_loss,train_acc,test_acc\n");
    for e in epochs {
        let _ = writeln!(
            s,
            "{},{},{:.6},{:.4},{:.4}",
            e.number, e.iteration, e.loss, e.train_acc, e.test_acc
        );
    }
    s
}

/// Two panels side by side: loss per epoch, and train/test accuracy per epoch.
pub fn svg(title: &str, epochs: &[Epoch]) -> String {
    let (w, h) = (960.0, 440.0);
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
    let numbers: Vec<u64> = epochs.iter().map(|e| e.number).collect();
    let losses: Vec<f64> = epochs.iter().map(|e| e.loss).collect();
    panel(
        &mut s,
        60.0,
        "mean training loss of the epoch",
        &numbers,
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
        &numbers,
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
    epochs: &[u64],
    (lo, hi): (f64, f64),
    series: &[(&str, &str, &[f64])],
) {
    let (pw, ph, y0) = (380.0, 290.0, 60.0);
    let (first, last) = (
        epochs.first().copied().unwrap_or(1),
        epochs.last().copied().unwrap_or(1),
    );
    let span = (last - first).max(1) as f64;
    let px = |epoch: u64| x0 + (epoch.saturating_sub(first)) as f64 / span * pw;
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
    for epoch in ticks(first, last) {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{epoch}</text>"#,
            px(epoch),
            y0 + ph + 18.0
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
            .zip(epochs)
            .map(|(v, &epoch)| format!("{:.1},{:.1}", px(epoch), py(*v)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        // The legend goes under the axis, where no curve can be.
        let (lx, ly) = (x0 + 70.0 * k as f64, y0 + ph + 58.0);
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="3"/>"#,
            lx + 24.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{name}</text>"#,
            lx + 30.0,
            ly + 4.0
        );
    }
}

/// Epoch numbers for the x axis: multiples of 1, 2 or 5 × 10ᵏ, at most six, from
/// `first` to `last`.
fn ticks(first: u64, last: u64) -> Vec<u64> {
    let span = last.saturating_sub(first).max(1);
    let step = [1u64, 2, 5]
        .iter()
        .flat_map(|m| (0..12).map(move |k| m * 10u64.pow(k)))
        .filter(|step| span / step <= 6)
        .min()
        .unwrap_or(1);
    let start = first.div_ceil(step) * step;
    (start..=last).step_by(step as usize).collect()
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

#[cfg(test)]
mod tests {
    use super::ticks;

    #[test]
    fn ticks_are_round_epoch_numbers() {
        assert_eq!(ticks(1, 125), [20, 40, 60, 80, 100, 120]);
        assert_eq!(ticks(80, 125), [80, 90, 100, 110, 120]);
        assert_eq!(ticks(1, 3), [1, 2, 3]);
        assert_eq!(ticks(5, 5), [5]);
    }
}
