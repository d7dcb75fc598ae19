"""`synthcam export`: verified clips in the layout a consumer reads (see docs/export.md).

    core.py      export(): store -> checked clips -> entries -> diff -> atomic apply
    clips.py     which clips may be exported: done jobs whose files still match their sha256
    labels.py    expected_labels.json from declared facts and ground truth, never guessed
    metadata.py  metadata.json and scenario_spec.json from the file's header and the job
    layouts.py   nemotron folders and the flat layout with its CSV/JSON index
    tree.py      the output folder as owned entries: diff, atomic writes, the export record
"""

from .clips import Refusal
from .core import LAYOUTS, ExportResult, export
from .labels import CATEGORY_LEVEL, RISK_CATEGORY, RISK_SCORES, ExpectedLabels
from .metadata import Metadata, ScenarioSpec
from .tree import RECORD, Change

__all__ = [
    "CATEGORY_LEVEL", "Change", "ExpectedLabels", "ExportResult", "LAYOUTS", "Metadata", "RECORD", "RISK_CATEGORY",
    "RISK_SCORES", "Refusal", "ScenarioSpec", "export",
]
