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
    /// Its samples are images (`[[[T; W]; H]; C]`), so the flat buffers of the network are
    /// reshaped for it.
    pub shaped: bool,
    /// Checks the sizes written against what flows in; returns the sizes of its type.
    rule: fn(&mut Check, &LayerDecl, &[SizeArg]) -> Option<Resolved>,
}

/// The built-in layers, one shape rule each.
pub const BUILTINS: [Builtin; 8] = [
    Builtin {
        name: "Affine",
        stem: "affine",
        takes_scalar: true,
        in_place: false,
        reads_output: false,
        is_loss: false,
        shaped: false,
        rule: affine_rule,
    },
    Builtin {
        name: "Conv2d",
        stem: "conv",
        takes_scalar: true,
        in_place: false,
        reads_output: false,
        is_loss: false,
        shaped: true,
        rule: conv_rule,
    },
    Builtin {
        name: "Dropout",
        stem: "dropout",
        takes_scalar: true,
        in_place: false,
        reads_output: false,
        is_loss: false,
        shaped: false,
        rule: dropout_rule,
    },
    Builtin {
        name: "BatchNorm",
        stem: "batch_norm",
        takes_scalar: true,
        in_place: false,
        reads_output: false,
        is_loss: false,
        shaped: true,
        rule: batch_norm_rule,
    },
    Builtin {
        name: "MaxPool",
        stem: "pool",
        takes_scalar: false,
        in_place: false,
        // Finds each window's maximum again by comparing its inputs with its output.
        reads_output: true,
        is_loss: false,
        shaped: true,
        rule: pool_rule,
    },
    Builtin {
        name: "Relu",
        stem: "relu",
        takes_scalar: false,
        in_place: true,
        reads_output: true,
        is_loss: false,
        shaped: false,
        rule: width_rule,
    },
    Builtin {
        name: "Sigmoid",
        stem: "sigmoid",
        takes_scalar: false,
        in_place: true,
        reads_output: true,
        is_loss: false,
        shaped: false,
        rule: width_rule,
    },
    Builtin {
        name: "SoftmaxWithLoss",
        stem: "softmax_with_loss",
        takes_scalar: false,
        in_place: false,
        reads_output: true,
        is_loss: true,
        shaped: false,
        rule: width_rule,
    },
];

/// What a shape rule found: the sizes to write in the type, the width out, the parameters.
pub struct Resolved {
    args: Vec<Width>,
    outputs: Width,
    params: usize,
    /// The image shape out (channels, height, width), for layers whose outputs are images.
    dims: Option<Dims>,
}

/// An image shape: channels, height, width.
pub type Dims = [usize; 3];

/// `30×12×12`.
fn shown_dims([c, h, w]: Dims) -> String {
    format!("{c}×{h}×{w}")
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
    /// The image shape out, when the output is an image.
    pub dims: Option<Dims>,
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
    /// Whether the network's flat buffers are reshaped to this layer's sample types (a user
    /// layer, or a built-in over images).
    pub fn reshapes(&self) -> bool {
        self.builtin.as_ref().is_none_or(|(b, _)| b.shaped)
    }

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
    /// The sample shape of an `Input<C, H, W>`, if written.
    pub input_dims: Option<Dims>,
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
    /// What the layers so far produce.
    Known(Known),
}

/// What flows out of a resolved layer (or the `Input`).
#[derive(Clone)]
struct Known {
    width: Width,
    /// The layer as shown.
    shown: String,
    /// For activations, ` (the outputs of `…`)`: the layer the width comes from.
    origin: String,
    /// The image shape, when it is an image.
    dims: Option<Dims>,
    /// It is the network's `Input<…>`, not a layer.
    input: bool,
}

impl Known {
    /// `the previous layer `MaxPool<2>` produces 30×12×12 = 4320`, for messages.
    fn produces(&self) -> String {
        let size = match (self.dims, &self.width) {
            (Some(d), Width::Lit(n)) => format!("{} = {n}", shown_dims(d)),
            (_, Width::Lit(n)) => n.to_string(),
            _ => "another number".to_string(),
        };
        if self.input {
            format!("the samples, `{}`, hold {size}", self.shown)
        } else {
            format!(
                "the previous layer `{}` produces {size}{}",
                self.shown, self.origin
            )
        }
    }
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

    let mut input_dims = None;
    for (position, decl_layer) in decl.layers.iter().enumerate() {
        if is_input(decl_layer) {
            match input_rule(&mut check, decl_layer, position) {
                Some(known) => {
                    input_dims = known.dims;
                    inputs = known.width.lit();
                    check.flow = Flow::Known(known);
                }
                None => check.flow = Flow::Unknown,
            }
            continue;
        }
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
            inputs = first_layer_inputs(&mut check, decl_layer, &layer, input_dims);
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
        let origin = match &check.flow {
            Flow::Known(k) if passes_width && !k.input && k.origin.is_empty() => {
                format!(" (the outputs of `{}`)", k.shown)
            }
            Flow::Known(k) if passes_width => k.origin.clone(),
            _ => String::new(),
        };
        check.flow = Flow::Known(Known {
            width: layer.outputs.clone(),
            shown: layer.shown.clone(),
            origin,
            dims: layer.dims,
            input: false,
        });
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
        input_dims,
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
    let sizes = sizes_of(check, decl_layer)?;
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
        dims: resolved.dims,
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
        dims: None,
    })
}

fn first_layer_inputs(
    check: &mut Check,
    decl_layer: &LayerDecl,
    layer: &Layer,
    input: Option<Dims>,
) -> Option<usize> {
    match (&layer.builtin, input) {
        (Some(_), Some([c, h, w])) => Some(c * h * w),
        (Some((b, args)), None) if b.name == "Affine" => args.first().and_then(Width::lit),
        // Reported by the layer's rule.
        (Some((b, _)), None) if b.shaped => None,
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

/// `Input<C, H, W>` (written first, if at all).
fn is_input(layer: &LayerDecl) -> bool {
    layer.name.is_none()
        && layer.path.segments.len() == 1
        && layer.path.segments[0].ident == "Input"
}

/// `Input<C, H, W>`: the shape of one sample, channels first; only first.
fn input_rule(check: &mut Check, decl_layer: &LayerDecl, position: usize) -> Option<Known> {
    let sizes = sizes_of(check, decl_layer)?;
    if position != 0 {
        check.error(
            &decl_layer.path,
            format!(
                "`Input<…>` gives the shape of the samples, so it comes first in `{}`",
                check.decl.ident
            ),
        );
        return None;
    }
    if sizes.len() != 3 {
        check.error(
            &decl_layer.path,
            format!(
                "`Input` takes three sizes, channels, height and width, as in `Input<1, 28, 28>`; found {}",
                sizes.len()
            ),
        );
        return None;
    }
    let dims = [sizes[0].value?, sizes[1].value?, sizes[2].value?];
    let shown = format!("Input<{}, {}, {}>", dims[0], dims[1], dims[2]);
    for size in &sizes {
        if size.value == Some(0) {
            check.error(size.tokens, format!("`{shown}` has a size of 0"));
            return None;
        }
    }
    Some(Known {
        width: Width::Lit(dims.iter().product()),
        shown,
        origin: String::new(),
        dims: Some(dims),
        input: true,
    })
}

/// The sizes written in a layer's angle brackets.
fn sizes_of<'a>(check: &mut Check, decl_layer: &'a LayerDecl) -> Option<Vec<SizeArg<'a>>> {
    let last = decl_layer.path.segments.last()?;
    match &last.arguments {
        PathArguments::None => Some(Vec::new()),
        PathArguments::AngleBracketed(a) => {
            Some(a.args.iter().map(|a| size_arg(check, a)).collect())
        }
        PathArguments::Parenthesized(p) => {
            check.error(
                p,
                format!(
                    "`{}` takes sizes in angle brackets, like `Affine<784, 50>`",
                    last.ident
                ),
            );
            None
        }
    }
}

/// The image a layer over images receives, and where it comes from (` from `Input<…>``,
/// ` (the outputs of `Conv2d<…>`)`), or `None` (reported) if what flows in is not one.
fn image_in(check: &mut Check, decl_layer: &LayerDecl, shown: &str) -> Option<(Dims, String)> {
    let name = check.decl.ident.clone();
    match &check.flow {
        Flow::Unknown => None,
        Flow::Start => {
            check.error(
                &decl_layer.path,
                format!("`{shown}` needs the shape of its input: write `Input<C, H, W>` first in `{name}`, as `Input<1, 28, 28>` for one 28×28 channel"),
            );
            None
        }
        Flow::Known(k @ Known { dims: Some(d), .. }) => {
            let from = if k.origin.is_empty() {
                format!(" from `{}`", k.shown)
            } else {
                k.origin.clone()
            };
            Some((*d, from))
        }
        Flow::Known(k) => {
            let what = match &k.width {
                Width::Lit(n) => format!("a row of {n} values"),
                Width::Of(_) => "values of a type the macro cannot see into".to_string(),
            };
            let message = format!(
                "`{shown}` takes images (channels × height × width) but the previous layer `{}` produces {what}",
                k.shown
            );
            check.error(&decl_layer.path, message);
            None
        }
    }
}

/// `Conv2d<C_IN, C_OUT, K>` or `Conv2d<C_IN, C_OUT, K, STRIDE, PAD>`.
fn conv_rule(check: &mut Check, decl_layer: &LayerDecl, sizes: &[SizeArg]) -> Option<Resolved> {
    if sizes.len() != 3 && sizes.len() != 5 {
        check.error(
            &decl_layer.path,
            format!(
                "`Conv2d` takes three sizes, `Conv2d<C_IN, C_OUT, K>`, or five, `Conv2d<C_IN, C_OUT, K, STRIDE, PAD>`; found {}",
                sizes.len()
            ),
        );
        return None;
    }
    let values: Vec<usize> = sizes.iter().map(|s| s.value).collect::<Option<_>>()?;
    let (ci, co, k) = (values[0], values[1], values[2]);
    let (stride, pad) = (
        values.get(3).copied().unwrap_or(1),
        values.get(4).copied().unwrap_or(0),
    );
    let shown = shown_builtin("Conv2d", sizes);
    for (i, what) in [
        (0, "input channels"),
        (1, "output channels"),
        (2, "as kernel side"),
    ] {
        if values[i] == 0 {
            check.error(
                sizes[i].tokens,
                format!("`{shown}` has 0 {what}; it needs at least one"),
            );
            return None;
        }
    }
    if stride == 0 {
        check.error(
            sizes[3].tokens,
            format!("`{shown}` has stride 0; it needs at least one"),
        );
        return None;
    }
    let ([c, h, w], from) = image_in(check, decl_layer, &shown)?;
    let image = shown_dims([c, h, w]);
    if ci != c {
        let channels = if c == 1 { "channel" } else { "channels" };
        check.error(
            sizes[0].tokens,
            format!("`{shown}` expects {ci} input channels but gets {c} {channels}: a {image} image{from}"),
        );
    }
    let (ph, pw) = (h + 2 * pad, w + 2 * pad);
    if k > ph || k > pw {
        let input = if pad == 0 {
            format!("its {h}×{w} input")
        } else {
            format!("its input, {h}×{w} padded to {ph}×{pw}")
        };
        check.error(
            sizes[2].tokens,
            format!("`{shown}`: its {k}×{k} kernel is larger than {input}{from}"),
        );
        return None;
    }
    if (ph - k) % stride != 0 || (pw - k) % stride != 0 {
        let fits = |k: usize| (ph - k).is_multiple_of(stride) && (pw - k).is_multiple_of(stride);
        let kernels: Vec<String> = (k.saturating_sub(stride - 1).max(1)..k + stride)
            .filter(|&k2| k2 != k && k2 <= ph.min(pw) && fits(k2))
            .map(|k2| format!("{k2}×{k2}"))
            .collect();
        let sides = |n: usize| {
            let below = n - (n - k) % stride;
            let mut v = vec![below + stride];
            if below >= k {
                v.insert(0, below);
            }
            v.into_iter().map(|p| p - 2 * pad).collect::<Vec<_>>()
        };
        let (hs, ws) = (sides(ph), sides(pw));
        let inputs: Vec<String> = hs
            .iter()
            .zip(&ws)
            .map(|(a, b)| format!("{a}×{b}"))
            .collect();
        let mut hint = String::new();
        if !kernels.is_empty() {
            hint += &format!("a {} kernel, or ", kernels.join(" or "));
        }
        hint += &format!("a {} input", inputs.join(" or "));
        check.error(
            sizes[3].tokens,
            format!(
                "`{shown}` does not tile its {image} input{from}: {k}×{k} kernels every {stride} pixels leave pixels out (PyTorch would drop them silently); {hint} would fit"
            ),
        );
        return None;
    }
    let (oh, ow) = ((ph - k) / stride + 1, (pw - k) / stride + 1);
    let lits = [ci, co, k, stride, pad, h, w, oh, ow, ci * k * k, oh * ow];
    Some(Resolved {
        args: lits.into_iter().map(Width::Lit).collect(),
        outputs: Width::Lit(co * oh * ow),
        params: co * ci * k * k + co,
        dims: Some([co, oh, ow]),
    })
}

/// `MaxPool<P>` or `MaxPool<P, STRIDE>` (stride `P` if not written).
fn pool_rule(check: &mut Check, decl_layer: &LayerDecl, sizes: &[SizeArg]) -> Option<Resolved> {
    if sizes.is_empty() || sizes.len() > 2 {
        check.error(
            &decl_layer.path,
            format!(
                "`MaxPool` takes a window side, `MaxPool<2>`, and optionally a stride, `MaxPool<3, 2>`; found {} sizes",
                sizes.len()
            ),
        );
        return None;
    }
    let p = sizes[0].value?;
    let stride = match sizes.get(1) {
        Some(s) => s.value?,
        None => p,
    };
    let shown = shown_builtin("MaxPool", sizes);
    let culprit = sizes.get(1).unwrap_or(&sizes[0]).tokens;
    if p == 0 || stride == 0 {
        check.error(
            culprit,
            format!("`{shown}` has a size of 0; windows and strides need at least one pixel"),
        );
        return None;
    }
    let ([c, h, w], from) = image_in(check, decl_layer, &shown)?;
    let image = shown_dims([c, h, w]);
    if p > h || p > w {
        check.error(
            sizes[0].tokens,
            format!("`{shown}`: its {p}×{p} window is larger than its {image} input{from}"),
        );
        return None;
    }
    if (h - p) % stride != 0 || (w - p) % stride != 0 {
        let sides = |n: usize| {
            let below = n - (n - p) % stride;
            let mut v = vec![below + stride];
            if below >= p {
                v.insert(0, below);
            }
            v
        };
        let inputs: Vec<String> = sides(h)
            .iter()
            .zip(&sides(w))
            .map(|(a, b)| format!("{a}×{b}"))
            .collect();
        let mut hint = format!("a {} input", inputs.join(" or "));
        if sizes.len() == 1 {
            let windows: Vec<String> = (2..h.min(w))
                .filter(|q| h % q == 0 && w % q == 0)
                .map(|q| format!("`MaxPool<{q}>`"))
                .collect();
            if !windows.is_empty() {
                hint = format!("{} or {hint}", windows.join(", "));
            }
        }
        check.error(
            culprit,
            format!(
                "`{shown}` does not tile its {image} input{from}: {p}×{p} windows every {stride} pixels leave pixels out (PyTorch would drop them silently); {hint} would fit"
            ),
        );
        return None;
    }
    let (oh, ow) = ((h - p) / stride + 1, (w - p) / stride + 1);
    Some(Resolved {
        args: [c, h, w, p, stride, oh, ow]
            .into_iter()
            .map(Width::Lit)
            .collect(),
        outputs: Width::Lit(c * oh * ow),
        params: 0,
        dims: Some([c, oh, ow]),
    })
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
    if let Flow::Known(
        known @ Known {
            width: Width::Lit(width),
            ..
        },
    ) = &check.flow
    {
        if *width != i {
            let message = format!("`{shown}` expects {i} inputs but {}", known.produces());
            check.error(sizes[0].tokens, message);
        }
    }
    Some(Resolved {
        args: vec![Width::Lit(i), Width::Lit(o)],
        outputs: Width::Lit(o),
        params: i * o + o,
        dims: None,
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
        (
            Flow::Known(
                known @ Known {
                    width: Width::Lit(width),
                    ..
                },
            ),
            Some((n, tokens)),
        ) => {
            let width = *width;
            if n != width {
                let message = format!("`{shown}` has {n} {what} but {}", known.produces());
                check.error(tokens, message);
            }
            // On a mismatch the layers after it are checked against what really flows.
            Width::Lit(width)
        }
        // After a user layer, the compiler checks a stated width.
        (
            Flow::Known(Known {
                width: Width::Of(_),
                ..
            }),
            Some((n, _)),
        ) => Width::Lit(n),
        (Flow::Known(known), None) => known.width.clone(),
    };
    // Activations keep the image shape; the loss takes a flat row.
    let dims = match &check.flow {
        Flow::Known(known) if base != "SoftmaxWithLoss" => known.dims,
        _ => None,
    };
    Some(Resolved {
        args: vec![width.clone()],
        outputs: width,
        params: 0,
        dims,
    })
}

/// `Dropout` or `Dropout<N>`: the width rule, and one state tensor (its seed).
fn dropout_rule(check: &mut Check, decl_layer: &LayerDecl, sizes: &[SizeArg]) -> Option<Resolved> {
    let mut resolved = width_rule(check, decl_layer, sizes)?;
    resolved.params = 1;
    Some(resolved)
}

/// `BatchNorm`: per feature of a row, or per channel of an image; four tensors per feature
/// or channel (gamma, beta, running mean and variance).
fn batch_norm_rule(
    check: &mut Check,
    decl_layer: &LayerDecl,
    sizes: &[SizeArg],
) -> Option<Resolved> {
    if let Some(first) = sizes.first() {
        check.error(
            first.tokens,
            "`BatchNorm` takes no sizes: it normalises each feature of the layer before it, or each channel of an image",
        );
        return None;
    }
    let (channels, spatial, dims) = match &check.flow {
        Flow::Unknown => return None,
        Flow::Known(Known {
            dims: Some([c, h, w]),
            ..
        }) => (*c, h * w, Some([*c, *h, *w])),
        Flow::Known(Known {
            width: Width::Lit(n),
            ..
        }) => (*n, 1, None),
        _ => {
            check.error(
                &decl_layer.path,
                format!("`BatchNorm` needs to know what it normalises: put it after a built-in layer, not first or after a user layer, in `{}`", check.decl.ident),
            );
            return None;
        }
    };
    Some(Resolved {
        args: vec![Width::Lit(channels), Width::Lit(spatial)],
        outputs: Width::Lit(channels * spatial),
        params: 4 * channels,
        dims,
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
    fn convolution_sizes_are_computed_from_the_literals() {
        let layers = resolve_str(
            "struct N< Input<1, 28, 28>, Conv2d<1, 30, 5>, Relu, MaxPool<2>, Conv2d<30, 8, 4, 2, 1>, Affine<288, 10>, SoftmaxWithLoss >",
        )
        .unwrap();
        let rows: Vec<_> = layers
            .iter()
            .map(|l| (l.0.as_str(), l.2.clone(), l.3, l.4))
            .collect();
        assert_eq!(
            rows,
            [
                ("conv1", Width::Lit(30 * 24 * 24), 0, false),
                ("relu1", Width::Lit(30 * 24 * 24), 0, true),
                ("pool1", Width::Lit(30 * 12 * 12), 1, false),
                // (12 + 2 − 4) / 2 + 1 = 6.
                ("conv2", Width::Lit(8 * 6 * 6), 2, false),
                ("affine1", Width::Lit(10), 3, false),
                ("softmax_with_loss", Width::Lit(10), 3, false),
            ]
        );
    }

    #[test]
    fn input_comes_first_and_convolutions_need_it() {
        let err =
            resolve_str("struct N< Affine<4, 4>, Input<1, 2, 2>, SoftmaxWithLoss >").unwrap_err();
        assert!(
            err.starts_with("`Input<…>` gives the shape of the samples, so it comes first"),
            "{err}"
        );
        let err =
            resolve_str("struct N< Input<1, 4, 4>, Affine<15, 2>, SoftmaxWithLoss >").unwrap_err();
        assert_eq!(
            err,
            "`Affine<15, 2>` expects 15 inputs but the samples, `Input<1, 4, 4>`, hold 1×4×4 = 16"
        );
    }

    #[test]
    fn names_become_snake_case_fields() {
        assert_eq!(snake_case("LeakyRelu"), "leaky_relu");
        assert_eq!(snake_case("Scale"), "scale");
        assert_eq!(snake_case("BatchNorm2d"), "batch_norm2d");
    }
}
