#!/usr/bin/env bash
# The project's CRDs and examples with real kubectl against devcluster: install, discovery,
# both served versions, printer columns, output formats and schema validation.
# shellcheck disable=SC2119 source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_devcluster

EX=$KM_SOURCE_DIR/examples

# Collapses runs of blanks so table lines can be compared regardless of column widths.
squeeze() {
  tr -s ' \t' ' ' | sed 's/ *$//'
}

section "installing the CRDs"
expect_ok k apply -f "$KM_SOURCE_DIR/manifests/crds/"
expect_contains "$OUT" "customresourcedefinition.apiextensions.k8s.io/virtualmachineinstances.kubevirt.io created"
expect_contains "$OUT" "customresourcedefinition.apiextensions.k8s.io/virtualmachineinstancemigrations.kubevirt.io created"
expect_contains "$OUT" "customresourcedefinition.apiextensions.k8s.io/kubevirts.kubevirt.io created"
for crd in virtualmachineinstances virtualmachineinstancemigrations kubevirts; do
  expect_ok k wait --for condition=established --timeout=10s "crd/$crd.kubevirt.io"
done
expect_eq "$(json_field crd/virtualmachineinstancemigrations.kubevirt.io \
  '{.status.conditions[?(@.type=="NamesAccepted")].status}')" "True" "the CRD's names are accepted"
expect_eq "$(json_field crd/virtualmachineinstancemigrations.kubevirt.io '{.status.acceptedNames.shortNames}')" \
  '["vmim","vmims"]' "status.acceptedNames carries the short names"

section "re-applying the CRDs changes nothing"
expect_ok k apply -f "$KM_SOURCE_DIR/manifests/crds/"
expect_contains "$OUT" "customresourcedefinition.apiextensions.k8s.io/virtualmachineinstancemigrations.kubevirt.io unchanged"

section "discovery"
expect_ok k api-resources --api-group=kubevirt.io
RESOURCES=$(printf '%s\n' "$OUT" | squeeze)
expect_contains "$RESOURCES" "virtualmachineinstances vmi,vmis kubevirt.io/v1 true VirtualMachineInstance"
expect_contains "$RESOURCES" "virtualmachineinstancemigrations vmim,vmims kubevirt.io/v1 true VirtualMachineInstanceMigration"
expect_contains "$RESOURCES" "kubevirts kv,kvs kubevirt.io/v1 true KubeVirt"
expect_ok k api-resources
expect_contains "$(printf '%s\n' "$OUT" | squeeze)" "virtualmachineinstancemigrations vmim,vmims kubevirt.io/v1 true VirtualMachineInstanceMigration" \
  "kubectl api-resources (all groups) lists the VMIM"
expect_ok k api-versions
expect_contains "$OUT" "kubevirt.io/v1"
expect_contains "$OUT" "kubevirt.io/v1alpha3"
expect_ok k get --raw /apis/kubevirt.io
expect_eq "$(jq -r '.preferredVersion.groupVersion' <<<"$OUT")" "kubevirt.io/v1" "v1 is the preferred version"
expect_ok k get --raw /apis/kubevirt.io/v1alpha3
expect_eq "$(jq -r '[.resources[] | select(.name=="virtualmachineinstancemigrations/status")] | length' <<<"$OUT")" \
  "1" "v1alpha3 discovery lists the status subresource"
expect_eq "$(jq -r '.resources[] | select(.name=="virtualmachineinstances") | .categories | join(",")' <<<"$OUT")" \
  "all" "the VMI is in category all"

section "applying the examples as users write them"
expect_ok k apply -f "$EX/kubevirt.yaml"
expect_contains "$OUT" "namespace/kubevirt created"
expect_contains "$OUT" "kubevirt.kubevirt.io/kubevirt created"
expect_ok k apply -f "$EX/vmi.yaml"
expect_contains "$OUT" "virtualmachineinstance.kubevirt.io/vmi-fedora created"
expect_ok k apply -f "$EX/vmim.yaml"
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job created"

section "reading back with both versions"
expect_eq "$(json_field virtualmachineinstancemigrations.v1alpha3.kubevirt.io/migration-job '{.apiVersion} {.kind} {.spec.vmiName}')" \
  "kubevirt.io/v1alpha3 VirtualMachineInstanceMigration vmi-fedora" "the VMIM reads back as v1alpha3"
expect_eq "$(json_field virtualmachineinstancemigrations.v1.kubevirt.io/migration-job '{.apiVersion} {.kind} {.spec.vmiName}')" \
  "kubevirt.io/v1 VirtualMachineInstanceMigration vmi-fedora" "the VMIM reads back as v1"
expect_eq "$(json_field vmim/migration-job '{.apiVersion}')" "kubevirt.io/v1" "short name reads the preferred version"
expect_ok k get --raw /apis/kubevirt.io/v1alpha3/namespaces/default/virtualmachineinstancemigrations/migration-job
expect_eq "$(jq -r '.apiVersion' <<<"$OUT")" "kubevirt.io/v1alpha3" "raw GET of v1alpha3 has apiVersion v1alpha3"
expect_ok k get --raw /apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations
expect_eq "$(jq -r '.kind + " " + .apiVersion + " " + (.items | length | tostring)' <<<"$OUT")" \
  "VirtualMachineInstanceMigrationList kubevirt.io/v1 1" "the list is a VirtualMachineInstanceMigrationList"
expect_match "$(jq -r '.metadata.resourceVersion' <<<"$OUT")" '^[0-9]+$' "the list carries a resourceVersion"

section "the schema keeps the fields users write"
expect_eq "$(json_field vmi/vmi-fedora '{.spec.domain.memory.guest}')" "64Mi"
expect_eq "$(json_field vmi/vmi-fedora '{.spec.domain.resources.requests.memory}')" "64Mi"
expect_eq "$(json_field vmi/vmi-fedora '{.spec.domain.devices.interfaces[0].masquerade}')" "{}" \
  "the empty masquerade object survives"
expect_eq "$(json_field vmi/vmi-fedora '{.spec.networks[0].pod}')" "{}" "the empty pod network object survives"
expect_eq "$(json_field vmi/vmi-fedora '{.spec.volumes[0].containerDisk.image}')" \
  "quay.io/kubevirt/fedora-cloud-container-disk-demo"
expect_contains "$(json_field vmi/vmi-fedora '{.spec.volumes[1].cloudInitNoCloud.userData}')" "#cloud-config"
expect_eq "$(json_field kv/kubevirt '{.spec.configuration.developerConfiguration.featureGates[0]}' -n kubevirt)" \
  "LiveMigration"
expect_eq "$(json_field kv/kubevirt '{.spec.configuration.migrationConfiguration.bandwidthPerMigration}' -n kubevirt)" \
  "64Mi"
expect_eq "$(json_field kv/kubevirt '{.spec.configuration.migrationConfiguration.parallelMigrationsPerCluster}' -n kubevirt)" \
  "5"
expect_ok k get kv -n kubevirt
expect_eq "$(head -n1 <<<"$OUT" | squeeze)" "NAME AGE PHASE" "kubectl get kv shows AGE and PHASE"

section "printer columns"
expect_ok k get vmim
expect_eq "$(head -n1 <<<"$OUT" | squeeze)" "NAME PHASE VMI SOURCE TARGET AGE" "kubectl get vmim shows the columns"
expect_match "$(sed -n 2p <<<"$OUT" | squeeze)" '^migration-job .*vmi-fedora' "the row shows the VMI"
expect_ok k patch vmim migration-job --subresource=status --type=merge \
  -p '{"status":{"phase":"Running","migrationState":{"sourceNode":"node01","targetNode":"node02","targetDirectMigrationNodePorts":{"35001":0,"41068":49152}}}}'
expect_ok k get vmim
expect_match "$(sed -n 2p <<<"$OUT" | squeeze)" '^migration-job Running vmi-fedora node01 node02 [0-9]+s$' \
  "the row shows phase, VMI, source and target"
expect_ok k get vmim migration-job -o json
expect_eq "$(jq -c '.status.migrationState.targetDirectMigrationNodePorts' <<<"$OUT")" '{"35001":0,"41068":49152}' \
  "the ports map keeps integer values"
expect_ok k patch vmi vmi-fedora --subresource=status --type=merge -p '{"status":{"phase":"Running","nodeName":"node01",
  "interfaces":[{"name":"default","ipAddress":"10.0.2.2"}],
  "conditions":[{"type":"Ready","status":"True"},{"type":"LiveMigratable","status":"True"}],
  "migrationMethod":"BlockMigration"}}'
expect_ok k get vmi
expect_eq "$(head -n1 <<<"$OUT" | squeeze)" "NAME AGE PHASE IP NODENAME READY" "kubectl get vmi shows the columns"
expect_match "$(sed -n 2p <<<"$OUT" | squeeze)" '^vmi-fedora [0-9]+s Running 10\.0\.2\.2 node01 True$'
expect_ok k get vmi -o wide
expect_eq "$(head -n1 <<<"$OUT" | squeeze)" "NAME AGE PHASE IP NODENAME READY LIVE-MIGRATABLE" \
  "-o wide adds the priority-1 column"
expect_match "$(sed -n 2p <<<"$OUT" | squeeze)" '^vmi-fedora [0-9]+s Running 10\.0\.2\.2 node01 True True$'
expect_ok k get vmim --no-headers
expect_match "$(squeeze <<<"$OUT")" '^migration-job Running' "--no-headers prints only rows"
expect_ok k get vmim -A
expect_eq "$(head -n1 <<<"$OUT" | squeeze)" "NAMESPACE NAME PHASE VMI SOURCE TARGET AGE" "-A adds NAMESPACE"
expect_ok k get vmim --show-labels
expect_eq "$(head -n1 <<<"$OUT" | squeeze)" "NAME PHASE VMI SOURCE TARGET AGE LABELS"

section "output formats"
expect_ok k get vmim migration-job -o yaml
expect_contains "$OUT" "apiVersion: kubevirt.io/v1"
expect_contains "$OUT" "kind: VirtualMachineInstanceMigration"
expect_contains "$OUT" "  vmiName: vmi-fedora"
expect_contains "$OUT" "  uid: "
expect_contains "$OUT" "  creationTimestamp: "
expect_contains "$OUT" "kubectl.kubernetes.io/last-applied-configuration"
expect_ok k get vmim migration-job -o json
expect_eq "$(jq -r '.spec.vmiName' <<<"$OUT")" "vmi-fedora" "-o json has spec.vmiName"
expect_eq "$(jq -r '.metadata.namespace' <<<"$OUT")" "default" "-o json has the namespace"
expect_match "$(jq -r '.metadata.uid' <<<"$OUT")" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' \
  "the uid is a UUID"
expect_match "$(jq -r '.metadata.creationTimestamp' <<<"$OUT")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
  "creationTimestamp is RFC 3339 in UTC"
expect_eq "$(jq -r '.metadata.generation' <<<"$OUT")" "1" "a new object has generation 1"
expect_ok k get vmim migration-job -o 'jsonpath={.metadata.name}/{.spec.vmiName}'
expect_eq "$OUT" "migration-job/vmi-fedora" "-o jsonpath"
expect_ok k get vmim -o 'jsonpath={.items[*].metadata.name}'
expect_eq "$OUT" "migration-job" "-o jsonpath over a list"
expect_ok k get vmim -o name
expect_eq "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job" "-o name"
expect_ok k get vmim -o custom-columns=N:.metadata.name,V:.spec.vmiName
expect_eq "$(squeeze <<<"$OUT")" "N V
migration-job vmi-fedora" "-o custom-columns"
expect_ok k get vmi,vmim
expect_contains "$OUT" "virtualmachineinstance.kubevirt.io/vmi-fedora"
expect_contains "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job"
expect_ok k get all
expect_contains "$OUT" "virtualmachineinstance.kubevirt.io/vmi-fedora" "kubectl get all includes the VMI (category all)"
expect_contains "$OUT" "virtualmachineinstancemigration.kubevirt.io/migration-job" "kubectl get all includes the VMIM"

section "describe"
expect_ok k describe vmim migration-job
expect_match "$OUT" 'Name: +migration-job' "describe shows the name"
expect_match "$OUT" 'Namespace: +default' "describe shows the namespace"
expect_match "$OUT" 'API Version: +kubevirt.io/v1' "describe shows the API version"
expect_match "$OUT" 'Kind: +VirtualMachineInstanceMigration' "describe shows the kind"
expect_match "$OUT" 'Vmi Name: +vmi-fedora' "describe shows spec.vmiName"
expect_match "$OUT" 'Source Node: +node01' "describe shows the migration state"
expect_contains "$OUT" "Events:"
expect_ok k describe vmi vmi-fedora
expect_match "$OUT" 'Migration Method: +BlockMigration'

section "schema validation"
cat >"$TEST_TMP/typo.yaml" <<'EOF'
apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: typo
spec:
  vmiNmae: vmi-fedora
EOF
expect_fail k apply -f "$TEST_TMP/typo.yaml"
expect_contains "$ERR" "Error from server (BadRequest)" "a typo'd field is a BadRequest"
expect_contains "$ERR" 'unknown field "spec.vmiNmae"' "the error names the unknown field"
expect_fail k get vmim typo
expect_contains "$ERR" 'Error from server (NotFound)' "nothing is stored for a typo'd field"

expect_fail k apply --validate=false -f "$TEST_TMP/typo.yaml"
expect_contains "$ERR" 'The VirtualMachineInstanceMigration "typo" is invalid' \
  "without strict validation the field is pruned and the required vmiName is missing"
expect_contains "$ERR" 'spec.vmiName: Required value'

cat >"$TEST_TMP/extra.yaml" <<'EOF'
apiVersion: kubevirt.io/v1alpha3
kind: VirtualMachineInstanceMigration
metadata:
  name: extra
spec:
  vmiName: vmi-fedora
  extraField: 1
EOF
expect_ok k apply --validate=warn -f "$TEST_TMP/extra.yaml"
expect_contains "$ERR" 'Warning: unknown field "spec.extraField"' "--validate=warn prints the server's warning"
expect_eq "$(json_field vmim/extra '{.spec}')" '{"vmiName":"vmi-fedora"}' "unknown fields are pruned"

cat >"$TEST_TMP/wrongtype.yaml" <<'EOF'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceMigration
metadata:
  name: wrongtype
spec:
  vmiName: 5
EOF
expect_fail k apply -f "$TEST_TMP/wrongtype.yaml"
expect_contains "$ERR" 'The VirtualMachineInstanceMigration "wrongtype" is invalid'
expect_contains "$ERR" 'spec.vmiName: Invalid value: "integer": spec.vmiName in body must be of type string: "integer"'

cat >"$TEST_TMP/badkv.yaml" <<'EOF'
apiVersion: kubevirt.io/v1alpha3
kind: KubeVirt
metadata:
  name: badkv
  namespace: kubevirt
spec:
  configuration:
    migrationConfiguration:
      bandwithPerMigration: 64Mi
EOF
expect_fail k apply -f "$TEST_TMP/badkv.yaml"
expect_contains "$ERR" 'unknown field "spec.configuration.migrationConfiguration.bandwithPerMigration"' \
  "a typo in migrationConfiguration is rejected"

cat >"$TEST_TMP/kind.yaml" <<'EOF'
apiVersion: kubevirt.io/v1alpha3
kind: Kubevirt
metadata:
  name: kubevirt
  namespace: kubevirt
spec: {}
EOF
expect_fail k apply -f "$TEST_TMP/kind.yaml"
expect_contains "$ERR" 'no matches for kind "Kubevirt" in version "kubevirt.io/v1alpha3"' \
  "a wrongly cased kind is not found"

section "the VMI fields a node engine builds its domain from are declared (engine/domain_xml.h)"
cat >"$TEST_TMP/domvmi.yaml" <<'EOF'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: vmi-kernelboot
  namespace: default
spec:
  domain:
    cpu: {sockets: 1, cores: 2, threads: 1}
    memory: {guest: 192Mi}
    firmware:
      kernelBoot:
        kernelArgs: console=ttyS0
        container: {image: km-guest, kernelPath: /vmlinuz, initrdPath: /initrd.img}
    devices:
      disks:
      - {name: root, disk: {bus: virtio}, bootOrder: 1, serial: ROOT-1}
      - {name: cloudinit, cdrom: {bus: sata}}
      interfaces:
      - {name: default, masquerade: {}, macAddress: "52:54:00:00:00:01"}
  networks:
  - {name: default, pod: {}}
  volumes:
  - {name: root, containerDisk: {image: fedora}}
  - {name: scratch, emptyDisk: {capacity: 1Gi}}
  - {name: cloudinit, cloudInitNoCloud: {userData: "#cloud-config", networkData: "version: 2"}}
EOF
expect_ok k apply -f "$TEST_TMP/domvmi.yaml"
expect_ok k get vmi vmi-kernelboot -o json
expect_eq "$(jq -r '.spec.domain.firmware.kernelBoot.container.initrdPath' <<<"$OUT")" "/initrd.img" \
  "kernelBoot is kept"
expect_eq "$(jq -r '.spec.domain.devices.disks[0].serial + " " + (.spec.domain.devices.disks[0].bootOrder|tostring)' <<<"$OUT")" \
  "ROOT-1 1" "disk serial and bootOrder are kept"
expect_eq "$(jq -r '.spec.domain.devices.interfaces[0].macAddress' <<<"$OUT")" "52:54:00:00:00:01" \
  "macAddress is kept"
sed 's/kernelArgs: console=ttyS0/kernelArgs: 7/' "$TEST_TMP/domvmi.yaml" >"$TEST_TMP/domvmi-bad.yaml"
expect_fail k apply -f "$TEST_TMP/domvmi-bad.yaml"
expect_contains "$ERR" "spec.domain.firmware.kernelBoot.kernelArgs" "kernelArgs must be a string"

section "deleting a CRD removes its resource from discovery"
expect_ok k delete -f "$KM_SOURCE_DIR/manifests/crds/kubevirts.yaml"
expect_ok k get --raw /apis/kubevirt.io/v1
expect_eq "$(jq -r '[.resources[] | select(.name=="kubevirts")] | length' <<<"$OUT")" "0" \
  "kubevirts is gone from discovery"
expect_fail k get --raw /apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt
expect_contains "$ERR" "NotFound" "its objects are no longer served"

stop_devcluster
finish
