//! The shopping example of section 5.5: 2 apples at 100, 3 oranges at 150, 10 % tax.
//!
//! Run with `cargo run --example buy_apple_orange`.

use typenet::graph::{AddLayer, MulLayer};

fn main() {
    let (apple, apple_num, orange, orange_num, tax) = (100.0, 2.0, 150.0, 3.0, 1.1);

    let mut mul_apple = MulLayer::new();
    let mut mul_orange = MulLayer::new();
    let mut add_apple_orange = AddLayer::new();
    let mut mul_tax = MulLayer::new();

    // forward
    let apple_price = mul_apple.forward(apple, apple_num);
    let orange_price = mul_orange.forward(orange, orange_num);
    let all_price = add_apple_orange.forward(apple_price, orange_price);
    let price = mul_tax.forward(all_price, tax);

    // backward
    let dprice = 1.0;
    let (dall_price, dtax) = mul_tax.backward(dprice);
    let (dapple_price, dorange_price) = add_apple_orange.backward(dall_price);
    let (dorange, dorange_num) = mul_orange.backward(dorange_price);
    let (dapple, dapple_num) = mul_apple.backward(dapple_price);

    println!("price: {}", round(price));
    println!("dApple: {}", round(dapple));
    println!("dApple_num: {}", round(dapple_num));
    println!("dOrange: {}", round(dorange));
    println!("dOrange_num: {}", round(dorange_num));
    println!("dTax: {}", round(dtax));
}

/// Prints like the book's Python (`715`, `2.2`), hiding the last bits of binary rounding.
fn round(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}
