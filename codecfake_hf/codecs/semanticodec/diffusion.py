"""SemantiCodec's decoder: `LatentDiffusion.generate_sample` with its DDIM sampler, the VAE and the vocoder.

Mirrors `latent_diffusion/models/ddpm.py` (`DDPM`/`LatentDiffusion`: the registered schedule buffers, `model_ema`
aside, `DiffusionWrapper`) and `models/ddim.py` (`DDIMSampler` with classifier-free guidance and v-prediction), so the
decoder checkpoint's keys load strictly and each step does upstream's arithmetic in its order. `model_ema.*` (the
training's EMA shadow weights; `generate_sample` samples with `model.*`) are dropped on loading.

Noise: upstream draws the initial latent and each step's noise (eta 1.0: DDIM with the DDPM posterior's variance)
from torch's global generator, unseeded. Here they come from a `torch.Generator` the caller seeds, in upstream's
order and shapes (`randn(shape)` for x_T, then one `randn(shape)` per step, on the CPU), so upstream after
`torch.manual_seed(seed)` draws the same numbers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .config import SemantiCodecConfig
from .unet import UNetModel
from .vae import AutoencoderKL

POSITIONS = 512  # upstream's PositionalEncoding(seq_length=512, embedding_dim=192)
POSITION_DIM = 192


def positional_encoding(length: int, dim: int = POSITION_DIM, table: int = POSITIONS) -> torch.Tensor:
    """`semanticodec.utils.PositionalEncoding` (sin on even, cos on odd channels): its first `length` rows
    `[1, L, D]`."""
    position = torch.arange(table).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2) * -(np.log(10000.0) / dim))
    pe = torch.zeros(table, dim)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.unsqueeze(0)[:, :length]


class DiffusionWrapper(nn.Module):
    def __init__(self, config: SemantiCodecConfig):
        super().__init__()
        self.diffusion_model = UNetModel(config.diffusion.unet_config.params)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.diffusion_model(x.contiguous(), t.contiguous(), context, mask)


class LatentDiffusion(nn.Module):
    """The decoder checkpoint's model: UNet (`model`), schedule buffers, VAE + vocoder (`first_stage_model`).

    Args:
        config (SemantiCodecConfig): the codec's config (its `model` section, DDIM steps, guidance, eta).
    """

    def __init__(self, config: SemantiCodecConfig):
        super().__init__()
        params = config.diffusion
        self.config = config
        self.latent_shape = (params.channels, params.latent_t_size, params.latent_f_size)
        self.model = DiffusionWrapper(config)
        self._register_schedule(params.timesteps, params.linear_start, params.linear_end)
        self.logvar = nn.Parameter(torch.zeros(params.timesteps), requires_grad=False)
        self.register_buffer("scale_factor", torch.tensor(1.0))
        self.first_stage_model = AutoencoderKL(params.first_stage_config.params, config.vocoder)
        self.cond_stage_models = nn.ModuleList([])

    def _register_schedule(self, timesteps: int, linear_start: float, linear_end: float) -> None:
        # DDPM.register_schedule (linear betas in float64, buffers in float32), every persistent buffer it registers.
        betas = (torch.linspace(linear_start**0.5, linear_end**0.5, timesteps, dtype=torch.float64,
                                device="cpu") ** 2).numpy()
        alphas = 1.0 - betas
        cumprod = np.cumprod(alphas, axis=0)
        prev = np.append(1.0, cumprod[:-1])
        posterior_variance = betas * (1.0 - prev) / (1.0 - cumprod)
        buffers = {
            "betas": betas, "alphas_cumprod": cumprod, "alphas_cumprod_prev": prev,
            "sqrt_alphas_cumprod": np.sqrt(cumprod), "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - cumprod),
            "log_one_minus_alphas_cumprod": np.log(1.0 - cumprod), "sqrt_recip_alphas_cumprod": np.sqrt(1.0 / cumprod),
            "sqrt_recipm1_alphas_cumprod": np.sqrt(1.0 / cumprod - 1), "posterior_variance": posterior_variance,
            "posterior_log_variance_clipped": np.log(np.maximum(posterior_variance, 1e-20)),
            "posterior_mean_coef1": betas * np.sqrt(prev) / (1.0 - cumprod),
            "posterior_mean_coef2": (1.0 - prev) * np.sqrt(alphas) / (1.0 - cumprod),
        }
        for name, value in buffers.items():
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32))

    def _ddim_schedule(self, steps: int, eta: float) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
        """`make_ddim_timesteps` (uniform) and `make_ddim_sampling_parameters`: the DDPM steps, and per index
        (a_t, a_prev, sigma_t, sqrt(1 - a_t)) as the float32 constants `p_sample_ddim` fills its tensors with."""
        total = self.alphas_cumprod.shape[0]
        timesteps = np.asarray(list(range(0, total, total // steps))) + 1
        cumprod = self.alphas_cumprod.detach().cpu()
        alphas = cumprod[timesteps]
        alphas_prev = torch.from_numpy(np.asarray([cumprod[0]] + cumprod[timesteps[:-1]].tolist()))
        # Upstream's numpy float64 array against torch's float32 tensor: float64 tensors, as here.
        sigmas = eta * torch.sqrt((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev))
        sqrt_one_minus = torch.sqrt(1.0 - alphas)
        constants = [(float(alphas[i]), float(alphas_prev[i]), float(sigmas[i]), float(sqrt_one_minus[i]))
                     for i in range(len(timesteps))]
        return timesteps, constants

    def _predict(self, x: torch.Tensor, t: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor],
                 uncond: tuple[torch.Tensor, torch.Tensor] | None, scale: float) -> torch.Tensor:
        if uncond is None or scale == 1.0:
            return self.model(x, t, *cond)
        model_uncond = self.model(x, t, *uncond)
        model_t = self.model(x, t, *cond)
        return model_uncond + scale * (model_t - model_uncond)

    @staticmethod
    def _extract(buffer: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return buffer.gather(-1, t).reshape(t.shape[0], 1, 1, 1)

    def sample(self, cond: tuple[torch.Tensor, torch.Tensor], uncond: tuple[torch.Tensor, torch.Tensor] | None,
               generator: torch.Generator) -> torch.Tensor:
        """`DDIMSampler.sample` -> latents `[B, C, T, F]`."""
        config = self.config
        batch, device = cond[0].shape[0], cond[0].device
        shape = (batch, *self.latent_shape)
        timesteps, constants = self._ddim_schedule(config.ddim_sample_step, config.ddim_eta)
        img = torch.randn(shape, generator=generator).to(device)
        total = len(timesteps)
        for i, step in enumerate(np.flip(timesteps)):
            index = total - i - 1
            t = torch.full((batch,), int(step), device=device, dtype=torch.long)
            output = self._predict(img, t, cond, uncond, config.cfg_scale)
            # v-parameterisation: eps = sqrt(a) v + sqrt(1 - a) x; x0 = sqrt(a) x - sqrt(1 - a) v
            e_t = (self._extract(self.sqrt_alphas_cumprod, t) * output
                   + self._extract(self.sqrt_one_minus_alphas_cumprod, t) * img)
            a_t, a_prev, sigma, sqrt_one_minus = constants[index]
            a_prev_t = torch.full((batch, 1, 1, 1), a_prev, device=device)
            sigma_t = torch.full((batch, 1, 1, 1), sigma, device=device)
            pred_x0 = (self._extract(self.sqrt_alphas_cumprod, t) * img
                       - self._extract(self.sqrt_one_minus_alphas_cumprod, t) * output)
            dir_xt = (1.0 - a_prev_t - sigma_t**2).sqrt() * e_t
            noise = sigma_t * torch.randn(img.shape, generator=generator).to(device) * 1.0
            img = a_prev_t.sqrt() * pred_x0 + dir_xt + noise
        return img

    def generate_sample(self, features: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """`generate_sample(features, ddim_steps, unconditional_guidance_scale=cfg_scale)` for windows of token
        features `[B, L, 2 x feature_dimension]` -> waveforms `[B, 1, samples]`."""
        pe = positional_encoding(features.shape[1]).to(features.device)
        ones = torch.ones(features.shape[0], features.shape[1], device=features.device)
        uncond = None
        if self.config.cfg_scale != 1.0:
            uncond = (torch.cat([features * 0.0, pe.repeat(features.shape[0], 1, 1)], dim=-1), ones)
        cond = (torch.cat([features, pe.repeat(features.shape[0], 1, 1)], dim=-1), ones)
        latents = self.sample(cond, uncond, generator)
        mel = self.first_stage_model.decode(1.0 / self.scale_factor * latents)
        return self.first_stage_model.vocoder(mel.squeeze(1).permute(0, 2, 1))
