#!/bin/bash
# Solve spec files with a replica-mi binary, one line per spec: label, spec, exit code, wall
# seconds, H, I(T_L-1;T_L), scheme, fixed-point and ML-VAMP sweeps, channel evaluations,
# continuation steps (or the start of the error message).
# usage: scripts/measure_specs.sh LABEL BINARY SPEC...   (MAX_SECONDS=30 by default)
label=$1; bin=$2; shift 2
tmp=$(mktemp -d)
for f in "$@"; do
  s=$(date +%s.%N)
  timeout 600 "$bin" entropy --json --max-seconds "${MAX_SECONDS:-30}" "$f" > "$tmp/out.json" 2> "$tmp/out.err"
  rc=$?; e=$(date +%s.%N)
  python3 - "$label" "$f" "$rc" "$s" "$e" "$tmp" <<'PY'
import json, sys
label, f, rc, s, e, tmp = sys.argv[1:]
t = float(e) - float(s)
name = f.split('/')[-1]
try:
    d = json.load(open(tmp + '/out.json'))
    c = d['counters']
    print(label, name, 'rc=' + rc, '%.2fs' % t, 'H=%.10g' % d['entropy'],
          'I=%.10g' % d['mi_last_layer'], d['scheme'], 'fp=%d' % c['sweeps_fixed_point'],
          'vamp=%d' % c['sweeps_vamp'], 'evals=%.2e' % c['evals'],
          'cont=%d' % c['continuation_steps'])
except Exception:
    err = open(tmp + '/out.err').read().replace('\n', ' ')
    print(label, name, 'rc=' + rc, '%.2fs' % t, err[:160])
PY
done
rm -rf "$tmp"
