use candle_core::{Result, Tensor, Var};

/// AdamW as in `torch.optim.AdamW`, with bias correction, over candle
/// variables, computed in plain f32 on the host. Variables flagged `decay =
/// false` (biases, LayerNorm) get no weight decay, as `transformers`' Trainer does.
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
    m: Vec<f32>,
    v: Vec<f32>,
}

impl AdamW {
    pub fn new(vars: Vec<(Var, bool)>, weight_decay: f64) -> Self {
        let params = vars
            .into_iter()
            .map(|(var, decay)| {
                let n = var.elem_count();
                Param {
                    var,
                    decay,
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

    /// One update with learning rate `lr`; gradients are first scaled so that
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
        let lr = lr as f32;
        let (b1, b2) = (self.beta1, self.beta2);
        let bias1 = 1.0 - b1.powi(self.step);
        let bias2 = 1.0 - b2.powi(self.step);
        let step_size = lr / bias1;
        for (p, g) in self.params.iter_mut().zip(host_grads) {
            let Some(g) = g else { continue };
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

    #[test]
    fn adamw_minimises_a_quadratic_and_decays_only_flagged_vars() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_vec(vec![3f32, -2.0], 2, &dev)?;
        let mut opt = AdamW::new(vec![(x.clone(), false)], 0.0);
        for _ in 0..500 {
            let loss = x.as_tensor().sqr()?.sum_all()?;
            opt.step(&loss.backward()?, 0.05, 0.0)?;
        }
        let v = x.as_tensor().to_vec1::<f32>()?;
        assert!(v.iter().all(|x| x.abs() < 0.05), "{v:?}");

        // With a zero gradient, only weight decay moves the variable.
        let decayed = Var::from_vec(vec![1f32], 1, &dev)?;
        let kept = Var::from_vec(vec![1f32], 1, &dev)?;
        let mut opt = AdamW::new(vec![(decayed.clone(), true), (kept.clone(), false)], 0.5);
        let zero = Tensor::zeros(1, candle_core::DType::F32, &dev)?;
        let loss = (decayed.as_tensor().mul(&zero)? + kept.as_tensor().mul(&zero)?)?.sum_all()?;
        opt.step(&loss.backward()?, 0.1, 0.0)?;
        let d = decayed.as_tensor().to_vec1::<f32>()?[0];
        assert!((d - 0.95).abs() < 1e-6, "{d}");
        assert_eq!(kept.as_tensor().to_vec1::<f32>()?[0], 1.0);
        Ok(())
    }
}
