//! Every shape mistake is a compile error with a message a user understands.
//!
//! Each case under `tests/ui/` has a reviewed `.stderr` snapshot. Regenerate with
//! `TRYBUILD=overwrite cargo test --test ui` and review the diff.

#[test]
fn shape_mistakes_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
