"""A BentoML service for the same fitted pipeline (run in the benchmark's throw-away venv).

MODEL_SKOPS=/path/model.skops TRUSTED="..." FEATURES="a,b,..." bentoml serve bento_service:Model
"""

import os

import bentoml
import numpy as np


@bentoml.service(workers=1)
class Model:
    def __init__(self) -> None:
        import skops.io

        trusted = [t for t in os.environ.get("TRUSTED", "").split(",") if t]
        self.pipeline = skops.io.load(os.environ["MODEL_SKOPS"], trusted=trusted)
        self.features = os.environ["FEATURES"].split(",")

    @bentoml.api
    def predict(self, records: list[dict]) -> list[float]:
        import pandas as pd

        frame = pd.DataFrame.from_records(records, columns=self.features)
        return np.asarray(self.pipeline.predict_proba(frame)[:, 1], dtype=float).tolist()
