"""The textcnn Kubeflow pipeline (installed as `textcnn_pipeline`): factory, local run, compile, submit."""
