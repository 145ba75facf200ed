"""Tests of the synthetic people in hardship."""
