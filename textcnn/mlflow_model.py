"""The exported SavedModel as an MLflow pyfunc model, logged as "models from code" (no pickle).

MLflow runs this file when it loads the model; the SavedModel comes in as the artifact
`saved_model` and the textcnn package travels with the model (code_paths).
"""

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class TextcnnModel(PythonModel):
    """Raw texts (column `text`) in; `label` and its `probability` out."""

    def load_context(self, context):
        from textcnn.predict import Predictor

        self.predictor = Predictor(context.artifacts["saved_model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        probs = self.predictor.probabilities([str(t) for t in model_input["text"]])
        best = probs.argmax(axis=1)
        return pd.DataFrame({"label": [self.predictor.labels[i] for i in best],
                             "probability": probs.max(axis=1).astype(float)})


mlflow.models.set_model(TextcnnModel())
