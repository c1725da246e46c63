"""The release's two ONNX graphs: the speech tokenizer's weights read into `tokenizer.S3TokenizerV2`, CAM++ kept as a
graph that onnxruntime runs.

`speech_tokenizer_v2.onnx`: its initializers are converted into the torch port's parameters by the rule of
s3tokenizer's `onnx2torch` (xingchensong/S3Tokenizer, `s3tokenizer/utils.py`, which `S3TokenizerV2.init_from_onnx`
loads strictly, so the rule covers every weight of the release file): five initializers by the release's names
(`NAMED`), the two LayerNorm inputs of each `LayerNormalization` node under that node's scope, and every other
initializer under the name of the node that consumes it (`/blocks.0/attn/query/MatMul` ->
`encoder.blocks.0.attn.query.weight`, `/blocks.0/mlp/mlp.0/Add` -> `encoder.blocks.0.mlp.0.bias`,
`/blocks.0/attn/fsmn_block/Conv` -> `encoder.blocks.0.attn.fsmn_block.weight`); 2-D initializers are transposed
(a MatMul stores `[in, out]`, `nn.Linear` `[out, in]`).

`campplus.onnx`: no converter for it is published, and its initializer names (the batch norms folded into the
convolutions, or not) are documented nowhere, so it is not converted: `OnnxCAMPPlus` runs the graph with onnxruntime,
as CosyVoice's front end does (`frontend._extract_spk_embedding`: CPU provider, all graph optimisations, one thread).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import CheckpointError

TOKENIZER_FILE, CAMPPLUS_FILE = "speech_tokenizer_v2.onnx", "campplus.onnx"

# s3tokenizer's onnx2torch: the v2_25hz initializers it looks up by name (numbered by the release graph's export).
NAMED = {"onnx::Conv_2216": "encoder.conv1.weight", "onnx::Conv_2217": "encoder.conv1.bias",
         "onnx::Conv_2218": "encoder.conv2.weight", "onnx::Conv_2219": "encoder.conv2.bias",
         "onnx::MatMul_2536": "quantizer._codebook.project_down.weight",
         "quantizer.project_in.bias": "quantizer._codebook.project_down.bias"}
# onnx2torch's `_rename_weights`, in its order ("Add_1" before "Add", "MatMul" before "Mul").
NODE_RENAMES = (("/", "."), ("MatMul", "weight"), ("Add_1", "bias"), ("Mul", "weight"), ("Add", "bias"),
                ("mlp.mlp", "mlp"), ("fsmn_block.Conv", "fsmn_block.weight"))
CORRUPT = "The file is corrupt or truncated: delete it from the cache and download it again."


def read_graph(data: bytes | Path, *, codec: str, source: str):
    """An ONNX file (its path, or its bytes) as an `onnx.ModelProto`, every value its nodes read defined.

    A file that does not parse, holds no graph, or whose nodes read values that nothing defines (a protobuf cut at a
    field boundary parses, without the initializers after the cut) is a `CheckpointError` naming `source`.
    """
    import onnx

    try:
        model = onnx.load(str(data)) if isinstance(data, Path) else onnx.load_model_from_string(bytes(data))
    except Exception as error:  # protobuf's DecodeError, an unreadable file, ...
        first = str(error).splitlines()[0] if str(error) else ""
        raise CheckpointError(f"{codec}: checkpoint file {source} could not be read as an ONNX graph "
                              f"({type(error).__name__}: {first}). {CORRUPT}") from None
    graph = model.graph
    defined = ({value.name for value in graph.input} | {init.name for init in graph.initializer}
               | {name for node in graph.node for name in node.output} | {""})  # "": an omitted optional input
    undefined = sorted({name for node in graph.node for name in node.input} - defined)
    if not graph.node or not graph.output or undefined:
        what = f"its nodes read undefined values ({', '.join(undefined[:3])})" if undefined else "it holds no graph"
        raise CheckpointError(f"{codec}: checkpoint file {source} is not a whole ONNX graph: {what}. {CORRUPT}")
    return model


def _array(initializer) -> torch.Tensor:
    from onnx import numpy_helper

    return torch.from_numpy(np.array(numpy_helper.to_array(initializer), copy=True))


def tokenizer_state(model, *, prefix: str = "speech_tokenizer.") -> dict[str, torch.Tensor]:
    """The tokenizer graph's initializers under `S3TokenizerV2`'s parameter names (s3tokenizer's `onnx2torch` rule;
    see the module docstring), each under `prefix`. Names the rule does not give stay what they are, so the strict
    key check that follows names them."""
    initializers = {init.name: init for init in model.graph.initializer}
    state: dict[str, torch.Tensor] = {}
    for node in model.graph.node:
        used = [name for name in node.input if name in initializers]
        if not used:
            continue
        if node.op_type == "LayerNormalization":  # scale and bias, under the node's scope
            scope = node.name.replace("/LayerNormalization", "")
            for suffix, name in (("weight", node.input[1]), ("bias", node.input[2] if len(node.input) > 2 else "")):
                if name in initializers:
                    state[_renamed(f"{scope}.{suffix}")] = _array(initializers[name])
            continue
        for name in used:
            value = _array(initializers[name])
            key = NAMED.get(name) or _renamed(node.name)
            state[key] = value.t().contiguous() if value.dim() == 2 else value
    return {f"{prefix}{key}": value for key, value in state.items()}


def _renamed(node_name: str) -> str:
    """A node's scope name -> the parameter name (`_rename_weights`), under the encoder."""
    key = node_name[1:] if node_name.startswith("/") else node_name
    for old, new in NODE_RENAMES:
        key = key.replace(old, new)
    return f"encoder.{key}"


def session(data: bytes, *, codec: str, source: str):
    """An onnxruntime session on an ONNX graph, opened as CosyVoice's front end opens its CAM++ session."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(bytes(data), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's InvalidGraph, Fail, ...
        first = str(error).splitlines()[0] if str(error) else ""
        raise CheckpointError(f"{codec}: checkpoint file {source} could not be opened by onnxruntime "
                              f"({type(error).__name__}: {first}). {CORRUPT}") from None


def graph_tensor(data: bytes) -> torch.Tensor:
    """An ONNX file's bytes as a uint8 tensor: how a state dict carries a graph that is run, not converted."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)
