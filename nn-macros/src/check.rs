//! Resolves every layer's width and rejects declarations whose shapes do not fit.
//!
//! Every problem found is reported, each spanned at the token that causes it, and each
//! message names the layers and numbers involved.

use crate::ast::{LayerDecl, NetworkDecl};
use proc_macro2::Span;
use quote::ToTokens;
use syn::{Expr, GenericArgument, Ident, Lit, PathArguments};

/// The kinds of layer the macro knows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Affine,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
}

impl Kind {
    const ALL: [(&'static str, Kind); 4] = [
        ("Affine", Kind::Affine),
        ("Relu", Kind::Relu),
        ("Sigmoid", Kind::Sigmoid),
        ("SoftmaxWithLoss", Kind::SoftmaxWithLoss),
    ];

    fn field_stem(self) -> &'static str {
        match self {
            Kind::Affine => "affine",
            Kind::Relu => "relu",
            Kind::Sigmoid => "sigmoid",
            Kind::SoftmaxWithLoss => "softmax_with_loss",
        }
    }

    pub fn is_activation(self) -> bool {
        matches!(self, Kind::Relu | Kind::Sigmoid)
    }
}

/// A layer with its widths resolved.
pub struct Layer {
    pub kind: Kind,
    /// The struct field (and tensor name prefix).
    pub field: Ident,
    /// How the layer is shown in messages and docs, e.g. `Affine<784, 50>`.
    pub shown: String,
    pub inputs: usize,
    pub outputs: usize,
    /// Index into [`Net::stages`] of the buffer that holds this layer's output (the loss
    /// layer has none: its probabilities get their own buffer).
    pub stage: Option<usize>,
}

/// A batch buffer in the cache: the output of one layer, possibly updated in place by the
/// activation that follows it.
pub struct Stage {
    pub field: Ident,
    pub grad: Ident,
    pub width: usize,
    /// The layers whose output it holds, for docs.
    pub shown: String,
}

/// A declaration that passed every check.
pub struct Net<'a> {
    pub decl: &'a NetworkDecl,
    pub layers: Vec<Layer>,
    pub stages: Vec<Stage>,
    pub inputs: usize,
    pub classes: usize,
}

impl Net<'_> {
    /// The loss layer (always the last).
    pub fn loss(&self) -> &Layer {
        &self.layers[self.layers.len() - 1]
    }
}

/// Collects errors so that every mistake in a declaration is reported in one build.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }
}

/// What flows out of the layers seen so far.
enum Previous {
    /// No layer yet.
    None,
    /// A layer whose width could not be resolved (already reported).
    Unknown,
    /// Width, the layer as shown, and (for activations) which layer the width comes from.
    Known(usize, String, String),
}

/// A size argument as written: its value, if it is an integer literal, and its tokens.
struct SizeArg<'a> {
    value: Option<usize>,
    tokens: &'a GenericArgument,
}

pub fn resolve(decl: &NetworkDecl) -> syn::Result<Net<'_>> {
    let mut errors = Errors::default();
    let name = &decl.ident;
    if decl.layers.is_empty() {
        errors.spanned(
            decl.open,
            format!(
                "network `{name}` has no layers: declare at least one `Affine<IN, OUT>` and end with `SoftmaxWithLoss`"
            ),
        );
        return Err(errors
            .0
            .unwrap_or_else(|| syn::Error::new(Span::call_site(), "")));
    }

    let mut layers: Vec<Layer> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut counters = [0usize; 4];
    // The width flowing out of the previous layer, with how that layer is shown and where
    // its width comes from; `Unknown` after a layer that could not be resolved, so that
    // one mistake is not reported again by every layer after it.
    let mut previous = Previous::None;
    let mut loss_seen: Option<String> = None;
    let mut loss_declared = false;

    for decl_layer in &decl.layers {
        let Some((kind, args)) = layer_kind(decl_layer, &mut errors) else {
            previous = Previous::Unknown;
            continue;
        };
        loss_declared |= kind == Kind::SoftmaxWithLoss;
        let index = Kind::ALL.iter().position(|(_, k)| *k == kind).unwrap_or(0);
        counters[index] += 1;
        let field = decl_layer.name.clone().unwrap_or_else(|| {
            let stem = kind.field_stem();
            let text = if kind == Kind::SoftmaxWithLoss {
                stem.to_string()
            } else {
                format!("{stem}{}", counters[index])
            };
            Ident::new(
                &text,
                decl_layer
                    .path
                    .segments
                    .last()
                    .map_or(Span::call_site(), |s| s.ident.span()),
            )
        });

        if let Some(loss) = &loss_seen {
            errors.spanned(
                &decl_layer.path,
                format!(
                    "`{}` comes after the loss layer `{loss}`; the loss layer must be the last layer of `{name}`",
                    shown_path(decl_layer)
                ),
            );
            continue;
        }

        let sizes: Vec<SizeArg> = args.iter().map(|a| size_arg(a, &mut errors)).collect();
        let layer = match kind {
            Kind::Affine => {
                if sizes.len() != 2 {
                    previous = Previous::Unknown;
                    errors.spanned(
                        &decl_layer.path,
                        format!(
                            "`Affine` takes two sizes, inputs and outputs, as in `Affine<784, 50>`; found {}",
                            sizes.len()
                        ),
                    );
                    continue;
                }
                let (Some(i), Some(o)) = (sizes[0].value, sizes[1].value) else {
                    previous = Previous::Unknown;
                    continue;
                };
                let shown = format!("Affine<{i}, {o}>");
                for (size, what) in [(&sizes[0], "inputs"), (&sizes[1], "outputs")] {
                    if size.value == Some(0) {
                        errors.spanned(
                            size.tokens,
                            format!("`{shown}` has 0 {what}; every layer needs at least one"),
                        );
                    }
                }
                if let Previous::Known(width, prev, origin) = &previous {
                    if *width != i {
                        errors.spanned(
                            sizes[0].tokens,
                            format!(
                                "`{shown}` expects {i} inputs but the previous layer `{prev}` produces {width}{origin}"
                            ),
                        );
                    }
                }
                Layer {
                    kind,
                    field,
                    shown,
                    inputs: i,
                    outputs: o,
                    stage: None,
                }
            }
            Kind::Relu | Kind::Sigmoid | Kind::SoftmaxWithLoss => {
                let base = decl_layer
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                if sizes.len() > 1 {
                    previous = Previous::Unknown;
                    errors.spanned(
                        &decl_layer.path,
                        format!(
                            "`{base}` takes at most one size (its width, `{base}<N>`); found {}",
                            sizes.len()
                        ),
                    );
                    continue;
                }
                let explicit = sizes.first().and_then(|s| s.value.map(|v| (v, s.tokens)));
                let shown = match explicit {
                    Some((n, _)) => format!("{base}<{n}>"),
                    None => base.clone(),
                };
                let width = match (&previous, explicit) {
                    (Previous::Unknown, _) => continue,
                    (Previous::None, _) => {
                        errors.spanned(
                            &decl_layer.path,
                            format!(
                                "`{shown}` cannot be the first layer of `{name}`: it takes its width from the layer before it; start with `Affine<IN, OUT>`"
                            ),
                        );
                        continue;
                    }
                    (Previous::Known(width, prev, origin), Some((n, tokens))) => {
                        if n == 0 {
                            errors.spanned(
                                tokens,
                                format!("`{shown}` has width 0; every layer needs at least one"),
                            );
                        } else if n != *width {
                            let what = if kind == Kind::SoftmaxWithLoss {
                                "classes"
                            } else {
                                "features"
                            };
                            errors.spanned(
                                tokens,
                                format!(
                                    "`{shown}` has {n} {what} but the previous layer `{prev}` produces {width}{origin}"
                                ),
                            );
                        }
                        *width
                    }
                    (Previous::Known(width, _, _), None) => *width,
                };
                Layer {
                    kind,
                    field,
                    shown,
                    inputs: width,
                    outputs: width,
                    stage: None,
                }
            }
        };

        let mut layer = layer;
        if kind == Kind::SoftmaxWithLoss {
            loss_seen = Some(layer.shown.clone());
        } else {
            // An activation right after an `Affine` updates that layer's buffer in place;
            // anything else gets a buffer of its own.
            let shares =
                kind.is_activation() && layers.last().is_some_and(|l| l.kind == Kind::Affine);
            if shares {
                let stage = stages.len() - 1;
                stages[stage].shown = format!("{} → {}", stages[stage].shown, layer.shown);
                layer.stage = Some(stage);
            } else {
                stages.push(Stage {
                    grad: Ident::new(&format!("{}_grad", layer.field), layer.field.span()),
                    field: layer.field.clone(),
                    width: layer.outputs,
                    shown: layer.shown.clone(),
                });
                layer.stage = Some(stages.len() - 1);
            }
        }
        let origin = match (
            &previous,
            kind.is_activation() || kind == Kind::SoftmaxWithLoss,
        ) {
            (Previous::Known(_, prev, origin), true) if origin.is_empty() => {
                format!(" (the outputs of `{prev}`)")
            }
            (Previous::Known(_, _, origin), true) => origin.clone(),
            _ => String::new(),
        };
        previous = Previous::Known(layer.outputs, layer.shown.clone(), origin);
        layers.push(layer);
    }

    if let Some(last) = decl.layers.last() {
        if !loss_declared && !layers.is_empty() {
            let ends = layers.last().map(|l| l.shown.clone()).unwrap_or_default();
            errors.spanned(
                &last.path,
                format!(
                    "network `{name}` has no loss layer: it ends with `{ends}`; add `SoftmaxWithLoss` as the last layer"
                ),
            );
        }
    }

    // Field names must be unique, in the network and in its cache.
    let mut seen: Vec<String> = Vec::new();
    for (layer, decl_layer) in layers.iter().zip(&decl.layers) {
        let text = layer.field.to_string();
        if seen.contains(&text) {
            let tokens = decl_layer.name.as_ref().map_or_else(
                || decl_layer.path.to_token_stream(),
                |n| n.to_token_stream(),
            );
            errors.spanned(
                tokens,
                format!("two layers of `{name}` are called `{text}`; give each layer its own name"),
            );
        }
        seen.push(text);
    }
    for stage in &stages {
        let grad = stage.grad.to_string();
        if seen.contains(&grad) {
            errors.spanned(&stage.grad, format!("a layer may not be called `{grad}`: the cache of `{name}` uses that name for the gradient of `{}`", stage.field));
        }
    }

    if let Some(err) = errors.0 {
        return Err(err);
    }
    let inputs = layers[0].inputs;
    let classes = layers[layers.len() - 1].outputs;
    Ok(Net {
        decl,
        layers,
        stages,
        inputs,
        classes,
    })
}

/// The layer's kind and its generic arguments, or an error for an unknown layer.
fn layer_kind<'a>(
    layer: &'a LayerDecl,
    errors: &mut Errors,
) -> Option<(Kind, Vec<&'a GenericArgument>)> {
    let last = layer.path.segments.last()?;
    let name = last.ident.to_string();
    let Some(kind) = Kind::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k) else {
        let hint = suggestion(&name).map_or(String::new(), |s| format!("; did you mean `{s}`?"));
        errors.spanned(
            &last.ident,
            format!(
                "unknown layer `{name}`: the layers are `Affine<IN, OUT>`, `Relu`, `Sigmoid` and `SoftmaxWithLoss`{hint}"
            ),
        );
        return None;
    };
    let args = match &last.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(a) => a.args.iter().collect(),
        PathArguments::Parenthesized(p) => {
            errors.spanned(
                p,
                format!("`{name}` takes sizes in angle brackets, like `Affine<784, 50>`"),
            );
            return None;
        }
    };
    Some((kind, args))
}

fn size_arg<'a>(arg: &'a GenericArgument, errors: &mut Errors) -> SizeArg<'a> {
    let value = match arg {
        GenericArgument::Const(Expr::Lit(lit)) => match &lit.lit {
            Lit::Int(int) => match int.base10_parse::<usize>() {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            _ => None,
        },
        _ => None,
    };
    if value.is_none()
        && !matches!(arg, GenericArgument::Const(Expr::Lit(l)) if matches!(l.lit, Lit::Int(_)))
    {
        errors.spanned(
            arg,
            "layer sizes must be integer literals, like `Affine<784, 50>`",
        );
    }
    SizeArg { value, tokens: arg }
}

fn shown_path(layer: &LayerDecl) -> String {
    layer
        .path
        .to_token_stream()
        .to_string()
        .replace(" < ", "<")
        .replace(" >", ">")
        .replace(" , ", ", ")
}

/// A known layer close to an unknown name (common names from other libraries included).
fn suggestion(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let aliases: [(&str, &str); 8] = [
        ("linear", "Affine"),
        ("dense", "Affine"),
        ("fullyconnected", "Affine"),
        ("relu", "Relu"),
        ("sigmoid", "Sigmoid"),
        ("logistic", "Sigmoid"),
        ("softmax", "SoftmaxWithLoss"),
        ("crossentropy", "SoftmaxWithLoss"),
    ];
    if let Some((_, s)) = aliases
        .iter()
        .find(|(a, _)| lower == *a || lower.starts_with(a))
    {
        return Some(s);
    }
    Kind::ALL
        .iter()
        .map(|(n, _)| (*n, edit_distance(&lower, &n.to_ascii_lowercase())))
        .filter(|(_, d)| *d <= 2)
        .min_by_key(|(_, d)| *d)
        .map(|(n, _)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field, shown name, inputs, outputs, buffer of each layer.
    type Resolved = Vec<(String, String, usize, usize, Option<usize>)>;

    fn resolve_str(text: &str) -> Result<Resolved, String> {
        let decl: NetworkDecl = syn::parse_str(text).map_err(|e| e.to_string())?;
        let net = resolve(&decl).map_err(|e| {
            e.into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })?;
        Ok(net
            .layers
            .iter()
            .map(|l| {
                (
                    l.field.to_string(),
                    l.shown.clone(),
                    l.inputs,
                    l.outputs,
                    l.stage,
                )
            })
            .collect())
    }

    #[test]
    fn widths_flow_and_activations_share_the_affine_buffer() {
        let layers =
            resolve_str("struct N< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >")
                .unwrap();
        assert_eq!(
            layers,
            [
                ("affine1".into(), "Affine<784, 50>".into(), 784, 50, Some(0)),
                ("relu1".into(), "Relu".into(), 50, 50, Some(0)),
                ("affine2".into(), "Affine<50, 10>".into(), 50, 10, Some(1)),
                (
                    "softmax_with_loss".into(),
                    "SoftmaxWithLoss".into(),
                    10,
                    10,
                    None
                ),
            ]
        );
    }

    #[test]
    fn a_second_activation_gets_its_own_buffer() {
        let layers =
            resolve_str("struct N< a: Affine<4, 3>, Sigmoid, Sigmoid<3>, SoftmaxWithLoss<3> >")
                .unwrap();
        let stages: Vec<_> = layers.iter().map(|l| l.4).collect();
        assert_eq!(stages, [Some(0), Some(0), Some(1), None]);
        assert_eq!(layers[0].0, "a");
    }

    #[test]
    fn every_mistake_is_reported_once() {
        let err =
            resolve_str("struct N< Affine<784, 50>, Affine<40, 30>, Dense, SoftmaxWithLoss >")
                .unwrap_err();
        assert_eq!(
            err,
            "`Affine<40, 30>` expects 40 inputs but the previous layer `Affine<784, 50>` produces 50 | \
             unknown layer `Dense`: the layers are `Affine<IN, OUT>`, `Relu`, `Sigmoid` and `SoftmaxWithLoss`; did you mean `Affine`?"
        );
    }

    #[test]
    fn suggestions_cover_other_libraries_names_and_typos() {
        assert_eq!(suggestion("Linear"), Some("Affine"));
        assert_eq!(suggestion("ReLU"), Some("Relu"));
        assert_eq!(suggestion("Sigmiod"), Some("Sigmoid"));
        assert_eq!(suggestion("Softmax"), Some("SoftmaxWithLoss"));
        assert_eq!(suggestion("Conv2d"), None);
        assert_eq!(edit_distance("rleu", "relu"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
