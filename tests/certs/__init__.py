"""Tests of the development CA, its certificates and the caller identity read from them."""
