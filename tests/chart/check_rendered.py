#!/usr/bin/env python3
"""Assertions on the objects `helm template charts/robodev` renders (run by scripts/test-chart).

Usage: check_rendered.py CASE RENDERED.yaml
  CASE  default  the chart's defaults (one controller, no admin API, starter config)
        full     tests/chart/full-values.yaml (two controllers, plugins, admin API,
                 ServiceMonitor, persistent cache, agents in their own namespace)
        long     the defaults under a 53-character release name (names stay <= 63)

Prints one line per check and exits 1 if any failed.
"""
import re
import sys

import yaml

CASE, PATH = sys.argv[1], sys.argv[2]
with open(PATH) as f:
    DOCS = [d for d in yaml.safe_load_all(f) if d]

failures = []


def check(what, ok, detail=""):
    print(("  ok    " if ok else "  FAIL  ") + what + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(what)


def objs(kind):
    return [d for d in DOCS if d["kind"] == kind]


def one(kind):
    found = objs(kind)
    if len(found) != 1:
        raise SystemExit(f"check_rendered: expected one {kind}, found {len(found)}")
    return found[0]


def matches(selector, labels):
    """Whether a matchLabels selector selects `labels`."""
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# What robodev uses, exactly: (apiGroup, resource, verb).
JOB_RULES = {("batch", "jobs", v) for v in ["create", "get", "list", "watch", "delete"]} | {
    ("", "pods", v) for v in ["get", "list", "watch", "delete", "deletecollection"]
} | {("", "pods/log", "get")}
CONTROLLER_RULES = {("", "secrets", "get")} | {
    ("coordination.k8s.io", "leases", v) for v in ["get", "create", "update"]
} | {
    ("robodev.dev", r, v)
    for r in ["taskruns", "taskruns/status"]
    for v in ["get", "list", "watch", "create", "update", "patch", "delete"]
}


def triples(role):
    out = set()
    for rule in role.get("rules", []):
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                for v in rule.get("verbs", []):
                    out.add((g, r, v))
    return out


deploy = one("Deployment")
ns = deploy["metadata"]["namespace"]
pod = deploy["spec"]["template"]
pod_labels = pod["metadata"]["labels"]
spec = pod["spec"]
ctl = next(c for c in spec["containers"] if c["name"] == "controller")
ha = deploy["spec"]["replicas"] > 1
print(f"{CASE}: {len(DOCS)} objects, replicas {deploy['spec']['replicas']}")

# --- names and labels
for d in DOCS:
    name = d["metadata"]["name"]
    if d["kind"] == "CustomResourceDefinition":
        continue
    check(f"{d['kind']} {name}: name is a DNS label of <= 63 characters", bool(DNS_LABEL.match(name)) and len(name) <= 63, name)
    labels = d["metadata"].get("labels", {})
    check(f"{d['kind']} {name}: app.kubernetes.io labels", all(
        k in labels for k in ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"]), labels)
    check(f"{d['kind']} {name}: label values <= 63", all(len(str(v)) <= 63 for v in labels.values()), labels)
for c in spec.get("initContainers", []) + spec["containers"]:
    check(f"container {c['name']}: name is a DNS label", bool(DNS_LABEL.match(c["name"])) and len(c["name"]) <= 63, c["name"])

# --- the Deployment
check("Deployment selector selects its pods", matches(deploy["spec"]["selector"], pod_labels))
check("container `controller` runs `run --config /etc/robodev/robodev-config.yaml`",
      ctl["args"][:3] == ["run", "--config", "/etc/robodev/robodev-config.yaml"], ctl["args"])
check("--leader-elect only with replicas > 1", ("--leader-elect" in ctl["args"]) == ha, ctl["args"])
check("strategy: Recreate with one replica, RollingUpdate with more",
      deploy["spec"]["strategy"]["type"] == ("RollingUpdate" if ha else "Recreate"), deploy["spec"]["strategy"])
env = {e["name"]: e for e in ctl["env"]}
check("ROBODEV_POD_NAME and ROBODEV_POD_NAMESPACE from the downward API",
      env.get("ROBODEV_POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name"
      and env.get("ROBODEV_POD_NAMESPACE", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace")
check("checksum/config annotation", bool(re.fullmatch(r"[0-9a-f]{64}", pod["metadata"].get("annotations", {}).get("checksum/config", ""))))
mounts = {m["mountPath"]: m for m in ctl["volumeMounts"]}
volumes = {v["name"]: v for v in spec["volumes"]}
cm = one("ConfigMap")
check("ConfigMap mounted read-only at /etc/robodev",
      mounts.get("/etc/robodev", {}).get("readOnly") is True
      and volumes[mounts["/etc/robodev"]["name"]].get("configMap", {}).get("name") == cm["metadata"]["name"])
check("ConfigMap has robodev-config.yaml", "robodev-config.yaml" in cm["data"])
check("cache volume at /var/cache/robodev; ROBODEV_OCI_CACHE_DIR and ROBODEV_CACHE_DIR in it",
      "/var/cache/robodev" in mounts
      and env.get("ROBODEV_OCI_CACHE_DIR", {}).get("value", "").startswith("/var/cache/robodev/")
      and env.get("ROBODEV_CACHE_DIR", {}).get("value", "").startswith("/var/cache/robodev/"))
check("state volume at /var/lib/robodev = ROBODEV_STATE_DIR",
      "/var/lib/robodev" in mounts and env.get("ROBODEV_STATE_DIR", {}).get("value") == "/var/lib/robodev")
check("/tmp is an emptyDir", "emptyDir" in volumes[mounts["/tmp"]["name"]])
check("every writable mount is a volume (read-only root filesystem)",
      all(m["name"] in volumes for m in ctl["volumeMounts"]))

# --- security contexts
psc = spec["securityContext"]
check("pod: runAsNonRoot, uid/gid 65534, fsGroup 65534, seccomp RuntimeDefault",
      psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65534 and psc.get("runAsGroup") == 65534
      and psc.get("fsGroup") == 65534 and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", psc)
for c in spec.get("initContainers", []) + spec["containers"]:
    sc = c.get("securityContext", {})
    check(f"container {c['name']}: non-root, read-only root fs, no escalation, drop ALL, seccomp",
          sc.get("runAsNonRoot") is True and sc.get("readOnlyRootFilesystem") is True
          and sc.get("allowPrivilegeEscalation") is False and sc.get("capabilities", {}).get("drop") == ["ALL"]
          and not sc.get("capabilities", {}).get("add") and sc.get("privileged") is not True
          and sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", sc)

# --- RBAC: namespaced, nothing beyond what robodev uses
check("no ClusterRole or ClusterRoleBinding", not objs("ClusterRole") and not objs("ClusterRoleBinding"))
roles = objs("Role")
for role in roles:
    t = triples(role)
    check(f"Role {role['metadata']['name']}: no `*` verbs, resources or groups",
          not any("*" in x for tr in t for x in tr), sorted(t))
granted = set().union(*(triples(r) for r in roles)) if roles else set()
check("the Roles grant exactly jobs, pods, pods/log, secrets, leases, taskruns(/status)",
      granted == JOB_RULES | CONTROLLER_RULES,
      f"extra {sorted(granted - JOB_RULES - CONTROLLER_RULES)}, missing {sorted(JOB_RULES | CONTROLLER_RULES - granted)}")
sa_name = spec["serviceAccountName"]
agent_sa = next(s for s in objs("ServiceAccount") if s["metadata"]["name"] != sa_name)
agent_ns = agent_sa["metadata"]["namespace"]
config = yaml.safe_load(cm["data"]["robodev-config.yaml"])
executor = config.get("executor", {})
check("executor.namespace and service_account name the agent namespace and ServiceAccount",
      executor.get("namespace") == agent_ns and executor.get("service_account") == agent_sa["metadata"]["name"], executor)
check("task runs are TaskRuns in the release namespace (where the Role grants taskruns)",
      config.get("task_runs") == {"store": "kubernetes", "namespace": ns}, config.get("task_runs"))
for rb in objs("RoleBinding"):
    role = next((r for r in roles if r["metadata"]["name"] == rb["roleRef"]["name"]
                 and r["metadata"]["namespace"] == rb["metadata"]["namespace"]), None)
    check(f"RoleBinding {rb['metadata']['namespace']}/{rb['metadata']['name']}: a Role of its namespace, to the controller only",
          rb["roleRef"]["kind"] == "Role" and role is not None
          and rb["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": ns}], rb)
jobs_role = [r for r in roles if r["metadata"]["namespace"] == agent_ns and JOB_RULES <= triples(r)]
check("the Job and pod rules are in the agents' namespace", len(jobs_role) == 1)
ctl_role = [r for r in roles if r["metadata"]["namespace"] == ns and CONTROLLER_RULES <= triples(r)]
check("the secrets, leases and taskruns rules are in the controller's namespace", len(ctl_role) == 1)
check("agent ServiceAccount: automountServiceAccountToken false, bound to nothing",
      agent_sa.get("automountServiceAccountToken") is False
      and not any(s["name"] == agent_sa["metadata"]["name"] for rb in objs("RoleBinding") for s in rb["subjects"]))
check("controller uses its own ServiceAccount", any(s["metadata"]["name"] == sa_name and s["metadata"]["namespace"] == ns for s in objs("ServiceAccount")))

# --- network policies
nps = {n["metadata"]["name"]: n for n in objs("NetworkPolicy")}
agent_np = [n for n in nps.values() if n["spec"]["podSelector"] == {"matchLabels": {"app": "robodev-agent"}}]
check("agent NetworkPolicy selects exactly `app: robodev-agent`, in the agents' namespace",
      len(agent_np) == 1 and agent_np[0]["metadata"]["namespace"] == agent_ns, [n["spec"]["podSelector"] for n in nps.values()])
# A pod as robodev's Job builder labels it (host/kube/src/job.rs).
agent_pod_labels = {"app": "robodev-agent", "robodev.io/task-run-id": "tr-proj-7", "robodev.io/engine": "local"}
if agent_np:
    a = agent_np[0]["spec"]
    check("agent NetworkPolicy selects an agent Job's pod", matches(a["podSelector"], agent_pod_labels))
    check("agent NetworkPolicy: no ingress, egress limited to DNS and the configured ports",
          set(a["policyTypes"]) == {"Ingress", "Egress"} and not a.get("ingress")
          and all(r.get("ports") for r in a["egress"]), a)
    ports = {(p["port"], p["protocol"]) for r in a["egress"] for p in r["ports"]}
    check("agent egress: DNS 53 (UDP, TCP), 443, 22", {(53, "UDP"), (53, "TCP"), (443, "TCP"), (22, "TCP")} <= ports, ports)
ctl_np = [n for n in nps.values() if n["metadata"]["namespace"] == ns and matches(n["spec"]["podSelector"], pod_labels)
          and n["spec"]["podSelector"].get("matchLabels")]
check("controller NetworkPolicy selects the controller pods (and not agent pods)",
      len(ctl_np) == 1 and not matches(ctl_np[0]["spec"]["podSelector"], agent_pod_labels))
if ctl_np:
    c = ctl_np[0]["spec"]
    ingress_ports = {p["port"] for r in c.get("ingress", []) for p in r.get("ports", [])}
    admin_port = {p["containerPort"] for p in ctl.get("ports", [])}
    check("controller ingress: the admin port only (none without the admin API)",
          ingress_ports == admin_port and all(r.get("ports") for r in c.get("ingress", [])), (ingress_ports, admin_port))
    egress_ports = {(p["port"], p["protocol"]) for r in c["egress"] for p in r["ports"]}
    check("controller egress: DNS, the API server, 443", {(53, "UDP"), (53, "TCP"), (443, "TCP")} <= egress_ports
          and all(r.get("ports") for r in c["egress"]), egress_ports)

# --- per case
pdbs = objs("PodDisruptionBudget")
check("PodDisruptionBudget only with replicas > 1", bool(pdbs) == ha)
if pdbs:
    check("PDB minAvailable 1, selects the controller pods",
          pdbs[0]["spec"].get("minAvailable") == 1 and matches(pdbs[0]["spec"]["selector"], pod_labels))

if CASE in ("default", "long"):
    check("no admin API by default: no admin section, no Service, no probes, no ServiceMonitor",
          "admin" not in config and not objs("Service") and "livenessProbe" not in ctl
          and not objs("ServiceMonitor"))
    check("starter config: local ticketing on the ConfigMap's tickets.yaml, k8s secrets, kubernetes executor",
          config["ticketing"] == {"backend": "local", "config": {"file": "tickets.yaml"}}
          and "tickets.yaml" in cm["data"] and config["secrets"]["backend"] == "k8s"
          and executor.get("kind") == "kubernetes")
    check("no plugin init containers, no plugins volume", not spec.get("initContainers") and "/opt/robodev/plugins" not in mounts)
    check("cache is an emptyDir by default", "emptyDir" in volumes[mounts["/var/cache/robodev"]["name"]])

if CASE == "full":
    check("admin: listens on 0.0.0.0:9464 with allow_remote and the token secret",
          config.get("admin") == {"listen": "0.0.0.0:9464", "allow_remote": True, "token_secret": "admin-token"}, config.get("admin"))
    check("liveness /healthz and readiness /readyz on the admin port",
          ctl["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
          and ctl["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
          and ctl["ports"] == [{"name": "admin", "containerPort": 9464, "protocol": "TCP"}])
    svc = one("Service")
    check("Service: port 9464 to the controller pods", matches({"matchLabels": svc["spec"]["selector"]}, pod_labels)
          and svc["spec"]["ports"][0]["port"] == 9464 and svc["spec"]["ports"][0]["targetPort"] == "admin")
    sm = one("ServiceMonitor")
    check("ServiceMonitor: /metrics on the Service's admin port",
          sm["spec"]["endpoints"][0]["port"] == "admin" and sm["spec"]["endpoints"][0]["path"] == "/metrics"
          and matches(sm["spec"]["selector"], svc["metadata"]["labels"]))
    inits = spec["initContainers"]
    check("one init container per plugin: cp BINARY /plugins/robodev-plugin-NAME",
          [i["name"] for i in inits] == ["plugin-jira", "plugin-claude-code"]
          and inits[0]["command"] == ["cp", "/robodev-plugin-jira", "/plugins/robodev-plugin-jira"]
          and all(i["volumeMounts"] == [{"name": "plugins", "mountPath": "/plugins"}] for i in inits), inits)
    check("plugins emptyDir mounted read-only at /opt/robodev/plugins",
          mounts.get("/opt/robodev/plugins", {}).get("readOnly") is True and "emptyDir" in volumes["plugins"])
    commands = [p["command"] for p in config["plugins"] if "command" in p]
    check("the config's plugin commands are the copied binaries",
          commands == ["/opt/robodev/plugins/robodev-plugin-jira", "/opt/robodev/plugins/robodev-plugin-claude-code"], commands)
    pvc = one("PersistentVolumeClaim")
    check("cache on the PersistentVolumeClaim (ReadWriteMany for two replicas)",
          volumes[mounts["/var/cache/robodev"]["name"]].get("persistentVolumeClaim", {}).get("claimName") == pvc["metadata"]["name"]
          and pvc["spec"]["accessModes"] == ["ReadWriteMany"])
    check("agents in their own namespace: the Job rules in a second Role there", agent_ns != ns and len(roles) == 2)
    check("image pinned by digest", "@sha256:" in ctl["image"])

crds = objs("CustomResourceDefinition")
if crds:
    crd = crds[0]
    v = crd["spec"]["versions"][0]
    cols = [c["name"] for c in v["additionalPrinterColumns"]]
    status = v["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    check("CRD taskruns.robodev.dev: v1alpha1 TaskRun, namespaced, status subresource",
          crd["metadata"]["name"] == "taskruns.robodev.dev" and crd["spec"]["scope"] == "Namespaced"
          and v["name"] == "v1alpha1" and crd["spec"]["names"]["kind"] == "TaskRun" and v["subresources"] == {"status": {}})
    check("CRD printer columns Ticket, State, Attempts, Engine, Age", cols == ["Ticket", "State", "Attempts", "Engine", "Age"], cols)
    check("CRD status.state enum", status["state"]["enum"] == ["Queued", "Running", "NeedsHuman", "Succeeded", "Failed", "Retrying", "TimedOut"])

if failures:
    print(f"{CASE}: {len(failures)} check(s) failed")
    sys.exit(1)
print(f"{CASE}: all checks passed")
