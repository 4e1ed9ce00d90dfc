use candle_core::{Result, Tensor, Var};

/// An exponential moving average of the trained weights (Polyak averaging),
/// kept on the host beside the optimiser.
///
/// After each optimiser step every shadow weight moves towards the live one,
/// `shadow = d * shadow + (1 - d) * weight`, starting from zero; the average
/// is `shadow / (1 - d^n)` after `n` updates (Adam's bias correction), so it
/// weighs the weights of the last steps by `d^age` and gives the base model
/// no extra weight. It does not change training itself: the live weights
/// follow the same path with or without it.
pub struct WeightAverage {
    decay: f64,
    updates: i32,
    shadow: Vec<Vec<f32>>,
}

impl WeightAverage {
    /// An empty average for weights shaped like `vars`.
    pub fn new(decay: f64, vars: &[Var]) -> Self {
        Self {
            decay,
            updates: 0,
            shadow: vars.iter().map(|v| vec![0.0; v.elem_count()]).collect(),
        }
    }

    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// Folds the current weights (in the order of `vars` given to [`Self::new`]) into the average.
    pub fn update(&mut self, current: &[Vec<f32>]) {
        let d = self.decay as f32;
        for (shadow, live) in self.shadow.iter_mut().zip(current) {
            for (s, &w) in shadow.iter_mut().zip(live) {
                *s = d * *s + (1.0 - d) * w;
            }
        }
        self.updates = self.updates.saturating_add(1);
    }

    /// The averaged weights, shaped like `vars`; an error before the first update.
    pub fn tensors(&self, vars: &[Var]) -> Result<Vec<Tensor>> {
        if self.updates == 0 {
            return Err(candle_core::Error::Msg(
                "the weight average has no update yet".into(),
            ));
        }
        let correction = (1.0 - self.decay.powi(self.updates)) as f32;
        vars.iter()
            .zip(&self.shadow)
            .map(|(v, s)| {
                let values: Vec<f32> = s.iter().map(|x| x / correction).collect();
                Tensor::from_vec(values, v.shape(), v.device())
            })
            .collect()
    }
}

/// The values of `vars` on the host, flattened, in order.
pub fn host_values(vars: &[Var]) -> Result<Vec<Vec<f32>>> {
    vars.iter()
        .map(|v| v.as_tensor().flatten_all()?.to_vec1::<f32>())
        .collect()
}

/// Sets `vars` to `values` (shaped like them) for as long as `f` runs, then
/// restores them, even when `f` fails.
pub fn with_weights<T>(
    vars: &[Var],
    values: &[Tensor],
    f: impl FnOnce() -> std::result::Result<T, crate::TrainError>,
) -> std::result::Result<T, crate::TrainError> {
    let saved: Vec<Tensor> = vars
        .iter()
        .map(|v| v.as_tensor().copy())
        .collect::<Result<_>>()?;
    for (v, t) in vars.iter().zip(values) {
        v.set(t)?;
    }
    let result = f();
    for (v, t) in vars.iter().zip(&saved) {
        v.set(t)?;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn average_weighs_recent_weights_by_decay_with_bias_correction() -> Result<()> {
        let var = Var::from_slice(&[0f32, 0.0], 2, &Device::Cpu)?;
        let vars = [var.clone()];
        let mut avg = WeightAverage::new(0.5, &vars);
        assert!(avg.tensors(&vars).is_err(), "nothing to average yet");
        // One update: the average is that weight, whatever the decay.
        avg.update(&[vec![10.0, -10.0]]);
        let t = avg.tensors(&vars)?[0].to_vec1::<f32>()?;
        assert!(
            (t[0] - 10.0).abs() < 1e-5 && (t[1] + 10.0).abs() < 1e-5,
            "{t:?}"
        );
        // Two: weights 0.5 (older) and 1 (newer), normalised.
        avg.update(&[vec![4.0, 2.0]]);
        let t = avg.tensors(&vars)?[0].to_vec1::<f32>()?;
        let expect = |old: f32, new: f32| (0.5 * old + new) / 1.5;
        assert!((t[0] - expect(10.0, 4.0)).abs() < 1e-5, "{t:?}");
        assert!((t[1] - expect(-10.0, 2.0)).abs() < 1e-5, "{t:?}");
        Ok(())
    }

    #[test]
    fn with_weights_restores_the_live_values_even_on_error() -> Result<()> {
        let var = Var::from_slice(&[1f32, 2.0], 2, &Device::Cpu)?;
        let vars = [var.clone()];
        let other = [Tensor::from_slice(&[7f32, 8.0], 2, &Device::Cpu)?];
        let seen = with_weights(&vars, &other, || Ok(var.as_tensor().to_vec1::<f32>()?))
            .expect("closure succeeds");
        assert_eq!(seen, vec![7.0, 8.0]);
        let failed: std::result::Result<(), _> = with_weights(&vars, &other, || {
            Err(crate::TrainError::Invalid("boom".into()))
        });
        assert!(failed.is_err());
        assert_eq!(var.as_tensor().to_vec1::<f32>()?, vec![1.0, 2.0]);
        Ok(())
    }
}
