use typenet::prelude::*;

network! {
    struct Net< >
}

fn main() {}
