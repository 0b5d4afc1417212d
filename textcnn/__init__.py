"""TextCNN (Kim 2014) text classification: clean, vocab, train, evaluate, export, predict.

Every pipeline step is a plain function in this package (`textcnn.<step>.run`) with a
matching `textcnn <step>` subcommand; the KFP components and the images call the same code.
"""

__version__ = "0.1.0"
