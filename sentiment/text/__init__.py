"""Text preprocessing in the TensorFlow graph: normalization, tokenization, vocabulary lookup,
truncation, padding and length bucketing."""
