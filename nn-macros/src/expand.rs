//! Writes the concrete network: the parameter struct, the cache struct, straight-line
//! forward and backward passes that call each layer through `typenet::layer::Layer`, and
//! the `typenet::Network` implementation. Nothing here knows what a layer computes.

use crate::ast::NetworkDecl;
use crate::check::{Boundary, Layer, Net, Width, BUILTINS};
use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::Ident;

/// `tokens` with every span set to `span`, so that an error in them points at one place
/// (a span that joins generated and written tokens falls back to the whole macro call).
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut t| {
            if let TokenTree::Group(g) = &t {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                t = TokenTree::Group(group);
            } else {
                t.set_span(span);
            }
            t
        })
        .collect()
}

fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// `1234567` as `1,234,567`, for docs.
fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What is emitted when the declaration has errors: the bare name with its constructors
/// and methods (diverging), so that code using it reports nothing but the real mistake;
/// user layer types are named, so that one that does not exist is still reported.
pub fn stub(decl: &NetworkDecl) -> TokenStream {
    let (vis, ident) = (&decl.vis, &decl.ident);
    let cache = format_ident!("{}Cache", ident);
    let user_types = decl.layers.iter().map(|l| &l.path).filter(|p| {
        p.segments
            .last()
            .is_some_and(|s| s.ident != "Input" && !BUILTINS.iter().any(|b| s.ident == b.name))
    });
    quote! {
        #[allow(dead_code)]
        #vis struct #ident<T = f32>(::core::marker::PhantomData<T>);
        #[allow(dead_code)]
        #vis struct #cache<T = f32, const B: usize = 1>(::core::marker::PhantomData<T>);

        #[allow(dead_code, clippy::all)]
        const _: () = {
            type T = f32;
            let _: ::core::marker::PhantomData<(#(#user_types,)*)> = ::core::marker::PhantomData;
        };

        #[allow(dead_code, unused_variables, clippy::all)]
        impl<T> #ident<T> {
            #vis fn zeros() -> Self { ::core::unreachable!() }
            #vis fn new(seed: u64) -> Self { ::core::unreachable!() }
            #vis fn with_init<I>(init: I, seed: u64) -> Self { ::core::unreachable!() }
            #vis fn new_cache<const B: usize>() -> #cache<T, B> { ::core::unreachable!() }
            #vis fn from_le_bytes<X>(bytes: X) -> Self { ::core::unreachable!() }
            #vis fn predict<X, R>(&self, x: X) -> R { ::core::unreachable!() }
            #vis fn classify<X, R>(&self, x: X) -> R { ::core::unreachable!() }
            #vis fn loss<X, Y>(&self, x: X, t: Y) -> T { ::core::unreachable!() }
            #vis fn accuracy<X, Y>(&self, x: X, t: Y) -> T { ::core::unreachable!() }
            #vis fn forward<X, Y, const B: usize>(&self, x: X, t: Y, cache: &mut #cache<T, B>) -> T { ::core::unreachable!() }
            #vis fn backward<X, Y, const B: usize>(&self, x: X, t: Y, cache: &mut #cache<T, B>, grads: &mut Self) { ::core::unreachable!() }
            #vis fn gradient<X, Y, const B: usize>(&self, x: X, t: Y, cache: &mut #cache<T, B>, grads: &mut Self) -> T { ::core::unreachable!() }
        }
    }
}

/// The generated code of one network.
pub fn network(net: &Net) -> TokenStream {
    let g = Gen::new(net);
    let items = [
        g.width_consts(),
        g.param_struct(),
        g.cache_struct(),
        g.shape_checks(),
        g.inherent_impl(),
        g.byte_decoders(),
        g.network_impl(),
        crate::int8::twin(net),
    ];
    quote!(#(#items)*)
}

/// Names and type fragments shared by the generators.
struct Gen<'a> {
    net: &'a Net<'a>,
    name: &'a Ident,
    cache: Ident,
    /// The type of every layer (scalar type `T`), the loss last.
    types: Vec<TokenStream>,
    /// The per-sample type of every stage buffer.
    samples: Vec<TokenStream>,
}

impl<'a> Gen<'a> {
    fn new(net: &'a Net<'a>) -> Self {
        let name = &net.decl.ident;
        let mut g = Gen {
            net,
            name,
            cache: format_ident!("{}Cache", name),
            types: Vec::new(),
            samples: Vec::new(),
        };
        let t = quote!(T);
        g.types = net.layers().map(|l| l.ty(&t, |w| g.width(w))).collect();
        // Every buffer holds flat rows; a user layer sees its own shapes through `reshape`.
        g.samples = net
            .stages
            .iter()
            .map(|s| {
                let w = g.width(&s.width);
                quote!([T; #w])
            })
            .collect();
        g
    }

    /// A width as tokens: the literal, or the constant the expansion defines for the
    /// output size of a user layer.
    fn width(&self, w: &Width) -> TokenStream {
        match w {
            Width::Lit(n) => lit(*n).into_token_stream(),
            Width::Of(k) => self.width_const(*k).into_token_stream(),
        }
    }

    fn width_const(&self, layer: usize) -> Ident {
        format_ident!("__{}_{}_OUT", self.name, self.net.body[layer].field)
    }

    fn params_const(&self) -> Ident {
        format_ident!("__{}_PARAMS", self.name)
    }

    /// The number of parameters: a literal when every layer is built in.
    fn params(&self) -> TokenStream {
        match self.net.params() {
            Some(n) => lit(n).into_token_stream(),
            None => self.params_const().into_token_stream(),
        }
    }

    fn classes(&self) -> TokenStream {
        self.width(&self.net.classes)
    }

    /// The values per sample of user layers, and the parameter count of a network that
    /// has user layers: the compiler computes them (in `f32`; shapes do not depend on it).
    fn width_consts(&self) -> TokenStream {
        let mut out = TokenStream::new();
        for (k, layer) in self.net.body.iter().enumerate() {
            if layer.builtin.is_some() {
                continue;
            }
            let (c, layer) = (self.width_const(k), self.layer_trait(k));
            out.extend(quote! {
                #[doc(hidden)]
                #[allow(non_upper_case_globals)]
                const #c: usize = {
                    type T = f32;
                    <#layer::Output as ::typenet::__private::Tensor<T>>::LEN
                };
            });
        }
        if self.net.params().is_none() {
            let (c, traits) = (self.params_const(), self.layer_traits());
            out.extend(quote! {
                #[doc(hidden)]
                #[allow(non_upper_case_globals)]
                const #c: usize = {
                    type T = f32;
                    0 #(+ #traits::PARAMS)*
                };
            });
        }
        out
    }

    /// `<L as ::typenet::Layer<T>>` for layer `k`. For a user layer, every token takes the
    /// span of the type as written, so that a type that is not a layer is reported there,
    /// once (the compiler folds identical errors at one place).
    fn layer_trait(&self, k: usize) -> TokenStream {
        let ty = &self.types[k];
        let projection = quote!(<#ty as ::typenet::Layer<T>>);
        let layer = self.net.layers().nth(k);
        match layer.filter(|l| l.builtin.is_none()) {
            Some(l) => respan(projection, l.path.span()),
            None => projection,
        }
    }

    /// `tokens` spanned at user layer `k` as written (unchanged for a built-in): a call
    /// whose tokens all carry one span reports an error there.
    fn at_layer(&self, k: usize, tokens: TokenStream) -> TokenStream {
        match self.net.layers().nth(k).filter(|l| l.builtin.is_none()) {
            Some(l) => respan(tokens, l.path.span()),
            None => tokens,
        }
    }

    fn layer_traits(&self) -> Vec<TokenStream> {
        (0..self.types.len()).map(|k| self.layer_trait(k)).collect()
    }

    fn summary(&self) -> String {
        let chain = self
            .net
            .layers()
            .map(|l| format!("`{}`", l.shown))
            .collect::<Vec<_>>()
            .join(" → ");
        let params = self
            .net
            .params()
            .map_or_else(String::new, |p| format!(", {} parameters", grouped(p)));
        let classes = match self.net.classes {
            Width::Lit(n) => format!(", {n} classes"),
            Width::Of(_) => String::new(),
        };
        let inputs = match self.net.input_dims {
            Some([c, h, w]) => format!("{c}×{h}×{w} = {}", self.net.inputs),
            None => self.net.inputs.to_string(),
        };
        format!(" Layers: {chain}. {inputs} inputs per sample{classes}{params}.")
    }

    fn param_struct(&self) -> TokenStream {
        let (attrs, vis, name) = (&self.net.decl.attrs, &self.net.decl.vis, self.name);
        let summary = self.summary();
        let fields = self.net.layers().zip(&self.types).map(|(l, ty)| {
            let f = &l.field;
            let doc = format!(" `{}`.", l.shown);
            quote! { #[doc = #doc] pub #f: #ty }
        });
        quote! {
            #(#attrs)*
            #[doc = ""]
            #[doc = #summary]
            #[derive(Clone, Debug, PartialEq)]
            #vis struct #name<T: ::typenet::Scalar = f32> {
                #(#fields,)*
            }

            impl<T: ::typenet::Scalar> ::core::default::Default for #name<T> {
                fn default() -> Self {
                    Self::zeros()
                }
            }
        }
    }

    fn cache_struct(&self) -> TokenStream {
        let (vis, name, cache) = (&self.net.decl.vis, self.name, &self.cache);
        let loss = &self.net.loss;
        let (lf, classes) = (&loss.field, self.classes());
        let fields = self.net.stages.iter().zip(&self.samples).map(|(s, ty)| {
            let (f, g) = (&s.field, &s.grad);
            let doc_f = format!(" Output of {}, one row per sample.", s.shown);
            let doc_g = format!(" Gradient of the loss with respect to `{f}`.");
            quote! {
                #[doc = #doc_f] pub #f: ::typenet::Rows<#ty, B>,
                #[doc = #doc_g] pub #g: ::typenet::Rows<#ty, B>,
            }
        });
        let zeros = self.net.stages.iter().map(|s| {
            let (f, g) = (&s.field, &s.grad);
            quote! {
                #f: ::typenet::Rows::zeros(),
                #g: ::typenet::Rows::zeros(),
            }
        });
        let doc = format!(
            " Activations and gradients of [`{name}`] for a batch of `B` samples: what a forward pass leaves for the backward pass. Allocate it once and reuse it every step."
        );
        let probs_doc = format!(
            " Output of `{}`: the class probabilities (softmax of the scores).",
            loss.shown
        );
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq)]
            #vis struct #cache<T: ::typenet::Scalar, const B: usize> {
                #(#fields)*
                #[doc = #probs_doc]
                pub #lf: [[T; #classes]; B],
            }

            impl<T: ::typenet::Scalar, const B: usize> #cache<T, B> {
                /// A cache with every value zero.
                pub fn zeros() -> Self {
                    Self { #(#zeros)* #lf: [[T::zero(); #classes]; B] }
                }
            }

            impl<T: ::typenet::Scalar, const B: usize> ::core::default::Default for #cache<T, B> {
                fn default() -> Self {
                    Self::zeros()
                }
            }
        }
    }

    /// One compile-time check per boundary the macro cannot check itself, spanned at the
    /// later layer: a user layer takes exactly what the previous layer produces; a
    /// built-in after a user layer takes as many values as it produces.
    fn shape_checks(&self) -> TokenStream {
        let layers: Vec<&Layer> = self.net.layers().collect();
        let mut out = TokenStream::new();
        for (k, layer) in layers.iter().enumerate().skip(1) {
            let (prev, ty, span) = (&self.types[k - 1], &self.types[k], layer.path.span());
            let (prev_layer, next_layer) = (self.layer_trait(k - 1), self.layer_trait(k));
            match layer.boundary {
                Boundary::Checked => {}
                Boundary::SameType => {
                    // Generated tokens take the layer's span; written ones keep theirs.
                    let prev = if layers[k - 1].builtin.is_some() {
                        respan(prev.clone(), span)
                    } else {
                        prev.clone()
                    };
                    out.extend(quote_spanned! {span=>
                        const _: () = {
                            type T = f32;
                            <#prev_layer::Output as ::typenet::__private::Fits<
                                #next_layer::Input, #prev, #ty
                            >>::OK
                        };
                    });
                }
                Boundary::SameLen => {
                    let n = layer
                        .builtin
                        .as_ref()
                        .and_then(|(_, a)| a.first())
                        .and_then(Width::lit);
                    let message = format!(
                        "`{}` expects {} values per sample but the previous layer `{}` produces another number",
                        layer.shown,
                        n.map_or_else(|| "as many".to_string(), |n| n.to_string()),
                        layers[k - 1].shown
                    );
                    out.extend(quote_spanned! {span=>
                        const _: () = {
                            type T = f32;
                            ::core::assert!(
                                <#prev_layer::Output as ::typenet::__private::Tensor<T>>::LEN
                                    == <#next_layer::Input as ::typenet::__private::Tensor<T>>::LEN,
                                #message
                            );
                        };
                    });
                }
            }
        }
        out
    }

    /// The input of body layer `k` (`None` for the first, which reads `x`), as a reference
    /// into `buffers` (`cache.` or locals).
    fn input(&self, k: usize, buffer: impl Fn(&Ident) -> TokenStream) -> TokenStream {
        let layer = &self.net.body[k];
        let prev = &self.net.stages[self.net.body[k - 1].stage].field;
        let b = buffer(prev);
        if layer.boundary == Boundary::Checked && !layer.reshapes() {
            quote!(&#b)
        } else {
            quote!(::typenet::__private::reshape(&#b))
        }
    }

    /// Forward calls into `cache` (training) and into stack locals (prediction).
    fn forward_calls(&self) -> (Vec<TokenStream>, Vec<TokenStream>) {
        let (mut train, mut predict) = (Vec::new(), Vec::new());
        for (k, layer) in self.net.body.iter().enumerate() {
            let (f, ty, layer_trait) = (&layer.field, &self.types[k], self.layer_trait(k));
            let stage = &self.net.stages[layer.stage];
            let out = &stage.field;
            let local = format_ident!("__{}", out);
            if layer.in_place {
                train.push(self.at_layer(k, quote! {
                    <#ty as ::typenet::__private::InPlace<T>>::forward_in_place(&self.#f, &mut *cache.#out, mode);
                }));
                predict.push(self.at_layer(k, quote! {
                    <#ty as ::typenet::__private::InPlace<T>>::forward_in_place(&self.#f, &mut #local, ::typenet::Mode::Infer);
                }));
                continue;
            }
            let sample = &self.samples[layer.stage];
            let (x_train, x_predict) = if k == 0 && layer.reshapes() {
                let x = quote!(::typenet::__private::reshape(x));
                (x.clone(), x)
            } else if k == 0 {
                (quote!(x), quote!(x))
            } else {
                (
                    self.input(k, |b| quote!((*cache.#b))),
                    self.input(k, |b| format_ident!("__{}", b).into_token_stream()),
                )
            };
            let (y_train, y_predict) = if !layer.reshapes() {
                (quote!(&mut *cache.#out), quote!(&mut #local))
            } else {
                (
                    quote!(::typenet::__private::reshape_mut(&mut *cache.#out)),
                    quote!(::typenet::__private::reshape_mut(&mut #local)),
                )
            };
            train.push(self.at_layer(
                k,
                quote! {
                    #layer_trait::forward(&self.#f, #x_train, #y_train, mode);
                },
            ));
            predict.push(self.at_layer(
                k,
                quote! {
                    let mut #local: [#sample; B] = [::typenet::__private::Tensor::zero(); B];
                    #layer_trait::forward(&self.#f, #x_predict, #y_predict, ::typenet::Mode::Infer);
                },
            ));
        }
        (train, predict)
    }

    /// Backward calls, last layer first; the first layer's input gradient is not computed.
    fn backward_calls(&self) -> Vec<TokenStream> {
        let mut calls = Vec::new();
        for (k, layer) in self.net.body.iter().enumerate().rev() {
            let (f, ty, layer_trait) = (&layer.field, &self.types[k], self.layer_trait(k));
            let stage = &self.net.stages[layer.stage];
            let (out, grad) = (&stage.field, &stage.grad);
            if layer.in_place {
                calls.push(self.at_layer(k, quote! {
                    <#ty as ::typenet::__private::InPlace<T>>::backward_in_place(&self.#f, &*cache.#out, &mut *cache.#grad);
                }));
                continue;
            }
            let (x, dx) = if k == 0 {
                let x = if layer.reshapes() {
                    quote!(::typenet::__private::reshape(x))
                } else {
                    quote!(x)
                };
                (x, quote!(::core::option::Option::None))
            } else {
                let pgrad = &self.net.stages[self.net.body[k - 1].stage].grad;
                let dx = if layer.boundary == Boundary::Checked && !layer.reshapes() {
                    quote!(&mut *cache.#pgrad)
                } else {
                    quote!(::typenet::__private::reshape_mut(&mut *cache.#pgrad))
                };
                (
                    self.input(k, |b| quote!((*cache.#b))),
                    quote!(::core::option::Option::Some(#dx)),
                )
            };
            let (y, dy) = if !layer.reshapes() {
                (quote!(&*cache.#out), quote!(&*cache.#grad))
            } else {
                (
                    quote!(::typenet::__private::reshape(&*cache.#out)),
                    quote!(::typenet::__private::reshape(&*cache.#grad)),
                )
            };
            calls.push(self.at_layer(
                k,
                quote! {
                    #layer_trait::backward(&self.#f, #x, #y, #dy, &mut grads.#f, #dx);
                },
            ));
        }
        calls
    }

    /// Samples per batch of `predict_into` and the other slice methods: 32, or fewer when
    /// the activations of 32 would take more than 512 KiB of stack in `f64` (a convolutional
    /// network's are large). With user layers, whose sizes the macro cannot see, 32.
    fn predict_batch(&self) -> usize {
        let widths: Option<usize> = self.net.stages.iter().map(|s| s.width.lit()).sum();
        match (widths, self.net.classes.lit()) {
            (Some(w), Some(c)) => ((1 << 16) / (w + 2 * c).max(1)).clamp(1, 32),
            _ => 32,
        }
    }

    fn inherent_impl(&self) -> TokenStream {
        let chunk = lit(self.predict_batch());
        let (name, cache) = (self.name, &self.cache);
        let inputs = lit(self.net.inputs);
        let (classes, params) = (self.classes(), self.params());
        let loss = &self.net.loss;
        let (lf, loss_ty) = (&loss.field, &self.types[self.types.len() - 1]);
        let last = &self.net.stages[loss.stage];
        let (logits, logits_grad) = (&last.field, &last.grad);
        let logits_local = format_ident!("__{}", logits);
        let (scores, scores_train, scores_grad) = if loss.boundary == Boundary::Checked {
            (
                quote!(#logits_local),
                quote!(&*cache.#logits),
                quote!(&mut *cache.#logits_grad),
            )
        } else {
            (
                quote!(*::typenet::__private::reshape::<T, _, [T; #classes], B>(&#logits_local)),
                quote!(::typenet::__private::reshape(&*cache.#logits)),
                quote!(::typenet::__private::reshape_mut(&mut *cache.#logits_grad)),
            )
        };
        let (forward, predict) = self.forward_calls();
        let backward = self.backward_calls();
        let shown: Vec<&str> = self.net.layers().map(|l| l.shown.as_str()).collect();
        let x_bound = quote! { X: ::typenet::Sample<T, #inputs> };
        let t_bound = quote! { Y: ::typenet::Target<T, #classes> };
        let loss_trait = quote! { <#loss_ty as ::typenet::Loss<T, #classes>> };
        let zero_fields =
            self.net
                .layers()
                .zip(self.layer_traits())
                .enumerate()
                .map(|(k, (l, layer))| {
                    let f = &l.field;
                    self.at_layer(k, quote! { #f: #layer::zeros() })
                });
        quote! {
            #[allow(clippy::needless_range_loop, clippy::unused_self)]
            impl<T: ::typenet::Scalar> #name<T> {
                /// Values per input sample (the first layer's inputs).
                pub const INPUTS: usize = #inputs;
                /// Number of classes (the loss layer's width).
                pub const CLASSES: usize = #classes;
                /// Total number of parameters.
                pub const PARAMS: usize = #params;
                /// The layers, as declared.
                pub const LAYERS: &'static [&'static str] = &[#(#shown),*];
                /// Samples per batch of [`predict_into`](Self::predict_into) and the other
                /// slice methods, whose activations live on the stack.
                pub const PREDICT_BATCH: usize = #chunk;

                /// A network whose parameters are all zero.
                pub fn zeros() -> Self {
                    Self { #(#zero_fields,)* }
                }

                /// A network initialised as in the book: weights `0.01·N(0, 1)`, biases zero,
                /// drawn from a generator seeded with `seed`.
                pub fn new(seed: u64) -> Self {
                    Self::with_init(::typenet::Init::BOOK, seed)
                }

                /// A network with weights drawn by `init` (biases zero) from a generator seeded with `seed`.
                pub fn with_init(init: ::typenet::Init, seed: u64) -> Self {
                    let mut net = Self::zeros();
                    init.apply(&mut net, &mut ::typenet::Rng::new(seed));
                    net
                }

                /// A zeroed cache for batches of `B` samples.
                pub fn new_cache<const B: usize>() -> #cache<T, B> {
                    #cache::zeros()
                }

                /// The scores (logits, before the softmax) of a batch of `B` samples of any shape
                /// holding the first layer's inputs. Intermediate activations live on the stack.
                #[must_use]
                pub fn predict<#x_bound, const B: usize>(&self, x: &[X; B]) -> [[T; #classes]; B] {
                    let x = <X as ::typenet::Sample<T, #inputs>>::flatten_batch(x);
                    #(#predict)*
                    #scores
                }

                /// The predicted class of each sample.
                #[must_use]
                pub fn classify<#x_bound, const B: usize>(&self, x: &[X; B]) -> [usize; B] {
                    let scores = self.predict(x);
                    let mut classes = [0usize; B];
                    for (c, s) in classes.iter_mut().zip(scores.iter()) {
                        *c = ::typenet::argmax(s);
                    }
                    classes
                }

                /// The mean loss of a batch against its targets (class indices or one-hot rows).
                #[must_use]
                pub fn loss<#x_bound, #t_bound, const B: usize>(&self, x: &[X; B], t: &[Y; B]) -> T {
                    let scores = self.predict(x);
                    let mut probs = [[T::zero(); #classes]; B];
                    #loss_trait::loss(&self.#lf, &scores, t, &mut probs)
                }

                /// The fraction of samples whose predicted class is the target's class.
                #[must_use]
                pub fn accuracy<#x_bound, #t_bound, const B: usize>(&self, x: &[X; B], t: &[Y; B]) -> T {
                    let classes = self.classify(x);
                    let hits = classes
                        .iter()
                        .zip(t.iter())
                        .filter(|(c, t)| **c == <Y as ::typenet::Target<T, #classes>>::class(t))
                        .count();
                    T::from_f64(hits as f64) / T::from_f64(B.max(1) as f64)
                }

                /// The scores of any number of samples (a slice, a `Vec`, an array), written to
                /// `scores` row by row, in batches of `PREDICT_BATCH` on the stack: no allocation.
                ///
                /// An error, and nothing written, if `scores` has not one row per sample.
                pub fn predict_into<#x_bound>(&self, x: &[X], scores: &mut [[T; #classes]]) -> ::core::result::Result<(), ::typenet::LengthMismatch> {
                    ::typenet::__private::same_length(x.len(), scores.len())?;
                    let (xs, x_rest) = x.as_chunks::<#chunk>();
                    let (ss, s_rest) = scores.as_chunks_mut::<#chunk>();
                    for (x, s) in xs.iter().zip(ss) {
                        *s = self.predict(x);
                    }
                    for (x, s) in x_rest.iter().zip(s_rest) {
                        *s = self.predict(::core::array::from_ref(x))[0];
                    }
                    ::core::result::Result::Ok(())
                }

                /// The predicted class of any number of samples, written to `classes`; an
                /// error, and nothing written, if `classes` has not one entry per sample.
                pub fn classify_into<#x_bound>(&self, x: &[X], classes: &mut [usize]) -> ::core::result::Result<(), ::typenet::LengthMismatch> {
                    ::typenet::__private::same_length(x.len(), classes.len())?;
                    let (xs, x_rest) = x.as_chunks::<#chunk>();
                    let (cs, c_rest) = classes.as_chunks_mut::<#chunk>();
                    for (x, c) in xs.iter().zip(cs) {
                        *c = self.classify(x);
                    }
                    for (x, c) in x_rest.iter().zip(c_rest) {
                        *c = self.classify(::core::array::from_ref(x))[0];
                    }
                    ::core::result::Result::Ok(())
                }

                /// The mean loss over any number of samples and their targets, in batches of
                /// `PREDICT_BATCH` (no allocation); zero for none. An error if the lengths differ.
                pub fn loss_of<#x_bound, #t_bound>(&self, x: &[X], t: &[Y]) -> ::core::result::Result<T, ::typenet::LengthMismatch> {
                    ::typenet::__private::same_length(x.len(), t.len())?;
                    let (xs, x_rest) = x.as_chunks::<#chunk>();
                    let (ts, t_rest) = t.as_chunks::<#chunk>();
                    let mut total = T::zero();
                    for (x, t) in xs.iter().zip(ts) {
                        total = total + self.loss(x, t) * T::from_f64(#chunk as f64);
                    }
                    for (x, t) in x_rest.iter().zip(t_rest) {
                        total = total + self.loss(::core::array::from_ref(x), ::core::array::from_ref(t));
                    }
                    ::core::result::Result::Ok(total / T::from_f64(x.len().max(1) as f64))
                }

                /// The fraction of any number of samples whose predicted class is the target's
                /// class, in batches of `PREDICT_BATCH` (no allocation); zero for none. An error if the
                /// lengths differ.
                pub fn accuracy_of<#x_bound, #t_bound>(&self, x: &[X], t: &[Y]) -> ::core::result::Result<T, ::typenet::LengthMismatch> {
                    ::typenet::__private::same_length(x.len(), t.len())?;
                    let mut hits = 0usize;
                    let (xs, x_rest) = x.as_chunks::<#chunk>();
                    let (ts, t_rest) = t.as_chunks::<#chunk>();
                    let mut count = |classes: &[usize], t: &[Y]| {
                        hits += classes
                            .iter()
                            .zip(t)
                            .filter(|(c, t)| **c == <Y as ::typenet::Target<T, #classes>>::class(t))
                            .count();
                    };
                    for (x, t) in xs.iter().zip(ts) {
                        count(&self.classify(x), t);
                    }
                    for (x, t) in x_rest.iter().zip(t_rest) {
                        count(&self.classify(::core::array::from_ref(x)), ::core::slice::from_ref(t));
                    }
                    ::core::result::Result::Ok(T::from_f64(hits as f64) / T::from_f64(x.len().max(1) as f64))
                }

                /// Forward pass (in training mode) that keeps what backpropagation needs in
                /// `cache`; returns the mean loss.
                pub fn forward<#x_bound, #t_bound, const B: usize>(&self, x: &[X; B], t: &[Y; B], cache: &mut #cache<T, B>) -> T {
                    let x = <X as ::typenet::Sample<T, #inputs>>::flatten_batch(x);
                    let mode = ::typenet::Mode::Train;
                    #(#forward)*
                    #loss_trait::loss(&self.#lf, #scores_train, t, &mut cache.#lf)
                }

                /// Backward pass after [`forward`](Self::forward) on the same `x` and `t`: writes
                /// the gradient of the mean loss with respect to every parameter into `grads`.
                /// The gradient of the network's input is not computed (nothing needs it).
                pub fn backward<#x_bound, #t_bound, const B: usize>(&self, x: &[X; B], t: &[Y; B], cache: &mut #cache<T, B>, grads: &mut Self) {
                    let x = <X as ::typenet::Sample<T, #inputs>>::flatten_batch(x);
                    #loss_trait::loss_gradient(&self.#lf, &cache.#lf, t, #scores_grad);
                    #(#backward)*
                }

                /// Backpropagation (the book's `gradient`): forward, then backward; returns the loss.
                pub fn gradient<#x_bound, #t_bound, const B: usize>(&self, x: &[X; B], t: &[Y; B], cache: &mut #cache<T, B>, grads: &mut Self) -> T {
                    let loss = self.forward(x, t, cache);
                    self.backward(x, t, cache, grads);
                    loss
                }

                /// The gradient by central differences with `h = 1e-4` (the book's
                /// `numerical_gradient`), written into `grads`. Slow: for checking backpropagation.
                pub fn numerical_gradient<#x_bound, #t_bound, const B: usize>(&mut self, x: &[X; B], t: &[Y; B], grads: &mut Self) {
                    ::typenet::gradcheck::numerical_gradient(self, grads, |net| net.loss(x, t));
                }
            }
        }
    }

    /// `from_le_bytes`: a `const fn` when every layer is built in (each has a `const` byte
    /// decoder), so that weights can be decoded into a `static`; otherwise a plain `fn`
    /// (stable Rust cannot call a trait method in a `const fn`).
    fn byte_decoders(&self) -> TokenStream {
        let name = self.name;
        let mut out = TokenStream::new();
        for (ty, bytes) in [(quote!(f32), 4usize), (quote!(f64), 8)] {
            let doc = |n: &str| {
                format!(
                    " Builds the network from the bytes of a parameter file: every tensor in declaration order, row-major, little-endian `{ty}` ({n} bytes). This is the layout `typenet::io::save_raw` writes.\n\n A file of another length is a type error that names both lengths."
                )
            };
            let item = match self.net.params() {
                Some(params) => {
                    let len = lit(params * bytes);
                    let doc = doc(&grouped(params * bytes));
                    let mut offset = 0;
                    let fields = self.net.layers().map(|l| {
                        let f = &l.field;
                        let layer_ty = l.ty(&ty, |w| self.width(w));
                        let at = lit(offset * bytes);
                        offset += l.params.unwrap_or(0);
                        quote! { #f: <#layer_ty>::from_le_bytes_at(bytes, #at) }
                    });
                    quote! {
                        /// Length in bytes of this network's parameter file.
                        pub const BYTE_LEN: usize = #len;
                        #[doc = #doc]
                        ///
                        /// A `const fn`: `static NET: Net<f32> = Net::<f32>::from_le_bytes(include_bytes!(…));`
                        /// decodes the weights at compile time, into flash.
                        pub const fn from_le_bytes(bytes: &[u8; #len]) -> Self {
                            Self { #(#fields,)* }
                        }
                    }
                }
                None => {
                    let params = self.params_const();
                    let len = quote!(#params * #bytes);
                    let doc = doc("`BYTE_LEN`");
                    quote! {
                        /// Length in bytes of this network's parameter file.
                        pub const BYTE_LEN: usize = #len;
                        #[doc = #doc]
                        ///
                        /// Not a `const fn`: the network has layers defined outside typenet, and stable
                        /// Rust cannot call their trait methods at compile time.
                        pub fn from_le_bytes(bytes: &[u8; #len]) -> Self {
                            ::typenet::__private::from_le_bytes::<#ty, Self>(bytes)
                        }
                    }
                }
            };
            out.extend(quote! { impl #name<#ty> { #item } });
        }
        out
    }

    fn network_impl(&self) -> TokenStream {
        let (name, cache) = (self.name, &self.cache);
        let name_str = name.to_string();
        let inputs = lit(self.net.inputs);
        let (classes, params) = (self.classes(), self.params());
        let shown: Vec<&str> = self.net.layers().map(|l| l.shown.as_str()).collect();
        let traits = self.layer_traits();
        let fields: Vec<&Ident> = self.net.layers().map(|l| &l.field).collect();
        let field_names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        let per_layer =
            |chunk: &dyn Fn(&TokenStream, &Ident, &str) -> TokenStream| -> Vec<TokenStream> {
                (0..traits.len())
                    .map(|k| self.at_layer(k, chunk(&traits[k], fields[k], &field_names[k])))
                    .collect()
            };
        let infos = per_layer(&|layer, _, name| {
            quote! {
                let table = #layer::TENSORS;
                if let ::core::option::Option::Some(spec) = table.get(index) {
                    return ::core::option::Option::Some(::typenet::TensorInfo::new(#name, spec));
                }
                index -= table.len();
            }
        });
        let refs = per_layer(&|layer, f, _| {
            quote! {
                let n = #layer::TENSORS.len();
                if index < n {
                    return #layer::tensor(&self.#f, index);
                }
                index -= n;
            }
        });
        let muts = per_layer(&|layer, f, _| {
            quote! {
                let n = #layer::TENSORS.len();
                if index < n {
                    return #layer::tensor_mut(&mut self.#f, index);
                }
                index -= n;
            }
        });
        let counts = per_layer(&|layer, _, _| quote!(+ #layer::TENSORS.len()));
        quote! {
            impl<T: ::typenet::Scalar> ::typenet::Network<T> for #name<T> {
                const NAME: &'static str = #name_str;
                const LAYERS: &'static [&'static str] = &[#(#shown),*];
                const INPUTS: usize = #inputs;
                const CLASSES: usize = #classes;
                const PARAMS: usize = #params;
                const TENSOR_COUNT: usize = 0 #(#counts)*;
                type Flat = [T; #params];
                type Sample = [T; #inputs];
                type Label = ::typenet::Class<#classes>;
                type Scores = [T; #classes];
                type Cache<const B: usize> = #cache<T, B>;

                fn zeros() -> Self {
                    Self::zeros()
                }
                fn tensor_info(index: usize) -> ::core::option::Option<::typenet::TensorInfo> {
                    let mut index = index;
                    #(#infos)*
                    ::core::option::Option::None
                }
                fn zero_flat() -> [T; #params] {
                    [T::zero(); #params]
                }
                fn tensor(&self, index: usize) -> ::core::option::Option<&[T]> {
                    let mut index = index;
                    #(#refs)*
                    ::core::option::Option::None
                }
                fn tensor_mut(&mut self, index: usize) -> ::core::option::Option<&mut [T]> {
                    let mut index = index;
                    #(#muts)*
                    ::core::option::Option::None
                }
                fn new_cache<const B: usize>() -> #cache<T, B> {
                    #cache::zeros()
                }
                fn predict_batch<const B: usize>(&self, x: &[[T; #inputs]; B]) -> [[T; #classes]; B] {
                    self.predict(x)
                }
                fn loss_batch<const B: usize>(&self, x: &[[T; #inputs]; B], t: &[::typenet::Class<#classes>; B]) -> T {
                    self.loss(x, t)
                }
                fn gradient_batch<const B: usize>(&self, x: &[[T; #inputs]; B], t: &[::typenet::Class<#classes>; B], cache: &mut #cache<T, B>, grads: &mut Self) -> T {
                    self.gradient(x, t, cache, grads)
                }
                fn label_index(label: &::typenet::Class<#classes>) -> usize {
                    label.index()
                }
                fn label(index: usize) -> ::core::option::Option<::typenet::Class<#classes>> {
                    ::typenet::Class::new(index)
                }
                fn zero_sample() -> [T; #inputs] {
                    [T::zero(); #inputs]
                }
                fn as_samples(flat: &[T]) -> ::core::option::Option<&[[T; #inputs]]> {
                    match flat.as_chunks::<#inputs>() {
                        (samples, []) => ::core::option::Option::Some(samples),
                        _ => ::core::option::Option::None,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str) -> String {
        let decl: crate::ast::NetworkDecl = syn::parse_str(text).unwrap();
        network(&crate::check::resolve(&decl).unwrap()).to_string()
    }

    #[test]
    fn numbers_in_docs_are_grouped() {
        assert_eq!(grouped(39_760), "39,760");
        assert_eq!(grouped(159_040), "159,040");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }

    #[test]
    fn the_generated_backward_is_straight_line_and_skips_the_first_input_gradient() {
        let code = expand("struct N< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >");
        let start = code.find("pub fn backward").unwrap();
        let body = &code[start..code[start..].find("pub fn gradient").unwrap() + start];
        let calls = [
            ":: loss_gradient (& self . softmax_with_loss , & cache . softmax_with_loss , t , & mut * cache . affine2_grad)",
            ":: backward (& self . affine2 , & (* cache . affine1) , & * cache . affine2 , & * cache . affine2_grad , & mut grads . affine2 , :: core :: option :: Option :: Some (& mut * cache . affine1_grad))",
            ":: backward_in_place (& self . relu1 , & * cache . affine1 , & mut * cache . affine1_grad)",
            ":: backward (& self . affine1 , x , & * cache . affine1 , & * cache . affine1_grad , & mut grads . affine1 , :: core :: option :: Option :: None)",
        ];
        let mut at = 0;
        for call in calls {
            let found = body[at..]
                .find(call)
                .unwrap_or_else(|| panic!("missing or out of order: {call}\n{body}"));
            at += found + call.len();
        }
        assert!(
            !body.contains(" for ") && !body.contains(" while ") && !body.contains(" match "),
            "backward is straight-line: {body}"
        );
        assert!(!code.contains("dyn "), "no trait objects");
        // No allocating type in the code (docs may mention one).
        for ty in ["Vec <", "Vec ::", "Box <", "Box ::", "String"] {
            assert!(!code.contains(ty), "no allocation: {ty}");
        }
    }

    #[test]
    fn user_layers_are_called_through_the_trait_and_checked_by_the_compiler() {
        let code =
            expand("struct N< Affine<4, 3>, Scale<T, 3>, Relu, Affine<3, 2>, SoftmaxWithLoss >");
        assert!(code.contains(
            "< Scale < T , 3 > as :: typenet :: Layer < T >> :: forward (& self . scale1 , :: typenet :: __private :: reshape (& (* cache . affine1))"
        ));
        assert!(code.contains(":: typenet :: __private :: Fits < < Scale < T , 3 > as :: typenet :: Layer < T >> :: Input , :: typenet :: Affine < T , 4 , 3 > , Scale < T , 3 > >> :: OK"));
        // The Relu after it takes its width from a constant the compiler computes.
        assert!(code.contains("const __N_scale1_OUT : usize"));
        assert!(code.contains("pub relu1 : :: typenet :: Relu < __N_scale1_OUT >"));
        // With a user layer, the byte decoder cannot be a `const fn`.
        assert!(!code.contains("const fn from_le_bytes"));
    }
}
