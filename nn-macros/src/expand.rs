//! Writes the concrete network: the parameter struct, the cache struct, straight-line
//! forward and backward passes, and the `typenet::Network` implementation.

use crate::ast::NetworkDecl;
use crate::check::{Kind, Layer, Net};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

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

/// What is emitted when the declaration has errors: the bare name, so that code using it
/// reports nothing but the real mistake.
pub fn stub(decl: &NetworkDecl) -> TokenStream {
    let (vis, ident) = (&decl.vis, &decl.ident);
    quote! {
        #[allow(dead_code)]
        #vis struct #ident<T = f32>(::core::marker::PhantomData<T>);
    }
}

pub fn network(net: &Net) -> TokenStream {
    let decl = net.decl;
    let (attrs, vis, name) = (&decl.attrs, &decl.vis, &decl.ident);
    let cache = format_ident!("{}Cache", name);
    let (inputs, classes) = (lit(net.inputs), lit(net.classes));
    let affines: Vec<&Layer> = net
        .layers
        .iter()
        .filter(|l| l.kind == Kind::Affine)
        .collect();
    let params: usize = affines
        .iter()
        .map(|l| l.inputs * l.outputs + l.outputs)
        .sum();
    let params_lit = lit(params);
    let chain = net
        .layers
        .iter()
        .map(|l| format!("`{}`", l.shown))
        .collect::<Vec<_>>()
        .join(" → ");
    let summary = format!(
        " Layers: {chain}. {} inputs per sample, {} classes, {} parameters.",
        net.inputs,
        net.classes,
        grouped(params)
    );
    let shown: Vec<&str> = net.layers.iter().map(|l| l.shown.as_str()).collect();

    // ---- the parameter struct -------------------------------------------------------
    let fields = net.layers.iter().map(|l| {
        let f = &l.field;
        let ty = layer_type(l);
        let doc = format!(" `{}`.", l.shown);
        quote! { #[doc = #doc] pub #f: #ty }
    });
    let zero_fields: Vec<TokenStream> = net.layers.iter().map(zero_field).collect();

    // ---- the cache struct -----------------------------------------------------------
    let loss = net.loss();
    let loss_field = &loss.field;
    let cache_fields = net.stages.iter().map(|s| {
        let (f, g, w) = (&s.field, &s.grad, lit(s.width));
        let doc_f = format!(" Output of {}, one row per sample.", s.shown);
        let doc_g = format!(" Gradient of the loss with respect to `{f}`.");
        quote! {
            #[doc = #doc_f] pub #f: [[T; #w]; B],
            #[doc = #doc_g] pub #g: [[T; #w]; B],
        }
    });
    let cache_zeros = net.stages.iter().map(|s| {
        let (f, g, w) = (&s.field, &s.grad, lit(s.width));
        quote! { #f: [[T::zero(); #w]; B], #g: [[T::zero(); #w]; B], }
    });
    let cache_doc = format!(
        " Activations and gradients of [`{name}`] for a batch of `B` samples: what a forward pass leaves for the backward pass. Allocate it once and reuse it every step."
    );
    let probs_doc = format!(
        " Output of `{}`: the class probabilities (softmax of the scores).",
        loss.shown
    );

    // ---- forward, with and without a cache -------------------------------------------
    let mut forward = Vec::new();
    let mut predict = Vec::new();
    let mut prev_stage: Option<usize> = None;
    for l in net
        .layers
        .iter()
        .filter(|l| l.kind != Kind::SoftmaxWithLoss)
    {
        let f = &l.field;
        let stage = l.stage.unwrap_or(0);
        let out = &net.stages[stage].field;
        let local = format_ident!("__{}", out);
        let width = lit(net.stages[stage].width);
        let input = prev_stage.map(|p| &net.stages[p].field);
        let in_place = prev_stage == Some(stage);
        match (l.kind, input, in_place) {
            (Kind::Affine, None, _) => {
                forward.push(quote! { self.#f.forward(x, &mut cache.#out); });
                predict.push(quote! {
                    let mut #local = [[T::zero(); #width]; B];
                    self.#f.forward(x, &mut #local);
                });
            }
            (_, Some(_), true) => {
                forward.push(quote! { self.#f.forward_in_place(&mut cache.#out); });
                predict.push(quote! { self.#f.forward_in_place(&mut #local); });
            }
            (_, Some(input), false) => {
                let input_local = format_ident!("__{}", input);
                forward.push(quote! { self.#f.forward(&cache.#input, &mut cache.#out); });
                predict.push(quote! {
                    let mut #local = [[T::zero(); #width]; B];
                    self.#f.forward(&#input_local, &mut #local);
                });
            }
            (_, None, _) => unreachable!("checked: only `Affine` can be the first layer"),
        }
        prev_stage = Some(stage);
    }
    let logits = &net.stages[prev_stage.unwrap_or(0)].field;
    let logits_grad = &net.stages[prev_stage.unwrap_or(0)].grad;
    let logits_local = format_ident!("__{}", logits);

    // ---- backward: the same layers in reverse ----------------------------------------
    let mut backward = Vec::new();
    let body: Vec<&Layer> = net
        .layers
        .iter()
        .filter(|l| l.kind != Kind::SoftmaxWithLoss)
        .collect();
    for (i, l) in body.iter().enumerate().rev() {
        let f = &l.field;
        let stage = &net.stages[l.stage.unwrap_or(0)];
        let (out, out_grad) = (&stage.field, &stage.grad);
        let before = i
            .checked_sub(1)
            .map(|p| &net.stages[body[p].stage.unwrap_or(0)]);
        match (l.kind, before) {
            (Kind::Affine, None) => backward.push(quote! {
                self.#f.param_gradient(x, &cache.#out_grad, &mut grads.#f);
            }),
            (Kind::Affine, Some(prev)) => {
                let (pin, pgrad) = (&prev.field, &prev.grad);
                backward.push(quote! {
                    self.#f.backward(&cache.#pin, &cache.#out_grad, &mut grads.#f, &mut cache.#pgrad);
                });
            }
            (_, Some(prev)) if prev.field == *out => {
                backward.push(quote! { self.#f.backward(&cache.#out, &mut cache.#out_grad); });
            }
            (_, Some(prev)) => {
                let pgrad = &prev.grad;
                backward.push(quote! {
                    cache.#pgrad = cache.#out_grad;
                    self.#f.backward(&cache.#out, &mut cache.#pgrad);
                });
            }
            (_, None) => unreachable!("checked: only `Affine` can be the first layer"),
        }
    }

    // ---- parameter tensors -------------------------------------------------------------
    let mut tensor_infos = Vec::new();
    let mut tensor_refs = Vec::new();
    let mut tensor_muts = Vec::new();
    let mut f32_fields = Vec::new();
    let mut f64_fields = Vec::new();
    let mut offset = 0usize;
    for l in &net.layers {
        let f = &l.field;
        if l.kind != Kind::Affine {
            f32_fields.push(zero_field(l));
            f64_fields.push(zero_field(l));
            continue;
        }
        let (i, o) = (lit(l.inputs), lit(l.outputs));
        let (wn, bn) = (format!("{f}.W"), format!("{f}.b"));
        let k = tensor_refs.len();
        let (kw, kb) = (lit(k), lit(k + 1));
        tensor_infos.push(quote! { ::typenet::TensorInfo { name: #wn, shape: &[#i, #o] } });
        tensor_infos.push(quote! { ::typenet::TensorInfo { name: #bn, shape: &[#o] } });
        tensor_refs.push(quote! { #kw => ::core::option::Option::Some(self.#f.w.as_flattened()), });
        tensor_refs.push(quote! { #kb => ::core::option::Option::Some(&self.#f.b[..]), });
        tensor_muts
            .push(quote! { #kw => ::core::option::Option::Some(self.#f.w.as_flattened_mut()), });
        tensor_muts.push(quote! { #kb => ::core::option::Option::Some(&mut self.#f.b[..]), });
        for (fields, bytes, ty) in [
            (&mut f32_fields, 4usize, quote!(f32)),
            (&mut f64_fields, 8, quote!(f64)),
        ] {
            let at_w = lit(offset * bytes);
            let at_b = lit((offset + l.inputs * l.outputs) * bytes);
            let (mat, vec) = (
                format_ident!("matrix_{}", ty.to_string()),
                format_ident!("vector_{}", ty.to_string()),
            );
            fields.push(quote! {
                #f: ::typenet::Affine {
                    w: ::typenet::bytes::#mat::<#i, #o>(bytes, #at_w),
                    b: ::typenet::bytes::#vec::<#o>(bytes, #at_b),
                }
            });
        }
        offset += l.inputs * l.outputs + l.outputs;
    }
    let (bytes32, bytes64) = (lit(params * 4), lit(params * 8));
    let bytes_doc = |ty: &str, n: usize| {
        format!(
            " Builds the network from the bytes of a parameter file, at compile time if you like: every tensor in declaration order, row-major, little-endian `{ty}` ({} bytes). This is the layout `typenet::io::save_raw` writes.\n\n A file of another length is a type error that names both lengths (`expected &[u8; {n}], found &[u8; …]`).",
            grouped(n)
        )
    };
    let doc32 = bytes_doc("f32", params * 4);
    let doc64 = bytes_doc("f64", params * 8);

    let name_str = name.to_string();
    let param_count_type = typenum_type(params);
    let x_bound = quote! { X: ::typenet::Sample<T, #inputs> };
    let t_bound = quote! { Y: ::typenet::Target<T, #classes> };

    quote! {
        #(#attrs)*
        #[doc = ""]
        #[doc = #summary]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #name<T: ::typenet::Scalar = f32> {
            #(#fields,)*
        }

        #[doc = #cache_doc]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #cache<T: ::typenet::Scalar, const B: usize> {
            #(#cache_fields)*
            #[doc = #probs_doc]
            pub #loss_field: [[T; #classes]; B],
        }

        impl<T: ::typenet::Scalar, const B: usize> #cache<T, B> {
            /// A cache with every value zero.
            pub fn zeros() -> Self {
                Self { #(#cache_zeros)* #loss_field: [[T::zero(); #classes]; B] }
            }
        }

        impl<T: ::typenet::Scalar, const B: usize> ::core::default::Default for #cache<T, B> {
            fn default() -> Self {
                Self::zeros()
            }
        }

        impl<T: ::typenet::Scalar> ::core::default::Default for #name<T> {
            fn default() -> Self {
                Self::zeros()
            }
        }

        #[allow(clippy::needless_range_loop, clippy::unused_self)]
        impl<T: ::typenet::Scalar> #name<T> {
            /// Values per input sample (the first layer's inputs).
            pub const INPUTS: usize = #inputs;
            /// Number of classes (the loss layer's width).
            pub const CLASSES: usize = #classes;
            /// Total number of parameters.
            pub const PARAMS: usize = #params_lit;
            /// The layers, as declared.
            pub const LAYERS: &'static [&'static str] = &[#(#shown),*];

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
                #logits_local
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
                self.#loss_field.forward(&scores, t, &mut probs)
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

            /// Forward pass that keeps what backpropagation needs in `cache`; returns the mean loss.
            pub fn forward<#x_bound, #t_bound, const B: usize>(&self, x: &[X; B], t: &[Y; B], cache: &mut #cache<T, B>) -> T {
                let x = <X as ::typenet::Sample<T, #inputs>>::flatten_batch(x);
                #(#forward)*
                self.#loss_field.forward(&cache.#logits, t, &mut cache.#loss_field)
            }

            /// Backward pass after [`forward`](Self::forward) on the same `x` and `t`: writes
            /// the gradient of the mean loss with respect to every parameter into `grads`.
            /// The gradient of the network's input is not computed (nothing needs it).
            pub fn backward<#x_bound, #t_bound, const B: usize>(&self, x: &[X; B], t: &[Y; B], cache: &mut #cache<T, B>, grads: &mut Self) {
                let x = <X as ::typenet::Sample<T, #inputs>>::flatten_batch(x);
                self.#loss_field.backward(&cache.#loss_field, t, &mut cache.#logits_grad);
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

        impl #name<f32> {
            /// Length in bytes of this network's `f32` parameter file.
            pub const BYTE_LEN: usize = #bytes32;
            #[doc = #doc32]
            pub const fn from_le_bytes(bytes: &[u8; #bytes32]) -> Self {
                Self { #(#f32_fields,)* }
            }
        }

        impl #name<f64> {
            /// Length in bytes of this network's `f64` parameter file.
            pub const BYTE_LEN: usize = #bytes64;
            #[doc = #doc64]
            pub const fn from_le_bytes(bytes: &[u8; #bytes64]) -> Self {
                Self { #(#f64_fields,)* }
            }
        }

        impl<T: ::typenet::Scalar> ::typenet::Network<T> for #name<T> {
            const NAME: &'static str = #name_str;
            const LAYERS: &'static [&'static str] = &[#(#shown),*];
            const INPUTS: usize = #inputs;
            const CLASSES: usize = #classes;
            const PARAMS: usize = #params_lit;
            const TENSORS: &'static [::typenet::TensorInfo] = &[#(#tensor_infos),*];
            type ParamCount = #param_count_type;
            type Sample = [T; #inputs];
            type Label = ::typenet::Class<#classes>;
            type Scores = [T; #classes];
            type Cache<const B: usize> = #cache<T, B>;

            fn zeros() -> Self {
                Self::zeros()
            }
            fn tensor(&self, index: usize) -> ::core::option::Option<&[T]> {
                match index {
                    #(#tensor_refs)*
                    _ => ::core::option::Option::None,
                }
            }
            fn tensor_mut(&mut self, index: usize) -> ::core::option::Option<&mut [T]> {
                match index {
                    #(#tensor_muts)*
                    _ => ::core::option::Option::None,
                }
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

fn layer_type(l: &Layer) -> TokenStream {
    let (i, o) = (lit(l.inputs), lit(l.outputs));
    match l.kind {
        Kind::Affine => quote! { ::typenet::Affine<T, #i, #o> },
        Kind::Relu => quote! { ::typenet::Relu<#o> },
        Kind::Sigmoid => quote! { ::typenet::Sigmoid<#o> },
        Kind::SoftmaxWithLoss => quote! { ::typenet::SoftmaxWithLoss<#o> },
    }
}

/// The field initialiser of a layer with zero parameters (`const`-evaluable).
fn zero_field(l: &Layer) -> TokenStream {
    let f = &l.field;
    match l.kind {
        Kind::Affine => quote! { #f: ::typenet::Affine::zeros() },
        Kind::Relu => quote! { #f: ::typenet::Relu },
        Kind::Sigmoid => quote! { #f: ::typenet::Sigmoid },
        Kind::SoftmaxWithLoss => quote! { #f: ::typenet::SoftmaxWithLoss },
    }
}

/// The `typenum` type of `n`, written out bit by bit (works for any `n`, unlike
/// `typenum::U<N>`, which maps only some values).
fn typenum_type(n: usize) -> TokenStream {
    let mut ty = quote! { ::typenet::__private::typenum::UTerm };
    if n == 0 {
        return ty;
    }
    for shift in (0..usize::BITS - n.leading_zeros()).rev() {
        let bit = if (n >> shift) & 1 == 1 {
            quote! { ::typenet::__private::typenum::B1 }
        } else {
            quote! { ::typenet::__private::typenum::B0 }
        };
        ty = quote! { ::typenet::__private::typenum::UInt<#ty, #bit> };
    }
    ty
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typenum_types_are_written_bit_by_bit() {
        let t = typenum_type(6).to_string().replace(' ', "");
        // 6 = 0b110: UInt<UInt<UInt<UTerm, B1>, B1>, B0>
        let p = "::typenet::__private::typenum::";
        assert_eq!(
            t,
            format!("{p}UInt<{p}UInt<{p}UInt<{p}UTerm,{p}B1>,{p}B1>,{p}B0>")
        );
        assert_eq!(
            typenum_type(0).to_string().replace(' ', ""),
            format!("{p}UTerm")
        );
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
        let decl: crate::ast::NetworkDecl =
            syn::parse_str("struct N< Affine<784, 50>, Relu, Affine<50, 10>, SoftmaxWithLoss >")
                .unwrap();
        let code = network(&crate::check::resolve(&decl).unwrap()).to_string();
        let start = code.find("pub fn backward").unwrap();
        let body = &code[start..code[start..].find("pub fn gradient").unwrap() + start];
        let calls = [
            "self . softmax_with_loss . backward (& cache . softmax_with_loss , t , & mut cache . affine2_grad)",
            "self . affine2 . backward (& cache . affine1 , & cache . affine2_grad , & mut grads . affine2 , & mut cache . affine1_grad)",
            "self . relu1 . backward (& cache . affine1 , & mut cache . affine1_grad)",
            "self . affine1 . param_gradient (x , & cache . affine1_grad , & mut grads . affine1)",
        ];
        let mut at = 0;
        for call in calls {
            let found = body[at..]
                .find(call)
                .unwrap_or_else(|| panic!("missing or out of order: {call}\n{body}"));
            at += found + call.len();
        }
        assert!(
            !body.contains(" for ") && !body.contains(" while "),
            "backward is straight-line: {body}"
        );
        assert!(!code.contains("dyn "), "no trait objects");
        assert!(
            !code.contains("Vec") && !code.contains("Box"),
            "no allocation"
        );
    }
}
