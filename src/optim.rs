//! The optimizers of chapter 6, with the book's defaults.
//!
//! Each optimizer keeps its state (velocities, squared-gradient sums, moments) as values of
//! the network type itself, so it needs no allocation, works on `no_std`, and its state
//! has exactly the parameters' shapes. Plain [`Sgd`] stores nothing at all.
//!
//! ```
//! use typenet::prelude::*;
//! network! { struct Net< Affine<2, 2>, SoftmaxWithLoss > }
//! let mut net = Net::<f32>::zeros();
//! let mut grads = Net::zeros();
//! grads.affine1.b = [1.0, -1.0];
//! let mut opt = Sgd::new(0.5);
//! opt.step(&mut net, &grads);
//! assert_eq!(net.affine1.b, [-0.5, 0.5]);
//! ```

use crate::{Network, Scalar};
use num_traits::Float;

/// The `eps` of the book's adaptive optimizers.
pub const EPS: f64 = 1e-7;

/// The most steps an optimizer state may count: far more than any run takes, and small
/// enough that no step counter or exponent derived from it overflows.
pub const MAX_STEPS: u64 = 1 << 40;

/// Why an optimizer's state or settings cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidState(pub &'static str);

impl core::fmt::Display for InvalidState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InvalidState {}

/// Updates a network's parameters from its gradients.
pub trait Optimizer<T: Scalar, N: Network<T>> {
    /// One update: `params ← params - (step derived from grads and state)`.
    fn step(&mut self, params: &mut N, grads: &N);
    /// The step [`step`](Self::step) would take, written out of place: the new parameters
    /// into `grads` (which the step consumes), the new state and settings into `next`;
    /// `self` and `params` are untouched. Returns whether every new value is finite; when
    /// it is not, `grads` and `next` hold partial results and must not be used.
    ///
    /// This is how [`Trainer`](crate::train::Trainer) refuses a step before it lands, at
    /// the cost of an update in place: swapping `params` with `grads` and `self` with
    /// `next` afterwards commits it.
    ///
    /// ```
    /// use typenet::prelude::*;
    /// network! { struct Net< Affine<1, 2>, SoftmaxWithLoss > }
    /// let (params, mut grads) = (Net::<f64>::zeros(), Net::zeros());
    /// grads.affine1.b = [1.0, -1.0];
    /// let (sgd, mut next) = (Sgd::new(0.5), Sgd::new(0.0));
    /// assert!(sgd.step_into(&params, &mut grads, &mut next));
    /// assert_eq!((grads.affine1.b, next.lr), ([-0.5, 0.5], 0.5));
    ///
    /// // A step that overflows f32 is reported, and `params` is as it was.
    /// let (params, mut grads) = (Net::<f32>::zeros(), Net::zeros());
    /// grads.affine1.b = [1e10, 0.0];
    /// assert!(!Sgd::new(1e30f32).step_into(&params, &mut grads, &mut Sgd::new(0.0)));
    /// assert_eq!(params.affine1.b, [0.0, 0.0]);
    /// ```
    fn step_into(&self, params: &N, grads: &mut N, next: &mut Self) -> bool
    where
        Self: Sized;
    /// Checks the settings and state (after a checkpoint is loaded, before a run starts):
    /// the learning rate finite and positive, coefficients in `[0, 1)`, state finite,
    /// running squares not negative, the step count at most [`MAX_STEPS`].
    fn validate(&self) -> Result<(), InvalidState>;
    /// Short name (`"sgd"`, `"momentum"`, `"adagrad"`, `"rmsprop"`, `"adam"`).
    fn name(&self) -> &'static str;
    /// The state tensors (each shaped like the parameters), for checkpoints.
    fn slots(&self) -> &[N];
    /// The state tensors, mutably, for restoring checkpoints.
    fn slots_mut(&mut self) -> &mut [N];
    /// Number of steps taken (Adam's `t`).
    fn steps(&self) -> u64;
    /// Sets the number of steps taken, for restoring checkpoints.
    fn set_steps(&mut self, steps: u64);
}

/// Applies `f(param, grad, state)` to every parameter, with `K` state values per parameter;
/// a tensor that is not trained takes the next value the backward pass wrote into `grads`.
fn update<T: Scalar, N: Network<T>, const K: usize>(
    params: &mut N,
    grads: &N,
    slots: &mut [N; K],
    f: impl Fn(&mut T, T, &mut [T; K]) + Copy + Sync,
) {
    for index in 0..N::TENSOR_COUNT {
        let Some(info) = N::tensor_info(index) else {
            continue;
        };
        let (Some(p), Some(g)) = (params.tensor_mut(index), grads.tensor(index)) else {
            continue;
        };
        if !info.is_trained() {
            // State: the backward pass wrote its next value where a gradient would be.
            let n = p.len().min(g.len());
            p[..n].copy_from_slice(&g[..n]);
            continue;
        }
        // Every slot is shaped like the parameters, so none is missing.
        let state = slots
            .each_mut()
            .map(|s| s.tensor_mut(index).unwrap_or_default());
        update_tensor(p, g, state, info.shape, &f);
    }
}

/// [`update`] out of place: for every parameter, `f` on the value in `params` and the state
/// in `slots` writes the new value over the gradient in `grads` and the new state into
/// `next`; a tensor that is not trained ([`Role::State`](crate::layer::Role::State)) keeps the
/// next value the backward pass wrote into `grads`. Returns whether every new value is
/// finite.
fn update_into<T: Scalar, N: Network<T>, const K: usize>(
    params: &N,
    grads: &mut N,
    slots: &[N; K],
    next: &mut [N; K],
    f: impl Fn(&mut T, T, &mut [T; K]) + Copy + Sync,
) -> bool {
    let mut finite = true;
    for index in 0..N::TENSOR_COUNT {
        let Some(info) = N::tensor_info(index) else {
            continue;
        };
        let (Some(p), Some(g)) = (params.tensor(index), grads.tensor_mut(index)) else {
            continue;
        };
        if !info.is_trained() {
            // State: the backward pass wrote its next value where a gradient would be, and
            // `grads` becomes the parameters.
            finite &= g.iter().all(|v| v.is_finite());
            continue;
        }
        let state = slots
            .each_ref()
            .map(|s| s.tensor(index).unwrap_or_default());
        let out = next
            .each_mut()
            .map(|s| s.tensor_mut(index).unwrap_or_default());
        finite &= update_tensor_into(p, g, state, out, info.shape, &f);
    }
    finite
}

/// [`update_into`] for one tensor; inside [`keep_awake`](crate::parallel::keep_awake) a large
/// tensor is updated in the halves [`update_tensor`] splits it into.
fn update_tensor_into<T: Scalar, const K: usize>(
    p: &[T],
    g: &mut [T],
    state: [&[T]; K],
    out: [&mut [T]; K],
    #[cfg_attr(not(feature = "parallel"), allow(unused_variables))] shape: &[usize],
    f: &(impl Fn(&mut T, T, &mut [T; K]) + Copy + Sync),
) -> bool {
    #[cfg(feature = "parallel")]
    if let Some(half) = crate::parallel::split_tensor(p.len().min(g.len()), shape) {
        let (p_lo, p_hi) = p.split_at(half);
        let (g_lo, g_hi) = g.split_at_mut(half);
        let s_lo = state.map(|s| &s[..half.min(s.len())]);
        let s_hi = state.map(|s| &s[half.min(s.len())..]);
        let mut o_hi: [&mut [T]; K] = core::array::from_fn(|_| Default::default());
        let mut his = o_hi.iter_mut();
        let o_lo = out.map(|o| {
            let (lo, rest) = o.split_at_mut(half.min(o.len()));
            if let Some(h) = his.next() {
                *h = rest;
            }
            lo
        });
        let (a, b) = rayon::join(
            || slices_into(p_lo, g_lo, s_lo, o_lo, f),
            || slices_into(p_hi, g_hi, s_hi, o_hi, f),
        );
        return a && b;
    }
    slices_into(p, g, state, out, f)
}

/// [`update_tensor_into`] on this thread, in chunks of 64 values with constant indices, so
/// that the loop runs vector-wide with its finiteness check.
#[inline(always)]
fn slices_into<T: Scalar, const K: usize>(
    p: &[T],
    g: &mut [T],
    state: [&[T]; K],
    out: [&mut [T]; K],
    f: &(impl Fn(&mut T, T, &mut [T; K]) + Copy),
) -> bool {
    let f = *f;
    let n = state
        .iter()
        .fold(p.len().min(g.len()), |n, s| n.min(s.len()));
    let n = out.iter().fold(n, |n, s| n.min(s.len()));
    let (p, g) = (&p[..n], &mut g[..n]);
    let state = state.map(|s| &s[..n]);
    let mut out = out.map(|s| s.split_at_mut(n).0);
    let mut finite = true;
    for k in 0..n {
        let mut v = [T::zero(); K];
        for (vj, s) in v.iter_mut().zip(state.iter()) {
            *vj = s[k];
        }
        let mut q = p[k];
        f(&mut q, g[k], &mut v);
        g[k] = q;
        finite &= q.is_finite();
        for (vj, s) in v.iter().zip(out.iter_mut()) {
            s[k] = *vj;
            finite &= vj.is_finite();
        }
    }
    finite
}

/// Checks a learning rate and the state slots of an optimizer; `squares` are the slots
/// that hold running squares (never negative).
fn validate<T: Scalar, N: Network<T>>(
    lr: T,
    coefficients: &[T],
    slots: &[N],
    squares: &[usize],
    steps: u64,
) -> Result<(), InvalidState> {
    if !(lr.is_finite() && lr > T::zero()) {
        return Err(InvalidState(
            "the learning rate is not a finite positive number",
        ));
    }
    if !coefficients
        .iter()
        .all(|&c| c.is_finite() && c >= T::zero() && c < T::one())
    {
        return Err(InvalidState("a decay coefficient is not in [0, 1)"));
    }
    if steps > MAX_STEPS {
        return Err(InvalidState("the step count is out of range"));
    }
    for (k, slot) in slots.iter().enumerate() {
        for index in 0..N::TENSOR_COUNT {
            let values = slot.tensor(index).unwrap_or_default();
            if !values.iter().all(|v| v.is_finite()) {
                return Err(InvalidState("the optimizer state holds a non-finite value"));
            }
            if squares.contains(&k) && values.iter().any(|&v| v < T::zero()) {
                return Err(InvalidState("a running mean of squares is negative"));
            }
        }
    }
    Ok(())
}

/// [`update`] for one tensor. Inside [`keep_awake`](crate::parallel::keep_awake), a large
/// tensor is updated in two halves on two threads: the halves of the weight gradient, so
/// each thread updates the values it has just computed.
fn update_tensor<T: Scalar, const K: usize>(
    p: &mut [T],
    g: &[T],
    state: [&mut [T]; K],
    #[cfg_attr(not(feature = "parallel"), allow(unused_variables))] shape: &[usize],
    f: &(impl Fn(&mut T, T, &mut [T; K]) + Copy + Sync),
) {
    #[cfg(feature = "parallel")]
    if let Some(half) = crate::parallel::split_tensor(p.len().min(g.len()), shape) {
        let (p_lo, p_hi) = p.split_at_mut(half);
        let (g_lo, g_hi) = g.split_at(half);
        let mut hi: [&mut [T]; K] = core::array::from_fn(|_| Default::default());
        let mut his = hi.iter_mut();
        let lo = state.map(|s| {
            let (lo, rest) = s.split_at_mut(half.min(s.len()));
            if let Some(h) = his.next() {
                *h = rest;
            }
            lo
        });
        rayon::join(
            || update_slices(p_lo, g_lo, lo, f),
            || update_slices(p_hi, g_hi, hi, f),
        );
        return;
    }
    update_slices(p, g, state, f)
}

/// [`update_tensor`] on this thread.
#[inline(always)]
fn update_slices<T: Scalar, const K: usize>(
    p: &mut [T],
    g: &[T],
    state: [&mut [T]; K],
    f: &(impl Fn(&mut T, T, &mut [T; K]) + Copy),
) {
    // A copy on this stack frame: stores to `p` cannot change what `f` captured, so its
    // values stay in registers.
    let f = *f;
    // All slices cut to one length, which the compiler then knows, so the loop has no bounds
    // checks and runs vector-wide.
    let n = state
        .iter()
        .fold(p.len().min(g.len()), |n, s| n.min(s.len()));
    let (p, g) = (&mut p[..n], &g[..n]);
    let mut state = state.map(|s| s.split_at_mut(n).0);
    for k in 0..n {
        let mut v = [T::zero(); K];
        for (vj, s) in v.iter_mut().zip(state.iter()) {
            *vj = s[k];
        }
        f(&mut p[k], g[k], &mut v);
        for (vj, s) in v.iter().zip(state.iter_mut()) {
            s[k] = *vj;
        }
    }
}

/// The `Optimizer` implementation of an optimizer with state slots: its update is its
/// `rule` (the step from `t` to `t + 1`); `$coef` are its coefficients, each in `[0, 1)`,
/// and `$square` the slots that hold running means of squares (never negative).
macro_rules! stateful_optimizer {
    ($ty:ident, $name:literal, [$($coef:ident),*], [$($square:literal),*]) => {
        impl<T: Scalar, N: Network<T>> Optimizer<T, N> for $ty<T, N> {
            fn step(&mut self, params: &mut N, grads: &N) {
                let rule = self.rule();
                update(params, grads, &mut self.slots, rule);
                self.t = self.t.saturating_add(1);
            }
            fn step_into(&self, params: &N, grads: &mut N, next: &mut Self) -> bool {
                (next.lr, next.t) = (self.lr, self.t.saturating_add(1));
                $(next.$coef = self.$coef;)*
                update_into(params, grads, &self.slots, &mut next.slots, self.rule())
            }
            fn validate(&self) -> Result<(), InvalidState> {
                validate(self.lr, &[$(self.$coef),*], &self.slots, &[$($square),*], self.t)
            }
            fn name(&self) -> &'static str {
                $name
            }
            fn slots(&self) -> &[N] {
                &self.slots
            }
            fn slots_mut(&mut self) -> &mut [N] {
                &mut self.slots
            }
            fn steps(&self) -> u64 {
                self.t
            }
            fn set_steps(&mut self, steps: u64) {
                self.t = steps;
            }
        }
    };
}

/// Stochastic gradient descent: `W ← W - lr · ∂L/∂W`. The book's default `lr` is 0.01.
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd<T> {
    /// Learning rate.
    pub lr: T,
    t: u64,
}

impl<T: Scalar> Sgd<T> {
    /// SGD with learning rate `lr`.
    pub fn new(lr: T) -> Self {
        Sgd { lr, t: 0 }
    }
}

impl<T: Scalar> Default for Sgd<T> {
    fn default() -> Self {
        Sgd::new(T::from_f64(0.01))
    }
}

impl<T: Scalar> Sgd<T> {
    fn rule(&self) -> impl Fn(&mut T, T, &mut [T; 0]) + Copy + Sync {
        let lr = self.lr;
        move |p, g, _| *p = *p - lr * g
    }
}

impl<T: Scalar, N: Network<T>> Optimizer<T, N> for Sgd<T> {
    fn step(&mut self, params: &mut N, grads: &N) {
        update(params, grads, &mut [], self.rule());
        self.t = self.t.saturating_add(1);
    }
    fn step_into(&self, params: &N, grads: &mut N, next: &mut Self) -> bool {
        (next.lr, next.t) = (self.lr, self.t.saturating_add(1));
        update_into(params, grads, &[], &mut [], self.rule())
    }
    fn validate(&self) -> Result<(), InvalidState> {
        validate::<T, N>(self.lr, &[], &[], &[], self.t)
    }
    fn name(&self) -> &'static str {
        "sgd"
    }
    fn slots(&self) -> &[N] {
        &[]
    }
    fn slots_mut(&mut self) -> &mut [N] {
        &mut []
    }
    fn steps(&self) -> u64 {
        self.t
    }
    fn set_steps(&mut self, steps: u64) {
        self.t = steps;
    }
}

/// Momentum: `v ← momentum · v - lr · g; W ← W + v` (book defaults `lr` 0.01, momentum 0.9).
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Net< Affine<1, 2>, SoftmaxWithLoss > }
/// let (mut net, mut grads) = (Net::<f64>::zeros(), Net::zeros());
/// grads.affine1.b = [1.0, 0.0];
/// let mut opt = Momentum::<f64, Net<f64>>::default();
/// opt.step(&mut net, &grads);
/// opt.step(&mut net, &grads);
/// assert!((net.affine1.b[0] - (-0.01 - 0.019)).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Momentum<T, N> {
    /// Learning rate.
    pub lr: T,
    /// Momentum coefficient.
    pub momentum: T,
    slots: [N; 1],
    t: u64,
}

impl<T: Scalar, N: Network<T>> Momentum<T, N> {
    /// Momentum with the given learning rate and coefficient, starting at rest.
    pub fn new(lr: T, momentum: T) -> Self {
        Momentum {
            lr,
            momentum,
            slots: [N::zeros()],
            t: 0,
        }
    }
}

impl<T: Scalar, N: Network<T>> Default for Momentum<T, N> {
    fn default() -> Self {
        Momentum::new(T::from_f64(0.01), T::from_f64(0.9))
    }
}

impl<T: Scalar, N: Network<T>> Momentum<T, N> {
    fn rule(&self) -> impl Fn(&mut T, T, &mut [T; 1]) + Copy + Sync {
        let (lr, m) = (self.lr, self.momentum);
        move |p, g, [v]| {
            *v = m * *v - lr * g;
            *p = *p + *v;
        }
    }
}

stateful_optimizer!(Momentum, "momentum", [momentum], []);

/// AdaGrad: `h ← h + g²; W ← W - lr · g / (√h + 1e-7)` (book default `lr` 0.01).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaGrad<T, N> {
    /// Learning rate.
    pub lr: T,
    slots: [N; 1],
    t: u64,
}

impl<T: Scalar, N: Network<T>> AdaGrad<T, N> {
    /// AdaGrad with learning rate `lr`.
    pub fn new(lr: T) -> Self {
        AdaGrad {
            lr,
            slots: [N::zeros()],
            t: 0,
        }
    }
}

impl<T: Scalar, N: Network<T>> Default for AdaGrad<T, N> {
    fn default() -> Self {
        AdaGrad::new(T::from_f64(0.01))
    }
}

impl<T: Scalar, N: Network<T>> AdaGrad<T, N> {
    fn rule(&self) -> impl Fn(&mut T, T, &mut [T; 1]) + Copy + Sync {
        let (lr, eps) = (self.lr, T::from_f64(EPS));
        move |p, g, [h]| {
            *h = *h + g * g;
            *p = *p - lr * g / (Float::sqrt(*h) + eps);
        }
    }
}

stateful_optimizer!(AdaGrad, "adagrad", [], [0]);

/// RMSprop: `h ← ρ·h + (1-ρ)·g²; W ← W - lr · g / (√h + 1e-7)` (book defaults `lr` 0.01, ρ 0.99).
#[derive(Clone, Debug, PartialEq)]
pub struct RmsProp<T, N> {
    /// Learning rate.
    pub lr: T,
    /// Decay rate ρ of the running mean of squared gradients.
    pub decay: T,
    slots: [N; 1],
    t: u64,
}

impl<T: Scalar, N: Network<T>> RmsProp<T, N> {
    /// RMSprop with the given learning rate and decay.
    pub fn new(lr: T, decay: T) -> Self {
        RmsProp {
            lr,
            decay,
            slots: [N::zeros()],
            t: 0,
        }
    }
}

impl<T: Scalar, N: Network<T>> Default for RmsProp<T, N> {
    fn default() -> Self {
        RmsProp::new(T::from_f64(0.01), T::from_f64(0.99))
    }
}

impl<T: Scalar, N: Network<T>> RmsProp<T, N> {
    fn rule(&self) -> impl Fn(&mut T, T, &mut [T; 1]) + Copy + Sync {
        let (lr, rho, eps) = (self.lr, self.decay, T::from_f64(EPS));
        move |p, g, [h]| {
            *h = rho * *h + (T::one() - rho) * g * g;
            *p = *p - lr * g / (Float::sqrt(*h) + eps);
        }
    }
}

stateful_optimizer!(RmsProp, "rmsprop", [decay], [0]);

/// Adam, as the book writes it (book defaults `lr` 0.001, β1 0.9, β2 0.999):
/// `lr_t = lr·√(1-β2ᵗ)/(1-β1ᵗ); m += (1-β1)(g-m); v += (1-β2)(g²-v); W -= lr_t·m/(√v + 1e-7)`.
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Net< Affine<1, 2>, SoftmaxWithLoss > }
/// let (mut net, mut grads) = (Net::<f64>::zeros(), Net::zeros());
/// grads.affine1.b = [0.5, -2.0];
/// let mut opt = Adam::<f64, Net<f64>>::default();
/// opt.step(&mut net, &grads);
/// // The first Adam step moves every parameter by about lr, whatever the gradient's size.
/// assert!((net.affine1.b[0] + 0.001).abs() < 1e-6 && (net.affine1.b[1] - 0.001).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adam<T, N> {
    /// Learning rate.
    pub lr: T,
    /// Decay of the first moment.
    pub beta1: T,
    /// Decay of the second moment.
    pub beta2: T,
    slots: [N; 2],
    t: u64,
}

impl<T: Scalar, N: Network<T>> Adam<T, N> {
    /// Adam with the given learning rate and moment decays.
    pub fn new(lr: T, beta1: T, beta2: T) -> Self {
        Adam {
            lr,
            beta1,
            beta2,
            slots: [N::zeros(), N::zeros()],
            t: 0,
        }
    }
}

impl<T: Scalar, N: Network<T>> Default for Adam<T, N> {
    fn default() -> Self {
        Adam::new(T::from_f64(0.001), T::from_f64(0.9), T::from_f64(0.999))
    }
}

impl<T: Scalar, N: Network<T>> Adam<T, N> {
    /// The update of step `t + 1`.
    fn rule(&self) -> impl Fn(&mut T, T, &mut [T; 2]) + Copy + Sync {
        let (b1, b2, eps) = (self.beta1, self.beta2, T::from_f64(EPS));
        let t = i32::try_from(self.t.saturating_add(1)).unwrap_or(i32::MAX);
        let lr_t = self.lr * Float::sqrt(T::one() - b2.powi(t)) / (T::one() - b1.powi(t));
        move |p, g, [m, v]| {
            *m = *m + (T::one() - b1) * (g - *m);
            *v = *v + (T::one() - b2) * (g * g - *v);
            *p = *p - lr_t * *m / (Float::sqrt(*v) + eps);
        }
    }
}

stateful_optimizer!(Adam, "adam", [beta1, beta2], [1]);

/// Any of the optimizers above, chosen at run time (for command lines and checkpoints).
///
/// ```
/// use typenet::prelude::*;
/// network! { struct Net< Affine<1, 2>, SoftmaxWithLoss > }
/// let opt = AnyOptimizer::<f32, Net>::by_name("rmsprop", None).unwrap();
/// assert_eq!(opt.name(), "rmsprop");
/// assert!(AnyOptimizer::<f32, Net>::by_name("lbfgs", None).is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum AnyOptimizer<T, N> {
    /// [`Sgd`].
    Sgd(Sgd<T>),
    /// [`Momentum`].
    Momentum(Momentum<T, N>),
    /// [`AdaGrad`].
    AdaGrad(AdaGrad<T, N>),
    /// [`RmsProp`].
    RmsProp(RmsProp<T, N>),
    /// [`Adam`].
    Adam(Adam<T, N>),
}

/// Forwards a call to whichever optimizer an [`AnyOptimizer`] holds (static dispatch).
macro_rules! dispatch {
    ($self:ident, $o:ident => $call:expr) => {
        match $self {
            AnyOptimizer::Sgd($o) => $call,
            AnyOptimizer::Momentum($o) => $call,
            AnyOptimizer::AdaGrad($o) => $call,
            AnyOptimizer::RmsProp($o) => $call,
            AnyOptimizer::Adam($o) => $call,
        }
    };
}

impl<T: Scalar, N: Network<T>> AnyOptimizer<T, N> {
    /// The names [`AnyOptimizer::by_name`] accepts.
    pub const NAMES: [&'static str; 5] = ["sgd", "momentum", "adagrad", "rmsprop", "adam"];

    /// The optimizer called `name` with the book's defaults, and learning rate `lr` if given.
    pub fn by_name(name: &str, lr: Option<f64>) -> Option<Self> {
        let mut opt = match name {
            "sgd" => AnyOptimizer::Sgd(Sgd::default()),
            "momentum" => AnyOptimizer::Momentum(Momentum::default()),
            "adagrad" => AnyOptimizer::AdaGrad(AdaGrad::default()),
            "rmsprop" => AnyOptimizer::RmsProp(RmsProp::default()),
            "adam" => AnyOptimizer::Adam(Adam::default()),
            _ => return None,
        };
        if let Some(lr) = lr {
            *opt.lr_mut() = T::from_f64(lr);
        }
        Some(opt)
    }

    /// The learning rate.
    pub fn lr_mut(&mut self) -> &mut T {
        dispatch!(self, o => &mut o.lr)
    }
}

impl<T: Scalar, N: Network<T>> Optimizer<T, N> for AnyOptimizer<T, N> {
    fn step(&mut self, params: &mut N, grads: &N) {
        dispatch!(self, o => o.step(params, grads))
    }
    fn step_into(&self, params: &N, grads: &mut N, next: &mut Self) -> bool {
        if core::mem::discriminant(self) != core::mem::discriminant(next) {
            *next = self.clone();
        }
        match (self, next) {
            (AnyOptimizer::Sgd(o), AnyOptimizer::Sgd(n)) => o.step_into(params, grads, n),
            (AnyOptimizer::Momentum(o), AnyOptimizer::Momentum(n)) => o.step_into(params, grads, n),
            (AnyOptimizer::AdaGrad(o), AnyOptimizer::AdaGrad(n)) => o.step_into(params, grads, n),
            (AnyOptimizer::RmsProp(o), AnyOptimizer::RmsProp(n)) => o.step_into(params, grads, n),
            (AnyOptimizer::Adam(o), AnyOptimizer::Adam(n)) => o.step_into(params, grads, n),
            _ => unreachable!("the variants were made equal above"),
        }
    }
    fn validate(&self) -> Result<(), InvalidState> {
        dispatch!(self, o => Optimizer::<T, N>::validate(o))
    }
    fn name(&self) -> &'static str {
        dispatch!(self, o => Optimizer::<T, N>::name(o))
    }
    fn slots(&self) -> &[N] {
        dispatch!(self, o => o.slots())
    }
    fn slots_mut(&mut self) -> &mut [N] {
        dispatch!(self, o => o.slots_mut())
    }
    fn steps(&self) -> u64 {
        dispatch!(self, o => Optimizer::<T, N>::steps(o))
    }
    fn set_steps(&mut self, steps: u64) {
        dispatch!(self, o => Optimizer::<T, N>::set_steps(o, steps))
    }
}

/// Weight decay (the book's L2 regularisation, `weight_decay_lambda`, chapter 6) around any
/// optimizer: before each step, `λ·W` is added to the gradient of every weight tensor
/// ([`Role::Weight`](crate::layer::Role::Weight); biases, gains and state are left alone).
/// That is the gradient of the penalty `½·λ·Σ W²`; the loss a trainer reports does not
/// include the penalty itself.
///
/// ```
/// use typenet::prelude::*;
/// use typenet::optim::WeightDecay;
/// network! { struct Net< Affine<1, 1>, SoftmaxWithLoss<1> > }
/// let mut net = Net::<f64>::zeros();
/// net.affine1.w = [[2.0]];
/// net.affine1.b = [2.0];
/// // A zero gradient: only the decay moves the weight, 2 − 0.5 · (0.1 · 2) = 1.9.
/// let mut opt = WeightDecay::new(Sgd::new(0.5), 0.1);
/// opt.step(&mut net, &Net::zeros());
/// assert_eq!((net.affine1.w, net.affine1.b), ([[1.9]], [2.0]));
/// ```
///
/// λ is a setting, like a learning rate: checkpoints save the wrapped optimizer's state,
/// and a resumed run wraps it again.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightDecay<O, T> {
    /// The optimizer the decayed gradient goes to.
    pub inner: O,
    /// λ, at least zero (0 turns it off).
    pub lambda: T,
}

impl<O, T: Scalar> WeightDecay<O, T> {
    /// `inner` with decay `lambda`.
    pub fn new(inner: O, lambda: T) -> Self {
        WeightDecay { inner, lambda }
    }

    /// `grads += λ·params` over the weight tensors.
    fn decay<N: Network<T>>(&self, params: &N, grads: &mut N) {
        for index in 0..N::TENSOR_COUNT {
            let is_weight = N::tensor_info(index)
                .is_some_and(|info| matches!(info.role, crate::layer::Role::Weight { .. }));
            if let (true, Some(p), Some(g)) =
                (is_weight, params.tensor(index), grads.tensor_mut(index))
            {
                for (g, &p) in g.iter_mut().zip(p) {
                    *g = *g + self.lambda * p;
                }
            }
        }
    }
}

impl<T: Scalar, N: Network<T> + Clone, O: Optimizer<T, N>> Optimizer<T, N> for WeightDecay<O, T> {
    fn step(&mut self, params: &mut N, grads: &N) {
        let mut decayed = grads.clone();
        self.decay(params, &mut decayed);
        self.inner.step(params, &decayed);
    }
    fn step_into(&self, params: &N, grads: &mut N, next: &mut Self) -> bool {
        self.decay(params, grads);
        next.lambda = self.lambda;
        self.inner.step_into(params, grads, &mut next.inner)
    }
    fn validate(&self) -> Result<(), InvalidState> {
        if !(self.lambda.is_finite() && self.lambda >= T::zero()) {
            return Err(InvalidState(
                "the weight decay must be finite and not negative",
            ));
        }
        self.inner.validate()
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn slots(&self) -> &[N] {
        self.inner.slots()
    }
    fn slots_mut(&mut self) -> &mut [N] {
        self.inner.slots_mut()
    }
    fn steps(&self) -> u64 {
        self.inner.steps()
    }
    fn set_steps(&mut self, steps: u64) {
        self.inner.set_steps(steps)
    }
}

#[cfg(all(test, feature = "parallel"))]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn a_non_finite_step_in_either_half_is_found_on_two_threads() {
        let shape = [784, 50];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let sgd = move |p: &mut f32, g: f32, _: &mut [f32; 0]| *p -= 0.5 * g;
        pool.install(|| {
            crate::parallel::keep_awake(|| {
                let at = crate::parallel::split_tensor(784 * 50, &shape);
                assert_eq!(at, Some(392 * 50), "the update must split");
                let p = vec![0.5f32; 784 * 50];
                let mut g = vec![0.5f32; 784 * 50];
                assert!(update_tensor_into(&p, &mut g, [], [], &shape, &sgd));
                assert!(g.iter().all(|&v| v == 0.25), "both halves updated");
                for (i, bad) in [(7, f32::NAN), (392 * 50, f32::INFINITY), (39_199, f32::NAN)] {
                    g.fill(0.5);
                    g[i] = bad;
                    let finite = update_tensor_into(&p, &mut g, [], [], &shape, &sgd);
                    assert!(!finite, "{bad} at {i}");
                }
            })
        });
    }
}
