//! The audio front end: companded PCM → noisy waveform → log-mel spectrogram, all in Rust so the
//! stored dataset stays small and the degradation (SNR) is a loader setting.

use rand::Rng;
use rustfft::{num_complex::Complex, FftPlanner};

/// Expands one mu-law byte (mu = 255, as written by the AV-Digits generator) to a sample in [-1, 1].
pub fn mulaw_decode(byte: u8) -> f32 {
    let y = byte as f32 / 255.0 * 2.0 - 1.0;
    y.signum() * (256f32.powf(y.abs()) - 1.0) / 255.0
}

/// Encodes a sample in [-1, 1] with mu-law (mu = 255); the inverse of [`mulaw_decode`] up to rounding.
pub fn mulaw_encode(x: f32) -> u8 {
    let x = x.clamp(-1.0, 1.0);
    let y = x.signum() * (1.0 + 255.0 * x.abs()).ln() / 256f32.ln();
    ((y + 1.0) / 2.0 * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Colour of the background noise mixed into a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    White,
    Pink,
    Brown,
}

impl NoiseKind {
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::White),
            1 => Some(Self::Pink),
            2 => Some(Self::Brown),
            _ => None,
        }
    }
}

fn standard_normal<R: Rng>(rng: &mut R) -> f32 {
    // Box-Muller; u1 is kept away from 0 so ln is finite.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// `n` samples of unit-RMS noise of the given colour.
pub fn noise<R: Rng>(kind: NoiseKind, n: usize, rng: &mut R) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    match kind {
        NoiseKind::White => out.extend((0..n).map(|_| standard_normal(rng))),
        NoiseKind::Pink => {
            // Paul Kellet's refined pink filter: -3 dB/octave within 0.05 dB above 9 Hz at 44.1 kHz.
            let mut b = [0f32; 7];
            for _ in 0..n {
                let w = standard_normal(rng);
                b[0] = 0.99886 * b[0] + w * 0.0555179;
                b[1] = 0.99332 * b[1] + w * 0.0750759;
                b[2] = 0.96900 * b[2] + w * 0.153_852;
                b[3] = 0.86650 * b[3] + w * 0.3104856;
                b[4] = 0.55000 * b[4] + w * 0.5329522;
                b[5] = -0.7616 * b[5] - w * 0.0168980;
                out.push(b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362);
                b[6] = w * 0.115926;
            }
        }
        NoiseKind::Brown => {
            // Leaky integration of white noise keeps the random walk bounded.
            let mut acc = 0f32;
            for _ in 0..n {
                acc = 0.98 * acc + standard_normal(rng);
                out.push(acc);
            }
        }
    }
    let rms = (out.iter().map(|v| v * v).sum::<f32>() / n.max(1) as f32).sqrt();
    if rms > 0.0 {
        out.iter_mut().for_each(|v| *v /= rms);
    }
    out
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Places `clip` at `offset` in a window of `window` samples and adds noise so that
/// speech RMS / noise RMS = 10^(snr_db/20). A clip longer than the window is cropped.
pub fn place_and_mix<R: Rng>(
    clip: &[f32],
    window: usize,
    offset: usize,
    snr_db: f32,
    kind: NoiseKind,
    rng: &mut R,
) -> Vec<f32> {
    let clip = &clip[..clip.len().min(window)];
    let offset = offset.min(window - clip.len());
    let mut out = vec![0f32; window];
    out[offset..offset + clip.len()].copy_from_slice(clip);
    let speech_rms = rms(clip);
    let noise_rms = speech_rms / 10f32.powf(snr_db / 20.0);
    for (o, n) in out.iter_mut().zip(noise(kind, window, rng)) {
        *o += noise_rms * n;
    }
    out
}

/// Log-mel spectrogram settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MelConfig {
    pub sample_rate: usize,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub frames: usize,
}

impl Default for MelConfig {
    /// 8 kHz, 32 ms Hann windows, 31 ms hop: one second gives 32 frames x 32 mel bands.
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            n_fft: 256,
            hop: 248,
            n_mels: 32,
            frames: 32,
        }
    }
}

fn hz_to_mel(hz: f32) -> f32 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f32) -> f32 {
    700.0 * (10f32.powf(mel / 2595.0) - 1.0)
}

/// Computes log-mel spectrograms; holds the FFT plan and filterbank so repeated calls are cheap.
pub struct MelFrontEnd {
    cfg: MelConfig,
    fft: std::sync::Arc<dyn rustfft::Fft<f32>>,
    window: Vec<f32>,
    /// `[n_mels][n_fft/2 + 1]` triangular filters (HTK mel scale, 0 Hz .. Nyquist).
    filters: Vec<Vec<f32>>,
}

impl MelFrontEnd {
    pub fn new(cfg: MelConfig) -> Self {
        let fft = FftPlanner::new().plan_fft_forward(cfg.n_fft);
        let window = (0..cfg.n_fft)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / cfg.n_fft as f32).cos())
            .collect();
        let bins = cfg.n_fft / 2 + 1;
        let max_mel = hz_to_mel(cfg.sample_rate as f32 / 2.0);
        let points: Vec<f32> = (0..cfg.n_mels + 2)
            .map(|i| mel_to_hz(max_mel * i as f32 / (cfg.n_mels + 1) as f32))
            .collect();
        let bin_hz = cfg.sample_rate as f32 / cfg.n_fft as f32;
        let filters = (0..cfg.n_mels)
            .map(|m| {
                let (lo, mid, hi) = (points[m], points[m + 1], points[m + 2]);
                (0..bins)
                    .map(|b| {
                        let f = b as f32 * bin_hz;
                        if f <= lo || f >= hi {
                            0.0
                        } else if f <= mid {
                            (f - lo) / (mid - lo)
                        } else {
                            (hi - f) / (hi - mid)
                        }
                    })
                    .collect()
            })
            .collect();
        Self {
            cfg,
            fft,
            window,
            filters,
        }
    }

    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    /// Natural-log mel energies, `[n_mels][frames]` row-major. Frames past the signal's end see zeros.
    pub fn log_mel(&self, signal: &[f32]) -> Vec<f32> {
        let MelConfig {
            n_fft,
            hop,
            n_mels,
            frames,
            ..
        } = self.cfg;
        let bins = n_fft / 2 + 1;
        let mut out = vec![0f32; n_mels * frames];
        let mut buf = vec![Complex::new(0f32, 0f32); n_fft];
        let mut power = vec![0f32; bins];
        for t in 0..frames {
            let start = t * hop;
            for (k, slot) in buf.iter_mut().enumerate() {
                let v = signal.get(start + k).copied().unwrap_or(0.0);
                *slot = Complex::new(v * self.window[k], 0.0);
            }
            self.fft.process(&mut buf);
            for (p, c) in power.iter_mut().zip(&buf[..bins]) {
                *p = c.norm_sqr();
            }
            for (m, filt) in self.filters.iter().enumerate() {
                let e: f32 = filt.iter().zip(&power).map(|(w, p)| w * p).sum();
                out[m * frames + t] = (e + 1e-6).ln();
            }
        }
        out
    }
}

/// A 16-bit PCM WAV file (interleaved channels), the one format every browser plays.
pub fn wav_pcm16(samples: &[i16], rate: u32, channels: u16) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    b.extend_from_slice(&(channels * 2).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

/// A mono float signal as a 16-bit WAV for listening. Noise mixing can push peaks past
/// full scale; such a signal is scaled down to peak 0.99 rather than clipped, because a
/// labeller must hear what the model's input holds, not distortion added on the way out.
pub fn wav_from_signal(signal: &[f32], rate: u32) -> Vec<u8> {
    let peak = signal
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f32, |m, v| m.max(v.abs()));
    let gain = if peak > 0.99 { 0.99 / peak } else { 1.0 };
    let pcm: Vec<i16> = signal
        .iter()
        .map(|&v| {
            let v = if v.is_finite() { v * gain } else { 0.0 };
            (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    wav_pcm16(&pcm, rate, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quiet signals keep their level; a mix that peaks past full scale is scaled to 0.99 as a
    /// whole (not clipped), and a non-finite sample becomes silence.
    #[test]
    fn wav_from_signal_keeps_levels_and_never_clips() {
        let pcm = |wav: &[u8]| -> Vec<i16> {
            wav[44..]
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect()
        };
        let quiet = wav_from_signal(&[0.5, -0.25, 0.0], 8000);
        assert_eq!(quiet.len(), 44 + 6);
        assert_eq!(pcm(&quiet), vec![16384, -8192, 0]);
        let loud = wav_from_signal(&[2.0, -1.0, f32::NAN], 16000);
        assert_eq!(pcm(&loud), vec![32439, -16220, 0]);
        assert_eq!(&loud[24..28], &16000u32.to_le_bytes());
    }
    use rand::SeedableRng;

    #[test]
    fn mulaw_round_trip_is_close() {
        for i in -100..=100 {
            let x = i as f32 / 100.0;
            let back = mulaw_decode(mulaw_encode(x));
            // mu-law steps are coarsest near full scale: about 3 % there
            assert!(
                (back - x).abs() <= 0.035 * x.abs().max(0.01) + 1e-3,
                "{x} -> {back}"
            );
        }
        assert!(mulaw_decode(mulaw_encode(0.0)).abs() < 0.002);
    }

    #[test]
    fn mixing_hits_the_requested_snr() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let clip: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.3).sin() * 0.5).collect();
        for kind in [NoiseKind::White, NoiseKind::Pink, NoiseKind::Brown] {
            let mixed = place_and_mix(&clip, 8000, 2000, 10.0, kind, &mut rng);
            let noise_only: Vec<f32> = mixed[..2000].to_vec();
            let noise_rms = rms(&noise_only);
            let expect = rms(&clip) / 10f32.powf(0.5);
            assert!(
                (noise_rms / expect - 1.0).abs() < 0.25,
                "{kind:?}: {noise_rms} vs {expect}"
            );
        }
    }

    #[test]
    fn log_mel_finds_a_tone_in_the_right_band() {
        let fe = MelFrontEnd::new(MelConfig::default());
        let tone: Vec<f32> = (0..8000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin())
            .collect();
        let mel = fe.log_mel(&tone);
        let frames = fe.config().frames;
        let band_energy: Vec<f32> = (0..fe.config().n_mels)
            .map(|m| mel[m * frames + 5])
            .collect();
        let peak = band_energy
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        // 1 kHz is mel 1000; bands are spaced (mel(4000)=2146)/33 apart, centres at k*65 mel
        let expected = (hz_to_mel(1000.0) / (hz_to_mel(4000.0) / 33.0)).round() as usize - 1;
        assert!(
            peak.abs_diff(expected) <= 1,
            "peak band {peak}, expected {expected}"
        );
    }
}
