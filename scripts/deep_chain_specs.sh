#!/bin/bash
# Write the deep linear chains of the depth measurement (Gaussian prior of variance 1; L linear
# layers of alpha 1, Gaussian weights of variance 1 and noise 0.01 each) as spec files
# DIR/deep_L.toml, to time with scripts/measure_specs.sh.
# usage: scripts/deep_chain_specs.sh DIR L...
dir=$1; shift
mkdir -p "$dir"
for L in "$@"; do
  {
    printf '[prior]\nkind = "gaussian"\nvar = 1.0\n'
    for _ in $(seq "$L"); do
      printf '[[layers]]\nalpha = 1.0\nactivation = "linear"\nnoise_var = 0.01\nweights = { kind = "gaussian", var = 1.0 }\n'
    done
  } > "$dir/deep_$L.toml"
done
