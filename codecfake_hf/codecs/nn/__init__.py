"""Layers shared by several codec families: SEANet convolutions, DAC blocks (DualCodec, BiCodec), residual vector
quantisation, Vocos's backbone and ISTFT head (Vocos, LanguageCodec), BigVGAN's anti-aliased SnakeBeta (BigCodec,
FACodec, SoCodec), loudness, the w2v-BERT 2.0 features of a
semantic branch."""
