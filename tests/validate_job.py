#!/usr/bin/env python3
"""validate_job.py VALIDATOR SIM FILE: checks the Indexed Job of k8s/sim-sweep.yaml.

The offline manifest validator has no schema for batch/v1 Job, so this checks what it can without one:
  * the Job's own fields: batch/v1 Job, completionMode Indexed, completions = N of the container's
    "--shard $(JOB_COMPLETION_INDEX)/N", parallelism <= completions, restartPolicy Never or OnFailure,
    backoffLimitPerIndex only with Indexed;
  * the pod template against the v1.30 strict schema and the validator's rules, by giving it to the validator
    inside a StatefulSet (whose spec.template is the same PodTemplateSpec);
  * the container's arguments against bin/sim's own parser (with the index 0 and --help after them: every
    option before --help is parsed and checked).
Exit status 0 when all hold, 1 otherwise.
"""
import copy, re, subprocess, sys, tempfile, yaml

validator, sim, path = sys.argv[1:4]
problems = []
docs = [d for d in yaml.safe_load_all(open(path)) if d]
if len(docs) != 1:
    sys.exit("%s: expected one document, found %d" % (path, len(docs)))
job = docs[0]
spec = job.get("spec", {})
if job.get("apiVersion") != "batch/v1" or job.get("kind") != "Job":
    problems.append("not a batch/v1 Job")
if spec.get("completionMode") != "Indexed":
    problems.append("completionMode is not Indexed")
tmpl = spec.get("template", {})
pod = tmpl.get("spec", {})
containers = pod.get("containers", [])
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
if pod.get("restartPolicy") not in ("Never", "OnFailure"):
    problems.append("a Job's pods need restartPolicy Never or OnFailure")
run = subprocess.run([sim] + [a.replace("$(JOB_COMPLETION_INDEX)", "0") for a in args] + ["--help"],
                     capture_output=True, text=True)
if run.returncode != 0:
    problems.append("bin/sim refuses the args: " + run.stderr.strip())
sts = {"apiVersion": "apps/v1", "kind": "StatefulSet",
       "metadata": copy.deepcopy(job["metadata"]),
       "spec": {"serviceName": "sim-sweep", "replicas": 1,
                "selector": {"matchLabels": dict(tmpl.get("metadata", {}).get("labels", {}))},
                "template": copy.deepcopy(tmpl)}}
sts["spec"]["template"]["spec"]["restartPolicy"] = "Always"  # what a StatefulSet allows; the Job's is checked above
with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
    yaml.safe_dump(sts, f)
    f.flush()
    out = subprocess.run([validator, "--no-advice", f.name], capture_output=True, text=True)
    if out.returncode != 0:
        problems.append("the pod template fails the validator:\n" + out.stdout + out.stderr)
for p in problems:
    print("FAIL %s: %s" % (path, p))
if not problems:
    print("ok   %s: Indexed Job, %d parts = --shard N, pod template passes the validator, args pass bin/sim"
          % (path, spec["completions"]))
sys.exit(1 if problems else 0)
