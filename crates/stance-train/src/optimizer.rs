use candle_core::{Result, Tensor, Var};

/// A variable to optimise and how.
pub struct Trainable {
    pub var: Var,
    /// Whether weight decay applies (not to biases and LayerNorm, as in
    /// `transformers`' Trainer).
    pub decay: bool,
    /// Multiplies the scheduled learning rate for this variable (1: as
    /// scheduled); see [`layer_rate_scale`].
    pub rate_scale: f64,
}

/// The learning-rate factor of a BERT variable (named as in
/// `BertForSequenceClassification`: `bert.encoder.layer.N.…`,
/// `bert.embeddings.…`, `classifier.…`) under layer-wise decay
/// `decay` (in (0, 1]): the head and pooler train at the full rate, the
/// top encoder layer at `decay`, each layer below at one more factor of
/// `decay`, and the embeddings at one factor below the bottom layer. With
/// `decay` 1 every variable gets the full rate.
pub fn layer_rate_scale(name: &str, num_layers: usize, decay: f64) -> f64 {
    let depth_from_top = if let Some(rest) = name.strip_prefix("bert.encoder.layer.") {
        match rest.split('.').next().and_then(|i| i.parse::<usize>().ok()) {
            Some(layer) => num_layers.saturating_sub(layer),
            None => 0,
        }
    } else if name.starts_with("bert.embeddings.") {
        num_layers + 1
    } else {
        0
    };
    decay.powi(depth_from_top as i32)
}

/// AdamW as in `torch.optim.AdamW`, with bias correction, over candle
/// variables, computed in plain f32 on the host, with a learning-rate factor
/// per variable.
pub struct AdamW {
    params: Vec<Param>,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    step: i32,
}

struct Param {
    var: Var,
    decay: bool,
    rate_scale: f32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl AdamW {
    pub fn new(vars: Vec<Trainable>, weight_decay: f64) -> Self {
        let params = vars
            .into_iter()
            .map(|t| {
                let n = t.var.elem_count();
                Param {
                    var: t.var,
                    decay: t.decay,
                    rate_scale: t.rate_scale as f32,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Self {
            params,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: weight_decay as f32,
            step: 0,
        }
    }

    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.params.iter().map(|p| &p.var)
    }

    /// One update with learning rate `lr` (times each variable's factor); gradients are first scaled so that
    /// their global L2 norm is at most `max_grad_norm`. Returns the norm before clipping.
    pub fn step(
        &mut self,
        grads: &candle_core::backprop::GradStore,
        lr: f64,
        max_grad_norm: f64,
    ) -> Result<f64> {
        self.step += 1;
        let mut host_grads: Vec<Option<Vec<f32>>> = Vec::with_capacity(self.params.len());
        let mut squared = 0f64;
        for p in &self.params {
            let g = match grads.get(p.var.as_tensor()) {
                Some(g) => {
                    let g = g.flatten_all()?.to_vec1::<f32>()?;
                    squared += g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>();
                    Some(g)
                }
                None => None,
            };
            host_grads.push(g);
        }
        let norm = squared.sqrt();
        let clip = if max_grad_norm > 0.0 && norm > max_grad_norm {
            (max_grad_norm / (norm + 1e-6)) as f32
        } else {
            1.0
        };
        let (b1, b2) = (self.beta1, self.beta2);
        let bias1 = 1.0 - b1.powi(self.step);
        let bias2 = 1.0 - b2.powi(self.step);
        for (p, g) in self.params.iter_mut().zip(host_grads) {
            let Some(g) = g else { continue };
            let lr = lr as f32 * p.rate_scale;
            let step_size = lr / bias1;
            let theta_tensor = p.var.as_tensor();
            let mut theta = theta_tensor.flatten_all()?.to_vec1::<f32>()?;
            let decay = if p.decay {
                1.0 - lr * self.weight_decay
            } else {
                1.0
            };
            let inv_sqrt_bias2 = 1.0 / bias2.sqrt();
            for i in 0..theta.len() {
                let gi = g[i] * clip;
                let m = b1 * p.m[i] + (1.0 - b1) * gi;
                let v = b2 * p.v[i] + (1.0 - b2) * gi * gi;
                p.m[i] = m;
                p.v[i] = v;
                let denom = v.sqrt() * inv_sqrt_bias2 + self.eps;
                theta[i] = theta[i] * decay - step_size * m / denom;
            }
            let updated = Tensor::from_vec(theta, theta_tensor.shape(), theta_tensor.device())?;
            p.var.set(&updated)?;
        }
        Ok(norm)
    }
}

/// Linear warm-up from 0 to the peak rate, then linear decay to 0.
#[derive(Debug, Clone, Copy)]
pub struct LinearSchedule {
    pub peak: f64,
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl LinearSchedule {
    /// The rate for the 0-based `step`.
    pub fn rate(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let remaining = self.total_steps.saturating_sub(step) as f64;
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        self.peak * (remaining / span).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let s = LinearSchedule {
            peak: 1.0,
            warmup_steps: 4,
            total_steps: 10,
        };
        assert_eq!(s.rate(0), 0.25);
        assert_eq!(s.rate(3), 1.0);
        assert_eq!(s.rate(4), 1.0);
        assert!((s.rate(7) - 0.5).abs() < 1e-12);
        assert_eq!(s.rate(10), 0.0);
    }

    fn trainable(var: &Var, decay: bool, rate_scale: f64) -> Trainable {
        Trainable {
            var: var.clone(),
            decay,
            rate_scale,
        }
    }

    #[test]
    fn layer_decay_scales_rates_from_the_head_down_to_the_embeddings() {
        let scale = |name| layer_rate_scale(name, 6, 0.5);
        assert_eq!(scale("classifier.weight"), 1.0);
        assert_eq!(scale("bert.pooler.dense.bias"), 1.0);
        assert_eq!(scale("bert.encoder.layer.5.output.dense.weight"), 0.5);
        assert_eq!(
            scale("bert.encoder.layer.0.attention.self.query.weight"),
            0.5f64.powi(6)
        );
        assert_eq!(
            scale("bert.embeddings.word_embeddings.weight"),
            0.5f64.powi(7)
        );
        assert_eq!(
            layer_rate_scale("bert.embeddings.LayerNorm.weight", 6, 1.0),
            1.0
        );
    }

    #[test]
    fn a_rate_factor_scales_the_step() -> Result<()> {
        // Adam's first step moves each variable by about its learning rate,
        // whatever the gradient's size.
        let dev = Device::Cpu;
        let full = Var::from_vec(vec![1f32], 1, &dev)?;
        let tenth = Var::from_vec(vec![1f32], 1, &dev)?;
        let mut opt = AdamW::new(
            vec![trainable(&full, false, 1.0), trainable(&tenth, false, 0.1)],
            0.0,
        );
        let loss = (full.as_tensor() + tenth.as_tensor())?.sum_all()?;
        opt.step(&loss.backward()?, 0.01, 0.0)?;
        let moved = |v: &Var| 1.0 - v.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!((moved(&full) - 0.01).abs() < 1e-5, "{}", moved(&full));
        assert!((moved(&tenth) - 0.001).abs() < 1e-5, "{}", moved(&tenth));
        Ok(())
    }

    #[test]
    fn adamw_minimises_a_quadratic_and_decays_only_flagged_vars() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_vec(vec![3f32, -2.0], 2, &dev)?;
        let mut opt = AdamW::new(vec![trainable(&x, false, 1.0)], 0.0);
        for _ in 0..500 {
            let loss = x.as_tensor().sqr()?.sum_all()?;
            opt.step(&loss.backward()?, 0.05, 0.0)?;
        }
        let v = x.as_tensor().to_vec1::<f32>()?;
        assert!(v.iter().all(|x| x.abs() < 0.05), "{v:?}");

        // With a zero gradient, only weight decay moves the variable.
        let decayed = Var::from_vec(vec![1f32], 1, &dev)?;
        let kept = Var::from_vec(vec![1f32], 1, &dev)?;
        let mut opt = AdamW::new(
            vec![trainable(&decayed, true, 1.0), trainable(&kept, false, 1.0)],
            0.5,
        );
        let zero = Tensor::zeros(1, candle_core::DType::F32, &dev)?;
        let loss = (decayed.as_tensor().mul(&zero)? + kept.as_tensor().mul(&zero)?)?.sum_all()?;
        opt.step(&loss.backward()?, 0.1, 0.0)?;
        let d = decayed.as_tensor().to_vec1::<f32>()?[0];
        assert!((d - 0.95).abs() < 1e-6, "{d}");
        assert_eq!(kept.as_tensor().to_vec1::<f32>()?[0], 1.0);
        Ok(())
    }
}
