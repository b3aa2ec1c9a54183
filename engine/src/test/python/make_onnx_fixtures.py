#!/usr/bin/python3
"""Writes the ONNX fixtures made by real exporters into engine/src/test/resources/onnx-exporters/.

What it needs: Debian's python3-torch (1.13), python3-torchvision (0.14) and python3-onnx (1.12), e.g.
    apt-get install python3-torch python3-torchvision python3-onnx
and nothing else (no network, no downloads, no onnxruntime). Run it with Debian's interpreter:
    /usr/bin/python3 engine/src/test/python/make_onnx_fixtures.py            # the committed fixtures
    /usr/bin/python3 engine/src/test/python/make_onnx_fixtures.py --full DIR # full-size vgg16/vgg16_bn
                                                                              # (~530 MB each, not committed)
The output is deterministic for a given torch build (every model is seeded from its file name).

Every fixture is a width-reduced VGG at 224x224 (so the conv stack ends at 7x7 and torchvision's
AdaptiveAvgPool2d((7,7)) is a 1x1 pool), with weights randomised so that logits are O(1..10): each Conv/Linear
is rescaled on a calibration batch to unit output spread (LSUV-style), each BatchNorm gets running statistics
near, but not equal to, those of its input, and random affine parameters, so BN folding is really exercised.

Files written (see README.md there):
  <name>.onnx                the model, as the exporter wrote it (plus the patches said in its manifest entry)
  <name>.io.safetensors      `output`: the exporter's own output (torch's, for torch-made graphs) for the shared
                             input named in the manifest; `normalised_input` for models with baked normalisation
  inputs.safetensors         the shared inputs (N=2): `nchw` [2,3,224,224] ~N(0,1); `nhwc`, the same images
                             as [2,224,224,3]; `pixels_nchw` [2,3,224,224], integers 0..255. Shared rather than
                             copied into each reference, which keeps the folder at ~15 MB instead of ~60 MB.
  manifest.json              one entry per fixture: exporter, opset, variant, layout, batch, output kind,
                             baked normalisation, expect ("loads" / "refused" + the node the error must name)

Which graphs are not straight exporter output, and why:
  - opsets 18..21: torch 1.13 exports at most opset 17. Those files are opset-17 torch exports rewritten to what a
    newer exporter writes for the same ops (bump_opset): per the ONNX changelog, between 17 and 21 none of Conv,
    Relu, MaxPool, Gemm, Flatten, Reshape, Softmax, Dropout, BatchNormalization, Identity, Constant, Shape, Gather,
    Unsqueeze, Concat, Cast, Transpose, MatMul, Add changed meaning (Reshape/Shape/Identity/Cast/Constant/Flatten/
    Unsqueeze/Transpose only gained element types in 19/21); ReduceMean's axes became an input at 18, and
    AveragePool gained a `dilations` attribute at 19 (written explicitly, as newer exporters do). ir_version is
    raised to what the opset needs (18: 8, 19/20: 9, 21: 10).
  - model zoo layout: torch 1.13 drops Dropout in eval mode, so the zoo's Dropout nodes (ratio attribute and mask
    output at opset 7..11, ratio input from 12) are inserted with onnx.helper; Gemm alpha/beta/transA/transB
    variants are patched in and the reference is torch's model with the same math (weights*alpha, bias*beta).
  - Keras/tf2onnx layout: there is no TensorFlow here, so those graphs are built node by node with onnx.helper in
    the layout tf2onnx writes (NHWC input, Transpose to NCHW, Conv with fused bias, Transpose back, Reshape with a
    constant shape, MatMul + Add, Softmax; ReduceMean for GlobalAveragePooling2D), with tf2onnx-style names; the
    reference is an equivalent torch module with the same weights.
  - fp16 initializers: an export whose float initializers are re-stored as FLOAT16, each followed by
    Cast(to=FLOAT) (fp32 compute); the reference is torch's model with fp16-rounded weights.
"""
import argparse
import copy
import json
import os
import struct
import zlib

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torchvision.models.vgg import VGG, cfgs, make_layers

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "onnx-exporters"))
TORCH_EXPORTER = "torch.onnx " + ".".join(torch.__version__.split(".")[:2])
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]
IR_FOR_OPSET = {18: 8, 19: 9, 20: 9, 21: 10}


# ---------------------------------------------------------------------------------------------- safetensors

def write_safetensors(path, tensors):
    """8-byte LE header length, JSON header (padded to 8 bytes), raw little-endian f32 data."""
    header, blobs, offset = {}, [], 0
    for name, value in tensors.items():
        a = np.ascontiguousarray(np.asarray(value, dtype="<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ------------------------------------------------------------------------------------------ randomisation

def seed_for(name):
    torch.manual_seed(zlib.crc32(name.encode()))


@torch.no_grad()
def randomise(model, calibration, logit_std=3.0):
    """Rescales every Conv/Linear to unit output spread on `calibration` (the last Linear to `logit_std`) and gives
    every BatchNorm running statistics near its input's, plus random affine parameters."""
    linears = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    last = linears[-1]

    def weighted(module, args):
        x = args[0]
        w = module.weight
        nn.init.normal_(w)
        y = module._conv_forward(x, w, None) if isinstance(module, nn.Conv2d) else F.linear(x, w)
        w.mul_((logit_std if module is last else 1.0) / y.std().clamp_min(1e-6))
        if module.bias is not None:
            module.bias.copy_(0.1 * torch.randn_like(module.bias))

    def batchnorm(module, args):
        x = args[0]
        dims = (0, 2, 3) if x.dim() == 4 else (0,)
        mean, var = x.mean(dims), x.var(dims)
        module.running_mean.copy_(mean + 0.3 * var.sqrt() * torch.randn_like(mean))
        module.running_var.copy_(var * torch.empty_like(var).uniform_(0.5, 2.0))
        module.weight.copy_(torch.empty_like(mean).uniform_(0.5, 1.5))
        module.bias.copy_(0.2 * torch.randn_like(mean))

    hooks = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_pre_hook(weighted))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            hooks.append(m.register_forward_pre_hook(batchnorm))
    model.eval()
    model(calibration)
    for h in hooks:
        h.remove()
    return model


# --------------------------------------------------------------------------------------------- the models

WIDTHS = (4, 8, 16, 16)  # torchvision's 64, 128, 256, 512


def small_cfg(pattern, widths=WIDTHS):
    scale = dict(zip((64, 128, 256, 512), widths))
    return [v if v == "M" else scale[v] for v in cfgs[pattern]]


def torchvision_vgg(pattern, bn, classes=10, widths=WIDTHS):
    """torchvision's own VGG class with a small make_layers config and a small classifier of the same shape."""
    model = VGG(make_layers(small_cfg(pattern, widths), batch_norm=bn), num_classes=classes, init_weights=False)
    c = widths[3]
    model.classifier = nn.Sequential(
        nn.Linear(c * 7 * 7, 32), nn.ReLU(True), nn.Dropout(),
        nn.Linear(32, 16), nn.ReLU(True), nn.Dropout(),
        nn.Linear(16, classes))
    return model


class HandVGG(nn.Module):
    """A VGG as people write it by hand: five conv blocks, optional BN after each conv and after the dense layer,
    one of three flattens, optional softmax and baked input normalisation."""

    def __init__(self, flatten="view", bn=True, bn1d=False, softmax=False, norm=None, ceil_mode=False, eps=1e-5):
        super().__init__()
        layers, c_in = [], 3
        for c, convs in ((6, 1), (8, 1), (12, 2), (16, 2), (16, 2)):
            for _ in range(convs):
                layers.append(nn.Conv2d(c_in, c, 3, padding=1, bias=not bn))
                if bn:
                    layers.append(nn.BatchNorm2d(c, eps=eps))
                layers.append(nn.ReLU(inplace=True))
                c_in = c
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=ceil_mode))
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(16 * 7 * 7, 24)
        self.bn1 = nn.BatchNorm1d(24, eps=eps) if bn1d else None
        self.fc2 = nn.Linear(24, 10)
        self.flatten, self.softmax, self.norm = flatten, softmax, norm
        if norm == "mul_add":
            self.register_buffer("scale", torch.tensor([1 / (255 * s) for s in IMAGENET_STD]).view(1, 3, 1, 1))
            self.register_buffer("shift", torch.tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])
                                 .view(1, 3, 1, 1))

    def normalise(self, x):
        if self.norm == "torchvision":  # transforms.Normalize after ToTensor, baked in: (x/255 - mean)/std
            mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)
            return (x / 255 - mean) / std
        if self.norm == "caffe":  # BGR input minus the ImageNet means
            return x - torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float32).view(1, 3, 1, 1)
        if self.norm == "mul_add":
            return x * self.scale + self.shift
        if self.norm == "tf":  # Keras "tf" mode: x/127.5 - 1
            return x / 127.5 - 1
        return x

    def forward(self, x):
        x = self.features(self.normalise(x))
        if self.flatten == "view":
            x = x.view(x.size(0), -1)
        elif self.flatten == "flatten":
            x = torch.flatten(x, 1)
        else:
            x = x.reshape(x.shape[0], -1)
        x = self.fc1(x)
        if self.bn1 is not None:
            x = self.bn1(x)
        x = F.dropout(F.relu(x), 0.5, self.training)
        x = self.fc2(x)
        return F.softmax(x, dim=1) if self.softmax else x


class GapVGG(nn.Module):
    """A VGG base (include_top=False) + global average pooling + dense head, the transfer-learning pattern."""

    def __init__(self):
        super().__init__()
        self.features = make_layers(small_cfg("D"), batch_norm=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(WIDTHS[3], 24)
        self.fc2 = nn.Linear(24, 10)

    def forward(self, x):
        x = torch.flatten(self.pool(self.features(x)), 1)
        return self.fc2(F.relu(self.fc1(x)))


class KerasVGG(nn.Module):
    """The torch twin of a Keras Sequential VGG: NHWC input, Keras' NHWC flatten (or GlobalAveragePooling2D),
    Dense layers, softmax. Its weights become the tf2onnx-layout graph's."""

    def __init__(self, blocks, head, gap):
        super().__init__()
        layers, c_in = [], 3
        for c, convs in blocks:
            for _ in range(convs):
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
                c_in = c
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.gap = gap
        dims = [c_in * (1 if gap else 7 * 7)] + list(head)
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))

    def forward(self, x_nhwc):
        x = self.features(x_nhwc.permute(0, 3, 1, 2))
        x = x.mean((2, 3)) if self.gap else x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        for i, d in enumerate(self.dense):
            x = d(x)
            x = F.relu(x) if i < len(self.dense) - 1 else F.softmax(x, dim=1)
        return x


def pooled_8ch_tail():
    """Five 8-channel conv + ReLU + max-pool blocks, from 8 channels at 224x224 down to 7x7."""
    layers = []
    for _ in range(5):
        layers += [nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2)]
    return nn.Sequential(*layers)


class ResidualVGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.rest = pooled_8ch_tail()
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x) + x)
        return self.fc(torch.flatten(self.rest(x), 1))


class OddOpVGG(nn.Module):
    """A small VGG with one thing the engine lacks after the first block: a grouped conv, LRN or Tanh."""

    def __init__(self, odd):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.odd = {"group": nn.Conv2d(8, 8, 3, padding=1, groups=2),
                    "lrn": nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0),
                    "tanh": nn.Tanh()}[odd]
        self.rest = pooled_8ch_tail()
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.rest(self.odd(F.relu(self.conv1(x)))), 1))


# ------------------------------------------------------------------------------------------- the writer

class Writer:
    def __init__(self, out):
        self.out = out
        self.entries = []
        g = torch.Generator().manual_seed(17)
        nchw = torch.randn(2, 3, 224, 224, generator=g)
        pixels = torch.randint(0, 256, (2, 3, 224, 224), generator=g).float()
        self.inputs = {"nchw": nchw, "nhwc": nchw.permute(0, 2, 3, 1).contiguous(), "pixels_nchw": pixels}

    def path(self, name):
        return os.path.join(self.out, name)

    def add(self, name, model_proto, output, *, exporter, opset, variant, input="nchw", batch="fixed",
            output_kind="logits", normalisation=None, normalised_input=None, refusal=None, external=None):
        """Saves the model (unless already saved by the exporter), its reference and its manifest entry."""
        if model_proto is not None:
            if opset <= 17:
                onnx.checker.check_model(model_proto)  # onnx 1.12 knows opsets up to 17
            onnx.save(model_proto, self.path(name + ".onnx"))
        m = onnx.load(self.path(name + ".onnx"), load_external_data=False)
        refs = {"output": output.detach().numpy()}
        if normalised_input is not None:
            refs["normalised_input"] = normalised_input.detach().numpy()
        write_safetensors(self.path(name + ".io.safetensors"), refs)
        graph_input = [i for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}][0]
        entry = {
            "file": name + ".onnx",
            "reference": name + ".io.safetensors",
            "input": {"file": "inputs.safetensors", "tensor": input},
            "exporter": exporter,
            "opset": opset,
            "variant": variant,
            "input_name": graph_input.name,
            "input_layout": "NHWC" if input == "nhwc" else "NCHW",
            "batch": batch,
            "output_name": m.graph.output[0].name,
            "output": output_kind,
            "classes": int(output.shape[1]),
            "normalisation": normalisation,
            "expect": "refused" if refusal else "loads",
        }
        if external:
            entry["external_data"] = external
        if refusal:
            entry["refusal"] = refusal
        self.entries.append(entry)
        size = sum(os.path.getsize(self.path(f)) for f in os.listdir(self.out) if f.startswith(name + "."))
        print(f"{name}: opset {opset}, {size / 1e6:.2f} MB, |output| max {output.abs().max():.3g}", flush=True)

    def finish(self):
        write_safetensors(self.path("inputs.safetensors"), {k: v.numpy() for k, v in self.inputs.items()})
        with open(self.path("manifest.json"), "w") as f:
            json.dump({"inputs": "inputs.safetensors", "fixtures": self.entries}, f, indent=1)
            f.write("\n")


def torch_export(model, path, opset, *, fold=True, dynamic=False, names=("input", "output"), kiai=None,
                 example_shape=(1, 3, 224, 224)):
    kwargs = {}
    if names is not None:
        kwargs["input_names"], kwargs["output_names"] = [names[0]], [names[1]]
        if dynamic:
            kwargs["dynamic_axes"] = {names[0]: {0: "batch"}, names[1]: {0: "batch"}}
    # Without folding, export in PRESERVE mode (the model is in eval mode either way): in EVAL mode torch 1.13 fuses
    # Conv+BatchNormalization during export even with do_constant_folding=False, and the BN nodes these variants
    # exist for would vanish.
    training = torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, torch.randn(*example_shape), path, opset_version=opset, do_constant_folding=fold,
                      keep_initializers_as_inputs=kiai, training=training, **kwargs)
    return onnx.load(path)


# ---------------------------------------------------------------------------------------- graph rewrites

def main_opset(m):
    return next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))


# Ops whose meaning did not change between opset 17 and 21 (types only, or not at all).
UNCHANGED_17_TO_21 = {"Conv", "Relu", "MaxPool", "Gemm", "Flatten", "Reshape", "Softmax", "Dropout",
                      "BatchNormalization", "Identity", "Constant", "Shape", "Gather", "Unsqueeze", "Concat",
                      "Cast", "Transpose", "MatMul", "Add", "Sub", "Mul", "Div", "GlobalAveragePool"}


def bump_opset(model, opset):
    """An opset-17 graph as an exporter for `opset` (18..21) writes it (see the module docstring)."""
    m = copy.deepcopy(model)
    assert main_opset(m) == 17
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = opset
    m.ir_version = IR_FOR_OPSET[opset]
    for node in m.graph.node:
        if node.op_type == "ReduceMean":
            axes = [a for a in node.attribute if a.name == "axes"][0]
            node.attribute.remove(axes)
            name = node.name + "_axes"
            m.graph.initializer.append(numpy_helper.from_array(np.array(axes.ints, dtype=np.int64), name))
            node.input.append(name)
        elif node.op_type == "AveragePool":
            if opset >= 19 and not any(a.name == "dilations" for a in node.attribute):
                node.attribute.append(helper.make_attribute("dilations", [1, 1]))
        elif node.op_type not in UNCHANGED_17_TO_21:
            raise ValueError(f"bump_opset does not know how {node.op_type} changed after 17")
    m.metadata_props.append(onnx.StringStringEntryProto(
        key="snapscore_fixture", value=f"opset-17 export rewritten to opset {opset} by make_onnx_fixtures.py"))
    return m


def insert_dropouts(m):
    """Inserts the model zoo's Dropout after each Relu that feeds a Gemm or MatMul, as the opset writes it."""
    opset = main_opset(m)
    nodes = list(m.graph.node)
    del m.graph.node[:]
    for node in nodes:
        m.graph.node.append(node)
        if node.op_type == "Relu" and any(c.op_type in ("Gemm", "MatMul") for c in consumers_of(nodes, node.output[0])):
            x = node.output[0]
            y, mask = x + "_dropout", x + "_mask"
            for c in consumers_of(nodes, x):
                for i, v in enumerate(c.input):
                    if v == x:
                        c.input[i] = y
            name = "Dropout_" + x
            if opset < 12:
                m.graph.node.append(helper.make_node("Dropout", [x], [y, mask], name=name, ratio=0.5))
            else:
                ratio = name + "_ratio"
                m.graph.initializer.append(numpy_helper.from_array(np.array(0.5, dtype=np.float32), ratio))
                m.graph.node.append(helper.make_node("Dropout", [x, ratio], [y, mask], name=name))
    return m


def consumers_of(nodes, tensor):
    return [n for n in nodes if tensor in n.input]


def initializer(m, name):
    return next(t for t in m.graph.initializer if t.name == name)


def set_attr(node, name, value):
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute(name, value))


def patch_gemm(m, index, *, alpha=None, beta=None, trans_a=False, flip_b=False):
    """Changes the `index`-th Gemm: alpha/beta attributes, A fed through a Transpose with transA=1, or B stored
    the other way round with transB flipped. Only alpha/beta change the math."""
    gemm = [n for n in m.graph.node if n.op_type == "Gemm"][index]
    if alpha is not None:
        set_attr(gemm, "alpha", float(alpha))
    if beta is not None:
        set_attr(gemm, "beta", float(beta))
    if trans_a:
        at = gemm.input[0] + "_T"
        pos = list(m.graph.node).index(gemm)
        m.graph.node.insert(pos, helper.make_node("Transpose", [gemm.input[0]], [at], name="Transpose_" + at,
                                                  perm=[1, 0]))
        gemm.input[0] = at
        set_attr(gemm, "transA", 1)
    if flip_b:
        b = initializer(m, gemm.input[1])
        flipped = numpy_helper.from_array(numpy_helper.to_array(b).T.copy(), b.name + "_flipped")
        m.graph.initializer.append(flipped)
        gemm.input[1] = flipped.name
        trans_b = next((a.i for a in gemm.attribute if a.name == "transB"), 0)
        set_attr(gemm, "transB", 1 - trans_b)
        assert not consumers_of(m.graph.node, b.name)
        m.graph.initializer.remove(b)
        listed = [i for i in m.graph.input if i.name == b.name]
        for i in listed:  # initializers listed as graph inputs (model zoo style) stay so
            m.graph.input.remove(i)
            m.graph.input.append(helper.make_tensor_value_info(flipped.name, TensorProto.FLOAT, flipped.dims))
    return m


def fp16_initializers(model):
    """Every float initializer stored as FLOAT16 and turned back into float by a Cast node before use."""
    m = copy.deepcopy(model)
    casts = []
    for t in list(m.graph.initializer):
        if t.data_type != TensorProto.FLOAT:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name + "_fp16")
        m.graph.initializer.remove(t)
        m.graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [t.name], name="Cast_" + t.name, to=TensorProto.FLOAT))
    nodes = casts + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


def node_named(m, op, index=0):
    return [n for n in m.graph.node if n.op_type == op][index].name


# ---------------------------------------------------------------------------------------- tf2onnx layout

def tf2onnx_graph(model, opset, *, gap_nhwc=True, auto_pad=False, name="sequential"):
    """The graph tf2onnx writes for the Keras twin `model` (KerasVGG), built node by node."""
    p = f"StatefulPartitionedCall/{name}/"
    nodes, inits = [], []
    counter = [0]

    def uid(base):
        counter[0] += 1
        return f"{base}__{counter[0]}"

    def const(tname, array):
        inits.append(numpy_helper.from_array(array, tname))
        return tname

    x = "input_1"
    nodes.append(helper.make_node("Transpose", [x], [uid("input_1_transposed")], name=uid(p + "block1_conv1/Conv2D"),
                                  perm=[0, 3, 1, 2]))
    x = nodes[-1].output[0]
    block, conv_in_block = 1, 0
    for layer in model.features:
        if isinstance(layer, nn.Conv2d):
            conv_in_block += 1
            lname = f"{p}block{block}_conv{conv_in_block}"
            w = const(f"{lname}/Conv2D/ReadVariableOp:0", layer.weight.detach().numpy())
            b = const(f"{lname}/BiasAdd/ReadVariableOp:0", layer.bias.detach().numpy())
            pads = {"auto_pad": "SAME_UPPER"} if auto_pad else {"pads": [1, 1, 1, 1]}
            nodes.append(helper.make_node("Conv", [x, w, b], [lname + "/BiasAdd:0"], name=lname + "/BiasAdd",
                                          kernel_shape=[3, 3], strides=[1, 1], dilations=[1, 1], **pads))
            x = nodes[-1].output[0]
        elif isinstance(layer, nn.ReLU):
            lname = f"{p}block{block}_conv{conv_in_block}/Relu"
            nodes.append(helper.make_node("Relu", [x], [lname + ":0"], name=lname))
            x = nodes[-1].output[0]
        elif isinstance(layer, nn.MaxPool2d):
            lname = f"{p}block{block}_pool/MaxPool"
            nodes.append(helper.make_node("MaxPool", [x], [lname + ":0"], name=lname, kernel_shape=[2, 2],
                                          strides=[2, 2]))
            x = nodes[-1].output[0]
            block, conv_in_block = block + 1, 0
    if model.gap and gap_nhwc:  # GlobalAveragePooling2D on the NHWC tensor: transpose back, mean over H, W
        nodes.append(helper.make_node("Transpose", [x], [uid(x + "_nhwc")], name=uid(p + "block5_pool/MaxPool"),
                                      perm=[0, 2, 3, 1]))
        x = nodes[-1].output[0]
        axes = [1, 2]
    elif model.gap:  # tf2onnx's transpose optimiser pushed the Transpose through the ReduceMean
        axes = [2, 3]
    if model.gap:
        lname = p + "global_average_pooling2d/Mean"
        if opset >= 18:
            nodes.append(helper.make_node("ReduceMean", [x, const(lname + "/reduction_indices:0",
                                                                  np.array(axes, dtype=np.int64))],
                                          [lname + ":0"], name=lname, keepdims=0))
        else:
            nodes.append(helper.make_node("ReduceMean", [x], [lname + ":0"], name=lname, axes=axes, keepdims=0))
        x = nodes[-1].output[0]
    else:  # Flatten of an NHWC tensor: Transpose back, then Reshape with tf's constant shape
        nodes.append(helper.make_node("Transpose", [x], [uid(x + "_nhwc")], name=uid(p + "block5_pool/MaxPool"),
                                      perm=[0, 2, 3, 1]))
        x = nodes[-1].output[0]
        lname = p + "flatten/Reshape"
        shape = const(uid("const_fold_opt"), np.array([-1, model.dense[0].in_features], dtype=np.int64))
        nodes.append(helper.make_node("Reshape", [x, shape], [lname + ":0"], name=lname))
        x = nodes[-1].output[0]
    for i, d in enumerate(model.dense):
        lname = p + ("dense" if i == 0 else f"dense_{i}")
        w = const(f"{lname}/MatMul/ReadVariableOp:0", d.weight.detach().numpy().T.copy())
        b = const(f"{lname}/BiasAdd/ReadVariableOp:0", d.bias.detach().numpy())
        nodes.append(helper.make_node("MatMul", [x, w], [lname + "/MatMul:0"], name=lname + "/MatMul"))
        nodes.append(helper.make_node("Add", [nodes[-1].output[0], b], [lname + "/BiasAdd:0"],
                                      name=lname + "/BiasAdd"))
        x = nodes[-1].output[0]
        last = i == len(model.dense) - 1
        out = ("dense_%d" % i if i else "dense") if last else lname + "/Relu:0"
        nodes.append(helper.make_node("Softmax" if last else "Relu", [x], [out],
                                      name=lname + ("/Softmax" if last else "/Relu"),
                                      **({"axis": -1 if opset >= 13 else 1} if last else {})))
        x = out
    classes = model.dense[-1].out_features
    graph = helper.make_graph(
        nodes, "tf2onnx",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["unk__0", 224, 224, 3])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["unk__1", classes])],
        inits)
    m = helper.make_model(graph, producer_name="tf2onnx", producer_version="1.16.1 15c810",
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = IR_FOR_OPSET.get(opset, 8 if opset >= 15 else 7)
    return m


# ------------------------------------------------------------------------------------------ the fixtures

def make_fixtures(out):
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith((".onnx", ".safetensors", ".data", ".json")):
            os.remove(os.path.join(out, f))
    w = Writer(out)
    x = w.inputs["nchw"]
    calib = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    calib_pixels = torch.randint(0, 256, (4, 3, 224, 224), generator=torch.Generator().manual_seed(2)).float()
    exported = {}

    def tv(name, pattern, bn, opset, fold, dynamic, classes=10, kiai=None, names=("input", "output"), note="",
           zero_bias=False):
        seed_for(name)
        model = randomise(torchvision_vgg(pattern, bn, classes), calib)
        if zero_bias:  # as torchvision's init leaves them: torch.onnx then shares equal initializers via Identity
            with torch.no_grad():
                for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
                    conv.bias.zero_()
            note += ", conv biases zero (deduplicated by the exporter into Identity nodes)"
        with torch.no_grad():
            ref = model(x)
        m = torch_export(model, w.path(name + ".onnx"), opset, fold=fold, dynamic=dynamic, kiai=kiai, names=names)
        vgg = {"A": 11, "B": 13, "D": 16, "E": 19}[pattern]
        variant = (f"torchvision VGG class, vgg{vgg}{'_bn' if bn else ''} pattern (widths {WIDTHS}), "
                   f"{classes}-class head, do_constant_folding={fold}, training={'EVAL' if fold else 'PRESERVE'}" + note)
        w.add(name, None, ref, exporter=TORCH_EXPORTER, opset=opset, variant=variant,
              batch="dynamic" if dynamic else "fixed")
        exported[name] = (m, ref, variant, dynamic)
        return model, m

    # torchvision's VGG class: every pattern with and without BN, every opset 7..17, folding on and off,
    # fixed (batch 1) and dynamic batch.
    tv("tv-vgg11-op7-nofold-kiai", "A", False, 7, False, False, kiai=True,
       note=", keep_initializers_as_inputs=True (initializers listed as graph inputs, model zoo style)")
    tv("tv-vgg11-bn-op8-fold", "A", True, 8, True, False)
    tv("tv-vgg13-op9-nofold-dyn", "B", False, 9, False, True, zero_bias=True)
    tv("tv-vgg13-bn-op10-fold-dyn", "B", True, 10, True, True)
    tv("tv-vgg16-op11-nofold", "D", False, 11, False, False)
    tv("tv-vgg16-bn-op11-nofold-dyn", "D", True, 11, False, True, zero_bias=True)
    tv("tv-vgg16-op12-fold-dyn", "D", False, 12, True, True, zero_bias=True)
    tv("tv-vgg16-bn-op13-fold", "D", True, 13, True, False)
    tv("tv-vgg19-op14-fold-dyn", "E", False, 14, True, True, zero_bias=True)
    tv("tv-vgg19-bn-op15-nofold", "E", True, 15, False, False)
    tv("tv-vgg11-op16-nofold-dyn", "A", False, 16, False, True)
    tv("tv-vgg13-bn-op16-fold", "B", True, 16, True, False)
    tv("tv-vgg16-op17-fold", "D", False, 17, True, False, zero_bias=True)
    tv("tv-vgg16-bn-op17-nofold-dyn", "D", True, 17, False, True, zero_bias=True)
    tv("tv-vgg19-bn-op17-fold-dyn", "E", True, 17, True, True)
    tv("tv-vgg16-1000-op17-fold-defaultnames", "D", False, 17, True, False, classes=1000, names=None,
       note=", torch's default input/output names")
    seed_for("tv-vgg11-2class-op13-fold-dyn")
    model = randomise(torchvision_vgg("A", False), calib)
    model.classifier[6] = nn.Linear(16, 2)  # the usual fine-tuning swap of the last layer
    randomise(model, calib)
    with torch.no_grad():
        ref = model(x)
    torch_export(model, w.path("tv-vgg11-2class-op13-fold-dyn.onnx"), 13, dynamic=True)
    w.add("tv-vgg11-2class-op13-fold-dyn", None, ref, exporter=TORCH_EXPORTER, opset=13, batch="dynamic",
          variant="torchvision VGG class, vgg11 pattern, classifier[6] swapped for Linear(16, 2)")

    # Opsets 18..21: opset-17 exports rewritten as a newer exporter writes them.
    for src, opset in (("tv-vgg16-bn-op17-nofold-dyn", 18), ("tv-vgg19-bn-op17-fold-dyn", 19),
                       ("tv-vgg16-op17-fold", 20), ("tv-vgg16-bn-op17-nofold-dyn", 21)):
        m, ref, variant, dynamic = exported[src]
        name = src.replace("op17", f"op{opset}")
        w.add(name, bump_opset(m, opset), ref, exporter=TORCH_EXPORTER + f" (opset 17, rewritten to {opset})",
              opset=opset, batch="dynamic" if dynamic else "fixed",
              variant=variant + f"; opset_import and ir_version rewritten from 17 to {opset}")

    # Hand-written PyTorch VGGs.
    def hand(name, opset, fold, dynamic, names=("input", "output"), norm=None, normalisation=None, **kw):
        seed_for(name)
        model = HandVGG(norm=norm, **kw)
        randomise(model, calib_pixels if norm else calib)
        inp = w.inputs["pixels_nchw"] if norm else x
        with torch.no_grad():
            ref = model(inp)
            normalised = model.normalise(inp) if norm else None
        torch_export(model, w.path(name + ".onnx"), opset, fold=fold, dynamic=dynamic, names=names)
        desc = ", ".join(f"{k}={v}" for k, v in kw.items())
        w.add(name, None, ref, exporter=TORCH_EXPORTER, opset=opset, batch="dynamic" if dynamic else "fixed",
              input="pixels_nchw" if norm else "nchw",
              output_kind="probabilities" if kw.get("softmax") else "logits",
              variant=f"hand-written nn.Module VGG ({desc}{', baked normalisation ' + norm if norm else ''}), "
                      f"do_constant_folding={fold}, training={'EVAL' if fold else 'PRESERVE'}",
              normalisation=normalisation, normalised_input=normalised)

    hand("hw-view-bn-op7-nofold-dyn", 7, False, True, flatten="view")
    hand("hw-view-bn-op9-nofold", 9, False, False, flatten="view")
    hand("hw-view-bn-op11-fold-dyn", 11, True, True, flatten="view")
    hand("hw-view-bn-op13-fold", 13, True, False, flatten="view", bn1d=True, eps=1e-3)
    hand("hw-flatten-op10-nofold-dyn", 10, False, True, flatten="flatten", bn=False, ceil_mode=True)
    hand("hw-reshape-bn-op12-nofold-dyn", 12, False, True, flatten="reshape", bn1d=True)
    hand("hw-reshape-bn-op14-fold", 14, True, False, flatten="reshape")
    hand("hw-view-bn1d-softmax-op8-nofold", 8, False, False, flatten="view", bn1d=True, softmax=True,
         names=("image", "scores"))
    hand("hw-flatten-softmax-op17-nofold-dyn", 17, False, True, flatten="flatten", softmax=True,
         names=("x", "scores"))
    # Baked normalisation: Div/Sub/Div by torchvision's constants, Sub of Caffe's BGR means, Mul/Add, Div/Sub.
    tv_mean = [255 * m for m in IMAGENET_MEAN]
    tv_scale = [1 / (255 * s) for s in IMAGENET_STD]
    hand("hw-norm-torchvision-op17-fold", 17, True, False, flatten="flatten", norm="torchvision",
         normalisation={"channel_order": "RGB", "mean": tv_mean, "scale": tv_scale})
    hand("hw-norm-caffe-op11-nofold-dyn", 11, False, True, flatten="view", norm="caffe",
         normalisation={"channel_order": "BGR", "mean": CAFFE_MEAN_BGR, "scale": [1.0, 1.0, 1.0]})
    hand("hw-norm-muladd-op13-fold-dyn", 13, True, True, flatten="flatten", bn=False, norm="mul_add",
         normalisation={"channel_order": "RGB", "mean": tv_mean, "scale": tv_scale})
    hand("hw-norm-tf-op9-nofold", 9, False, False, flatten="view", bn=False, norm="tf",
         normalisation={"channel_order": "RGB", "mean": [127.5] * 3, "scale": [1 / 127.5] * 3})

    # Opset 19 with shape arithmetic (Shape/Gather/Unsqueeze/Concat/Reshape) from a hand-written view flatten.
    src = "hw-view-bn-op17-nofold-dyn"
    seed_for(src)
    model = randomise(HandVGG(flatten="view"), calib)
    with torch.no_grad():
        ref = model(x)
    m = torch_export(model, w.path("tmp.onnx"), 17, fold=False, dynamic=True)
    os.remove(w.path("tmp.onnx"))
    w.add("hw-view-bn-op19-nofold-dyn", bump_opset(m, 19), ref, batch="dynamic",
          exporter=TORCH_EXPORTER + " (opset 17, rewritten to 19)", opset=19,
          variant="hand-written VGG, BN after each conv, x.view(x.size(0), -1) with dynamic batch (shape "
                  "arithmetic), do_constant_folding=False; opset_import and ir_version rewritten from 17 to 19")

    # The model zoo's layout: Flatten + Gemm + Dropout (+ Softmax) at old opsets, data/prob names.
    def zoo(name, opset, bn, patch=None, softmax=True, kiai=True, variant=""):
        seed_for(name)
        model = nn.Sequential(make_layers(small_cfg("D"), batch_norm=bn), nn.Flatten(),
                              nn.Linear(16 * 7 * 7, 32), nn.ReLU(), nn.Dropout(),
                              nn.Linear(32, 16), nn.ReLU(), nn.Dropout(),
                              nn.Linear(16, 10), *([nn.Softmax(dim=1)] if softmax else []))
        randomise(model, calib)
        m = insert_dropouts(torch_export(model, w.path(name + ".onnx"), opset, fold=not bn, kiai=kiai,
                                         names=("data", "prob" if softmax else "fc8")))
        ref_model = model
        if patch:
            m = patch(m)
            ref_model = copy.deepcopy(model)
            alpha, beta = PATCH_MATH.get(name, (1.0, 1.0))
            with torch.no_grad():  # Gemm 0 is the first Linear
                ref_model[2].weight.mul_(alpha)
                ref_model[2].bias.mul_(beta)
        with torch.no_grad():
            ref = ref_model(x)
        w.add(name, m, ref, exporter=TORCH_EXPORTER + " + onnx.helper (model zoo layout)", opset=opset,
              output_kind="probabilities" if softmax else "logits",
              variant="model zoo layout: Flatten + Gemm(transB=1) + Dropout(ratio, mask output)"
                      + (" + Softmax" if softmax else "") + (", BatchNormalization nodes" if bn else "")
                      + ", input 'data', initializers as graph inputs" + variant)

    PATCH_MATH = {"zoo-vgg16-op9-gemm-alpha-beta": (0.5, 2.0)}
    zoo("zoo-vgg16-op7", 7, False)
    zoo("zoo-vgg16-bn-op8", 8, True, softmax=False)
    zoo("zoo-vgg16-op9-gemm-alpha-beta", 9, False, patch=lambda m: patch_gemm(m, 0, alpha=0.5, beta=2.0),
        variant="; first Gemm patched to alpha=0.5, beta=2.0 (the reference has weight*0.5, bias*2)")
    zoo("zoo-vgg16-op9-gemm-transa-transb", 9, False, softmax=False,
        patch=lambda m: patch_gemm(patch_gemm(m, 0, trans_a=True), 1, flip_b=True),
        variant="; first Gemm reads its input through Transpose(perm=[1,0]) with transA=1, second Gemm's "
                "weight stored [in, out] with transB=0 (same math)")
    zoo("zoo-vgg16-op12-dropout-input", 12, False, kiai=False,
        variant="; opset 12 Dropout: ratio as an input, mask output")

    # Keras through tf2onnx: NHWC input, Transpose, ..., Reshape with constant shape, MatMul + Add, Softmax.
    def keras(name, opset, blocks, head, gap, variant, **kw):
        seed_for(name)
        model = KerasVGG(blocks, head, gap)
        randomise(model, calib.permute(0, 2, 3, 1))
        with torch.no_grad():
            ref = model(w.inputs["nhwc"])
        w.add(name, tf2onnx_graph(model, opset, **kw), ref, exporter="onnx.helper (tf2onnx layout)", opset=opset,
              input="nhwc", batch="dynamic", output_kind="probabilities", variant=variant)

    vgg16_blocks = ((4, 2), (8, 2), (16, 3), (16, 3), (16, 3))
    keras("keras-vgg16-nhwc-op13", 13, vgg16_blocks, (32, 16, 10), False,
          "Keras Sequential VGG16 (widths 4..16) via tf2onnx: NHWC input, Transpose to NCHW, Conv with bias, "
          "Transpose back, Reshape [-1, 784] (Keras Flatten), MatMul + Add dense layers, Softmax")
    keras("keras-vgg11-nhwc-op9-autopad", 9, ((4, 1), (8, 1), (16, 2), (16, 2), (16, 2)), (24, 10), False,
          "Keras VGG11-like via tf2onnx at opset 9, convolutions with auto_pad=SAME_UPPER", auto_pad=True)
    keras("keras-vgg16-notop-gap-nhwc-op13", 13, vgg16_blocks, (24, 10), True,
          "Keras VGG16(include_top=False) + GlobalAveragePooling2D + Dense head via tf2onnx: Transpose back to "
          "NHWC, ReduceMean(axes=[1,2], keepdims=0)")
    keras("keras-vgg16-notop-gap-nchw-op18", 18, vgg16_blocks, (24, 10), True,
          "Keras VGG16(include_top=False) + GlobalAveragePooling2D via tf2onnx with the Transpose pushed through: "
          "ReduceMean over NCHW axes [2,3] given as an input (opset 18), keepdims=0", gap_nhwc=False)
    keras("keras-vgg16-notop-gap-nhwc-op21", 21, vgg16_blocks, (24, 10), True,
          "as keras-vgg16-notop-gap-nhwc-op13 at opset 21 (ReduceMean axes as an input)")

    # torch's GlobalAveragePool (AdaptiveAvgPool2d(1)) on NCHW + Flatten + Gemm.
    seed_for("torch-gap-op13-fold-dyn")
    model = randomise(GapVGG(), calib)
    with torch.no_grad():
        ref = model(x)
    torch_export(model, w.path("torch-gap-op13-fold-dyn.onnx"), 13, dynamic=True)
    w.add("torch-gap-op13-fold-dyn", None, ref, exporter=TORCH_EXPORTER, opset=13, batch="dynamic",
          variant="VGG16 base (widths 4..16) + AdaptiveAvgPool2d(1) (GlobalAveragePool) + flatten + 2 Linear")

    # fp16 initializers with Cast nodes; external data.
    seed_for("fp16-init-vgg11-op13")
    model = randomise(torchvision_vgg("A", False), calib)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
        ref = model(x)
    m = torch_export(model, w.path("fp16-init-vgg11-op13.onnx"), 13, dynamic=True)
    w.add("fp16-init-vgg11-op13", fp16_initializers(m), ref, exporter=TORCH_EXPORTER + " + onnx.helper (fp16)",
          opset=13, batch="dynamic",
          variant="torchvision vgg11 pattern; every float initializer stored as FLOAT16 and Cast to FLOAT "
                  "before use (fp32 compute); reference from torch with fp16-rounded weights")
    seed_for("extdata-vgg13-bn-op17")
    model = randomise(torchvision_vgg("B", True), calib)
    with torch.no_grad():
        ref = model(x)
    m = torch_export(model, w.path("extdata-vgg13-bn-op17.onnx"), 17, dynamic=True)
    onnx.save(m, w.path("extdata-vgg13-bn-op17.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="extdata-vgg13-bn-op17.onnx.data", size_threshold=0)
    w.add("extdata-vgg13-bn-op17", None, ref, exporter=TORCH_EXPORTER + " + onnx.save(save_as_external_data)",
          opset=17, batch="dynamic", external="extdata-vgg13-bn-op17.onnx.data",
          variant="torchvision vgg13_bn pattern, every initializer in the external file "
                  "extdata-vgg13-bn-op17.onnx.data (size_threshold=0)")

    # Refusals: the error must name these nodes.
    def refused(name, model, op, why, patch=None):
        seed_for(name)
        randomise(model, calib)
        with torch.no_grad():
            ref = model(x)
        if patch:
            model = patch(model)
        m = torch_export(model, w.path(name + ".onnx"), 13, dynamic=True)
        if op == "LRN":  # torch has no LRN symbolic: the placeholder Relu becomes ONNX's LRN, same math as torch's
            lrn = [n for n in m.graph.node if n.op_type == "Relu"][1]
            lrn.op_type = "LRN"
            lrn.name = lrn.name.replace("Relu", "LRN")
            for k, v in (("size", 5), ("alpha", 1e-4), ("beta", 0.75), ("bias", 1.0)):
                set_attr(lrn, k, v)
        node = (node_named(m, "Conv", 1) if op == "Conv" else node_named(m, op))
        w.add(name, m if op == "LRN" else None, ref, exporter=TORCH_EXPORTER + (" + onnx.helper" if patch else ""),
              opset=13, batch="dynamic", variant=why, refusal={"node": node, "op": op})

    def lrn_placeholder(model):
        placeholder = copy.deepcopy(model)
        placeholder.odd = nn.ReLU()
        return placeholder

    refused("refuse-residual-add", ResidualVGG(), "Add",
            "a residual branch: conv2(x) + x, where the Add joins two branches")
    refused("refuse-group-conv", OddOpVGG("group"), "Conv", "a grouped convolution (group=2)")
    refused("refuse-lrn", OddOpVGG("lrn"), "LRN", "LocalResponseNorm (LRN, as AlexNet-era models have), an op "
            "snapscore lacks; exported with a placeholder Relu that is then rewritten to LRN", patch=lrn_placeholder)
    refused("refuse-tanh", OddOpVGG("tanh"), "Tanh", "a Tanh activation, an op snapscore lacks")

    w.finish()
    total = sum(os.path.getsize(w.path(f)) for f in os.listdir(out))
    print(f"{len(w.entries)} fixtures, {total / 1e6:.1f} MB in {out}")


# ------------------------------------------------------------------------------------------ full size

def make_full(out):
    """Full-size torchvision vgg16 / vgg16_bn (random init, rescaled as the fixtures are, conv biases zero as
    torchvision's init leaves them) for a hand check: `snapscore verify --model OUTDIR/NAME.onnx --reference
    OUTDIR/NAME.io.safetensors` (the reference holds `input` [1,3,224,224], `output` and the same as `logits`)."""
    import torchvision
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(1)
    calib = torch.randn(2, 3, 224, 224, generator=g)
    x = torch.randn(1, 3, 224, 224, generator=g)
    for name, ctor, opset, fold in (("vgg16-op17", torchvision.models.vgg16, 17, True),
                                    ("vgg16_bn-op17", torchvision.models.vgg16_bn, 17, True),
                                    ("vgg16-op11-nofold", torchvision.models.vgg16, 11, False)):
        seed_for(name)
        model = randomise(ctor(weights=None), calib)
        with torch.no_grad():
            for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
                conv.bias.zero_()  # as torchvision's init leaves them (torch.onnx shares them through Identity)
            ref = model(x)
        torch_export(model, os.path.join(out, name + ".onnx"), opset, fold=fold, dynamic=True)
        # `logits` repeats `output` under the name snapscore verify reads.
        write_safetensors(os.path.join(out, name + ".io.safetensors"),
                          {"input": x.numpy(), "output": ref.numpy(), "logits": ref.numpy()})
        print(f"{out}/{name}.onnx: opset {opset}, do_constant_folding={fold}, |output| max {ref.abs().max():.3g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="fixture folder (default: %(default)s)")
    parser.add_argument("--full", metavar="OUTDIR", help="write the full-size hand-check models there instead")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.full:
        make_full(args.full)
    else:
        make_fixtures(args.out)
