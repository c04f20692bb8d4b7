//! The declaration as written, in one of three forms:
//!
//! - `[attrs] [vis] struct Name< [field:] Layer<args>, … >`: a named struct;
//! - `[attrs] [vis] Name = [field:] Layer<args>, …`: the same struct, written as a list;
//! - `[Scalar;] [field:] Layer<args>, …`: an expression, the network itself.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Path, Token, Type, Visibility};

/// A whole `network!` invocation.
pub struct NetworkDecl {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// Where the layer list opens (an empty list is reported there).
    pub open: Span,
    pub layers: Vec<LayerDecl>,
    /// For the expression form: the scalar type of the value (`f32` unless written).
    pub value: Option<Type>,
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
        let named = !attrs.is_empty() || !matches!(vis, Visibility::Inherited);
        if input.peek(Token![struct]) {
            return parse_struct(input, attrs, vis);
        }
        if input.peek(Ident) && input.peek2(Token![=]) {
            let ident: Ident = input.parse()?;
            let eq: Token![=] = input.parse()?;
            let layers = parse_list(input, |i| i.is_empty() || i.peek(Token![;]))?;
            if input.peek(Token![;]) {
                input.parse::<Token![;]>()?;
            }
            no_more(input)?;
            return Ok(NetworkDecl {
                attrs,
                vis,
                ident,
                open: eq.span,
                layers,
                value: None,
            });
        }
        if named {
            return Err(input.error(
                "expected `struct Name< … >` or `Name = …` after the attributes and visibility",
            ));
        }
        let open = input.span();
        let value = if input.peek(Ident) && input.peek2(Token![;]) {
            let scalar: Type = input.parse()?;
            input.parse::<Token![;]>()?;
            Some(scalar)
        } else {
            Some(syn::parse_quote!(f32))
        };
        let layers = parse_list(input, |i| i.is_empty())?;
        Ok(NetworkDecl {
            attrs,
            vis,
            ident: Ident::new("Net", Span::call_site()),
            open,
            layers,
            value,
        })
    }
}

fn parse_struct(
    input: ParseStream,
    attrs: Vec<Attribute>,
    vis: Visibility,
) -> syn::Result<NetworkDecl> {
    input.parse::<Token![struct]>()?;
    let ident: Ident = input.parse()?;
    let open: Token![<] = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected `<` and the list of layers, as in `struct Name< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >`",
        )
    })?;
    let layers = parse_list(input, |i| i.peek(Token![>]))?;
    input.parse::<Token![>]>()?;
    if input.peek(Token![;]) {
        input.parse::<Token![;]>()?;
    }
    no_more(input)?;
    Ok(NetworkDecl {
        attrs,
        vis,
        ident,
        open: open.span,
        layers,
        value: None,
    })
}

/// Layers separated by commas until `end` says the list is over.
fn parse_list(input: ParseStream, end: fn(ParseStream) -> bool) -> syn::Result<Vec<LayerDecl>> {
    let mut layers = Vec::new();
    while !end(input) {
        layers.push(input.parse()?);
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else if !end(input) {
            return Err(input.error("expected `,` after a layer"));
        }
    }
    Ok(layers)
}

fn no_more(input: ParseStream) -> syn::Result<()> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(input
            .error("unexpected tokens after the layer list; declare one network per `network!`"))
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
                "expected a layer: `Affine<IN, OUT>`, `Relu`, `Sigmoid`, `SoftmaxWithLoss` or a type implementing `typenet::layer::Layer`",
            )
        })?;
        Ok(LayerDecl { name, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> syn::Result<NetworkDecl> {
        syn::parse_str(text)
    }

    #[test]
    fn the_three_forms_parse_to_the_same_layers() {
        for text in [
            "pub struct Net< Affine<4, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss >",
            "pub Net = Affine<4, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss;",
            "Affine<4, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss",
            "f64; Affine<4, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss,",
        ] {
            let decl = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(decl.ident, "Net", "{text}");
            assert_eq!(decl.layers.len(), 4, "{text}");
        }
        assert!(parse("Affine<4, 3>, SoftmaxWithLoss")
            .unwrap()
            .value
            .is_some());
        assert!(parse("Net = Affine<4, 3>, SoftmaxWithLoss")
            .unwrap()
            .value
            .is_none());
    }

    #[test]
    fn a_missing_comma_is_reported() {
        let err = parse("Affine<4, 3> Relu, SoftmaxWithLoss").err().unwrap();
        assert_eq!(err.to_string(), "expected `,` after a layer");
    }
}
