"""Layers shared by several codec families: SEANet convolutions, residual vector quantisation, loudness."""
