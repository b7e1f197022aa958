#!/usr/bin/env bash
# The PrometheusRule of manifests/monitoring/: its spec.groups, extracted into a Prometheus rules
# file, pass `promtool check rules` and the alert cases of alerts_test.yaml (`promtool test
# rules`: every alert firing and not firing); every alert of the rule has test cases; and
# `kubectl kustomize manifests/monitoring/` renders the rule and the ServiceMonitors.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

HERE=$KM_SOURCE_DIR/tests/monitoring
RULE=$KM_SOURCE_DIR/manifests/monitoring/prometheusrule.yaml

section "the PrometheusRule's groups are a valid rules file"
if ! command -v promtool >/dev/null; then
  fail "promtool is installed (Debian package prometheus: scripts/install-deps.sh)"
  finish
fi
expect_ok python3 -c '
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
assert doc["kind"] == "PrometheusRule", doc["kind"]
yaml.safe_dump({"groups": doc["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
' "$RULE" "$TEST_TMP/rules.yaml"
expect_ok promtool check rules "$TEST_TMP/rules.yaml"
expect_contains "$OUT" "SUCCESS: 6 rules found" "promtool finds the six alerts"

section "promtool test rules: each alert fires and stays quiet as its cases say"
cp "$HERE/alerts_test.yaml" "$TEST_TMP/alerts_test.yaml"
expect_ok promtool test rules "$TEST_TMP/alerts_test.yaml"
expect_contains "$OUT" "SUCCESS"

section "every alert has a firing case and a quiet case"
run python3 -c '
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
fired, quiet = set(), set()
for t in tests["tests"]:
    for c in t.get("alert_rule_test", []):
        (fired if c.get("exp_alerts") else quiet).add(c["alertname"])
missing = [a + " (firing)" for a in alerts if a not in fired] + [a + " (quiet)" for a in alerts if a not in quiet]
print(" ".join(missing) if missing else "none")
' "$TEST_TMP/rules.yaml" "$TEST_TMP/alerts_test.yaml"
expect_eq "$OUT" "none" "no alert lacks a case"

section "the rule's documentation anchors exist in docs/operations.md"
while read -r a; do
  expect_ok grep -qi "^### $a\$" "$KM_SOURCE_DIR/docs/operations.md"
done < <(grep -o 'docs/operations.md#[a-z]*' "$RULE" | sort -u | cut -d'#' -f2)

section "kubectl kustomize manifests/monitoring/"
expect_ok k kustomize "$KM_SOURCE_DIR/manifests/monitoring"
expect_eq "$(python3 -c 'import sys, yaml; print(" ".join(sorted(d["kind"] + "/" + d["metadata"]["name"] for d in yaml.safe_load_all(sys.stdin) if d)))' <<<"$OUT")" \
  "PrometheusRule/kubevirt-migration ServiceMonitor/migration-engine ServiceMonitor/migration-webhook"
finish
