"""Export tools: materialize OFA subnets as standalone (quantized) TFLite models, inspect and run them."""
from tools.export import ExportResult as ExportResult
from tools.export import export_keras_model as export_keras_model
from tools.export import export_subnet as export_subnet
from tools.export import write_atomic as write_atomic
from tools.host_runner import HostRunResult as HostRunResult
from tools.host_runner import predict as predict
from tools.host_runner import run_tflite as run_tflite
from tools.inspect_model import ModelReport as ModelReport
from tools.inspect_model import inspect_tflite as inspect_tflite
from tools.quantize import QUANTIZE_MODES as QUANTIZE_MODES
from tools.quantize import ConversionError as ConversionError
from tools.quantize import QuantizeOptions as QuantizeOptions
from tools.tflite_metadata import ModelMetadata as ModelMetadata
from tools.tflite_metadata import read_metadata as read_metadata
