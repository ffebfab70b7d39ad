#!/usr/bin/env python3
"""validate_manifests.py VALIDATOR FILE...: the offline manifest validator, with batch/v1 Job added.

`make validate` runs the validator (VALIDATOR: the path of its script) through this wrapper. The validator
knows the Kubernetes kinds of its schema directory (Namespace, Deployment, StatefulSet, Service, ConfigMap,
PodDisruptionBudget) and the Chaos Mesh kinds, but not Job, which k8s/loadgen-job.yaml needs; without a
schema it rejects the document. So, when its schema directory has no batch/v1 Job, this wrapper:

* builds a Job schema in the validator's own flavour (Kubernetes v1.30.0 OpenAPI, standalone-strict:
  every object closed with additionalProperties false, no $ref): the pod template (spec.template),
  label selector and ObjectMeta are taken unchanged from the validator's StatefulSet schema (the same
  PodTemplateSpec and LabelSelector types), and JobSpec's own fields are written out below from the
  v1.30 API reference (batch/v1 JobSpec);
* runs the validator's main() with a schema directory that holds its own schemas plus that one (links
  to its files, in a temporary directory), so every document still gets exactly the validator's checks;
* adds what the API server and the namespace's Pod Security admission would reject in a Job and the
  schema accepts: restartPolicy other than Never/OnFailure, container names that are not DNS-1123
  labels, requests above limits, and the "restricted" profile's pod and container fields.

Exit status: the validator's (0 no errors, 1 errors, 2 usage), or 1 when the Job checks found an error.
"""
import atexit
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile

JOB_SPEC_FIELDS = {
    "activeDeadlineSeconds": {"type": ["integer", "null"], "format": "int64"},
    "backoffLimit": {"type": ["integer", "null"], "format": "int32"},
    "backoffLimitPerIndex": {"type": ["integer", "null"], "format": "int32"},
    "completionMode": {"type": ["string", "null"]},
    "completions": {"type": ["integer", "null"], "format": "int32"},
    "managedBy": {"type": ["string", "null"]},
    "manualSelector": {"type": ["boolean", "null"]},
    "maxFailedIndexes": {"type": ["integer", "null"], "format": "int32"},
    "parallelism": {"type": ["integer", "null"], "format": "int32"},
    "podFailurePolicy": {"type": ["object", "null"], "properties": {"rules": {"type": ["array", "null"]}},
                         "required": ["rules"], "additionalProperties": False},
    "podReplacementPolicy": {"type": ["string", "null"]},
    "successPolicy": {"type": ["object", "null"], "properties": {"rules": {"type": ["array", "null"]}},
                      "required": ["rules"], "additionalProperties": False},
    "suspend": {"type": ["boolean", "null"]},
    "ttlSecondsAfterFinished": {"type": ["integer", "null"], "format": "int32"},
}
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def load_validator(path):
    loader = importlib.machinery.SourceFileLoader("validate_manifests_tool", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def job_schema(statefulset):
    props = statefulset["properties"]
    sts_spec = props["spec"]["properties"]
    spec_props = dict(JOB_SPEC_FIELDS)
    spec_props["selector"] = sts_spec["selector"]
    spec_props["template"] = sts_spec["template"]
    return {
        "description": "Job represents the configuration of a single job (batch/v1, built by tests/validate_manifests.py).",
        "type": "object",
        "additionalProperties": False,
        "x-kubernetes-group-version-kind": [{"group": "batch", "kind": "Job", "version": "v1"}],
        "properties": {
            "apiVersion": {"type": ["string", "null"], "enum": ["batch/v1"]},
            "kind": {"type": ["string", "null"], "enum": ["Job"]},
            "metadata": props["metadata"],
            "spec": {"type": ["object", "null"], "properties": spec_props, "required": ["template"],
                     "additionalProperties": False},
            "status": {"type": ["object", "null"]},
        },
    }


def schema_dir_with_job(schemas):
    """A temporary schema directory: the validator's files (links) plus job-batch-v1.json."""
    tmp = tempfile.mkdtemp(prefix="validate-job.")
    atexit.register(shutil.rmtree, tmp, True)
    for sub in ("k8s", "chaos-mesh"):
        src = os.path.join(schemas, sub)
        if not os.path.isdir(src):
            continue
        os.mkdir(os.path.join(tmp, sub))
        for fn in os.listdir(src):
            os.symlink(os.path.join(src, fn), os.path.join(tmp, sub, fn))
    with open(os.path.join(schemas, "k8s", "statefulset-apps-v1.json")) as f:
        sts = json.load(f)
    with open(os.path.join(tmp, "k8s", "job-batch-v1.json"), "w") as f:
        json.dump(job_schema(sts), f)
    return tmp


def check_job(where, doc, errors):
    """What the API server or the restricted Pod Security profile rejects in a Job's pod."""
    pod = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}

    def err(path, msg):
        errors.append("ERROR   %s: %s: %s" % (where, path, msg))

    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        err("spec.template.spec.restartPolicy", "a Job's pods need Never or OnFailure")
    psc = pod.get("securityContext") or {}
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    for i, c in enumerate(pod.get("containers") or []):
        p = "spec.template.spec.containers[%d]" % i
        if not DNS1123_LABEL.match(str(c.get("name", ""))):
            err(p + ".name", "must be a DNS-1123 label")
        res = c.get("resources") or {}
        for r in ("cpu", "memory"):
            req, lim = (res.get("requests") or {}).get(r), (res.get("limits") or {}).get(r)
            if req is not None and lim is not None and QTY(req) is not None and QTY(lim) is not None \
                    and QTY(req) > QTY(lim):
                err(p + ".resources.requests." + r, "must be less than or equal to the %s limit" % r)
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            err(p + ".securityContext.allowPrivilegeEscalation", "restricted profile: must be false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            err(p + ".securityContext.capabilities.drop", "restricted profile: must include ALL")
        if sc.get("runAsNonRoot") is not True and psc.get("runAsNonRoot") is not True:
            err(p + ".securityContext.runAsNonRoot", "restricted profile: must be true (pod or container)")
        seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            err(p + ".securityContext.seccompProfile", "restricted profile: RuntimeDefault or Localhost")


QTY = None


def main(argv):
    global QTY
    if len(argv) < 3:
        sys.stderr.write("usage: validate_manifests.py VALIDATOR FILE...\n")
        return 2
    tool = load_validator(argv[1])
    QTY = tool._qty
    files = argv[2:]
    if ("batch/v1", "Job") not in tool.SchemaStore(strict=True).by_key:
        tool.HERE = schema_dir_with_job(tool.HERE)
        print("validate: batch/v1 Job checked with a schema built from the validator's StatefulSet pod "
              "template (tests/validate_manifests.py)")
    rc = tool.main(files)
    import yaml
    errors = []
    for fname in files:
        with open(fname) as f:
            for idx, doc in enumerate(yaml.safe_load_all(f)):
                if isinstance(doc, dict) and doc.get("kind") == "Job":
                    name = (doc.get("metadata") or {}).get("name")
                    check_job("%s (doc %d Job/%s)" % (fname, idx, name), doc, errors)
    for e in errors:
        print(e)
    if errors:
        print("FAIL: %d Job error(s) beyond the schema" % len(errors))
        return max(rc, 1)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
