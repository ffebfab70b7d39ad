#!/usr/bin/env python3
"""validate_job.py SIM FILE: what is particular to the sweep's Indexed Job (k8s/sim-sweep.yaml).

`make validate` first runs the manifest validator through tests/validate_manifests.py, which checks every
Job (this one included) against a batch/v1 Job schema and the restricted Pod Security profile. This adds
what only the sweep has:
  * one batch/v1 Job with completionMode Indexed, completions = the N of the container's
    "--shard $(JOB_COMPLETION_INDEX)/N", parallelism <= completions;
  * the container's arguments against bin/sim's own parser (with the index 0 and --help after them: every
    option before --help is parsed and checked).
Exit status 0 when all hold, 1 otherwise, 2 on usage.
"""
import re
import subprocess
import sys

import yaml

if len(sys.argv) != 3:
    sys.stderr.write("usage: validate_job.py SIM FILE\n")
    sys.exit(2)
sim, path = sys.argv[1:3]
problems = []
with open(path) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
if len(docs) != 1:
    sys.exit("%s: expected one document, found %d" % (path, len(docs)))
job = docs[0]
spec = job.get("spec") or {}
if job.get("apiVersion") != "batch/v1" or job.get("kind") != "Job":
    problems.append("not a batch/v1 Job")
if spec.get("completionMode") != "Indexed":
    problems.append("completionMode is not Indexed")
pod = (spec.get("template") or {}).get("spec") or {}
containers = pod.get("containers") or []
if len(containers) != 1:
    problems.append("expected one container")
args = containers[0].get("args", []) if containers else []
shard = [a for a in args if "$(JOB_COMPLETION_INDEX)" in a]
m = re.fullmatch(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", shard[0]) if len(shard) == 1 else None
if not m or args[args.index(shard[0]) - 1] != "--shard":
    problems.append('no "--shard $(JOB_COMPLETION_INDEX)/N" in the container\'s args')
elif int(m.group(1)) != spec.get("completions"):
    problems.append("completions (%s) is not the N of --shard (%s)" % (spec.get("completions"), m.group(1)))
if spec.get("parallelism", 1) > spec.get("completions", 1):
    problems.append("parallelism above completions")
run = subprocess.run([sim] + [a.replace("$(JOB_COMPLETION_INDEX)", "0") for a in args] + ["--help"],
                     capture_output=True, text=True)
if run.returncode != 0:
    problems.append("bin/sim refuses the args: " + run.stderr.strip())
for p in problems:
    print("FAIL %s: %s" % (path, p))
if not problems:
    print("ok   %s: Indexed Job, %d parts = --shard N, args pass bin/sim" % (path, spec["completions"]))
sys.exit(1 if problems else 0)
