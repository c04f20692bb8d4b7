//! The int8 twin of a network: `NameInt8`, and `Name::<f32>::quantize`, which builds it.
//!
//! Each int8 stage is one `typenet::quant` layer standing for one to three layers of the
//! declaration: an `Affine` or a `Conv2d` (with a `BatchNorm` after it folded into its
//! weights and a `Relu` after that fused), a `MaxPool`, or
//! a `Relu` on its own, or a `Dropout` (a change of scale only). The loss is dropped. A network with any other
//! layer gets no twin; its `quantize` requires a trait no type implements, worded to name
//! the layer.

use crate::check::{Layer, Net, Width};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::Ident;

enum Kind {
    /// `Affine<I, O>`.
    Dense { i: usize, o: usize },
    /// `Conv2d`, with the sizes of the `f32` type (`C_IN … PIXELS`).
    Conv { sizes: Vec<usize> },
    /// `MaxPool<C, H, W, P, S, OH, OW>`.
    Pool { sizes: Vec<usize> },
    /// A `Relu` that does not follow an `Affine` or a `Conv2d`.
    Relu { n: usize },
    /// A `Dropout`: changes the scale only, so `predict` skips it.
    Dropout { n: usize },
}

struct Stage<'a> {
    kind: Kind,
    /// The layer with the parameters (or the pool or relu itself): names the field.
    layer: &'a Layer,
    /// The `BatchNorm` after it, folded into its weights and biases.
    batch_norm: Option<&'a Layer>,
    /// A `Relu` follows it (or its `BatchNorm`) and is fused.
    relu: bool,
    /// Values per sample out.
    outputs: usize,
    /// Index of `layer` in the body of the declaration.
    index: usize,
}

fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// The int8 stages of the network, or the first layer that has no int8 form.
fn stages<'a>(net: &'a Net) -> Result<Vec<Stage<'a>>, &'a Layer> {
    let mut out: Vec<Stage> = Vec::new();
    let body = &net.body;
    let mut k = 0;
    while k < body.len() {
        let layer = &body[k];
        let Some((builtin, args)) = &layer.builtin else {
            return Err(layer);
        };
        let sizes: Option<Vec<usize>> = args.iter().map(Width::lit).collect();
        let Some(sizes) = sizes else {
            return Err(layer);
        };
        let is = |at: usize, name: &str| {
            body.get(at)
                .is_some_and(|l| l.builtin.as_ref().is_some_and(|(b, _)| b.name == name))
        };
        // An `Affine` or a `Conv2d` takes a `BatchNorm` right after it into its weights.
        let weighted = matches!(builtin.name, "Affine" | "Conv2d");
        let batch_norm = (weighted && is(k + 1, "BatchNorm")).then(|| &body[k + 1]);
        let after = k + 1 + usize::from(batch_norm.is_some());
        let relu_next = is(after, "Relu");
        let (kind, outputs, fuses) = match builtin.name {
            "Affine" => (
                Kind::Dense {
                    i: sizes[0],
                    o: sizes[1],
                },
                sizes[1],
                relu_next,
            ),
            "Conv2d" => {
                let out = sizes[1] * sizes[10];
                (Kind::Conv { sizes }, out, relu_next)
            }
            "MaxPool" => {
                let out = sizes[0] * sizes[5] * sizes[6];
                (Kind::Pool { sizes }, out, false)
            }
            "Relu" => (Kind::Relu { n: sizes[0] }, sizes[0], false),
            "Dropout" => (Kind::Dropout { n: sizes[0] }, sizes[0], false),
            _ => return Err(layer),
        };
        out.push(Stage {
            kind,
            layer,
            batch_norm,
            relu: fuses,
            outputs,
            index: k,
        });
        k = after + usize::from(fuses);
    }
    Ok(out)
}

impl Stage<'_> {
    fn ty(&self) -> TokenStream {
        let relu = self.relu;
        match &self.kind {
            Kind::Dense { i, o } => {
                let (i, o) = (lit(*i), lit(*o));
                quote!(::typenet::quant::Dense<#i, #o, #relu>)
            }
            Kind::Conv { sizes } => {
                let (c_in, h, w) = (sizes[0], sizes[5], sizes[6]);
                let args = sizes[..10].iter().map(|&n| lit(n));
                let (inputs, outputs) = (lit(c_in * h * w), lit(self.outputs));
                quote!(::typenet::quant::Conv<#(#args,)* #inputs, #outputs, #relu>)
            }
            Kind::Pool { sizes } => {
                let inputs = lit(sizes[0] * sizes[1] * sizes[2]);
                let args = sizes.iter().map(|&n| lit(n));
                let outputs = lit(self.outputs);
                quote!(::typenet::quant::MaxPool<#(#args,)* #inputs, #outputs>)
            }
            Kind::Relu { n } => {
                let n = lit(*n);
                quote!(::typenet::quant::Relu<#n>)
            }
            Kind::Dropout { n } => {
                let n = lit(*n);
                quote!(::typenet::quant::Dropout<#n>)
            }
        }
    }

    fn has_params(&self) -> bool {
        matches!(self.kind, Kind::Dense { .. } | Kind::Conv { .. })
    }
}

/// The int8 twin and `quantize`, or, for a network with a layer that has no int8 form, a
/// `quantize` whose every call is a compile error naming that layer.
pub fn twin(net: &Net) -> TokenStream {
    let name = &net.decl.ident;
    match stages(net) {
        Ok(stages) if !stages.is_empty() => Twin { net, stages }.expand(),
        Ok(_) => TokenStream::new(),
        Err(layer) => {
            let literal = layer
                .builtin
                .as_ref()
                .is_some_and(|(_, args)| args.iter().all(|a| a.lit().is_some()));
            let ty = if literal {
                layer.ty(&quote!(T), |w| {
                    lit(w.lit().unwrap_or(0)).into_token_stream()
                })
            } else {
                layer.path.to_token_stream()
            };
            // A user layer's path may name the scalar type `T`.
            quote! {
                impl<T: ::typenet::Scalar> #name<T> {
                    /// Not available: a layer of this network has no int8 form, and calling
                    /// this is a compile error that names it.
                    #[doc(hidden)]
                    pub fn quantize<X>(&self, calibration: &[X]) -> ::core::convert::Infallible
                    where
                        X: ::typenet::quant::HasInt8<#ty>,
                    {
                        let _ = calibration;
                        ::core::unreachable!("no type implements `HasInt8`")
                    }
                }
            }
        }
    }
}

struct Twin<'a> {
    net: &'a Net<'a>,
    stages: Vec<Stage<'a>>,
}

impl Twin<'_> {
    fn expand(&self) -> TokenStream {
        let net = self.net;
        let (name, vis) = (&net.decl.ident, &net.decl.vis);
        let twin = format_ident!("{}Int8", name);
        let inputs = lit(net.inputs);
        let last = self.stages.last().map_or(net.inputs, |s| s.outputs);
        let classes = lit(last);
        let fields: Vec<&Ident> = self.stages.iter().map(|s| &s.layer.field).collect();
        let types: Vec<TokenStream> = self.stages.iter().map(Stage::ty).collect();
        // The raw layout's length, from the library's own constants.
        let len = format_ident!("__{}_BYTES", twin);
        let layer_bytes = types
            .iter()
            .map(|ty| quote!(<#ty as ::typenet::quant::Int8Layer>::BYTES));
        let name_str = name.to_string();
        let shown: Vec<&str> = net.layers().map(|l| l.shown.as_str()).collect();
        let doc_fields = self.stages.iter().map(|s| {
            let fused = if s.relu {
                " with the `Relu` after it fused"
            } else {
                ""
            };
            format!(" The int8 `{}`{fused}.", s.layer.shown)
        });
        let summary = format!(
            " The int8 form of [`{name}`]: integer-only inference, parameters from \
             [`{name}::quantize`] (or a saved int8 file)."
        );

        // predict: one stack buffer per stage.
        let mut calls = Vec::new();
        let mut prev = quote!(x);
        let mut result = quote!(*x);
        for (k, (s, f)) in self.stages.iter().zip(&fields).enumerate() {
            if matches!(s.kind, Kind::Dropout { .. }) {
                continue;
            }
            let buf = format_ident!("a{}", k);
            let w = lit(s.outputs);
            calls.push(quote! {
                let mut #buf = [0i8; #w];
                self.#f.forward(#prev, &mut #buf);
            });
            prev = quote!(&#buf);
            result = quote!(#buf);
        }

        // from_le_bytes: each stage after the input's quantization and the stages before it.
        let mut at = quote!(::typenet::quant::Quant::BYTES);
        let decoded = types.iter().zip(&fields).map(|(ty, f)| {
            let field = quote!(#f: <#ty>::from_le_bytes_at(bytes, #at));
            at = quote!(#at + <#ty as ::typenet::quant::Int8Layer>::BYTES);
            field
        });

        let layer_names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        let quantize = self.quantize_fn(&twin, &types);
        quote! {
            #[doc = #summary]
            #[derive(Clone, Copy, Debug, PartialEq)]
            #vis struct #twin {
                /// How the inputs are quantized (see `quantize_input`).
                pub input: ::typenet::quant::Quant,
                #(#[doc = #doc_fields] pub #fields: #types,)*
            }

            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            const #len: usize = ::typenet::quant::Quant::BYTES #(+ #layer_bytes)*;

            impl #twin {
                /// Values per input sample.
                pub const INPUTS: usize = #inputs;
                /// Number of classes (int8 logits).
                pub const CLASSES: usize = #classes;
                /// Length in bytes of the raw int8 layout.
                pub const BYTE_LEN: usize = #len;

                /// The int8 logits of `x` (quantized inputs): integer arithmetic only. The
                /// class is their argmax ([`classify`](Self::classify)); the softmax would not
                /// change it.
                #[must_use]
                pub fn predict(&self, x: &[i8; #inputs]) -> [i8; #classes] {
                    #(#calls)*
                    #result
                }

                /// The predicted class of `x` (the first of equal logits).
                #[must_use]
                pub fn classify(&self, x: &[i8; #inputs]) -> usize {
                    ::typenet::quant::argmax_i8(&self.predict(x))
                }

                /// Quantizes an `f32` sample with the input's scale and zero point (on the
                /// host; a device gets its inputs already quantized, e.g. `pixel − 128` for
                /// pixels calibrated on `[0, 1]`).
                #[must_use]
                pub fn quantize_input<X: ::typenet::Sample<f32, #inputs>>(&self, x: &X) -> [i8; #inputs] {
                    let x = &<X as ::typenet::Sample<f32, #inputs>>::flatten_batch(::core::array::from_ref(x))[0];
                    let mut q = [0i8; #inputs];
                    for (q, &v) in q.iter_mut().zip(x.iter()) {
                        *q = self.input.quantize(v);
                    }
                    q
                }

                /// Builds the network from its raw int8 layout (what
                /// [`to_le_bytes`](Self::to_le_bytes) writes). A `const fn`:
                /// `static NET: NetInt8 = NetInt8::from_le_bytes(include_bytes!(…));` decodes it
                /// at compile time, into flash. A file of another length is a type error.
                pub const fn from_le_bytes(bytes: &[u8; #len]) -> Self {
                    Self {
                        input: ::typenet::quant::Quant::from_le_bytes_at(bytes, 0),
                        #(#decoded,)*
                    }
                }

                /// The raw int8 layout, for `include_bytes!` and [`from_le_bytes`](Self::from_le_bytes).
                #[must_use]
                pub fn to_le_bytes(&self) -> [u8; #len] {
                    let mut out = [0u8; #len];
                    ::typenet::quant::Int8Network::write_le_bytes(self, &mut out);
                    out
                }
            }

            impl ::typenet::quant::Int8Network for #twin {
                const NAME: &'static str = #name_str;
                const LAYERS: &'static [&'static str] = &[#(#shown),*];
                const TENSOR_COUNT: usize = 2 #(+ <#types as ::typenet::quant::Int8Layer>::TENSORS.len())*;
                const BYTES: usize = #len;

                fn zeros() -> Self {
                    Self {
                        input: ::typenet::quant::Quant { scale: 1.0, zero: 0 },
                        #(#fields: <#types as ::typenet::quant::Int8Layer>::zeros(),)*
                    }
                }

                fn tensor_info(index: usize) -> ::core::option::Option<(&'static str, ::typenet::quant::Spec)> {
                    use ::typenet::quant::{Dtype, Int8Layer, Spec};
                    match index {
                        0 => return ::core::option::Option::Some(("input", Spec::new("scale", &[1], Dtype::F32))),
                        1 => return ::core::option::Option::Some(("input", Spec::new("zero", &[1], Dtype::I32))),
                        _ => {}
                    }
                    let mut i = index - 2;
                    #(
                        if let ::core::option::Option::Some(spec) = <#types as Int8Layer>::TENSORS.get(i) {
                            return ::core::option::Option::Some((#layer_names, *spec));
                        }
                        i -= <#types as Int8Layer>::TENSORS.len();
                    )*
                    let _ = i;
                    ::core::option::Option::None
                }

                fn tensor(&self, index: usize) -> ::core::option::Option<::typenet::quant::Values<'_>> {
                    use ::typenet::quant::{Int8Layer, Values};
                    match index {
                        0 => return ::core::option::Option::Some(Values::F32(::core::slice::from_ref(&self.input.scale))),
                        1 => return ::core::option::Option::Some(Values::I32(::core::slice::from_ref(&self.input.zero))),
                        _ => {}
                    }
                    let mut i = index - 2;
                    #(
                        if i < <#types as Int8Layer>::TENSORS.len() {
                            return Int8Layer::tensor(&self.#fields, i);
                        }
                        i -= <#types as Int8Layer>::TENSORS.len();
                    )*
                    let _ = i;
                    ::core::option::Option::None
                }

                fn tensor_mut(&mut self, index: usize) -> ::core::option::Option<::typenet::quant::ValuesMut<'_>> {
                    use ::typenet::quant::{Int8Layer, ValuesMut};
                    match index {
                        0 => return ::core::option::Option::Some(ValuesMut::F32(::core::slice::from_mut(&mut self.input.scale))),
                        1 => return ::core::option::Option::Some(ValuesMut::I32(::core::slice::from_mut(&mut self.input.zero))),
                        _ => {}
                    }
                    let mut i = index - 2;
                    #(
                        if i < <#types as Int8Layer>::TENSORS.len() {
                            return Int8Layer::tensor_mut(&mut self.#fields, i);
                        }
                        i -= <#types as Int8Layer>::TENSORS.len();
                    )*
                    let _ = i;
                    ::core::option::Option::None
                }

                fn prepare(&mut self) -> ::core::result::Result<(), ::typenet::quant::QuantError> {
                    let q = ::typenet::quant::Quant::new(self.input.scale, self.input.zero)?;
                    #(let q = ::typenet::quant::Int8Layer::prepare(&mut self.#fields, q)?;)*
                    let _ = q;
                    ::core::result::Result::Ok(())
                }

                fn write_le_bytes(&self, out: &mut [u8]) {
                    let mut w = ::typenet::quant::Writer::new(out);
                    w.quant(self.input);
                    #(::typenet::quant::Int8Layer::write_le_bytes(&self.#fields, &mut w);)*
                }
            }

            #quantize
        }
    }

    /// `Name::<f32>::quantize`: calibrates every quantized tensor's range on the samples
    /// given, running the `f32` layers one by one, then quantizes each stage.
    fn quantize_fn(&self, twin: &Ident, types: &[TokenStream]) -> TokenStream {
        let net = self.net;
        let name = &net.decl.ident;
        let inputs = lit(net.inputs);
        // Which f32 layer ends each stage with parameters: its output is calibrated.
        let mut observe_after: Vec<(usize, usize)> = Vec::new(); // (body index, range index)
        let mut range = 0;
        for s in &self.stages {
            if s.has_params() {
                range += 1;
                let folded = usize::from(s.batch_norm.is_some()) + usize::from(s.relu);
                observe_after.push((s.index + folded, range));
            }
        }
        let ranges = lit(range + 1);
        let mut steps = Vec::new();
        let mut prev = quote!(x0);
        for (k, layer) in net.body.iter().enumerate() {
            let f = &layer.field;
            let ty = layer.ty(&quote!(f32), |w| match w {
                Width::Lit(n) => lit(*n).into_token_stream(),
                Width::Of(_) => quote!(_),
            });
            let y = format_ident!("y{}", k);
            steps.push(quote! {
                let #y = {
                    type L = #ty;
                    let mut y = [<<L as ::typenet::Layer<f32>>::Output as ::typenet::__private::Tensor<f32>>::zero()];
                    ::typenet::Layer::forward(&self.#f, ::typenet::__private::reshape(#prev), &mut y, ::typenet::Mode::Infer);
                    y
                };
            });
            if let Some((_, r)) = observe_after.iter().find(|(after, _)| *after == k) {
                let r = lit(*r);
                steps.push(quote! {
                    ranges[#r].observe(::typenet::__private::Tensor::<f32>::as_flat(&#y[0]));
                });
            }
            prev = quote!(&#y);
        }
        let mut range = 0;
        let built = self.stages.iter().zip(types).map(|(s, ty)| {
            let f = &s.layer.field;
            if s.has_params() {
                range += 1;
                let r = lit(range);
                let call = match s.batch_norm {
                    Some(bn) => {
                        let bn = &bn.field;
                        quote!(<#ty>::quantize_folded(&self.#f, &self.#bn, q, out)?)
                    }
                    None => quote!(<#ty>::quantize(&self.#f, q, out)?),
                };
                quote! {
                    let out = ranges[#r].quant()?;
                    let #f = #call;
                    let q = out;
                }
            } else if matches!(s.kind, Kind::Dropout { .. }) {
                quote! {
                    let mut #f = <#ty>::quantize(&self.#f);
                    let q = ::typenet::quant::Int8Layer::prepare(&mut #f, q)?;
                }
            } else {
                quote! {
                    let mut #f = <#ty as ::typenet::quant::Int8Layer>::zeros();
                    let q = ::typenet::quant::Int8Layer::prepare(&mut #f, q)?;
                }
            }
        });
        let fields = self.stages.iter().map(|s| &s.layer.field);
        quote! {
            impl #name<f32> {
                /// Post-training quantization: the int8 form of this network, with each
                /// activation's range calibrated on `calibration` (min/max over the samples;
                /// a few hundred training samples are plenty). See `typenet::quant`.
                ///
                /// An error if `calibration` is empty, or a weight, bias or range cannot be
                /// quantized (a NaN, or a bias beyond `i32`).
                pub fn quantize<X: ::typenet::Sample<f32, #inputs>>(&self, calibration: &[X])
                    -> ::core::result::Result<#twin, ::typenet::quant::QuantError>
                {
                    let mut ranges = [::typenet::quant::Range::EMPTY; #ranges];
                    for x in calibration {
                        let x0 = <X as ::typenet::Sample<f32, #inputs>>::flatten_batch(::core::array::from_ref(x));
                        ranges[0].observe(&x0[0]);
                        #(#steps)*
                    }
                    let q = ranges[0].quant()?;
                    let input = q;
                    #(#built)*
                    let _ = q;
                    ::core::result::Result::Ok(#twin { input, #(#fields,)* })
                }
            }
        }
    }
}
