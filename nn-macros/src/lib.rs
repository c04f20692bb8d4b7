//! The `network!` macro of [typenet](https://docs.rs/typenet). Use it through `typenet`,
//! which re-exports it; this crate is an implementation detail.
//!
//! The macro runs in three steps, each in its own module: `ast` parses the declaration
//! (a named struct, the same as a list, or an expression),
//! `check` resolves every layer's width and rejects shapes that do not fit (every
//! problem is reported at once, each at the offending token), and `expand` writes the
//! concrete struct, its cache and their straight-line methods.

mod ast;
mod check;
mod expand;
mod int8;

use proc_macro::TokenStream;

/// Declares a statically shaped network. See `typenet::network!` for the documentation.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let decl = syn::parse_macro_input!(input as ast::NetworkDecl);
    let items = match check::resolve(&decl) {
        Ok(net) => expand::network(&net),
        Err(err) => {
            // One mistake, one message: also emit a stub of the struct so later uses of the
            // name do not add "cannot find type" errors to the real one.
            let stub = expand::stub(&decl);
            let err = err.to_compile_error();
            quote::quote!(#err #stub)
        }
    };
    match &decl.value {
        // The expression form: the network, initialised as in the book (seed 0).
        Some(scalar) => {
            let name = &decl.ident;
            quote::quote!({ #items #name::<#scalar>::new(0) }).into()
        }
        None => items.into(),
    }
}
