#include "api/json.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "api/json_util.h"

namespace api {
namespace {

using base::Status;
using json_internal::FieldError;
using json_internal::GetArray;
using json_internal::GetBool;
using json_internal::GetInt64;
using json_internal::GetObject;
using json_internal::GetOptString;
using json_internal::GetString;
using json_internal::GetStringArray;
using json_internal::GetStringMap;
using json_internal::Index;
using json_internal::Join;
using json_internal::Member;
using json_internal::TypeName;
using rapidjson::Value;

#define API_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::base::Status api_status_ = (expr);       \
    if (!api_status_.ok()) return api_status_; \
  } while (0)

Status CheckRoot(const Value& v, std::string_view kind, bool core_v1) {
  if (!v.IsObject()) {
    return base::InvalidArgument(std::string("a ") + std::string(kind) +
                                 " must be a JSON object, got " + TypeName(v));
  }
  std::string api_version, got_kind;
  API_RETURN_IF_ERROR(GetString(v, "apiVersion", "", api_version));
  API_RETURN_IF_ERROR(GetString(v, "kind", "", got_kind));
  if (!api_version.empty()) {
    bool ok = core_v1 ? api_version == "v1"
                      : (api_version == "kubevirt.io/v1" || api_version == "kubevirt.io/v1alpha3");
    if (!ok) {
      return FieldError("apiVersion",
                        "unsupported \"" + api_version + "\" (want " +
                            (core_v1 ? "v1" : "kubevirt.io/v1 or kubevirt.io/v1alpha3") + ")");
    }
  }
  if (!got_kind.empty() && got_kind != kind) {
    return FieldError("kind", "must be " + std::string(kind) + ", got \"" + got_kind + "\"");
  }
  return Status::Ok();
}

Status ParseMeta(const Value& root, ObjectMeta& meta) {
  const Value* m = nullptr;
  API_RETURN_IF_ERROR(GetObject(root, "metadata", "", m));
  if (m == nullptr) return Status::Ok();
  const std::string p = "metadata";
  API_RETURN_IF_ERROR(GetString(*m, "name", p, meta.name));
  API_RETURN_IF_ERROR(GetString(*m, "namespace", p, meta.namespace_));
  API_RETURN_IF_ERROR(GetString(*m, "generateName", p, meta.generate_name));
  API_RETURN_IF_ERROR(GetString(*m, "uid", p, meta.uid));
  API_RETURN_IF_ERROR(GetString(*m, "resourceVersion", p, meta.resource_version));
  API_RETURN_IF_ERROR(GetInt64(*m, "generation", p, meta.generation));
  API_RETURN_IF_ERROR(GetStringMap(*m, "labels", p, meta.labels));
  API_RETURN_IF_ERROR(GetStringMap(*m, "annotations", p, meta.annotations));
  API_RETURN_IF_ERROR(GetStringArray(*m, "finalizers", p, meta.finalizers));
  API_RETURN_IF_ERROR(GetOptString(*m, "deletionTimestamp", p, meta.deletion_timestamp));
  API_RETURN_IF_ERROR(GetString(*m, "creationTimestamp", p, meta.creation_timestamp));
  return Status::Ok();
}

Status ParseConditions(const Value& obj, std::string_view path, std::vector<Condition>& out) {
  const Value* arr = nullptr;
  API_RETURN_IF_ERROR(GetArray(obj, "conditions", path, arr));
  if (arr == nullptr) return Status::Ok();
  const std::string here = Join(path, "conditions");
  for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
    const Value& c = (*arr)[i];
    const std::string p = Index(here, i);
    if (!c.IsObject()) return FieldError(p, std::string("must be an object, got ") + TypeName(c));
    Condition cond;
    API_RETURN_IF_ERROR(GetString(c, "type", p, cond.type));
    API_RETURN_IF_ERROR(GetString(c, "status", p, cond.status));
    API_RETURN_IF_ERROR(GetString(c, "reason", p, cond.reason));
    API_RETURN_IF_ERROR(GetString(c, "message", p, cond.message));
    API_RETURN_IF_ERROR(GetString(c, "lastTransitionTime", p, cond.last_transition_time));
    API_RETURN_IF_ERROR(GetString(c, "lastProbeTime", p, cond.last_probe_time));
    out.push_back(std::move(cond));
  }
  return Status::Ok();
}

Status GetQuantity(const Value& obj, std::string_view key, std::string_view path,
                   std::optional<Quantity>& out) {
  const Value* v = Member(obj, key);
  if (v == nullptr) return Status::Ok();
  auto q = ParseQuantityValue(*v, Join(path, key));
  if (!q.ok()) return q.status();
  out = *q;
  return Status::Ok();
}

// Applies the fields present in a MigrationConfiguration object onto `cfg`.
Status ApplyMigrationConfig(const Value& obj, std::string_view path, MigrationConfig& cfg) {
  API_RETURN_IF_ERROR(
      GetInt64(obj, "parallelMigrationsPerCluster", path, cfg.parallel_migrations_per_cluster));
  API_RETURN_IF_ERROR(GetInt64(obj, "parallelOutboundMigrationsPerNode", path,
                               cfg.parallel_outbound_migrations_per_node));
  std::optional<Quantity> bw;
  API_RETURN_IF_ERROR(GetQuantity(obj, "bandwidthPerMigration", path, bw));
  if (bw) cfg.bandwidth_per_migration = *bw;
  API_RETURN_IF_ERROR(
      GetInt64(obj, "completionTimeoutPerGiB", path, cfg.completion_timeout_per_gib));
  API_RETURN_IF_ERROR(GetInt64(obj, "progressTimeout", path, cfg.progress_timeout));
  API_RETURN_IF_ERROR(GetBool(obj, "allowAutoConverge", path, cfg.allow_auto_converge));
  API_RETURN_IF_ERROR(GetBool(obj, "allowPostCopy", path, cfg.allow_post_copy));
  return Status::Ok();
}

Status ParseMigrationState(const Value& parent, std::string_view path,
                           std::optional<MigrationState>& out) {
  const Value* m = nullptr;
  API_RETURN_IF_ERROR(GetObject(parent, "migrationState", path, m));
  if (m == nullptr) return Status::Ok();
  const std::string p = Join(path, "migrationState");
  MigrationState s;
  API_RETURN_IF_ERROR(GetOptString(*m, "startTimestamp", p, s.start_timestamp));
  API_RETURN_IF_ERROR(GetOptString(*m, "endTimestamp", p, s.end_timestamp));
  API_RETURN_IF_ERROR(GetString(*m, "sourceNode", p, s.source_node));
  API_RETURN_IF_ERROR(GetString(*m, "targetNode", p, s.target_node));
  API_RETURN_IF_ERROR(GetString(*m, "targetNodeAddress", p, s.target_node_address));
  API_RETURN_IF_ERROR(GetBool(*m, "targetNodeDomainDetected", p, s.target_node_domain_detected));
  const Value* ports = nullptr;
  API_RETURN_IF_ERROR(GetObject(*m, "targetDirectMigrationNodePorts", p, ports));
  if (ports != nullptr) {
    const std::string pp = Join(p, "targetDirectMigrationNodePorts");
    for (const auto& e : ports->GetObject()) {
      std::string k(e.name.GetString(), e.name.GetStringLength());
      if (!e.value.IsInt()) {
        return FieldError(pp + "[" + k + "]",
                          std::string("must be an integer, got ") + TypeName(e.value));
      }
      s.target_direct_migration_node_ports[k] = e.value.GetInt();
    }
  }
  API_RETURN_IF_ERROR(GetString(*m, "targetPod", p, s.target_pod));
  API_RETURN_IF_ERROR(GetString(*m, "migrationUid", p, s.migration_uid));
  API_RETURN_IF_ERROR(GetBool(*m, "completed", p, s.completed));
  API_RETURN_IF_ERROR(GetBool(*m, "failed", p, s.failed));
  API_RETURN_IF_ERROR(GetBool(*m, "abortRequested", p, s.abort_requested));
  API_RETURN_IF_ERROR(GetString(*m, "abortStatus", p, s.abort_status));
  API_RETURN_IF_ERROR(GetString(*m, "failureReason", p, s.failure_reason));
  API_RETURN_IF_ERROR(GetString(*m, "mode", p, s.mode));
  const Value* cfg = nullptr;
  API_RETURN_IF_ERROR(GetObject(*m, "migrationConfiguration", p, cfg));
  if (cfg != nullptr) {
    MigrationConfig c;
    API_RETURN_IF_ERROR(ApplyMigrationConfig(*cfg, Join(p, "migrationConfiguration"), c));
    s.migration_configuration = c;
  }
  out = std::move(s);
  return Status::Ok();
}

template <typename T>
struct KeyedValue {
  const char* key;
  T value;
};

// Sets `out` to the value of the first table entry whose key is an object
// member of `v` (a KubeVirt union: the member present names the variant), or
// to `fallback` when none is. A present member that is not an object is an
// error.
template <typename T, size_t N>
Status FirstObjectKey(const Value& v, const std::string& p, const KeyedValue<T> (&table)[N],
                      T fallback, T& out) {
  for (const KeyedValue<T>& entry : table) {
    const Value* o = nullptr;
    API_RETURN_IF_ERROR(GetObject(v, entry.key, p, o));
    if (o != nullptr) {
      out = entry.value;
      return Status::Ok();
    }
  }
  out = fallback;
  return Status::Ok();
}

Status ParseVolume(const Value& v, const std::string& p, Volume& vol) {
  if (!v.IsObject()) return FieldError(p, std::string("must be an object, got ") + TypeName(v));
  API_RETURN_IF_ERROR(GetString(v, "name", p, vol.name));
  const Value* src = nullptr;
  // A claim name is required where the source names a claim.
  auto claim = [&](const char* source, const char* key) -> Status {
    const std::string sp = Join(p, source);
    API_RETURN_IF_ERROR(GetString(*src, key, sp, vol.claim_name));
    if (vol.claim_name.empty()) return FieldError(Join(sp, key), "must be a non-empty string");
    return Status::Ok();
  };
  static constexpr KeyedValue<VolumeKind> kSimple[] = {
      {"cloudInitConfigDrive", VolumeKind::kCloudInitConfigDrive},
      {"configMap", VolumeKind::kConfigMap},
      {"secret", VolumeKind::kSecret},
      {"serviceAccount", VolumeKind::kServiceAccount},
      {"downwardAPI", VolumeKind::kDownwardAPI},
  };
  API_RETURN_IF_ERROR(GetObject(v, "persistentVolumeClaim", p, src));
  if (src != nullptr) {
    vol.kind = VolumeKind::kPersistentVolumeClaim;
    return claim("persistentVolumeClaim", "claimName");
  }
  API_RETURN_IF_ERROR(GetObject(v, "dataVolume", p, src));
  if (src != nullptr) {
    vol.kind = VolumeKind::kDataVolume;
    return claim("dataVolume", "name");
  }
  API_RETURN_IF_ERROR(GetObject(v, "memoryDump", p, src));
  if (src != nullptr) {  // a hot-plugged PVC holding a memory dump
    vol.kind = VolumeKind::kPersistentVolumeClaim;
    return claim("memoryDump", "claimName");
  }
  API_RETURN_IF_ERROR(GetObject(v, "ephemeral", p, src));
  if (src != nullptr) {
    vol.kind = VolumeKind::kEphemeral;
    const std::string ep = Join(p, "ephemeral");
    const Value* pvc = nullptr;
    API_RETURN_IF_ERROR(GetObject(*src, "persistentVolumeClaim", ep, pvc));
    if (pvc != nullptr) {
      API_RETURN_IF_ERROR(
          GetString(*pvc, "claimName", Join(ep, "persistentVolumeClaim"), vol.claim_name));
    }
    return Status::Ok();
  }
  API_RETURN_IF_ERROR(GetObject(v, "containerDisk", p, src));
  if (src != nullptr) {
    vol.kind = VolumeKind::kContainerDisk;
    return GetString(*src, "image", Join(p, "containerDisk"), vol.image);
  }
  API_RETURN_IF_ERROR(GetObject(v, "emptyDisk", p, src));
  if (src != nullptr) {
    vol.kind = VolumeKind::kEmptyDisk;
    return GetQuantity(*src, "capacity", Join(p, "emptyDisk"), vol.capacity);
  }
  API_RETURN_IF_ERROR(GetObject(v, "hostDisk", p, src));
  if (src != nullptr) {
    vol.kind = VolumeKind::kHostDisk;
    const std::string hp = Join(p, "hostDisk");
    API_RETURN_IF_ERROR(GetQuantity(*src, "capacity", hp, vol.capacity));
    return GetBool(*src, "shared", hp, vol.host_disk_shared);
  }
  API_RETURN_IF_ERROR(GetObject(v, "cloudInitNoCloud", p, src));
  if (src != nullptr) {
    vol.kind = VolumeKind::kCloudInitNoCloud;
    const std::string cp = Join(p, "cloudInitNoCloud");
    API_RETURN_IF_ERROR(GetString(*src, "userData", cp, vol.user_data));
    API_RETURN_IF_ERROR(GetString(*src, "userDataBase64", cp, vol.user_data_base64));
    return GetString(*src, "networkData", cp, vol.network_data);
  }
  return FirstObjectKey(v, p, kSimple, VolumeKind::kOther, vol.kind);
}

Status ParseInterface(const Value& v, const std::string& p, Interface& iface) {
  if (!v.IsObject()) return FieldError(p, std::string("must be an object, got ") + TypeName(v));
  API_RETURN_IF_ERROR(GetString(v, "name", p, iface.name));
  API_RETURN_IF_ERROR(GetString(v, "macAddress", p, iface.mac_address));
  // Bridge is checked first: if a malformed object names several bindings,
  // the non-migratable one wins.
  static constexpr KeyedValue<InterfaceBinding> kBindings[] = {
      {"bridge", InterfaceBinding::kBridge}, {"masquerade", InterfaceBinding::kMasquerade},
      {"sriov", InterfaceBinding::kSriov},   {"slirp", InterfaceBinding::kSlirp},
      {"passt", InterfaceBinding::kPasst},   {"macvtap", InterfaceBinding::kMacvtap},
      {"binding", InterfaceBinding::kOther},
  };
  return FirstObjectKey(v, p, kBindings, InterfaceBinding::kNone, iface.binding);
}

Status ParseDisk(const Value& v, const std::string& p, Disk& disk) {
  if (!v.IsObject()) return FieldError(p, std::string("must be an object, got ") + TypeName(v));
  API_RETURN_IF_ERROR(GetString(v, "name", p, disk.name));
  API_RETURN_IF_ERROR(GetInt64(v, "bootOrder", p, disk.boot_order));
  if (disk.boot_order < 0) return FieldError(Join(p, "bootOrder"), "must not be negative");
  API_RETURN_IF_ERROR(GetString(v, "serial", p, disk.serial));
  static constexpr KeyedValue<DiskDevice> kDevices[] = {
      {"disk", DiskDevice::kDisk}, {"cdrom", DiskDevice::kCdrom}, {"lun", DiskDevice::kLun}};
  for (const KeyedValue<DiskDevice>& entry : kDevices) {
    const Value* o = nullptr;
    API_RETURN_IF_ERROR(GetObject(v, entry.key, p, o));
    if (o != nullptr) {
      disk.device = entry.value;
      return GetString(*o, "bus", Join(p, entry.key), disk.bus);
    }
  }
  return Status::Ok();
}

Status ParseKernelBoot(const Value& firmware, const std::string& fp,
                       std::optional<KernelBoot>& out) {
  const Value* kb = nullptr;
  API_RETURN_IF_ERROR(GetObject(firmware, "kernelBoot", fp, kb));
  if (kb == nullptr) return Status::Ok();
  const std::string kp = Join(fp, "kernelBoot");
  KernelBoot k;
  API_RETURN_IF_ERROR(GetString(*kb, "kernelArgs", kp, k.kernel_args));
  const Value* c = nullptr;
  API_RETURN_IF_ERROR(GetObject(*kb, "container", kp, c));
  if (c != nullptr) {
    const std::string cp = Join(kp, "container");
    API_RETURN_IF_ERROR(GetString(*c, "image", cp, k.image));
    API_RETURN_IF_ERROR(GetString(*c, "kernelPath", cp, k.kernel_path));
    API_RETURN_IF_ERROR(GetString(*c, "initrdPath", cp, k.initrd_path));
  }
  out = std::move(k);
  return Status::Ok();
}

Status ParseNetwork(const Value& v, const std::string& p, Network& net) {
  if (!v.IsObject()) return FieldError(p, std::string("must be an object, got ") + TypeName(v));
  API_RETURN_IF_ERROR(GetString(v, "name", p, net.name));
  const Value* o = nullptr;
  API_RETURN_IF_ERROR(GetObject(v, "pod", p, o));
  if (o != nullptr) {
    net.kind = NetworkKind::kPod;
    return Status::Ok();
  }
  API_RETURN_IF_ERROR(GetObject(v, "multus", p, o));
  if (o != nullptr) {
    net.kind = NetworkKind::kMultus;
    return GetString(*o, "networkName", Join(p, "multus"), net.multus_network_name);
  }
  net.kind = NetworkKind::kOther;
  return Status::Ok();
}

template <typename T>
Status ParseArray(const Value& obj, std::string_view key, std::string_view path,
                  std::vector<T>& out, Status (*parse)(const Value&, const std::string&, T&)) {
  const Value* arr = nullptr;
  API_RETURN_IF_ERROR(GetArray(obj, key, path, arr));
  if (arr == nullptr) return Status::Ok();
  const std::string here = Join(path, key);
  for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
    T item;
    API_RETURN_IF_ERROR(parse((*arr)[i], Index(here, i), item));
    out.push_back(std::move(item));
  }
  return Status::Ok();
}

Status ParseVMISpec(const Value& root, VMISpec& spec) {
  const Value* s = nullptr;
  API_RETURN_IF_ERROR(GetObject(root, "spec", "", s));
  if (s == nullptr) return Status::Ok();
  const Value* domain = nullptr;
  API_RETURN_IF_ERROR(GetObject(*s, "domain", "spec", domain));
  if (domain != nullptr) {
    const std::string dp = "spec.domain";
    const Value* o = nullptr;
    API_RETURN_IF_ERROR(GetObject(*domain, "memory", dp, o));
    if (o != nullptr)
      API_RETURN_IF_ERROR(GetQuantity(*o, "guest", dp + ".memory", spec.memory_guest));
    API_RETURN_IF_ERROR(GetObject(*domain, "resources", dp, o));
    if (o != nullptr) {
      const Value* req = nullptr;
      API_RETURN_IF_ERROR(GetObject(*o, "requests", dp + ".resources", req));
      if (req != nullptr) {
        API_RETURN_IF_ERROR(
            GetQuantity(*req, "memory", dp + ".resources.requests", spec.memory_request));
      }
    }
    API_RETURN_IF_ERROR(GetObject(*domain, "cpu", dp, o));
    if (o != nullptr) {
      API_RETURN_IF_ERROR(GetInt64(*o, "cores", dp + ".cpu", spec.cpu_cores));
      API_RETURN_IF_ERROR(GetInt64(*o, "sockets", dp + ".cpu", spec.cpu_sockets));
      API_RETURN_IF_ERROR(GetInt64(*o, "threads", dp + ".cpu", spec.cpu_threads));
    }
    API_RETURN_IF_ERROR(GetObject(*domain, "firmware", dp, o));
    if (o != nullptr) API_RETURN_IF_ERROR(ParseKernelBoot(*o, dp + ".firmware", spec.kernel_boot));
    API_RETURN_IF_ERROR(GetObject(*domain, "devices", dp, o));
    if (o != nullptr) {
      API_RETURN_IF_ERROR(ParseArray(*o, "disks", dp + ".devices", spec.disks, &ParseDisk));
      API_RETURN_IF_ERROR(
          ParseArray(*o, "interfaces", dp + ".devices", spec.interfaces, &ParseInterface));
    }
  }
  API_RETURN_IF_ERROR(ParseArray(*s, "volumes", "spec", spec.volumes, &ParseVolume));
  API_RETURN_IF_ERROR(ParseArray(*s, "networks", "spec", spec.networks, &ParseNetwork));
  API_RETURN_IF_ERROR(GetStringMap(*s, "nodeSelector", "spec", spec.node_selector));
  return Status::Ok();
}

Status ParseInterfaceStatus(const Value& v, const std::string& p, VMIInterfaceStatus& out) {
  if (!v.IsObject()) return FieldError(p, std::string("must be an object, got ") + TypeName(v));
  API_RETURN_IF_ERROR(GetString(v, "name", p, out.name));
  API_RETURN_IF_ERROR(GetString(v, "ipAddress", p, out.ip_address));
  API_RETURN_IF_ERROR(GetStringArray(v, "ipAddresses", p, out.ip_addresses));
  API_RETURN_IF_ERROR(GetString(v, "mac", p, out.mac));
  return Status::Ok();
}

Status ParseVMIStatus(const Value& root, VMIStatus& status) {
  const Value* s = nullptr;
  API_RETURN_IF_ERROR(GetObject(root, "status", "", s));
  if (s == nullptr) return Status::Ok();
  API_RETURN_IF_ERROR(GetString(*s, "phase", "status", status.phase));
  API_RETURN_IF_ERROR(GetString(*s, "nodeName", "status", status.node_name));
  API_RETURN_IF_ERROR(ParseConditions(*s, "status", status.conditions));
  API_RETURN_IF_ERROR(GetString(*s, "migrationMethod", "status", status.migration_method));
  API_RETURN_IF_ERROR(ParseMigrationState(*s, "status", status.migration_state));
  API_RETURN_IF_ERROR(
      ParseArray(*s, "interfaces", "status", status.interfaces, &ParseInterfaceStatus));
  return Status::Ok();
}

Status ParsePhaseTransition(const Value& v, const std::string& p, PhaseTransition& out) {
  if (!v.IsObject()) return FieldError(p, std::string("must be an object, got ") + TypeName(v));
  std::string phase;
  API_RETURN_IF_ERROR(GetString(v, "phase", p, phase));
  out.phase = ParseMigrationPhase(phase);
  API_RETURN_IF_ERROR(GetString(v, "phaseTransitionTimestamp", p, out.timestamp));
  return Status::Ok();
}

// ---------------------------------------------------------------- writing

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(Writer& w, const char* key, const std::string& v, bool always = false) {
  if (v.empty() && !always) return;
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void WriteBool(Writer& w, const char* key, bool v, bool always = false) {
  if (!v && !always) return;
  w.Key(key);
  w.Bool(v);
}

void WriteMigrationConfig(Writer& w, const MigrationConfig& c) {
  w.StartObject();
  w.Key("parallelMigrationsPerCluster");
  w.Int64(c.parallel_migrations_per_cluster);
  w.Key("parallelOutboundMigrationsPerNode");
  w.Int64(c.parallel_outbound_migrations_per_node);
  WriteString(w, "bandwidthPerMigration", c.bandwidth_per_migration.String(), true);
  w.Key("completionTimeoutPerGiB");
  w.Int64(c.completion_timeout_per_gib);
  w.Key("progressTimeout");
  w.Int64(c.progress_timeout);
  WriteBool(w, "allowAutoConverge", c.allow_auto_converge, true);
  WriteBool(w, "allowPostCopy", c.allow_post_copy, true);
  w.EndObject();
}

void WriteCondition(Writer& w, const Condition& c) {
  w.StartObject();
  WriteString(w, "type", c.type, true);
  WriteString(w, "status", c.status, true);
  WriteString(w, "reason", c.reason);
  WriteString(w, "message", c.message);
  WriteString(w, "lastTransitionTime", c.last_transition_time);
  WriteString(w, "lastProbeTime", c.last_probe_time);
  w.EndObject();
}

void WriteMigrationState(Writer& w, const MigrationState& s) {
  w.StartObject();
  if (s.start_timestamp) WriteString(w, "startTimestamp", *s.start_timestamp, true);
  if (s.end_timestamp) WriteString(w, "endTimestamp", *s.end_timestamp, true);
  WriteString(w, "sourceNode", s.source_node);
  WriteString(w, "targetNode", s.target_node);
  WriteString(w, "targetNodeAddress", s.target_node_address);
  WriteBool(w, "targetNodeDomainDetected", s.target_node_domain_detected);
  if (!s.target_direct_migration_node_ports.empty()) {
    w.Key("targetDirectMigrationNodePorts");
    w.StartObject();
    for (const auto& [port, guest] : s.target_direct_migration_node_ports) {
      w.Key(port.data(), static_cast<rapidjson::SizeType>(port.size()));
      w.Int(guest);
    }
    w.EndObject();
  }
  WriteString(w, "targetPod", s.target_pod);
  WriteString(w, "migrationUid", s.migration_uid);
  WriteBool(w, "completed", s.completed, true);
  WriteBool(w, "failed", s.failed, true);
  WriteBool(w, "abortRequested", s.abort_requested);
  WriteString(w, "abortStatus", s.abort_status);
  WriteString(w, "failureReason", s.failure_reason);
  WriteString(w, "mode", s.mode);
  if (s.migration_configuration) {
    w.Key("migrationConfiguration");
    WriteMigrationConfig(w, *s.migration_configuration);
  }
  w.EndObject();
}

std::string Take(const rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

bool WriteCanonical(Writer& w, const Value& v, int depth) {
  if (depth > kMaxJsonDepth) return false;
  if (v.IsObject()) {
    std::vector<const Value::Member*> members;
    members.reserve(v.MemberCount());
    for (const auto& m : v.GetObject()) members.push_back(&m);
    // Stable, so duplicate keys (legal for RapidJSON) keep their order.
    std::stable_sort(members.begin(), members.end(),
                     [](const Value::Member* a, const Value::Member* b) {
                       return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
                              std::string_view(b->name.GetString(), b->name.GetStringLength());
                     });
    w.StartObject();
    for (const Value::Member* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      if (!WriteCanonical(w, m->value, depth + 1)) return false;
    }
    w.EndObject();
    return true;
  }
  if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) {
      if (!WriteCanonical(w, e, depth + 1)) return false;
    }
    w.EndArray();
    return true;
  }
  v.Accept(w);  // a scalar: no recursion
  return true;
}

template <typename T>
base::StatusOr<T> ParseTextAs(std::string_view json,
                              base::StatusOr<T> (*from_value)(const Value&)) {
  rapidjson::Document doc;
  API_RETURN_IF_ERROR(json_internal::ParseText(json, doc));
  return from_value(doc);
}

}  // namespace

base::StatusOr<Quantity> ParseQuantityValue(const Value& value, std::string_view field) {
  std::string text;
  if (value.IsString()) {
    text.assign(value.GetString(), value.GetStringLength());
  } else if (value.IsInt64()) {
    text = std::to_string(value.GetInt64());
  } else if (value.IsUint64()) {
    text = std::to_string(value.GetUint64());
  } else if (value.IsNumber()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", value.GetDouble());
    text = buf;
  } else {
    return FieldError(field,
                      std::string("must be a quantity (string or number), got ") + TypeName(value));
  }
  auto q = Quantity::Parse(text);
  if (!q.ok()) return FieldError(field, q.status().message());
  return q;
}

base::StatusOr<VMI> ParseVMI(const Value& value) {
  API_RETURN_IF_ERROR(CheckRoot(value, "VirtualMachineInstance", false));
  VMI vmi;
  API_RETURN_IF_ERROR(ParseMeta(value, vmi.meta));
  API_RETURN_IF_ERROR(ParseVMISpec(value, vmi.spec));
  API_RETURN_IF_ERROR(ParseVMIStatus(value, vmi.status));
  return vmi;
}

base::StatusOr<VMIM> ParseVMIM(const Value& value) {
  API_RETURN_IF_ERROR(CheckRoot(value, "VirtualMachineInstanceMigration", false));
  VMIM m;
  API_RETURN_IF_ERROR(ParseMeta(value, m.meta));
  const Value* spec = nullptr;
  API_RETURN_IF_ERROR(GetObject(value, "spec", "", spec));
  if (spec != nullptr) {
    API_RETURN_IF_ERROR(GetString(*spec, "vmiName", "spec", m.spec.vmi_name));
    API_RETURN_IF_ERROR(
        GetStringMap(*spec, "addedNodeSelector", "spec", m.spec.added_node_selector));
    auto canonical = CanonicalJson(*spec);
    if (!canonical.ok()) return FieldError("spec", canonical.status().message());
    m.spec.canonical_json = std::move(*canonical);
  }
  const Value* status = nullptr;
  API_RETURN_IF_ERROR(GetObject(value, "status", "", status));
  if (status != nullptr) {
    std::string phase;
    API_RETURN_IF_ERROR(GetString(*status, "phase", "status", phase));
    m.status.phase = ParseMigrationPhase(phase);
    API_RETURN_IF_ERROR(ParseArray(*status, "phaseTransitionTimestamps", "status",
                                   m.status.phase_transition_timestamps, &ParsePhaseTransition));
    API_RETURN_IF_ERROR(ParseConditions(*status, "status", m.status.conditions));
    API_RETURN_IF_ERROR(ParseMigrationState(*status, "status", m.status.migration_state));
  }
  return m;
}

base::StatusOr<KubeVirt> ParseKubeVirt(const Value& value) {
  API_RETURN_IF_ERROR(CheckRoot(value, "KubeVirt", false));
  KubeVirt kv;
  API_RETURN_IF_ERROR(ParseMeta(value, kv.meta));
  const Value* spec = nullptr;
  API_RETURN_IF_ERROR(GetObject(value, "spec", "", spec));
  if (spec == nullptr) return kv;
  const Value* conf = nullptr;
  API_RETURN_IF_ERROR(GetObject(*spec, "configuration", "spec", conf));
  if (conf == nullptr) return kv;
  const std::string cp = "spec.configuration";
  const Value* dev = nullptr;
  API_RETURN_IF_ERROR(GetObject(*conf, "developerConfiguration", cp, dev));
  if (dev != nullptr) {
    API_RETURN_IF_ERROR(GetStringArray(*dev, "featureGates", cp + ".developerConfiguration",
                                       kv.config.feature_gates));
  }
  // The older name first, so that `migrations` wins field by field.
  for (const char* key : {"migrationConfiguration", "migrations"}) {
    const Value* mc = nullptr;
    API_RETURN_IF_ERROR(GetObject(*conf, key, cp, mc));
    if (mc != nullptr)
      API_RETURN_IF_ERROR(ApplyMigrationConfig(*mc, Join(cp, key), kv.config.migrations));
  }
  return kv;
}

base::StatusOr<PVC> ParsePVC(const Value& value) {
  API_RETURN_IF_ERROR(CheckRoot(value, "PersistentVolumeClaim", true));
  PVC pvc;
  API_RETURN_IF_ERROR(ParseMeta(value, pvc.meta));
  const Value* spec = nullptr;
  API_RETURN_IF_ERROR(GetObject(value, "spec", "", spec));
  if (spec != nullptr) {
    API_RETURN_IF_ERROR(GetStringArray(*spec, "accessModes", "spec", pvc.access_modes));
    API_RETURN_IF_ERROR(GetString(*spec, "volumeMode", "spec", pvc.volume_mode));
    API_RETURN_IF_ERROR(GetString(*spec, "volumeName", "spec", pvc.volume_name));
    const Value* res = nullptr;
    API_RETURN_IF_ERROR(GetObject(*spec, "resources", "spec", res));
    if (res != nullptr) {
      const Value* req = nullptr;
      API_RETURN_IF_ERROR(GetObject(*res, "requests", "spec.resources", req));
      if (req != nullptr)
        API_RETURN_IF_ERROR(GetQuantity(*req, "storage", "spec.resources.requests", pvc.capacity));
    }
  }
  const Value* status = nullptr;
  API_RETURN_IF_ERROR(GetObject(value, "status", "", status));
  if (status != nullptr) {
    const Value* cap = nullptr;
    API_RETURN_IF_ERROR(GetObject(*status, "capacity", "status", cap));
    if (cap != nullptr) {
      std::optional<Quantity> actual;
      API_RETURN_IF_ERROR(GetQuantity(*cap, "storage", "status.capacity", actual));
      if (actual) pvc.capacity = actual;  // the bound size beats the request
    }
  }
  return pvc;
}

base::StatusOr<PV> ParsePV(const Value& value) {
  API_RETURN_IF_ERROR(CheckRoot(value, "PersistentVolume", true));
  PV pv;
  API_RETURN_IF_ERROR(ParseMeta(value, pv.meta));
  const Value* spec = nullptr;
  API_RETURN_IF_ERROR(GetObject(value, "spec", "", spec));
  if (spec == nullptr) return pv;
  API_RETURN_IF_ERROR(GetStringArray(*spec, "accessModes", "spec", pv.access_modes));
  API_RETURN_IF_ERROR(GetString(*spec, "volumeMode", "spec", pv.volume_mode));
  const Value* o = nullptr;
  API_RETURN_IF_ERROR(GetObject(*spec, "capacity", "spec", o));
  if (o != nullptr) API_RETURN_IF_ERROR(GetQuantity(*o, "storage", "spec.capacity", pv.capacity));
  API_RETURN_IF_ERROR(GetObject(*spec, "claimRef", "spec", o));
  if (o != nullptr) {
    API_RETURN_IF_ERROR(GetString(*o, "namespace", "spec.claimRef", pv.claim_namespace));
    API_RETURN_IF_ERROR(GetString(*o, "name", "spec.claimRef", pv.claim_name));
  }
  // Each source present is read (and type-checked), so a malformed one is
  // reported even when another is present too.
  API_RETURN_IF_ERROR(GetObject(*spec, "hostPath", "spec", o));
  if (o != nullptr) API_RETURN_IF_ERROR(GetString(*o, "path", "spec.hostPath", pv.host_path));
  API_RETURN_IF_ERROR(GetObject(*spec, "local", "spec", o));
  if (o != nullptr) API_RETURN_IF_ERROR(GetString(*o, "path", "spec.local", pv.local_path));
  API_RETURN_IF_ERROR(GetObject(*spec, "nfs", "spec", o));
  if (o != nullptr) {
    API_RETURN_IF_ERROR(GetString(*o, "server", "spec.nfs", pv.nfs_server));
    API_RETURN_IF_ERROR(GetString(*o, "path", "spec.nfs", pv.nfs_path));
  }
  return pv;
}

base::StatusOr<VMI> ParseVMI(std::string_view json) { return ParseTextAs<VMI>(json, &ParseVMI); }
base::StatusOr<VMIM> ParseVMIM(std::string_view json) {
  return ParseTextAs<VMIM>(json, &ParseVMIM);
}
base::StatusOr<KubeVirt> ParseKubeVirt(std::string_view json) {
  return ParseTextAs<KubeVirt>(json, &ParseKubeVirt);
}
base::StatusOr<PVC> ParsePVC(std::string_view json) { return ParseTextAs<PVC>(json, &ParsePVC); }
base::StatusOr<PV> ParsePV(std::string_view json) { return ParseTextAs<PV>(json, &ParsePV); }

std::string ConditionToJson(const Condition& condition) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteCondition(w, condition);
  return Take(buf);
}

std::string MigrationConfigToJson(const MigrationConfig& config) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteMigrationConfig(w, config);
  return Take(buf);
}

std::string MigrationStateToJson(const MigrationState& state) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteMigrationState(w, state);
  return Take(buf);
}

std::string VMIMStatusToJson(const VMIMStatus& status) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  std::string phase(PhaseName(status.phase));
  WriteString(w, "phase", phase);
  if (!status.phase_transition_timestamps.empty()) {
    w.Key("phaseTransitionTimestamps");
    w.StartArray();
    for (const PhaseTransition& t : status.phase_transition_timestamps) {
      w.StartObject();
      WriteString(w, "phase", std::string(PhaseName(t.phase)), true);
      WriteString(w, "phaseTransitionTimestamp", t.timestamp, true);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!status.conditions.empty()) {
    w.Key("conditions");
    w.StartArray();
    for (const Condition& c : status.conditions) WriteCondition(w, c);
    w.EndArray();
  }
  if (status.migration_state) {
    w.Key("migrationState");
    WriteMigrationState(w, *status.migration_state);
  }
  w.EndObject();
  return Take(buf);
}

int JsonDepth(std::string_view json) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth) max_depth = depth;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return max_depth;
}

base::StatusOr<std::string> CanonicalJson(const Value& value) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  if (!WriteCanonical(w, value, 0)) {
    return base::InvalidArgument("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  return Take(buf);
}

}  // namespace api
