"""dimgrow_tf: DimGrow field-level embedding dimension search for Keras 3."""

from dimgrow_tf.callbacks.dimgrow_callback import DimGrowCallback
from dimgrow_tf.callbacks.dimgrow_tensorboard import DimGrowTensorBoard
from dimgrow_tf.callbacks.growth_rule import GrowthRule
from dimgrow_tf.data.criteo import CriteoLoader
from dimgrow_tf.data.csv_loader import CsvLoader
from dimgrow_tf.data.csv_schema import CsvSchema
from dimgrow_tf.data.dataset_spec import DatasetSpec
from dimgrow_tf.data.frappe import FrappeLoader
from dimgrow_tf.data.list_column import ListColumn
from dimgrow_tf.data.load_dataset import load_arrays
from dimgrow_tf.data.load_dataset import load_dataset
from dimgrow_tf.data.load_stats import LoadStats
from dimgrow_tf.data.loader_utils import MalformedRowError
from dimgrow_tf.data.movielens import MovieLensLoader
from dimgrow_tf.data.text_column import TextColumn
from dimgrow_tf.data.vocabulary import Vocabulary
from dimgrow_tf.distribute.distributed_fit import distributed_fit
from dimgrow_tf.distribute.distributed_fit_config import DistributedFitConfig
from dimgrow_tf.export.compact_model import compact_model
from dimgrow_tf.export.export_saved_model import export_saved_model
from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.layers.dcn_v2 import DCNv2
from dimgrow_tf.layers.deep_fm import DeepFM
from dimgrow_tf.layers.dimgrow_embedding import DimGrowEmbedding
from dimgrow_tf.layers.fieldwise_dimgrow_embedding import FieldwiseDimGrowEmbedding
from dimgrow_tf.layers.fixed_field_embedding import FixedFieldEmbedding
from dimgrow_tf.layers.text_tokenizer import TextTokenizer
from dimgrow_tf.layers.wide_deep import WideDeep
from dimgrow_tf.models.builders import build_model
from dimgrow_tf.models.builders import build_search_model
from dimgrow_tf.models.builders import keyed_model
from dimgrow_tf.models.builders import uniform_fields
from dimgrow_tf.models.search_and_retrain import TrainSettings
from dimgrow_tf.models.search_and_retrain import search_and_retrain
from dimgrow_tf.models.search_and_retrain import searched_model
from dimgrow_tf.models.search_report import write_search_report
from dimgrow_tf.models.search_result import SearchResult
from dimgrow_tf.optimizers.lazy_adam import LazyAdam
from dimgrow_tf.resize.field_resize import FieldResize
from dimgrow_tf.resize.model_resize import apply_resize
from dimgrow_tf.resize.optimizer_state import resize_optimizer_state
from dimgrow_tf.search_config import SearchConfig

__version__ = "0.1.0"

__all__ = [
    "CriteoLoader",
    "CsvLoader",
    "CsvSchema",
    "DatasetSpec",
    "FrappeLoader",
    "ListColumn",
    "LoadStats",
    "MalformedRowError",
    "MovieLensLoader",
    "TextColumn",
    "Vocabulary",
    "load_arrays",
    "load_dataset",
    "DCNv2",
    "DeepFM",
    "DimGrowCallback",
    "DimGrowEmbedding",
    "DimGrowTensorBoard",
    "DistributedFitConfig",
    "FieldConfig",
    "FieldResize",
    "FieldwiseDimGrowEmbedding",
    "FixedFieldEmbedding",
    "GrowthRule",
    "LazyAdam",
    "SearchConfig",
    "SearchResult",
    "TextTokenizer",
    "TrainSettings",
    "WideDeep",
    "apply_resize",
    "build_model",
    "build_search_model",
    "compact_model",
    "distributed_fit",
    "export_saved_model",
    "keyed_model",
    "resize_optimizer_state",
    "search_and_retrain",
    "searched_model",
    "uniform_fields",
    "write_search_report",
]
