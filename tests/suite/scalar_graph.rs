//! Section 5.4–5.5: the scalar computational graph reproduces the book's shopping figures.

use typenet::graph::{AddLayer, MulLayer};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn buy_apple() {
    let (mut mul_apple, mut mul_tax) = (MulLayer::new(), MulLayer::new());
    let price = mul_tax.forward(mul_apple.forward(100.0, 2.0), 1.1);
    close(price, 220.0);
    let (dapple_price, dtax) = mul_tax.backward(1.0);
    let (dapple, dapple_num) = mul_apple.backward(dapple_price);
    close(dapple, 2.2);
    close(dapple_num, 110.0);
    close(dtax, 200.0);
}

#[test]
fn buy_apple_orange() {
    let (mut mul_apple, mut mul_orange, mut mul_tax) =
        (MulLayer::new(), MulLayer::new(), MulLayer::new());
    let mut add = AddLayer::new();
    let apple_price = mul_apple.forward(100.0, 2.0);
    let orange_price = mul_orange.forward(150.0, 3.0);
    let price = mul_tax.forward(add.forward(apple_price, orange_price), 1.1);
    close(price, 715.0);

    let (dall, dtax) = mul_tax.backward(1.0);
    let (dapple_price, dorange_price) = add.backward(dall);
    let (dorange, dorange_num) = mul_orange.backward(dorange_price);
    let (dapple, dapple_num) = mul_apple.backward(dapple_price);
    close(dapple_num, 110.0);
    close(dapple, 2.2);
    close(dorange, 3.3);
    close(dorange_num, 165.0);
    close(dtax, 650.0);
}

#[test]
fn example_prints_the_books_figures() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["run", "-q", "--example", "buy_apple_orange"])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "price: 715",
        "dApple: 2.2",
        "dApple_num: 110",
        "dOrange: 3.3",
        "dOrange_num: 165",
        "dTax: 650",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
}
