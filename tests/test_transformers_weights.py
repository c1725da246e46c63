"""`codecs/transformers_weights.py`, what the transformers-backed families share: bitrates as built, and the
codebooks of random-weight builds (transformers initialises its k-means codebooks to zeros)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import speechlike
from tiny_configs import tiny_config

from codecfake_hf import codecs
from codecfake_hf.codecs.base import Runtime

# The configs beyond the paper that run on a transformers model: every one, and the first of each family; those with
# codebooks (continuous latents have neither a bitrate nor codewords to draw).
BEYOND_PAPER = [n for n in codecs.names() if n not in codecs.registry.RELEASE_NAMES
                and codecs.spec(n).backend == "transformers"]
QUANTISED = [n for n in BEYOND_PAPER if codecs.spec(n).n_codebooks > 0]
ONE_PER_FAMILY = list({codecs.spec(n).family: n for n in QUANTISED[::-1]}.values())
# Those whose quantiser learns codewords (k-means codebooks); a scalar quantiser's grid is fixed by its levels.
ONE_PER_VQ_FAMILY = [n for n in ONE_PER_FAMILY if codecs.spec(n).quantizer == "multi-codebook"]


def test_twenty_configs_beyond_the_paper_run_on_transformers():
    assert len(BEYOND_PAPER) >= 20


@pytest.mark.parametrize("name", QUANTISED)
def test_bitrate_is_codebooks_times_bits_times_frame_rate(name):
    s = codecs.spec(name)
    assert s.n_codebooks * torch.tensor(float(s.codebook_size)).log2().item() * s.frame_rate / 1000 == (
        pytest.approx(s.bitrate_kbps))
    with torch.device("meta"):  # the config as built, shapes only
        codec = codecs.registry.family(name).build(s, tiny_config(name), None, runtime=Runtime(device="meta"))
    config = codec.model.config
    # a VQ's codebook size, or a finite scalar quantiser's implicit one: the product of its levels
    size = config.codebook_size if hasattr(config, "codebook_size") else math.prod(config.quantization_levels)
    assert size == s.codebook_size


@pytest.mark.parametrize("name", ["encodec_24khz", "encodec_48khz_6kbps", *ONE_PER_VQ_FAMILY])
def test_random_weights_draw_codebooks_so_that_codes_follow_the_input(name):
    """transformers initialises these codebooks to zeros: random weights would code every frame as 0."""
    codec = codecs.load(name, config=tiny_config(name), random_weights=True, seed=3)
    books = [m for m in codec.model.modules() if type(m).__name__.endswith("EuclideanCodebook")]
    used = [book for book in books if bool(book.embed.abs().sum())]
    assert len(used) >= codec.spec.n_codebooks  # every stage the bitrate uses (unused ones may keep zeros)
    assert all(torch.unique(book.embed, dim=0).shape[0] == book.embed.shape[0] for book in used)
    first = used[0]
    codes = []
    for seed in (1, 2):  # the first stage's choices, through transformers' own quantiser, on two inputs
        wave = torch.from_numpy(speechlike(codec.sample_rate // 2, seed))
        chosen: list[torch.Tensor] = []
        first.encode = lambda hidden, chosen=chosen: chosen.append(type(first).encode(first, hidden)) or chosen[-1]
        try:
            codec.resynthesize(wave[None], torch.tensor([wave.shape[0]]))
        finally:
            del first.encode
        codes.append(torch.cat([c.flatten() for c in chosen]))
    assert all(len(torch.unique(c)) > 1 for c in codes)  # not one codeword for every frame
    assert not torch.equal(codes[0], codes[1])
    again = codecs.load(name, config=tiny_config(name), random_weights=True, seed=3).model.state_dict()
    assert all(torch.equal(value, again[key]) for key, value in codec.model.state_dict().items())
