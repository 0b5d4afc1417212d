"""KFP v2 components of the textcnn pipeline, one folder each (installed as `textcnn_components`).

Each component is a thin lightweight component: its body imports `textcnn`, calls the step's
`run` function and logs the finished step to MLflow. Nothing is implemented twice.
"""
