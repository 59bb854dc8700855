"""Registry tag names: the one definition every writer and reader of a model version uses.

Training writes the lineage tags; the gate writes the `gate.*` tags; promotion, serving and
batch scoring read them. A renamed tag here renames it everywhere.
"""

from typing import Final

# Written by `modelops train` on the run and the model version: the reproducibility triple and more.
GIT_SHA: Final = "git_sha"
GIT_DIRTY: Final = "git_dirty"
DATA_MD5: Final = "data_md5"
TRAIN_MD5: Final = "train_md5"
EVAL_MD5: Final = "eval_md5"
CONFIG_SHA256: Final = "config_sha256"
MODEL_SHA256: Final = "model_sha256"
DATA_VALIDATION: Final = "data_validation"
CONFIG_OVERRIDES: Final = "config_overrides"

# The tags a release needs to trace a prediction back to code and data.
LINEAGE: Final = (GIT_SHA, GIT_DIRTY, DATA_MD5, TRAIN_MD5, EVAL_MD5, CONFIG_SHA256)

# Written by `modelops gate` on the candidate version.
GATE_VERDICT: Final = "gate.verdict"
GATE_REPORT_SHA256: Final = "gate.report_sha256"
GATE_CHAMPION: Final = "gate.champion"
# The rules that judged it: sha256 of the gates.yaml and features.yaml bytes the gate read
# (from the trusted base branch in CI), and the md5 of the pinned evaluation set it scored.
GATE_RULES_SHA256: Final = "gate.gates_sha256"
GATE_FEATURES_SHA256: Final = "gate.features_sha256"
GATE_EVAL_MD5: Final = "gate.eval_md5"
# ISO-8601 UTC time the gate ran; re-promoting a rolled-back version needs a gate newer than the rollback.
GATE_AT: Final = "gate.at"
# Run artifact path of gate.json.
GATE_ARTIFACT: Final = "gate/gate.json"

# Run artifact path of the baseline profile the training data was accepted against; batch
# scoring checks new data against the served version's copy.
BASELINE_PROFILE_ARTIFACT: Final = "baseline/profile.json"
