//! The declaration as written: `[attrs] [vis] struct Name< [field:] Layer<args>, … >`.

use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Path, Token, Visibility};

/// A whole `network!` invocation.
pub struct NetworkDecl {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// The `<` that opens the layer list (where an empty list is reported).
    pub open: Token![<],
    pub layers: Vec<LayerDecl>,
}

/// One entry of the layer list: an optional field name and the layer type, such as
/// `Affine<784, 50>` (parsed as a path, so `typenet::Relu` is accepted too).
pub struct LayerDecl {
    pub name: Option<Ident>,
    pub path: Path,
}

impl Parse for NetworkDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `struct`: declare a network as `struct Name< Affine<IN, OUT>, …, SoftmaxWithLoss >`",
            )
        })?;
        let ident: Ident = input.parse()?;
        let open: Token![<] = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `<` and the list of layers, as in `struct Name< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >`",
            )
        })?;
        let mut layers = Vec::new();
        while !input.peek(Token![>]) {
            layers.push(input.parse()?);
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            } else if !input.peek(Token![>]) {
                return Err(input.error("expected `,` or `>` after a layer"));
            }
        }
        input.parse::<Token![>]>()?;
        if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
        }
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens after the layer list; declare one network per `network!`",
            ));
        }
        Ok(NetworkDecl {
            attrs,
            vis,
            ident,
            open,
            layers,
        })
    }
}

impl Parse for LayerDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = if input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            Some(name)
        } else {
            None
        };
        let path: Path = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a layer: `Affine<IN, OUT>`, `Relu`, `Sigmoid` or `SoftmaxWithLoss`",
            )
        })?;
        Ok(LayerDecl { name, path })
    }
}
