#include "engine/node_lease.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

#include "base/clock.h"

namespace engine {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(Writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void Str(Writer& w, std::string_view v) {
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void Annotations(Writer& w, const NodeRegistration& r) {
  Key(w, "annotations");
  w.StartObject();
  Key(w, kAnnotationLibvirtUri);
  Str(w, r.libvirt_uri);
  Key(w, kAnnotationMigrationAddress);
  Str(w, r.migration_address);
  Key(w, kAnnotationFreeMemory);
  Str(w, std::to_string(r.free_memory_bytes));
  w.EndObject();
}

// The spec fields a create and a renewal both write.
void HolderFields(Writer& w, const NodeRegistration& r) {
  Key(w, "holderIdentity");
  Str(w, r.node_name);
  Key(w, "leaseDurationSeconds");
  w.Int(r.lease_duration_seconds);
}

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

std::string LeaseName(std::string_view node_name) {
  return std::string(kLeasePrefix) + std::string(node_name);
}

std::string LeaseCreateJson(const NodeRegistration& r, std::string_view ns,
                            std::chrono::system_clock::time_point now) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  const std::string t = base::FormatRfc3339Micro(now);
  w.StartObject();
  Key(w, "apiVersion");
  Str(w, "coordination.k8s.io/v1");
  Key(w, "kind");
  Str(w, "Lease");
  Key(w, "metadata");
  w.StartObject();
  Key(w, "name");
  Str(w, LeaseName(r.node_name));
  Key(w, "namespace");
  Str(w, ns);
  Key(w, "labels");
  w.StartObject();
  Key(w, kLabelEngineLease);
  Str(w, "true");
  w.EndObject();
  Annotations(w, r);
  w.EndObject();
  Key(w, "spec");
  w.StartObject();
  HolderFields(w, r);
  Key(w, "acquireTime");
  Str(w, t);
  Key(w, "renewTime");
  Str(w, t);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string LeaseRenewPatch(const NodeRegistration& r, std::chrono::system_clock::time_point now) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "metadata");
  w.StartObject();
  Annotations(w, r);
  w.EndObject();
  Key(w, "spec");
  w.StartObject();
  HolderFields(w, r);
  Key(w, "renewTime");
  Str(w, base::FormatRfc3339Micro(now));
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

base::StatusOr<EngineNode> ParseEngineLease(const kube::Object& lease) {
  if (lease.doc == nullptr) return base::InvalidArgument("lease " + lease.Key() + ": no body");
  const rapidjson::Value& doc = *lease.doc;
  const rapidjson::Value* meta = Member(doc, "metadata");
  const rapidjson::Value* spec = Member(doc, "spec");
  const rapidjson::Value* annotations = meta ? Member(*meta, "annotations") : nullptr;
  auto annotation = [&](std::string_view key) -> std::string {
    if (annotations == nullptr) return "";
    const rapidjson::Value* v = Member(*annotations, std::string(key).c_str());
    return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
  };
  const std::string who = "lease " + lease.Key();
  EngineNode n;
  const rapidjson::Value* holder = spec ? Member(*spec, "holderIdentity") : nullptr;
  if (holder == nullptr || !holder->IsString() || holder->GetStringLength() == 0) {
    return base::InvalidArgument(who + ": spec.holderIdentity: want the node name");
  }
  n.node_name = holder->GetString();
  n.libvirt_uri = annotation(kAnnotationLibvirtUri);
  if (n.libvirt_uri.empty()) {
    return base::InvalidArgument(who + ": metadata.annotations[" +
                                 std::string(kAnnotationLibvirtUri) + "]: missing");
  }
  n.migration_address = annotation(kAnnotationMigrationAddress);
  std::string mem = annotation(kAnnotationFreeMemory);
  if (!mem.empty()) {
    auto [end, ec] = std::from_chars(mem.data(), mem.data() + mem.size(), n.free_memory_bytes);
    if (ec != std::errc() || end != mem.data() + mem.size()) {
      return base::InvalidArgument(who + ": metadata.annotations[" +
                                   std::string(kAnnotationFreeMemory) +
                                   "]: want an integer, got \"" + mem + "\"");
    }
  }
  const rapidjson::Value* duration = Member(*spec, "leaseDurationSeconds");
  if (duration != nullptr && duration->IsInt()) n.lease_duration_seconds = duration->GetInt();
  const rapidjson::Value* renew = Member(*spec, "renewTime");
  if (renew != nullptr && renew->IsString()) {
    n.renew_time = base::ParseRfc3339(renew->GetString());
    if (!n.renew_time) {
      return base::InvalidArgument(who + ": spec.renewTime: not an RFC 3339 time");
    }
  }
  return n;
}

bool IsFresh(const EngineNode& node, std::chrono::system_clock::time_point now) {
  if (!node.renew_time || node.lease_duration_seconds <= 0) return false;
  return now - *node.renew_time <= std::chrono::seconds(node.lease_duration_seconds);
}

std::optional<uint64_t> ParseMemAvailable(std::string_view meminfo) {
  constexpr std::string_view kKey = "MemAvailable:";
  size_t at = meminfo.find(kKey);
  while (at != std::string_view::npos && at != 0 && meminfo[at - 1] != '\n') {
    at = meminfo.find(kKey, at + 1);
  }
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + kKey.size();
  while (i < meminfo.size() && meminfo[i] == ' ') ++i;
  uint64_t kib = 0;
  auto [end, ec] = std::from_chars(meminfo.data() + i, meminfo.data() + meminfo.size(), kib);
  if (ec != std::errc()) return std::nullopt;
  std::string_view rest = meminfo.substr(static_cast<size_t>(end - meminfo.data()));
  if (rest.rfind(" kB", 0) != 0) return std::nullopt;
  return kib * 1024;
}

}  // namespace engine
