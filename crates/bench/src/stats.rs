//! Latency statistics over samples.

use std::time::Duration;

use serde::Serialize;

/// Percentiles of a set of samples, in microseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Stats {
    pub count: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub mean_us: f64,
}

impl Stats {
    pub fn from_samples(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i].as_secs_f64() * 1e6
        };
        let mean = if samples.is_empty() {
            0.0
        } else {
            samples.iter().map(|d| d.as_secs_f64()).sum::<f64>() / samples.len() as f64 * 1e6
        };
        Self {
            count: samples.len(),
            p50_us: at(0.5),
            p99_us: at(0.99),
            p999_us: at(0.999),
            mean_us: mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut samples: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
        let stats = Stats::from_samples(&mut samples);
        assert_eq!(stats.count, 1000);
        assert!((stats.p50_us - 500.0).abs() <= 1.5, "{stats:?}");
        assert!((stats.p99_us - 990.0).abs() <= 1.5, "{stats:?}");
        assert!((stats.mean_us - 500.5).abs() < 0.01);
    }
}
