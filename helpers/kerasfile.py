"""Read a ``.keras`` file of a :func:`helpers.model.build_model` network without Keras.

Sampling runs on :class:`helpers.engine.NumpyRNN`, which needs only the weight arrays;
importing Keras and its backend to get them costs seconds, the rest of a sample a
fraction of one. A ``.keras`` file is a zip archive of

* ``config.json`` - the layers and their settings (JSON, read as data only),
* ``metadata.json`` - the Keras version that wrote it,
* ``model.weights.h5`` - every variable, in HDF5 groups named by Keras' own rule:
  ``layers/<snake_case(class name)>[_k]``, numbered in the order of ``config.json``'s
  layer list (``layers/lstm``, ``layers/lstm_1``...), each holding ``vars/0``, ``vars/1``...
  in the order the layer created them (a recurrent layer's under ``cell/vars``).

So this module maps each layer of ``config.json`` to its group by that rule, checks the
group's recorded layer name and every array's shape, and builds the NumPy network.
Nothing in the archive is executed: JSON and plain HDF5 arrays only, and an archive
that is not a network this package builds is refused, as is any HDF5 object that
would make the HDF5 library read another file (links, external or virtual storage)
or run a filter.

Nothing in it is allocated on trust either. :func:`check_budget` (which
:func:`load_engine` runs, and :func:`load` runs before ``keras.models.load_model``)
refuses, before any array is made: a file that is not regular or is over
:data:`helpers.limits.MAX_MODEL_BYTES`;
members whose declared or inflated size is over budget, or that inflate to more than
:data:`MAX_INFLATION` times what they store (Keras reads ``model.weights.h5`` whole into
memory; weights barely compress, zeros a thousandfold); a ``config.json`` whose layers
declare more weights than ``model.weights.h5`` has bytes (a 13 KB file declaring a
6 GB embedding), counted as Keras builds them (:func:`declared_weights`); and any HDF5
array whose shape declares more bytes than the file stores for it (an array left
unwritten reads as gigabytes of fill value). ``model.weights.h5`` itself is inflated to
a temporary file, once its first bytes are HDF5's, never into memory.

:func:`load` is the one guarded way in for every caller (:mod:`helpers.zoo`,
:class:`helpers.rundir.RunDir`): the NumPy engine, or a Keras model loaded in safe mode
once the budget is checked, every refusal one :class:`KerasFileError`.

>>> from helpers.kerasfile import load_engine
>>> net = load_engine("zoo/shakespeare_char/model.keras")      # doctest: +SKIP
>>> net                                                         # doctest: +SKIP
NumpyRNN(vocab=68, LSTM(512) -> LSTM(512))
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .engine import NumpyRNN, _Cell
from .errors import TextgenError
from .limits import MAX_MODEL_BYTES, InputRefused, check_size, open_zip, read_capped

__all__ = ["KerasFileError", "load", "load_engine", "read_config", "model_layers", "check_budget",
           "declared_weights"]

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
# config.json of a build_model network is 7 KB (one of 50 layers would be ~60 KB); a bigger
# one is not ours, and 1 MB of JSON parses to at most some tens of MB of objects
MAX_JSON_BYTES = 1 << 20
GATES = {"LSTM": 4, "GRU": 3}
# what pyfive raises for a damaged file, besides OSError (it checks the format with asserts)
_PYFIVE_ERRORS = (ValueError, NotImplementedError, AssertionError, IndexError, struct.error)
# the smallest float a Keras variable is stored in (float16): a declared weight takes at
# least this many bytes of model.weights.h5
MIN_WEIGHT_BYTES = 2
MAX_MEMBERS = 1000  # Keras writes three (config, metadata, weights), maybe a few assets
# How much bigger a member may inflate than it is stored. Keras stores members as they
# are (ratio 1.0); trained float weights deflate barely: the zoo's model.weights.h5 shrink
# 1.075-1.081x at zlib level 9, a 10 k-weight model 1.26x. Ten times is a wide margin;
# zeros deflate 1000x. Members below the floor are small enough to inflate anyway.
MAX_INFLATION = 10
INFLATION_FLOOR = 16 << 20
# the first bytes of an HDF5 file as h5py writes it for Keras (superblock at offset 0)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# groups and arrays walked in model.weights.h5: a build_model network has a few dozen
MAX_H5_OBJECTS = 10_000
# the layers whose weights declared_weights can tell from their settings (and the
# number of gate blocks of a recurrent one); any other kind of layer is refused
RECURRENT = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}
PASS_THROUGH = {"Dropout"}  # no weights, output as wide as input


class KerasFileError(TextgenError, ValueError):
    """A ``.keras`` file is damaged, or holds a network this package did not build."""


def _fail(path: Path, why: str) -> KerasFileError:
    return KerasFileError(f"{path.name}: {why}")


def _read_json(zf: zipfile.ZipFile, member: str, path: Path) -> dict:
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise _fail(path, f"the archive has no {member}; it is not a Keras 3 .keras "
                          "file.") from None
    if info.file_size > MAX_JSON_BYTES:
        raise _fail(path, f"{member} is {info.file_size:,} bytes, far more than a model "
                          "of this package writes; refusing to read it.")
    try:
        value = json.loads(_read_member(zf, info, MAX_JSON_BYTES, path).decode("utf-8"))
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError,
            RuntimeError) as e:
        raise _fail(path, f"{member} cannot be read from the archive ({e}); the file is "
                          "truncated or corrupt.") from e
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(path, f"{member} is not valid JSON ({e}).") from e
    if not isinstance(value, dict):
        raise _fail(path, f"{member} is not a JSON object.")
    return value


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, path: Path
                 ) -> bytes:
    """A member's bytes: its declared size within ``budget`` before inflating, and what
    it inflates to capped at that declared size while reading (a zip bomb lies)."""
    try:
        check_size(info.file_size, budget, f"{path.name}: {info.filename}")
        with zf.open(info) as fh:
            return read_capped(fh, info.file_size, f"{path.name}: {info.filename}")
    except InputRefused as e:
        raise KerasFileError(str(e)) from None


def _open(path: Path) -> zipfile.ZipFile:
    if not os.path.lexists(path):
        raise KerasFileError(f"{path.name} is missing ({path}).")
    try:
        # a regular file within budget (a FIFO or a device would never end), and a
        # handful of entries (a .keras file has three)
        zf = open_zip(path, MAX_MODEL_BYTES, MAX_MEMBERS, path.name)
        size = path.stat().st_size
    except InputRefused as e:
        raise KerasFileError(str(e)) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise _fail(path, f"not a valid .keras file (truncated or corrupt: {e}).") from e
    try:
        _check_members(zf, size, path)
    except BaseException:
        zf.close()
        raise
    return zf


def _check_members(zf: zipfile.ZipFile, size: int, path: Path) -> None:
    """Refuse, from the central directory alone, an archive whose members would inflate
    to more than the model budget or far more than they are stored: Keras reads
    ``model.weights.h5`` whole into memory, so a member of zeros would cost its
    inflated size however few bytes the file holds. (zipfile never yields more than a
    member's declared size, so the declared sizes bound what inflating can cost.)"""
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.compress_size > size:
            raise _fail(path, f"{info.filename} says it stores {info.compress_size:,} bytes "
                              f"in an archive of {size:,}; the file is truncated or corrupt.")
        if info.file_size > INFLATION_FLOOR and info.file_size > MAX_INFLATION * max(
                info.compress_size, 1):
            raise _fail(path, f"{info.filename} inflates to {info.file_size:,} bytes from "
                              f"{info.compress_size:,} stored, more than {MAX_INFLATION}x; "
                              "model weights barely compress, so this is a zip bomb or a "
                              "forgery. Refusing it before inflating it.")
        try:
            check_size(total, MAX_MODEL_BYTES, f"{path.name}: its members together")
        except InputRefused as e:
            raise KerasFileError(str(e)) from None


def read_config(path: str | os.PathLike) -> dict:
    """``config.json`` of a ``.keras`` file, as data."""
    path = Path(path)
    with _open(path) as zf:
        return _read_json(zf, CONFIG, path)


def _snake_case(name: str) -> str:
    """Keras' ``naming.to_snake_case``: the group name of a layer class in the weights."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _inbound(layer: dict) -> list[str]:
    """Names of the layers feeding ``layer`` in a functional config."""
    names = []
    nodes = layer.get("inbound_nodes")
    for node in nodes if isinstance(nodes, list) else []:
        args = node.get("args") if isinstance(node, dict) else None
        for arg in args if isinstance(args, list) else []:
            cfg = arg.get("config") if isinstance(arg, dict) else None
            hist = cfg.get("keras_history") if isinstance(cfg, dict) else None
            if isinstance(hist, list) and hist:
                names.append(hist[0])
    return names


def model_layers(config: dict, path: str | os.PathLike = "model.keras") -> list[dict]:
    """The layers of a ``build_model`` network from its ``config.json``, each a dict with
    ``class``, ``name``, ``config`` and ``group`` (its path in ``model.weights.h5``).

    Raises :class:`KerasFileError` for anything else: other layer types (a ``Lambda``
    would be code), another order, activations the NumPy engine does not compute."""
    path = Path(path)

    def refuse(why: str) -> KerasFileError:
        return _fail(path, f"{why}; this is not a model built by helpers.model.build_model. "
                           "Load it with Keras instead (zoo.load(..., backend=True)).")

    if not isinstance(config, dict):
        raise refuse("config.json is not a JSON object")
    if config.get("class_name") != "Functional" or not isinstance(config.get("config"), dict):
        raise refuse(f"the archive holds a {config.get('class_name')!r} model, not a "
                     "functional one")
    layers = config["config"].get("layers")
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise refuse("config.json has no list of layers")
    kinds = [x.get("class_name") for x in layers]
    # InputLayer, Embedding, an optional Dropout of whole tokens, then per recurrent layer
    # the layer and an optional Dropout, then Dense: exactly what build_model makes
    # (dropout does nothing at inference, so its settings do not matter here)
    pattern = re.compile(r"InputLayer Embedding( Dropout)?( (LSTM|GRU)( Dropout)?)+ Dense")
    if not pattern.fullmatch(" ".join(str(k) for k in kinds)) or len(set(
            k for k in kinds if k in GATES)) != 1:
        raise refuse(f"its layers are {kinds}")
    out_layers = config["config"].get("output_layers")
    if isinstance(out_layers, list) and len(out_layers) == 1 and isinstance(out_layers[0], list):
        out_layers = out_layers[0]  # Keras writes one output as [name, 0, 0], or nested
    if not (isinstance(out_layers, list) and out_layers[:1] == ["logits"]):
        raise refuse("its output is not the layer 'logits'")
    used: dict[str, int] = {}
    out = []
    for i, layer in enumerate(layers):
        kind, cfg = layer["class_name"], layer.get("config")
        if not isinstance(cfg, dict):
            raise refuse(f"layer {i} has no settings")
        name = cfg.get("name")
        if i and _inbound(layer) != [layers[i - 1].get("config", {}).get("name")]:
            raise refuse(f"layer {name!r} does not read the layer before it")
        if cfg.get("quantization_config") is not None:
            raise refuse(f"layer {name!r} is quantized")
        if kind == "Embedding" and name != "embedding":
            raise refuse(f"the embedding layer is named {name!r}")
        if kind == "Dense" and (name != "logits" or cfg.get("activation") != "linear"):
            raise refuse("the output layer is not a linear Dense named 'logits'")
        if kind in GATES:
            if (cfg.get("activation"), cfg.get("recurrent_activation")) != ("tanh", "sigmoid"):
                raise refuse(f"layer {name!r} uses other activations than tanh/sigmoid")
            if cfg.get("go_backwards") or not cfg.get("return_sequences", True):
                raise refuse(f"layer {name!r} runs backwards or returns one step only")
            if kind == "GRU" and not cfg.get("reset_after", True):
                raise refuse(f"layer {name!r} is a GRU(reset_after=False); only the Keras "
                             "default reset_after=True is supported")
        # Keras names each layer's weight group by its class, numbered in layer order
        base = _snake_case(kind)
        group = f"layers/{base}" if base not in used else f"layers/{base}_{used[base] + 1}"
        used[base] = used.get(base, -1) + 1
        out.append({"class": kind, "name": name, "config": cfg, "group": group})
    return out


def _hdf5():
    """h5py, or pyfive (pure Python, read-only) where h5py cannot be installed: the
    browser build runs on Pyodide, which has no h5py (lite/README.md)."""
    try:
        import h5py
    except ImportError:
        import pyfive

        return pyfive
    return h5py


def _array_pyfive(h5, where: str, shape: tuple[int, ...], path: Path) -> np.ndarray:
    """:func:`_array` for a file read by pyfive: the same refusals, in its terms (it
    follows no external link or storage at all; a soft link is a name, not an address)."""
    import pyfive

    parent, _, leaf = where.rpartition("/")
    grp = h5.get(parent)
    target = getattr(grp, "_links", {}).get(leaf) if isinstance(grp, pyfive.Group) else None
    if target is None:
        raise _fail(path, f"the weights file has no array {where} (missing weights; the "
                          "file is incomplete or from another Keras version).")
    if isinstance(target, str):
        raise _fail(path, f"{where} is a link, not an array in the file; refusing it.")
    ds = grp[leaf]
    if (not isinstance(ds, pyfive.Dataset) or ds.compression or ds.shuffle
            or ds.fletcher32 or ds.scaleoffset):
        raise _fail(path, f"{where} is not a plain array in the file; refusing it.")
    return _checked(np.dtype(ds.dtype), tuple(ds.shape), shape, lambda: ds[()], where, path)


def _checked(dtype, got: tuple, shape: tuple, read, where: str, path: Path) -> np.ndarray:
    if dtype.kind != "f" or got != tuple(shape):
        raise _fail(path, f"{where} has shape {got} ({dtype}), expected "
                          f"{tuple(shape)} (float); the weights do not match config.json.")
    arr = np.asarray(read(), dtype=np.float32)
    if not np.isfinite(arr).all():
        raise _fail(path, f"{where} holds NaN or infinite values; the model is broken.")
    return arr


def _array(h5, where: str, shape: tuple[int, ...], path: Path) -> np.ndarray:
    """One weight array, refusing anything but a plain, local, unfiltered dataset."""
    if _hdf5().__name__ == "pyfive":
        return _array_pyfive(h5, where, shape, path)
    import h5py

    parent, _, leaf = where.rpartition("/")
    grp = h5.get(parent)
    link = grp.get(leaf, getlink=True) if isinstance(grp, h5py.Group) else None
    if link is None:
        raise _fail(path, f"the weights file has no array {where} (missing weights; the "
                          "file is incomplete or from another Keras version).")
    if not isinstance(link, h5py.HardLink):  # soft and external links: never followed
        raise _fail(path, f"{where} is a link, not an array in the file; refusing it.")
    ds = grp[leaf]
    # an external link, external storage or a virtual dataset would read another file;
    # a filter would run a plugin: none of them occurs in a file Keras writes
    if (not isinstance(ds, h5py.Dataset) or ds.external or ds.is_virtual
            or ds.id.get_create_plist().get_nfilters()):
        raise _fail(path, f"{where} is not a plain array in the file; refusing it.")
    return _checked(ds.dtype, tuple(ds.shape), shape, lambda: ds[()], where, path)


def _check_group_name(h5, group: str, name: str, path: Path) -> None:
    """Keras records each layer's name on its ``vars`` group: it must be the layer that
    config.json puts at this position (where a file records it)."""
    vars_ = h5.get(f"{group}/vars")
    recorded = vars_.attrs.get("name") if vars_ is not None else None
    if isinstance(recorded, bytes):
        recorded = recorded.decode("utf-8", "replace")
    if recorded is not None and recorded != name:
        raise _fail(path, f"the weights at {group} belong to layer {recorded!r}, but "
                          f"config.json puts {name!r} there; the file is inconsistent.")


def _metadata_check(meta: dict, path: Path) -> None:
    version = str(meta.get("keras_version", ""))
    if version and not version.startswith("3."):
        raise _fail(path, f"written by Keras {version}; this reader knows the layout of "
                          "Keras 3 files. Load it with Keras (zoo.load(..., backend=True)).")


def load_engine(path: str | os.PathLike) -> NumpyRNN:
    """A :class:`~helpers.engine.NumpyRNN` with the weights of the ``.keras`` file at
    ``path`` (a ``build_model`` network), read without importing Keras.

    Raises :class:`KerasFileError` (one line, naming the file) for a missing, truncated
    or corrupt archive, a network of another shape, or missing weights."""
    path = Path(path)
    with _open(path) as zf:
        config = _read_json(zf, CONFIG, path)
        _metadata_check(_read_json(zf, METADATA, path), path)
        layers = model_layers(config, path)
        with _weights(zf, path, declared_weights(config, path)) as (h5, size):
            try:
                _check_stored(h5, size, path)
                return _build(h5, layers, path)
            except KerasFileError:
                raise
            except (OSError, KeyError, TypeError, *_PYFIVE_ERRORS) as e:  # a damaged file
                raise _fail(path, f"{WEIGHTS} is damaged ({type(e).__name__}: {e}).") from e


@contextlib.contextmanager
def _weights(zf: zipfile.ZipFile, path: Path, params: int):
    """``(open HDF5 file, its size)`` of ``model.weights.h5``, once its declared size has
    room for the ``params`` weights that config.json declares and its first bytes are
    HDF5's signature. HDF5 needs to seek, so the member is inflated, but to a temporary
    file, a megabyte at a time, never into memory; it is deleted once closed."""
    try:
        info = zf.getinfo(WEIGHTS)
    except KeyError:
        raise _fail(path, f"the archive has no {WEIGHTS} (missing weights).") from None
    need = params * MIN_WEIGHT_BYTES
    if need > info.file_size:
        raise _fail(path, f"config.json declares {params:,} weights (at least {need:,} "
                          f"bytes), but {WEIGHTS} holds only {info.file_size:,} bytes; the "
                          "file is damaged or forged. Refusing it before allocating them.")
    what = f"{path.name}: {WEIGHTS}"
    # named: pyfive reopens a real file by its name (an anonymous one's is its descriptor,
    # which it would close); h5py reads through this object
    with tempfile.NamedTemporaryFile(prefix="weights-", suffix=".h5") as tmp:
        try:
            check_size(info.file_size, MAX_MODEL_BYTES, what)
            with zf.open(info) as fh:
                head = fh.read(len(HDF5_SIGNATURE))
                if head != HDF5_SIGNATURE:
                    raise _fail(path, f"{WEIGHTS} is not a valid HDF5 file (it does not "
                                      "begin with the HDF5 signature); refusing it before "
                                      "inflating the rest.")
                tmp.write(head)
                # zipfile stops at the declared size and checks the CRC at the end
                shutil.copyfileobj(fh, tmp, 1 << 20)
        except InputRefused as e:
            raise KerasFileError(str(e)) from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError,
                RuntimeError) as e:
            raise _fail(path, f"{WEIGHTS} cannot be read ({e}); the file is truncated or "
                              "corrupt.") from e
        size = tmp.tell()
        tmp.seek(0)
        h5py = _hdf5()  # only here: the package imports this module without needing HDF5
        try:
            h5 = h5py.File(tmp, "r")
        except (OSError, *_PYFIVE_ERRORS) as e:
            raise _fail(path, f"{WEIGHTS} is not a valid HDF5 file ({e}).") from e
        with h5:
            yield h5, size


def _arrays(h5, path: Path):
    """``(dataset, declared bytes, stored bytes or None)`` for every array of an open
    HDF5 file, walking hard links only (a soft link is refused by :func:`_array` where it
    matters, never followed here), one name at a time and at most
    :data:`MAX_H5_OBJECTS` objects (a forged group of millions of names would take
    gigabytes as a list). h5py tells the bytes stored; pyfive (the browser build) does
    not, so ``None``."""
    h5py = _hdf5()
    pyfive = h5py.__name__ == "pyfive"
    todo, seen = [h5], 0
    while todo:
        grp = todo.pop()
        if pyfive:
            keys = (k for k, target in getattr(grp, "_links", {}).items()
                    if not isinstance(target, str))
        else:
            keys = (k for k in grp if isinstance(grp.get(k, getlink=True), h5py.HardLink))
        for key in keys:
            seen += 1
            if seen > MAX_H5_OBJECTS:
                raise _fail(path, f"{WEIGHTS} holds more than {MAX_H5_OBJECTS:,} groups and "
                                  "arrays; a network of this package has a few dozen. "
                                  "Refusing it.")
            obj = grp[key]
            if isinstance(obj, h5py.Group):
                todo.append(obj)
            elif isinstance(obj, h5py.Dataset):
                declared = int(np.prod(obj.shape, dtype=object)) * obj.dtype.itemsize
                yield obj, declared, None if pyfive else obj.id.get_storage_size()


def _check_stored(h5, size: int, path: Path) -> None:
    """Every array's declared bytes must be stored in the file: an unwritten (or
    partly written) array reads as its fill value, gigabytes from a few bytes. Where the
    stored bytes are not known (pyfive), the arrays together may not declare more bytes
    than the file holds (Keras stores them uncompressed)."""
    total = 0
    for obj, declared, stored in _arrays(h5, path):
        total += declared
        if stored is not None and (declared > stored or total > size):
            raise _fail(path, f"{obj.name} declares {declared:,} bytes but the file "
                              f"stores {stored:,} for it; the weights are missing or "
                              "forged. Refusing it before reading them.")
        if stored is None and total > size:
            raise _fail(path, f"{obj.name} and the arrays before it declare "
                              f"{total:,} bytes but the file holds {size:,}; the "
                              "weights are missing or forged. Refusing it before "
                              "reading them.")


def declared_weights(config: dict, path: str | os.PathLike = "model.keras") -> int:
    """How many weights Keras would allocate to build the model of ``config`` (a Keras 3
    ``config.json``), before it reads a single one: :func:`check_budget` refuses a
    config that declares more than the file holds, and :func:`load_engine` checks the
    same count.

    It never undercounts, whatever the config says; where it cannot count, it refuses
    (:class:`KerasFileError`):

    * only a ``Functional`` or ``Sequential`` model of the layers this package builds
      (InputLayer, Embedding, Dropout, LSTM, GRU, SimpleRNN, Dense) is counted; any
      other kind of layer (a convolution, an attention, a nested model, a wrapper) could
      allocate anything from its settings, so it is refused;
    * each layer reads exactly one layer before it (a chain, as ``build_model`` makes),
      whose output width is its input width: the embedding size, the units of a
      recurrent or Dense layer, the width passed through a Dropout;
    * a layer's ``build_config`` (Keras builds the layer from it before connecting it)
      may name another input width: the larger of the two is counted; any other way of
      building (``shapes_dict``) is refused."""
    path = Path(path)
    if not isinstance(config, dict) or config.get("class_name") not in (
            "Functional", "Sequential") or not isinstance(config.get("config"), dict):
        kind = config.get("class_name") if isinstance(config, dict) else None
        raise _bad(path, f"config.json holds a {kind!r} model, not a functional or "
                         "sequential one")
    chain = config["class_name"] == "Sequential"
    layers = config["config"].get("layers")
    if not isinstance(layers, list) or not layers:
        raise _bad(path, "config.json has no list of layers")
    widths: dict[str, int | None] = {}  # each layer's output width, by name
    total, before = 0, None
    for i, layer in enumerate(layers):
        kind = layer.get("class_name") if isinstance(layer, dict) else None
        kind = kind if isinstance(kind, str) else repr(kind)
        cfg = layer.get("config") if isinstance(layer, dict) else None
        if not isinstance(cfg, dict):
            raise _bad(path, f"layer {i} of config.json has no settings")
        name = cfg.get("name", layer.get("name"))
        if not isinstance(name, str) or name in widths:
            raise _bad(path, f"layer {i} of config.json has no name or a repeated one "
                             f"({name!r})")
        if kind == "InputLayer":
            shape = cfg.get("batch_shape")
            width = shape[-1] if isinstance(shape, list) and shape else None
            widths[name] = before = None if width is None else _num(
                path, width, f"the input shape of {name!r}")
            continue
        if not (kind in RECURRENT or kind in PASS_THROUGH or kind in ("Embedding", "Dense")):
            raise _bad(path, f"config.json has a layer {name!r} of kind {kind!r}, whose "
                             "weights this reader cannot count")
        width = _input_width(path, layer, name, before, widths, chain, i)
        weights, widths[name] = _layer_weights(path, kind, cfg, name, width)
        total, before = total + weights, widths[name]
    return total


def _bad(path: Path, why: str) -> KerasFileError:
    return _fail(path, f"{why}; the file is damaged or forged, or holds a network this "
                       "package does not build. Refusing it before building it.")


def _num(path: Path, value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(path, f"config.json gives {what} as {value!r}")
    return value


def _input_width(path: Path, layer: dict, name: str, before: int | None,
                 widths: dict[str, int | None], chain: bool, i: int) -> int | None:
    """The width a layer reads: its one input's output width (the layer before, in a
    Sequential chain), or what its ``build_config`` builds it with, the larger of the
    two where both are given (None: neither tells)."""
    if chain:
        if i == 0:
            raise _bad(path, f"the first layer {name!r} has no input")
        width = before
    else:
        inbound = _inbound(layer)
        if len(inbound) != 1 or inbound[0] not in widths:
            raise _bad(path, f"layer {name!r} does not read exactly one layer before it "
                             f"({inbound!r})")
        width = widths[inbound[0]]
    built = _built_width(path, layer, name)
    return built if width is None else width if built is None else max(width, built)


def _built_width(path: Path, layer: dict, name: str) -> int | None:
    """The input width ``build_config`` builds the layer with (None: not given)."""
    build = layer.get("build_config")
    if build is None or build == {}:
        return None
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if not isinstance(build, dict) or set(build) != {"input_shape"} or not (
            isinstance(shape, list) and shape):
        raise _bad(path, f"layer {name!r} has a build_config this reader cannot size "
                         f"({str(build)[:80]})")
    return None if shape[-1] is None else _num(path, shape[-1],
                                               f"the input shape of {name!r}")


def _layer_weights(path: Path, kind: str, cfg: dict, name: str, width: int | None
                   ) -> tuple[int, int | None]:
    """The weights one layer allocates, and its output width."""
    if kind == "Embedding":
        out = _num(path, cfg.get("output_dim"), f"output_dim of {name!r}")
        return _num(path, cfg.get("input_dim"), f"input_dim of {name!r}") * out, out
    if kind in PASS_THROUGH:
        return 0, width
    if width is None:
        raise _bad(path, f"the input width of layer {name!r} cannot be told from "
                         "config.json")
    out = _num(path, cfg.get("units"), f"the units of {name!r}")
    if kind == "Dense":
        return out * (width + 1), out
    # a bias of two rows (a GRU's reset_after) is the most any cell has
    return RECURRENT[kind] * out * (width + out + 2), out


def check_budget(path: str | os.PathLike) -> None:
    """Refuse the ``.keras`` file at ``path`` before Keras (or :func:`load_engine`)
    allocates anything for it: not a regular file, over budget, layers that declare more
    weights than the file holds, or arrays not stored in the file. Raises
    :class:`KerasFileError` (one line naming the file); returns None when the file may
    be loaded. Costs one read of the weights member (tens of MB for the zoo's models)."""
    path = Path(path)
    with _open(path) as zf:
        config = _read_json(zf, CONFIG, path)
        with _weights(zf, path, declared_weights(config, path)) as (h5, size):
            try:
                _check_stored(h5, size, path)
            except (OSError, KeyError, TypeError, ValueError) as e:
                if isinstance(e, KerasFileError):
                    raise
                raise _fail(path, f"{WEIGHTS} is damaged ({type(e).__name__}: {e}).") from e


def load(path: str | os.PathLike, backend: bool = True, compile: bool = False,
         where: str | None = None):
    """The network in the ``.keras`` file at ``path``, with every guard: a Keras model
    (``backend=True``; :func:`check_budget` first, then Keras' safe mode, so no code in
    the file runs and nothing is allocated on the file's word; ``compile`` as in
    ``keras.models.load_model``) or the NumPy :class:`~helpers.engine.NumpyRNN`
    (``backend=False``, read by :func:`load_engine` without importing Keras).

    Every refusal is one :class:`KerasFileError` naming the file, prefixed with
    ``where`` (``"shakespeare_char: could not load model.keras: ..."``) when given; the
    callers re-raise it as their own error class."""
    path = Path(path)
    lead = f"{where}: " if where else ""
    if not path.exists():
        raise KerasFileError(f"{lead}model file {path.name} is missing.")
    try:
        if not backend:
            return load_engine(path)  # checks the file's budget first
        check_budget(path)
    except KerasFileError as e:
        raise KerasFileError(f"{lead}could not load {e}") from e
    import keras

    try:
        # safe_mode: a Lambda layer or other code in the file is refused, never run
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises many types for damaged archives
        raise KerasFileError(f"{lead}could not load {path.name}: {type(e).__name__}: "
                             f"{e}") from e


def _build(h5, layers: list[dict], path: Path) -> NumpyRNN:
    def dim(value, what: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise _fail(path, f"config.json gives {what} as {value!r}.")
        return value

    for layer in layers:
        if layer["class"] != "InputLayer":
            _check_group_name(h5, layer["group"], layer["name"], path)
    emb_layer = layers[1]
    vocab = dim(emb_layer["config"].get("input_dim"), "the vocabulary size")
    width = dim(emb_layer["config"].get("output_dim"), "the embedding size")
    embedding = _array(h5, f"{emb_layer['group']}/vars/0", (vocab, width), path)
    cells = []
    for layer in layers:
        if layer["class"] not in GATES:
            continue
        cfg, g = layer["config"], layer["group"]
        units = dim(cfg.get("units"), f"the units of {layer['name']!r}")
        n = GATES[layer["class"]] * units
        kind = layer["class"].lower()
        W = _array(h5, f"{g}/cell/vars/0", (width, n), path)
        U = _array(h5, f"{g}/cell/vars/1", (units, n), path)
        bias_shape = (2, n) if kind == "gru" else (n,)
        if cfg.get("use_bias", True):
            b = _array(h5, f"{g}/cell/vars/2", bias_shape, path)
        else:
            b = np.zeros(bias_shape, np.float32)
        cells.append(_Cell(kind, W, U, b, units))
        width = units
    dense = layers[-1]
    if dense["config"].get("units") != vocab:
        raise _fail(path, f"the output layer has {dense['config'].get('units')!r} units "
                          f"but the vocabulary {vocab} tokens.")
    dense_W = _array(h5, f"{dense['group']}/vars/0", (width, vocab), path)
    if dense["config"].get("use_bias", True):
        dense_b = _array(h5, f"{dense['group']}/vars/1", (vocab,), path)
    else:
        dense_b = np.zeros(vocab, np.float32)
    return NumpyRNN(embedding, cells, dense_W, dense_b)
