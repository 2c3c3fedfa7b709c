"""Runs: a training run's options, training and its distributed launch, checkpoints, evaluation,
the official whole-body metrics, and the run record that every table and figure is computed from."""
