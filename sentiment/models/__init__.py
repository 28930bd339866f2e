"""Keras models: text classifiers, seq2seq forecasters (and their ensembles), and the lazy
Adam optimizer for large embeddings."""
