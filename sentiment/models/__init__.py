"""Keras models: text classifiers and seq2seq forecasters."""
