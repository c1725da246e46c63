"""Layers shared by several codec families: SEANet convolutions, residual vector quantisation, loudness, the
w2v-BERT 2.0 features of a semantic branch."""
