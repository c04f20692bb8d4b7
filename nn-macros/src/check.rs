//! Validates a declaration: resolves what flows from layer to layer and rejects what does
//! not fit.
//!
//! The built-in layers have a shape rule each (the [`BUILTINS`] table), so their mistakes
//! are reported at the token that causes them, naming the layers and numbers involved.
//! Any other layer is a user layer: its type is passed through, and the compiler checks it
//! against its neighbours through the `typenet::layer::Layer` trait. Every problem found
//! is reported in one build.

use crate::ast::{LayerDecl, NetworkDecl};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use std::collections::HashMap;
use syn::{Expr, GenericArgument, Ident, Lit, PathArguments};

/// A built-in layer: how it is written, and its shape rule.
pub struct Builtin {
    pub name: &'static str,
    /// Field names of unnamed layers: `affine1`, `relu1`, …
    stem: &'static str,
    /// Its type takes the scalar type first (`Affine<T, 784, 50>`).
    takes_scalar: bool,
    /// Runs in place on the buffer of the layer before it (element-wise activations).
    pub in_place: bool,
    /// Its backward pass reads its own output, so nothing may overwrite that in place.
    reads_output: bool,
    /// The loss layer, last in every network.
    pub is_loss: bool,
    /// Checks the sizes written against what flows in; returns the sizes of its type.
    rule: fn(&mut Check, &LayerDecl, &[SizeArg]) -> Option<Resolved>,
}

/// The built-in layers, one shape rule each.
pub const BUILTINS: [Builtin; 4] = [
    Builtin {
        name: "Affine",
        stem: "affine",
        takes_scalar: true,
        in_place: false,
        reads_output: false,
        is_loss: false,
        rule: affine_rule,
    },
    Builtin {
        name: "Relu",
        stem: "relu",
        takes_scalar: false,
        in_place: true,
        reads_output: true,
        is_loss: false,
        rule: width_rule,
    },
    Builtin {
        name: "Sigmoid",
        stem: "sigmoid",
        takes_scalar: false,
        in_place: true,
        reads_output: true,
        is_loss: false,
        rule: width_rule,
    },
    Builtin {
        name: "SoftmaxWithLoss",
        stem: "softmax_with_loss",
        takes_scalar: false,
        in_place: false,
        reads_output: true,
        is_loss: true,
        rule: width_rule,
    },
];

/// What a shape rule found: the sizes to write in the type, the width out, the parameters.
pub struct Resolved {
    args: Vec<Width>,
    outputs: Width,
    params: usize,
}

/// A number of values per sample: a literal the macro read, or the output size of a user
/// layer, which the compiler computes (`<L as Layer<f32>>::Output::LEN`, in a `const`
/// that the expansion defines for that layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Width {
    Lit(usize),
    /// The output size of user layer number `.0` of the declaration.
    Of(usize),
}

impl Width {
    pub fn lit(&self) -> Option<usize> {
        match self {
            Width::Lit(n) => Some(*n),
            Width::Of(_) => None,
        }
    }
}

/// A layer that passed the checks.
pub struct Layer {
    /// The struct field (and tensor name prefix).
    pub field: Ident,
    /// How the layer is shown in messages and docs, e.g. `Affine<784, 50>`.
    pub shown: String,
    /// The path as written, for spans.
    pub path: syn::Path,
    /// The built-in it is, with its sizes; `None` for a user layer.
    pub builtin: Option<(&'static Builtin, Vec<Width>)>,
    /// Values per sample out.
    pub outputs: Width,
    /// Parameters, when the macro can see them.
    pub params: Option<usize>,
    /// Index into [`Net::stages`] of the buffer that holds this layer's output (the loss
    /// layer's probabilities get a buffer of their own).
    pub stage: usize,
    /// Updates the previous layer's buffer in place.
    pub in_place: bool,
    /// What the compiler must check between this layer and the one before it.
    pub boundary: Boundary,
}

/// A check between two adjacent layers that the macro leaves to the compiler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// Checked by the macro (two built-ins with literal sizes), or the first layer.
    Checked,
    /// A user layer takes exactly the previous layer's `Output` type.
    SameType,
    /// A built-in after a user layer takes as many values as it produces (flattening it).
    SameLen,
}

impl Layer {
    /// The layer's type, with the network's scalar type written as `scalar`; `width`
    /// writes a width.
    pub fn ty(&self, scalar: &TokenStream, width: impl Fn(&Width) -> TokenStream) -> TokenStream {
        match &self.builtin {
            Some((b, args)) => {
                let name = Ident::new(b.name, Span::call_site());
                let args = args.iter().map(width);
                if b.takes_scalar {
                    quote!(::typenet::#name<#scalar, #(#args),*>)
                } else {
                    quote!(::typenet::#name<#(#args),*>)
                }
            }
            None => self.path.to_token_stream(),
        }
    }
}

/// A batch buffer in the cache: the output of one layer, possibly updated in place by the
/// activation that follows it.
pub struct Stage {
    pub field: Ident,
    pub grad: Ident,
    /// Values per sample.
    pub width: Width,
    /// The layers whose output it holds, for docs.
    pub shown: String,
}

/// A declaration that passed every check.
pub struct Net<'a> {
    pub decl: &'a NetworkDecl,
    /// The layers before the loss.
    pub body: Vec<Layer>,
    pub loss: Layer,
    pub stages: Vec<Stage>,
    pub inputs: usize,
    pub classes: Width,
}

impl Net<'_> {
    /// Every layer, the loss last.
    pub fn layers(&self) -> impl Iterator<Item = &Layer> {
        self.body.iter().chain(core::iter::once(&self.loss))
    }

    /// The number of parameters, if every layer is built in.
    pub fn params(&self) -> Option<usize> {
        self.layers().map(|l| l.params).sum()
    }
}

/// What flows out of the layers seen so far.
enum Flow {
    /// No layer yet.
    Start,
    /// A layer that could not be resolved (already reported): nothing after it is checked
    /// against it, so that one mistake is reported once.
    Unknown,
    /// A width, the layer as shown, and (for activations) the layer the width comes from.
    Known(Width, String, String),
}

/// A size argument as written: its value, if it is an integer literal, and its tokens.
pub struct SizeArg<'a> {
    value: Option<usize>,
    tokens: &'a GenericArgument,
}

/// The state of the checks: errors so far and what flows in.
pub struct Check<'a> {
    decl: &'a NetworkDecl,
    errors: Option<syn::Error>,
    flow: Flow,
}

impl Check<'_> {
    fn error(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    fn error_at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    fn push(&mut self, err: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(err),
            None => self.errors = Some(err),
        }
    }
}

pub fn resolve(decl: &NetworkDecl) -> syn::Result<Net<'_>> {
    let name = &decl.ident;
    let mut check = Check {
        decl,
        errors: None,
        flow: Flow::Start,
    };
    if decl.layers.is_empty() {
        check.error_at(
            decl.open,
            format!("network `{name}` has no layers: declare at least one `Affine<IN, OUT>` and end with `SoftmaxWithLoss`"),
        );
    }
    let mut layers: Vec<Layer> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut counters: HashMap<String, usize> = HashMap::new();
    let mut loss_seen: Option<String> = None;
    let mut inputs = None;
    // A loss written anywhere (even one that could not be resolved) means the network
    // has one: its absence is then not a second mistake.
    let loss_declared = decl.layers.iter().any(|l| {
        l.path
            .segments
            .last()
            .is_some_and(|s| BUILTINS.iter().any(|b| b.is_loss && s.ident == b.name))
    });

    for decl_layer in &decl.layers {
        if let Some(loss) = &loss_seen {
            check.error(
                &decl_layer.path,
                format!(
                    "`{}` comes after the loss layer `{loss}`; the loss layer must be the last layer of `{name}`",
                    shown_path(decl_layer)
                ),
            );
            continue;
        }
        let index = layers.len();
        let Some(mut layer) = resolve_layer(&mut check, decl_layer, &mut counters, index) else {
            check.flow = Flow::Unknown;
            continue;
        };
        if layers.is_empty() {
            inputs = first_layer_inputs(&mut check, decl_layer, &layer);
            if inputs.is_none() {
                check.flow = Flow::Unknown;
                continue;
            }
        }
        let previous = layers.last();
        let is_loss = layer.builtin.as_ref().is_some_and(|(b, _)| b.is_loss);
        let passes_width = layer
            .builtin
            .as_ref()
            .is_some_and(|(b, _)| b.in_place || b.is_loss);
        layer.boundary = match previous {
            None => Boundary::Checked,
            Some(_) if layer.builtin.is_none() => Boundary::SameType,
            Some(p) if p.builtin.is_none() || p.outputs.lit().is_none() => Boundary::SameLen,
            Some(_) => Boundary::Checked,
        };
        if is_loss {
            loss_seen = Some(layer.shown.clone());
        }
        layer.in_place = layer.builtin.as_ref().is_some_and(|(b, _)| b.in_place)
            && previous.is_some_and(|p| p.builtin.as_ref().is_some_and(|(b, _)| !b.reads_output));
        layer.stage = if layer.in_place {
            let stage = stages.len() - 1;
            stages[stage].shown = format!("{} → {}", stages[stage].shown, layer.shown);
            stage
        } else {
            stages.push(Stage {
                grad: Ident::new(&format!("{}_grad", layer.field), layer.field.span()),
                field: layer.field.clone(),
                width: layer.outputs.clone(),
                shown: format!("`{}`", layer.shown),
            });
            stages.len() - 1
        };
        let w = layer.outputs.clone();
        check.flow = match &check.flow {
            Flow::Known(_, prev, origin) if passes_width => {
                let origin = if origin.is_empty() {
                    format!(" (the outputs of `{prev}`)")
                } else {
                    origin.clone()
                };
                Flow::Known(w, layer.shown.clone(), origin)
            }
            _ => Flow::Known(w, layer.shown.clone(), String::new()),
        };
        layers.push(layer);
    }

    if !loss_declared && !layers.is_empty() {
        let (last, ends) = (
            &decl.layers[decl.layers.len() - 1].path,
            &layers[layers.len() - 1].shown,
        );
        check.error(
            last,
            format!("network `{name}` has no loss layer: it ends with `{ends}`; add `SoftmaxWithLoss` as the last layer"),
        );
    }
    unique_names(&mut check, &layers, &stages);

    if let Some(err) = check.errors {
        return Err(err);
    }
    let (Some(mut loss), Some(inputs)) = (layers.pop(), inputs) else {
        return Err(syn::Error::new(Span::call_site(), "no layers"));
    };
    // The loss has its own buffer for the probabilities, not an entry in `stages`.
    stages.pop();
    loss.stage = stages.len().saturating_sub(1);
    let classes = loss.outputs.clone();
    Ok(Net {
        decl,
        body: layers,
        loss,
        stages,
        inputs,
        classes,
    })
}

/// One layer: a built-in by its rule, anything else as a user layer.
fn resolve_layer(
    check: &mut Check,
    decl_layer: &LayerDecl,
    counters: &mut HashMap<String, usize>,
    index: usize,
) -> Option<Layer> {
    let last = decl_layer.path.segments.last()?;
    let type_name = last.ident.to_string();
    let builtin = BUILTINS
        .iter()
        .find(|b| b.name == type_name && decl_layer.path.segments.len() <= 2);
    let stem = builtin.map_or_else(|| snake_case(&type_name), |b| b.stem.to_string());
    let count = counters.entry(stem.clone()).or_default();
    *count += 1;
    let field = decl_layer.name.clone().unwrap_or_else(|| {
        let text = if builtin.is_some_and(|b| b.is_loss) {
            stem.clone()
        } else {
            format!("{stem}{count}")
        };
        Ident::new(&text, last.ident.span())
    });
    let Some(builtin) = builtin else {
        return user_layer(check, decl_layer, field, index);
    };
    let args = match &last.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(a) => a.args.iter().collect(),
        PathArguments::Parenthesized(p) => {
            check.error(
                p,
                format!("`{type_name}` takes sizes in angle brackets, like `Affine<784, 50>`"),
            );
            return None;
        }
    };
    let sizes: Vec<SizeArg> = args.into_iter().map(|a| size_arg(check, a)).collect();
    let resolved = (builtin.rule)(check, decl_layer, &sizes)?;
    let shown = shown_builtin(builtin.name, &sizes);
    Some(Layer {
        field,
        shown,
        path: decl_layer.path.clone(),
        builtin: Some((builtin, resolved.args)),
        outputs: resolved.outputs,
        params: Some(resolved.params),
        stage: 0,
        in_place: false,
        boundary: Boundary::Checked,
    })
}

/// A layer the macro does not know: the compiler checks it through the `Layer` trait.
fn user_layer(
    check: &mut Check,
    decl_layer: &LayerDecl,
    field: Ident,
    index: usize,
) -> Option<Layer> {
    if let Flow::Start = check.flow {
        check.error(
            &decl_layer.path,
            format!(
                "`{}` cannot be the first layer of `{}`: start with a built-in layer such as `Affine<IN, OUT>`, whose input size the network's samples take",
                shown_path(decl_layer),
                check.decl.ident
            ),
        );
        return None;
    }
    Some(Layer {
        field,
        shown: shown_path(decl_layer),
        path: decl_layer.path.clone(),
        builtin: None,
        outputs: Width::Of(index),
        params: None,
        stage: 0,
        in_place: false,
        boundary: Boundary::Checked,
    })
}

fn first_layer_inputs(check: &mut Check, decl_layer: &LayerDecl, layer: &Layer) -> Option<usize> {
    match &layer.builtin {
        Some((b, args)) if b.name == "Affine" => args.first().and_then(Width::lit),
        _ => {
            check.error(
                &decl_layer.path,
                format!(
                    "`{}` cannot be the first layer of `{}`: it takes its width from the layer before it; start with `Affine<IN, OUT>`",
                    layer.shown, check.decl.ident
                ),
            );
            None
        }
    }
}

/// `Affine<IN, OUT>`: two sizes; its inputs must be what flows in.
fn affine_rule(check: &mut Check, decl_layer: &LayerDecl, sizes: &[SizeArg]) -> Option<Resolved> {
    if sizes.len() != 2 {
        check.error(
            &decl_layer.path,
            format!(
                "`Affine` takes two sizes, inputs and outputs, as in `Affine<784, 50>`; found {}",
                sizes.len()
            ),
        );
        return None;
    }
    let (i, o) = (sizes[0].value?, sizes[1].value?);
    let shown = format!("Affine<{i}, {o}>");
    for (size, what) in [(&sizes[0], "inputs"), (&sizes[1], "outputs")] {
        if size.value == Some(0) {
            check.error(
                size.tokens,
                format!("`{shown}` has 0 {what}; every layer needs at least one"),
            );
        }
    }
    if let Flow::Known(Width::Lit(width), prev, origin) = &check.flow {
        if *width != i {
            let message = format!(
                "`{shown}` expects {i} inputs but the previous layer `{prev}` produces {width}{origin}"
            );
            check.error(sizes[0].tokens, message);
        }
    }
    Some(Resolved {
        args: vec![Width::Lit(i), Width::Lit(o)],
        outputs: Width::Lit(o),
        params: i * o + o,
    })
}

/// `Relu`, `Sigmoid`, `SoftmaxWithLoss`: the width of what flows in, or `<N>` stated (and
/// checked).
fn width_rule(check: &mut Check, decl_layer: &LayerDecl, sizes: &[SizeArg]) -> Option<Resolved> {
    let base = decl_layer.path.segments.last()?.ident.to_string();
    if sizes.len() > 1 {
        check.error(
            &decl_layer.path,
            format!(
                "`{base}` takes at most one size (its width, `{base}<N>`); found {}",
                sizes.len()
            ),
        );
        return None;
    }
    let explicit = match sizes.first() {
        Some(s) => Some((s.value?, s.tokens)),
        None => None,
    };
    let shown = match explicit {
        Some((n, _)) => format!("{base}<{n}>"),
        None => base.clone(),
    };
    let what = if base == "SoftmaxWithLoss" {
        "classes"
    } else {
        "features"
    };
    let width = match (&check.flow, explicit) {
        (Flow::Unknown, _) => return None,
        // Reported by the first-layer check.
        (Flow::Start, _) => Width::Lit(explicit.map_or(0, |(n, _)| n)),
        (_, Some((0, tokens))) => {
            check.error(
                tokens,
                format!("`{shown}` has width 0; every layer needs at least one"),
            );
            return None;
        }
        (Flow::Known(Width::Lit(width), prev, origin), Some((n, tokens))) => {
            let width = *width;
            if n != width {
                let message = format!(
                    "`{shown}` has {n} {what} but the previous layer `{prev}` produces {width}{origin}"
                );
                check.error(tokens, message);
            }
            // On a mismatch the layers after it are checked against what really flows.
            Width::Lit(width)
        }
        // After a user layer, the compiler checks a stated width.
        (Flow::Known(Width::Of(_), _, _), Some((n, _))) => Width::Lit(n),
        (Flow::Known(width, _, _), None) => width.clone(),
    };
    Some(Resolved {
        args: vec![width.clone()],
        outputs: width,
        params: 0,
    })
}

/// Field names must be unique, in the network and in its cache.
fn unique_names(check: &mut Check, layers: &[Layer], stages: &[Stage]) {
    let name = &check.decl.ident;
    let mut seen: Vec<String> = Vec::new();
    let mut clashes = Vec::new();
    for layer in layers {
        let text = layer.field.to_string();
        if seen.contains(&text) {
            clashes.push((
                layer.field.clone(),
                format!("two layers of `{name}` are called `{text}`; give each layer its own name"),
            ));
        }
        seen.push(text);
    }
    for stage in stages {
        let grad = stage.grad.to_string();
        if seen.contains(&grad) {
            clashes.push((stage.grad.clone(), format!("a layer may not be called `{grad}`: the cache of `{name}` uses that name for the gradient of `{}`", stage.field)));
        }
    }
    for (tokens, message) in clashes {
        check.error(tokens, message);
    }
}

fn size_arg<'a>(check: &mut Check, arg: &'a GenericArgument) -> SizeArg<'a> {
    let value = match arg {
        GenericArgument::Const(Expr::Lit(lit)) => match &lit.lit {
            Lit::Int(int) => int
                .base10_parse::<usize>()
                .map_err(|e| check.error(arg, e))
                .ok(),
            _ => None,
        },
        _ => None,
    };
    if value.is_none()
        && !matches!(arg, GenericArgument::Const(Expr::Lit(l)) if matches!(l.lit, Lit::Int(_)))
    {
        check.error(
            arg,
            "layer sizes must be integer literals, like `Affine<784, 50>`",
        );
    }
    SizeArg { value, tokens: arg }
}

/// A built-in as written: `Relu` stays `Relu` when its width was inferred.
fn shown_builtin(name: &str, written: &[SizeArg]) -> String {
    if written.is_empty() {
        return name.to_string();
    }
    let args: Vec<String> = written
        .iter()
        .map(|a| a.value.map_or_else(|| "?".to_string(), |v| v.to_string()))
        .collect();
    format!("{name}<{}>", args.join(", "))
}

fn shown_path(layer: &LayerDecl) -> String {
    layer
        .path
        .to_token_stream()
        .to_string()
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" , ", ", ")
        .replace(" :: ", "::")
}

/// `LeakyRelu` → `leaky_relu`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field, shown name, outputs, buffer, in place, checked by the compiler.
    type Resolved = Vec<(String, String, Width, usize, bool, bool)>;

    fn resolve_str(text: &str) -> Result<Resolved, String> {
        let decl: NetworkDecl = syn::parse_str(text).map_err(|e| e.to_string())?;
        let net = resolve(&decl).map_err(|e| {
            e.into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })?;
        Ok(net
            .layers()
            .map(|l| {
                (
                    l.field.to_string(),
                    l.shown.clone(),
                    l.outputs.clone(),
                    l.stage,
                    l.in_place,
                    l.boundary != Boundary::Checked,
                )
            })
            .collect())
    }

    #[test]
    fn widths_flow_and_activations_share_the_affine_buffer() {
        let layers =
            resolve_str("struct N< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >")
                .unwrap();
        let s = |t: &str| t.to_string();
        assert_eq!(
            layers,
            [
                (
                    s("affine1"),
                    s("Affine<784, 50>"),
                    Width::Lit(50),
                    0,
                    false,
                    false
                ),
                (s("relu1"), s("Relu"), Width::Lit(50), 0, true, false),
                (
                    s("affine2"),
                    s("Affine<50, 10>"),
                    Width::Lit(10),
                    1,
                    false,
                    false
                ),
                (
                    s("softmax_with_loss"),
                    s("SoftmaxWithLoss"),
                    Width::Lit(10),
                    1,
                    false,
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_second_activation_gets_its_own_buffer() {
        let layers =
            resolve_str("struct N< a: Affine<4, 3>, Sigmoid, Sigmoid<3>, SoftmaxWithLoss<3> >")
                .unwrap();
        let stages: Vec<_> = layers.iter().map(|l| (l.3, l.4)).collect();
        assert_eq!(stages, [(0, false), (0, true), (1, false), (1, false)]);
        assert_eq!(layers[0].0, "a");
    }

    #[test]
    fn user_layers_pass_through_and_the_compiler_checks_their_neighbours() {
        let layers = resolve_str(
            "struct N< Affine<4, 3>, Scale<T, 3>, LeakyRelu<3>, Relu, Relu<3>, Affine<3, 2>, SoftmaxWithLoss >",
        )
        .unwrap();
        let rows: Vec<_> = layers
            .iter()
            .map(|l| (l.0.as_str(), l.2.clone(), l.4, l.5))
            .collect();
        assert_eq!(
            rows,
            [
                ("affine1", Width::Lit(3), false, false),
                ("scale1", Width::Of(1), false, true),
                ("leaky_relu1", Width::Of(2), false, true),
                // A width the macro cannot see is the compiler's to compute ...
                ("relu1", Width::Of(2), false, true),
                // ... or to check, when it is written.
                ("relu2", Width::Lit(3), false, true),
                ("affine2", Width::Lit(2), false, false),
                ("softmax_with_loss", Width::Lit(2), false, false),
            ]
        );
    }

    #[test]
    fn every_mistake_is_reported_once() {
        let err = resolve_str(
            "struct N< Affine<784, 50>, Affine<40, 30>, Relu<20>, SoftmaxWithLoss, Relu >",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "`Affine<40, 30>` expects 40 inputs but the previous layer `Affine<784, 50>` produces 50 | \
             `Relu<20>` has 20 features but the previous layer `Affine<40, 30>` produces 30 | \
             `Relu` comes after the loss layer `SoftmaxWithLoss`; the loss layer must be the last layer of `N`"
        );
    }

    #[test]
    fn names_become_snake_case_fields() {
        assert_eq!(snake_case("LeakyRelu"), "leaky_relu");
        assert_eq!(snake_case("Scale"), "scale");
        assert_eq!(snake_case("BatchNorm2d"), "batch_norm2d");
    }
}
