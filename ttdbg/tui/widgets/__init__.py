"""One widget per module; each shows part of a StateView."""
