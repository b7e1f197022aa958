#!/usr/bin/env bash
# The install artifacts: `kubectl kustomize` renders manifests/ and the cert-manager variant with
# what docs/webhook.md and docs/engine.md promise (the webhook's replicas, probes, hardening,
# least-privilege RBAC, webhook settings; the engine DaemonSet's host access, privileges, flags
# from the downward API, probes, metrics port and RBAC), and certs/gen-certs.sh makes, keeps and
# renews certificates as documented. The rendered webhook configuration is accepted by
# devcluster's API, and `kubectl apply -k manifests/` against devcluster stores every object of
# a kind devcluster serves (the others are refused by kind, never by content).
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GEN=$KM_SOURCE_DIR/certs/gen-certs.sh

# yaml2json: a YAML stream on stdin → one JSON array of its documents.
yaml2json() {
  python3 -c 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))'
}

# obj KIND NAME: the JSON of one rendered object in $RENDERED.
obj() {
  jq -c --arg k "$1" --arg n "$2" '.[] | select(.kind == $k and .metadata.name == $n)' <<<"$RENDERED"
}

section "kubectl kustomize manifests/"
expect_ok k kustomize "$KM_SOURCE_DIR/manifests"
RENDERED=$(yaml2json <<<"$OUT")
expect_eq "$(jq -r '[.[] | .kind + "/" + .metadata.name] | sort | join(" ")' <<<"$RENDERED")" \
  "ClusterRole/migration-engine ClusterRole/migration-webhook ClusterRoleBinding/migration-engine ClusterRoleBinding/migration-webhook CustomResourceDefinition/kubevirts.kubevirt.io CustomResourceDefinition/virtualmachineinstancemigrations.kubevirt.io CustomResourceDefinition/virtualmachineinstances.kubevirt.io DaemonSet/migration-engine Deployment/migration-webhook Namespace/kubevirt PodDisruptionBudget/migration-webhook Role/migration-engine Role/migration-webhook RoleBinding/migration-engine RoleBinding/migration-webhook Service/migration-engine Service/migration-webhook ServiceAccount/migration-engine ServiceAccount/migration-webhook ValidatingWebhookConfiguration/migration-webhook" \
  "CRDs, every webhook object and every engine object are rendered"

section "Deployment"
DEP=$(obj Deployment migration-webhook)
C='.spec.template.spec.containers[0]'
expect_eq "$(jq -r '.metadata.namespace + " " + (.spec.replicas|tostring)' <<<"$DEP")" "kubevirt 2" "2 replicas in kubevirt"
expect_eq "$(jq -c "[$C.livenessProbe.httpGet, $C.readinessProbe.httpGet] | map([.scheme, .path, .port])" <<<"$DEP")" \
  '[["HTTPS","/healthz","https"],["HTTPS","/readyz","https"]]' "liveness /healthz and readiness /readyz over HTTPS"
expect_eq "$(jq -c "$C.ports" <<<"$DEP")" '[{"containerPort":8443,"name":"https","protocol":"TCP"}]'
expect_eq "$(jq -c "$C.securityContext | [.runAsNonRoot, .readOnlyRootFilesystem, .allowPrivilegeEscalation, .privileged, .capabilities.drop]" <<<"$DEP")" \
  '[true,true,false,false,["ALL"]]' "non-root, read-only root, no privilege escalation, no capabilities"
expect_eq "$(jq -r '.spec.template.spec.securityContext.runAsNonRoot' <<<"$DEP")" "true" "pod-level runAsNonRoot"
expect_eq "$(jq -c "$C.resources | [(.requests.cpu != null), (.requests.memory != null), (.limits.memory != null)]" <<<"$DEP")" \
  '[true,true,true]' "cpu/memory requests and a memory limit"
expect_eq "$(jq -r '.spec.template.spec.volumes[0].secret.secretName' <<<"$DEP")" "migration-webhook-certs" \
  "certificates come from the Secret migration-webhook-certs"
ARGS=$(jq -r "$C.args | join(\" \")" <<<"$DEP")
for a in --tls-cert-file=/etc/migration-webhook/certs/tls.crt --tls-private-key-file=/etc/migration-webhook/certs/tls.key --port=8443; do
  expect_contains "$ARGS" "$a" "the container runs with $a"
done
expect_eq "$(jq -r "$C.volumeMounts[0] | .mountPath + \" \" + (.readOnly|tostring)" <<<"$DEP")" \
  "/etc/migration-webhook/certs true" "the certificates are mounted read-only where the flags point"
expect_eq "$(jq -r '.spec.template.spec.serviceAccountName' <<<"$DEP")" "migration-webhook"

section "Service and PodDisruptionBudget"
expect_eq "$(obj Service migration-webhook | jq -c '[.metadata.namespace, .spec.ports[0].port, .spec.ports[0].targetPort, .spec.selector]')" \
  '["kubevirt",443,"https",{"app.kubernetes.io/name":"migration-webhook"}]' "Service 443 → the container's https port (8443)"
expect_eq "$(jq -c '.spec.template.metadata.labels["app.kubernetes.io/name"]' <<<"$DEP")" '"migration-webhook"' \
  "the pods carry the Service's selector label"
expect_eq "$(obj PodDisruptionBudget migration-webhook | jq -c '[.spec.minAvailable, .spec.selector.matchLabels]')" \
  '[1,{"app.kubernetes.io/name":"migration-webhook"}]' "PDB minAvailable 1"

section "RBAC: list/watch on exactly what the webhook reads (tests/e2e/rbac_test.sh proves it)"
expect_eq "$(obj ClusterRole migration-webhook | jq -c '[.rules[] | {g: .apiGroups, r: (.resources|sort), v: (.verbs|sort)}]')" \
  '[{"g":["kubevirt.io"],"r":["virtualmachineinstancemigrations","virtualmachineinstances"],"v":["list","watch"]},{"g":[""],"r":["persistentvolumeclaims"],"v":["list","watch"]}]' \
  "the ClusterRole"
expect_eq "$(obj Role migration-webhook | jq -c '[.metadata.namespace, [.rules[] | {g: .apiGroups, r: .resources, v: (.verbs|sort)}]]')" \
  '["kubevirt",[{"g":["kubevirt.io"],"r":["kubevirts"],"v":["list","watch"]}]]' \
  "the Role in kubevirt: the KubeVirt object"
for b in ClusterRoleBinding RoleBinding; do
  expect_eq "$(obj $b migration-webhook | jq -c '[.roleRef.name, .subjects]')" \
    '["migration-webhook",[{"kind":"ServiceAccount","name":"migration-webhook","namespace":"kubevirt"}]]' \
    "$b: bound to the webhook's ServiceAccount"
done

section "engine DaemonSet"
DS=$(obj DaemonSet migration-engine)
C='.spec.template.spec.containers[0]'
P='.spec.template.spec'
expect_eq "$(jq -c "[.metadata.namespace, $P.serviceAccountName, $P.hostNetwork, $P.dnsPolicy, $P.hostPID, $P.hostIPC]" <<<"$DS")" \
  '["kubevirt","migration-engine",true,"ClusterFirstWithHostNet",false,false]' \
  "kubevirt namespace, its ServiceAccount, host network with cluster DNS, no host PID/IPC"
expect_eq "$(jq -c "$C.securityContext | [.privileged, .allowPrivilegeEscalation, .capabilities.drop, .capabilities.add, .readOnlyRootFilesystem]" <<<"$DS")" \
  '[false,false,["ALL"],null,true]' "not privileged, no escalation, no capability, read-only root"
expect_eq "$(jq -r "$C.env[] | select(.name == \"NODE_NAME\") | .valueFrom.fieldRef.fieldPath" <<<"$DS")" "spec.nodeName" \
  "NODE_NAME from the downward API (spec.nodeName)"
EARGS=$(jq -r "$C.args | join(\" \")" <<<"$DS")
# shellcheck disable=SC2016  # the literal $(NODE_NAME) the kubelet expands
for a in '--node-name=$(NODE_NAME)' --libvirt-uri=qemu:///system --domain-type=kvm --metrics-port=9186 \
  --healthz-port=9187 --image-dir=/var/lib/kubemigrate/images --data-dir=/var/lib/kubemigrate/disks \
  --kubevirt-namespace=kubevirt; do
  expect_contains "$EARGS" "$a" "the engine runs with $a"
done
expect_eq "$(jq -c "[$C.livenessProbe.httpGet, $C.readinessProbe.httpGet] | map([.path, .port])" <<<"$DS")" \
  '[["/healthz","healthz"],["/readyz","healthz"]]' "liveness /healthz and readiness /readyz"
expect_eq "$(jq -c "[$C.ports[] | [.name, .containerPort]]" <<<"$DS")" '[["metrics",9186],["healthz",9187]]' \
  "metrics and health ports as the flags say"
expect_eq "$(jq -c "[$P.volumes[] | [.name, .hostPath.path]]" <<<"$DS")" \
  '[["libvirt-run","/var/run/libvirt"],["images","/var/lib/kubemigrate/images"],["disks","/var/lib/kubemigrate/disks"],["volumes","/var/lib/kubemigrate/volumes"]]' \
  "host paths: libvirt's socket directory, images, disks, volumes"
expect_eq "$(jq -c "[$C.volumeMounts[] | [.name, .mountPath, (.readOnly // false)]]" <<<"$DS")" \
  '[["libvirt-run","/var/run/libvirt",true],["images","/var/lib/kubemigrate/images",true],["disks","/var/lib/kubemigrate/disks",false],["volumes","/var/lib/kubemigrate/volumes",true]]' \
  "mounted at the host's paths (the domain XML names them); only the disk directory writable"
# Every privilege is explained: a comment right above hostNetwork, runAsUser, capabilities and
# each host mount in the source file.
for key in "hostNetwork: true" "runAsUser: 0" "capabilities:" "- name: libvirt-run" "- name: disks"; do
  expect_eq "$(grep -B1 -- "$key" "$KM_SOURCE_DIR/manifests/engine/daemonset.yaml" | head -1 | grep -c '^ *#')" "1" \
    "a comment explains '$key'"
done
# The engine's own flag parser accepts the DaemonSet's arguments (bad flags exit 2 with every
# problem listed; here it gets past them and stops at what this machine lacks: exit 1).
# shellcheck disable=SC2016  # $(NODE_NAME) and $(NODE_IP) are the kubelet's, replaced here
mapfile -t DS_ARGS < <(jq -r "$C.args[]" <<<"$DS" | sed 's/\$(NODE_NAME)/node01/; s/\$(NODE_IP)/10.0.0.1/')
run "$KM_BIN_DIR/migration-engine" "${DS_ARGS[@]}" --kubeconfig "$TEST_TMP/no-such-kubeconfig"
expect_eq "$RC" 1 "the engine accepts the DaemonSet's flags (exit 1: no kubeconfig here, not 2)"
expect_contains "$ERR" "no-such-kubeconfig" "and stops at the kubeconfig it was given"
expect_eq "$(obj Service migration-engine | jq -c '[.spec.clusterIP, .spec.ports[0].targetPort, .spec.selector]')" \
  '["None","metrics",{"app.kubernetes.io/name":"migration-engine"}]' "a headless Service for the metrics port"

section "engine RBAC (tests/e2e/rbac_test.sh proves it)"
expect_eq "$(obj ClusterRole migration-engine | jq -c '[.rules[] | [.apiGroups[0], (.resources|join(",")), (.verbs|join(","))]]')" \
  '[["kubevirt.io","virtualmachineinstances","list,watch,patch"],["kubevirt.io","virtualmachineinstances/status","patch"],["kubevirt.io","virtualmachineinstancemigrations","get,list,watch,patch,delete"],["kubevirt.io","virtualmachineinstancemigrations/status","patch"],["","nodes,persistentvolumeclaims,persistentvolumes","list,watch"],["","events","create"]]' \
  "the ClusterRole: no create/update of VMIs or VMIMs, no secrets, no wildcard"
expect_eq "$(obj Role migration-engine | jq -c '[.metadata.namespace, [.rules[] | [.apiGroups[0], (.resources|join(",")), (.verbs|join(","))]]]')" \
  '["kubevirt",[["kubevirt.io","kubevirts","list,watch"],["coordination.k8s.io","leases","get,list,watch,create,update,patch"]]]' \
  "the Role in kubevirt: the KubeVirt object and the Leases"
for b in ClusterRoleBinding RoleBinding; do
  expect_eq "$(obj $b migration-engine | jq -c '[.roleRef.name, .subjects]')" \
    '["migration-engine",[{"kind":"ServiceAccount","name":"migration-engine","namespace":"kubevirt"}]]' \
    "$b: bound to the engine's ServiceAccount"
done

section "ValidatingWebhookConfiguration"
VWC=$(obj ValidatingWebhookConfiguration migration-webhook)
expect_eq "$(jq -c '[.webhooks[] | [.name, .clientConfig.service.path, .clientConfig.service.name, .clientConfig.service.namespace, .clientConfig.service.port]]' <<<"$VWC")" \
  '[["virtualmachineinstancemigrations.migration-webhook.kubevirt.io","/validate-virtualmachineinstancemigrations","migration-webhook","kubevirt",443],["kubevirts.migration-webhook.kubevirt.io","/validate-kubevirt","migration-webhook","kubevirt",443]]' \
  "one webhook for VMIMs, one for the KubeVirt object, through the Service"
expect_eq "$(jq -c '[.webhooks[] | [.rules[0].resources, .rules[0].apiGroups, .rules[0].apiVersions, .rules[0].operations]]' <<<"$VWC")" \
  '[[["virtualmachineinstancemigrations"],["kubevirt.io"],["v1","v1alpha3"],["CREATE","UPDATE"]],[["kubevirts"],["kubevirt.io"],["v1","v1alpha3"],["CREATE","UPDATE"]]]' \
  "rules: both API versions, CREATE and UPDATE"
expect_eq "$(jq -c '[.webhooks[] | [.matchPolicy, .failurePolicy, .sideEffects, .timeoutSeconds, .admissionReviewVersions]] | unique' <<<"$VWC")" \
  '[["Equivalent","Fail","None",5,["v1"]]]' "matchPolicy Equivalent, failurePolicy Fail, sideEffects None, 5 s, v1"
expect_eq "$(jq -c '[.webhooks[].clientConfig.caBundle]' <<<"$VWC")" '[null,null]' \
  "the base configuration has no caBundle (gen-certs or cert-manager supplies it)"

section "cert-manager variant"
expect_ok k kustomize "$KM_SOURCE_DIR/certs/cert-manager"
CM=$(yaml2json <<<"$OUT")
expect_eq "$(jq -r '[.[] | select(.apiVersion == "cert-manager.io/v1") | .kind + "/" + .metadata.name] | sort | join(" ")' <<<"$CM")" \
  "Certificate/migration-webhook Certificate/migration-webhook-ca Issuer/migration-webhook-ca Issuer/migration-webhook-selfsigned" \
  "Issuers and Certificates"
expect_eq "$(jq -r '.[] | select(.kind == "ValidatingWebhookConfiguration") | .metadata.annotations["cert-manager.io/inject-ca-from"]' <<<"$CM")" \
  "kubevirt/migration-webhook" "the webhook configuration asks for CA injection from the serving Certificate"
expect_eq "$(jq -c '.[] | select(.kind == "Certificate" and .metadata.name == "migration-webhook") | [.spec.secretName, .spec.privateKey.algorithm, .spec.privateKey.size, (.spec.dnsNames | sort)]' <<<"$CM")" \
  '["migration-webhook-certs","ECDSA",256,["migration-webhook","migration-webhook.kubevirt","migration-webhook.kubevirt.svc","migration-webhook.kubevirt.svc.cluster.local"]]' \
  "the serving Certificate: the Deployment's Secret, ECDSA P-256, the Service's names"
expect_eq "$(jq -r '[.[] | select(.kind == "Deployment" or .kind == "DaemonSet") | .kind] | join(" ")' <<<"$CM")" \
  "Deployment DaemonSet" "it includes the whole of manifests/ (webhook and engine)"

section "gen-certs.sh: arguments"
expect_fail "$GEN" --service Bad_Name --namespace kube_virt --ip 1.2.3
expect_eq "$RC" "2" "bad arguments exit 2"
for p in "--out is required" "--service 'Bad_Name' is not a DNS label" "--namespace 'kube_virt' is not a DNS label" \
  "--ip '1.2.3' is not an IP address"; do
  expect_contains "$ERR" "$p" "every problem is listed at once: $p"
done

section "gen-certs.sh: first run, second run, new SANs, --force"
D=$TEST_TMP/gen
expect_ok "$GEN" --service hook --namespace ns1 --out "$D" --ip 10.0.0.7 --dns hook.example.com
expect_eq "$(stat -c %a "$D")" "700" "the output directory is 0700"
for f in ca.key tls.key secret.yaml; do
  expect_eq "$(stat -c %a "$D/$f")" "600" "$f is 0600"
done
expect_eq "$(openssl x509 -in "$D/tls.crt" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')" \
  "DNS:hook,DNS:hook.ns1,DNS:hook.ns1.svc,DNS:hook.ns1.svc.cluster.local,DNS:hook.example.com,IPAddress:10.0.0.7"
expect_contains "$(openssl x509 -in "$D/ca.crt" -noout -text)" "CA:TRUE" "ca.crt is a CA"
expect_contains "$(openssl x509 -in "$D/ca.crt" -noout -text)" "NIST CURVE: P-256" "the CA key is P-256"
expect_contains "$(openssl x509 -in "$D/tls.crt" -noout -text)" "TLS Web Server Authentication" "serverAuth usage"
expect_ok openssl verify -CAfile "$D/ca.crt" "$D/tls.crt"
VWC_R=$(yaml2json <"$D/validatingwebhookconfiguration.yaml")
expect_eq "$(jq -c '[.[0].webhooks[].clientConfig | [.caBundle == $ca, .service.name, .service.namespace]] | unique' \
  --arg ca "$(base64 -w0 <"$D/ca.crt")" <<<"$VWC_R")" '[[true,"hook","ns1"]]' \
  "the rendered configuration trusts the CA and points at hook.ns1"
expect_eq "$(yaml2json <"$D/secret.yaml" | jq -c '.[0] | [.type, .metadata.namespace, .metadata.name, (.data["tls.crt"] | @base64d | startswith("-----BEGIN CERTIFICATE"))]')" \
  '["kubernetes.io/tls","ns1","migration-webhook-certs",true]' "secret.yaml is the Deployment's TLS Secret"
CA_FP=$(openssl x509 -in "$D/ca.crt" -noout -fingerprint -sha256)
TLS_FP=$(openssl x509 -in "$D/tls.crt" -noout -fingerprint -sha256)
expect_ok "$GEN" --service hook --namespace ns1 --out "$D" --ip 10.0.0.7 --dns hook.example.com
expect_contains "$OUT" "keeping" "a second run says it keeps the certificates"
expect_eq "$(openssl x509 -in "$D/tls.crt" -noout -fingerprint -sha256)" "$TLS_FP" "and keeps them"
expect_ok "$GEN" --service hook --namespace ns1 --out "$D" --ip 10.0.0.8
expect_eq "$(openssl x509 -in "$D/ca.crt" -noout -fingerprint -sha256)" "$CA_FP" "new SANs keep the CA (and the caBundle)"
expect_ne "$(openssl x509 -in "$D/tls.crt" -noout -fingerprint -sha256)" "$TLS_FP" "new SANs make a new serving certificate"
expect_contains "$(openssl x509 -in "$D/tls.crt" -noout -ext subjectAltName)" "IP Address:10.0.0.8"
expect_ok "$GEN" --service hook --namespace ns1 --out "$D" --ip 10.0.0.8 --force
expect_ne "$(openssl x509 -in "$D/ca.crt" -noout -fingerprint -sha256)" "$CA_FP" "--force makes a new CA"
expect_ok openssl verify -CAfile "$D/ca.crt" "$D/tls.crt"
expect_eq "$(yaml2json <"$D/validatingwebhookconfiguration.yaml" | jq -r '.[0].webhooks[0].clientConfig.caBundle')" \
  "$(base64 -w0 <"$D/ca.crt")" "the configuration is rendered again with the new CA"
ls -A "$D" >"$TEST_TMP/files"
expect_eq "$(tr '\n' ' ' <"$TEST_TMP/files")" "ca.crt ca.key secret.yaml tls.crt tls.key validatingwebhookconfiguration.yaml " \
  "no temporary files are left behind"

section "the API server accepts the rendered objects"
start_devcluster
expect_ok k apply -f "$D/validatingwebhookconfiguration.yaml"
expect_eq "$(json_field validatingwebhookconfiguration/migration-webhook '{.webhooks[1].clientConfig.service.path}')" \
  "/validate-kubevirt"
expect_ok k create namespace ns1
expect_ok k apply -f "$D/secret.yaml"
expect_eq "$(json_field secret/migration-webhook-certs '{.type}' -n ns1)" "kubernetes.io/tls"

section "kubectl apply -k manifests/ against devcluster"
# devcluster serves no apps/v1, policy/v1, rbac.authorization.k8s.io/v1 or Service objects
# (docs/devcluster.md): kubectl reports each of those by kind and applies everything else.
run k apply -k "$KM_SOURCE_DIR/manifests"
UNSERVED=$(grep -v -e 'no matches for kind "\(Deployment\|DaemonSet\)" in version "apps/v1"' \
  -e 'no matches for kind "PodDisruptionBudget" in version "policy/v1"' \
  -e 'no matches for kind "\(ClusterRole\|ClusterRoleBinding\|Role\|RoleBinding\)" in version "rbac.authorization.k8s.io/v1"' \
  -e 'no matches for kind "Service" in version "v1"' -e '^ensure CRDs are installed first' <<<"$ERR" | grep -v '^$')
expect_eq "$UNSERVED" "" "every refusal is of a kind devcluster does not serve, none of content"
expect_contains "$ERR" 'no matches for kind "DaemonSet" in version "apps/v1"' "the DaemonSet is among them"
for o in customresourcedefinition/virtualmachineinstances.kubevirt.io customresourcedefinition/virtualmachineinstancemigrations.kubevirt.io \
  customresourcedefinition/kubevirts.kubevirt.io validatingwebhookconfiguration/migration-webhook; do
  expect_ok k get "$o"
done
expect_ok k get -n kubevirt serviceaccount/migration-engine serviceaccount/migration-webhook
stop_devcluster
finish
